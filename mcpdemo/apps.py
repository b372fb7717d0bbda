from __future__ import annotations

from django.apps import AppConfig


class MCPDemoConfig(AppConfig):
    """The project itself, as an app only for its system checks."""

    name = "mcpdemo"
    verbose_name = "mcpdemo"

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers the system checks)
