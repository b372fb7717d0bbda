"""System checks for the /mcp endpoint (``manage.py check``; ``--deploy`` adds the deployment ones)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from oauth2_provider.settings import oauth2_settings

from .auth import configured_validator, has_fast_path
from .conf import conf


@register(Tags.security)
def check_token_validator(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """mcpapp.W001: the configured validator is honoured either way, but without a fast path it runs on a thread."""
    try:
        validator = configured_validator()
    except Exception as exc:  # noqa: BLE001 - any failure to build it is the finding
        return [Error(f"OAUTH2_VALIDATOR_CLASS cannot be instantiated: {exc}", id="mcpapp.E001")]
    if has_fast_path(validator):
        return []
    return [
        Warning(
            f"{type(validator).__module__}.{type(validator).__qualname__} has no avalidate_bearer_token: "
            "/mcp will check every token on a thread, which costs more CPU per request.",
            hint="Subclass oauthapp.validator.MCPOAuth2Validator to keep its fast token lookup.",
            id="mcpapp.W001",
        )
    ]


@register()
def check_tools(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """mcpapp.E002: every MCPDEMO_MCP_TOOLS entry imports as a tool; mcpapp.E003: tool names are unique."""
    from .server import load_tool

    messages: list[CheckMessage] = []
    names: set[str] = set()
    for path in conf.TOOLS:
        try:
            tool = load_tool(path)
        except ImproperlyConfigured as exc:
            messages.append(Error(str(exc), id="mcpapp.E002"))
            continue
        if tool.name in names:
            messages.append(Error(f"MCPDEMO_MCP_TOOLS names the tool {tool.name!r} twice", id="mcpapp.E003"))
        names.add(tool.name)
    return messages


@register()
def check_extensions(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """mcpapp.E004: every MCPDEMO_MCP_EXTENSIONS entry imports as a callable."""
    from .server import load_extension

    messages: list[CheckMessage] = []
    for path in conf.EXTENSIONS:
        try:
            load_extension(path)
        except ImproperlyConfigured as exc:
            messages.append(Error(str(exc), id="mcpapp.E004"))
    return messages


@register(Tags.compatibility, deploy=True)
def check_stateless_behind_shared_services(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """mcpapp.W002: a deployment that shares Redis across nodes usually balances /mcp across them too."""
    if getattr(settings, "REDIS_URL", "") and not conf.STATELESS:
        return [
            Warning(
                "REDIS_URL is set (a shared deployment) but MCPDEMO_MCP_STATELESS is off: MCP sessions live in "
                "one process, so a balancer that sends a session's requests to another worker or node gets 404.",
                hint="Set MCPDEMO_MCP_STATELESS=1 when several workers or nodes serve /mcp.",
                id="mcpapp.W002",
            )
        ]
    return []


@register()
def check_usage_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """mcpapp.E005: the usage retention and flush interval are positive numbers."""
    messages: list[CheckMessage] = []
    for name, minimum in (("MCPDEMO_USAGE_RETENTION_DAYS", 1), ("MCPDEMO_USAGE_FLUSH_SECONDS", 0.1)):
        value = getattr(settings, name, None)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < minimum):
            messages.append(Error(f"{name} is {value!r}: it must be a number of at least {minimum}.", id="mcpapp.E005"))
    return messages


@register(Tags.security)
def check_tool_permissions_freshness(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """mcpapp.W003: tokens checked by introspection carry no tool policy version."""
    if conf.TOOL_PERMISSIONS and oauth2_settings.RESOURCE_SERVER_INTROSPECTION_URL:
        return [
            Warning(
                "RESOURCE_SERVER_INTROSPECTION_URL is set: /mcp does not read the tool policy version with the "
                "token, so a change to who may use a tool takes effect within a minute instead of on the next request.",
                id="mcpapp.W003",
            )
        ]
    return []
