from __future__ import annotations

from django.apps import AppConfig


class MCPAppConfig(AppConfig):
    name = "mcpapp"
    verbose_name = "MCP server"
