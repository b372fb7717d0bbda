"""mcpapp's settings, with their defaults, read from Django's settings when asked (so overrides apply).

| setting | default | what it does |
|---|---|---|
| ``MCP_SCOPE`` | ``"mcp"`` | the OAuth scope a token needs for /mcp |
| ``MCPDEMO_MCP_TOOLS`` | ``DEFAULT_TOOLS`` | import paths of the tools: an mcp ``Tool`` or a function |
| ``MCPDEMO_MCP_EXTENSIONS`` | ``()`` | import paths of callables ``extend(server)``, run after the tools are added |
| ``MCPDEMO_MCP_STATELESS`` | ``False`` | serve /mcp without sessions (any worker or node answers any request) |
| ``MCPDEMO_ALLOWED_ORIGINS`` | ``[]`` | browser origins allowed to call /mcp besides the server's own |
| ``MCPDEMO_TOOL_PERMISSIONS`` | ``True`` | a tool an administrator restricted is only for those with its permission |
| ``MCPDEMO_USAGE_COUNTING`` | ``True`` | count tool calls (user, client, tool, outcome, duration) for the admin |
| ``MCPDEMO_USAGE_RETENTION_DAYS`` | ``90`` | how long ``cleanup_oauth`` keeps the hourly usage counts |
| ``MCPDEMO_USAGE_FLUSH_SECONDS`` | ``5.0`` | how often each process writes its buffered counts |
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULT_TOOLS = ("mcpapp.tools.SLUGIFY", "mcpapp.tools.COUNTDOWN")
# How often a response still open (an SSE stream) re-checks its token: a revoked token's
# stream ends within this many seconds (plus one database read).
STREAM_RECHECK_SECONDS = 2.0


class Settings:
    @property
    def MCP_SCOPE(self) -> str:
        return str(getattr(settings, "MCP_SCOPE", "mcp"))

    @property
    def TOOLS(self) -> tuple[str, ...]:
        return tuple(getattr(settings, "MCPDEMO_MCP_TOOLS", DEFAULT_TOOLS))

    @property
    def EXTENSIONS(self) -> tuple[str, ...]:
        return tuple(getattr(settings, "MCPDEMO_MCP_EXTENSIONS", ()))

    @property
    def STATELESS(self) -> bool:
        return bool(getattr(settings, "MCPDEMO_MCP_STATELESS", False))

    @property
    def TOOL_PERMISSIONS(self) -> bool:
        return bool(getattr(settings, "MCPDEMO_TOOL_PERMISSIONS", True))

    @property
    def USAGE_COUNTING(self) -> bool:
        return bool(getattr(settings, "MCPDEMO_USAGE_COUNTING", True))

    @property
    def USAGE_RETENTION_DAYS(self) -> int:
        return int(getattr(settings, "MCPDEMO_USAGE_RETENTION_DAYS", 90))

    @property
    def USAGE_FLUSH_SECONDS(self) -> float:
        return float(getattr(settings, "MCPDEMO_USAGE_FLUSH_SECONDS", 5.0))

    @property
    def ALLOWED_ORIGINS(self) -> tuple[str, ...]:
        return tuple(getattr(settings, "MCPDEMO_ALLOWED_ORIGINS", ()))


conf = Settings()


class Switches:
    """The two feature switches, read once and again when the setting changes: they are
    consulted on every tool call, where even a settings lookup shows."""

    def __init__(self) -> None:
        self.tool_permissions = self.usage_counting = True
        self.refresh()

    def refresh(self) -> None:
        self.tool_permissions = conf.TOOL_PERMISSIONS
        self.usage_counting = conf.USAGE_COUNTING


SWITCHES = Switches()


def _switch_changed(setting: str, **kwargs: Any) -> None:
    if setting in ("MCPDEMO_TOOL_PERMISSIONS", "MCPDEMO_USAGE_COUNTING"):
        SWITCHES.refresh()


setting_changed.connect(_switch_changed, dispatch_uid="mcpapp-switches")
