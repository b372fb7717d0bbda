"""The MCP server: the ``mcp`` SDK's MCPServer with the tools ``MCPDEMO_MCP_TOOLS`` names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool

from .arguments import ConciseTool, concise
from .conf import conf


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


def answers_at_once(tool: Tool) -> bool:
    """Whether a call can send nothing before its result: no Context (no progress, logs or requests to the client)."""
    return tool.context_kwarg is None and not tool.resolved_params


def create_mcp_server(tools: Iterable[Tool] | None = None, **options: Any) -> MCPServer:
    tools = [concise(tool) for tool in (configured_tools() if tools is None else tools)]
    summary = "; ".join(f"{tool.name} ({(tool.description or '').strip().splitlines()[0]})" for tool in tools)
    return MCPServer(
        name="mcpdemo",
        title="mcpdemo",
        version="0.1.0",
        instructions=f"Tools: {summary}." if tools else None,
        tools=tools,
        **options,
    )
