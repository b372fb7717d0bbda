"""The MCP server: the ``mcp`` SDK's MCPServer with the tools ``MCPDEMO_MCP_TOOLS`` names,
then whatever the ``MCPDEMO_MCP_EXTENSIONS`` callables add to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool

from .arguments import ConciseTool, concise
from .conf import conf
from .tool_calls import ToolCallMiddleware, first_line


def load_tool(path: str) -> Tool:
    """The tool at an import path: a ``Tool`` as it is, a function as ``Tool.from_function`` makes it
    (argument errors reported concisely either way)."""
    try:
        found = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"MCPDEMO_MCP_TOOLS: cannot import {path!r} ({exc})") from exc
    if isinstance(found, Tool):
        return concise(found)
    if callable(found):
        return ConciseTool.from_function(found)
    raise ImproperlyConfigured(f"MCPDEMO_MCP_TOOLS: {path!r} is neither a Tool nor a function")


def configured_tools() -> list[Tool]:
    return [load_tool(path) for path in conf.TOOLS]


Extension = Callable[[MCPServer], None]


def load_extension(path: str) -> Extension:
    """The callable at an import path, to be called as ``extend(server)``."""
    try:
        found = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"MCPDEMO_MCP_EXTENSIONS: cannot import {path!r} ({exc})") from exc
    if not callable(found):
        raise ImproperlyConfigured(f"MCPDEMO_MCP_EXTENSIONS: {path!r} is not callable")
    return cast(Extension, found)


def configured_extensions() -> list[Extension]:
    return [load_extension(path) for path in conf.EXTENSIONS]


def answers_at_once(tool: Tool) -> bool:
    """Whether a call can send nothing before its result: no Context (no progress, logs or requests to the client)."""
    return tool.context_kwarg is None and not tool.resolved_params


def summary_line(tool: Tool) -> str:
    """The first line of a tool's description (its docstring's summary), or ``""``."""
    return first_line(tool.description)


def create_mcp_server(
    tools: Iterable[Tool] | None = None, extensions: Iterable[Extension] | None = None, **options: Any
) -> MCPServer:
    """The server with ``tools`` (the configured ones by default), then each of ``extensions``
    (the configured ones by default) called with it, in order, to add resources, prompts,
    completions, middleware or more tools through the SDK's public API."""
    tools = [concise(tool) for tool in (configured_tools() if tools is None else tools)]
    server = MCPServer(
        name="mcpdemo",
        title="mcpdemo",
        version="0.1.0",
        instructions=instructions_for([(tool.name, summary_line(tool)) for tool in tools]),
        tools=tools,
        **options,
    )
    # Permissions and usage counting, around every tools/list and tools/call.
    server.middleware.append(ToolCallMiddleware(server, instructions_for))
    for extend in configured_extensions() if extensions is None else extensions:
        extend(server)
    return server


def instructions_for(tools: list[tuple[str, str]]) -> str | None:
    """The server instructions naming ``(name, summary)`` tools (``tools/list`` has the rest)."""
    summary = "; ".join(f"{name} ({line})" for name, line in tools)
    return f"Tools: {summary}." if tools else None
