from __future__ import annotations

from django.apps import AppConfig


class MCPAppConfig(AppConfig):
    name = "mcpapp"
    verbose_name = "MCP server"

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers the system checks)
