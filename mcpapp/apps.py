from __future__ import annotations

from django.apps import AppConfig


class MCPAppConfig(AppConfig):
    name = "mcpapp"
    verbose_name = "MCP server"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, permissions  # noqa: F401 (registers the system checks)

        permissions.connect()
