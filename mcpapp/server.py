"""The MCP server: our tools on the ``mcp`` SDK's MCPServer."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from . import tools

# Tools that return at once and never report progress: a stateless server answers their
# calls with one JSON body (see mcpapp.single_exchange). countdown streams.
INSTANT_TOOLS = frozenset({"slugify"})


def create_mcp_server() -> MCPServer:
    server = MCPServer(
        name="mcpdemo",
        title="mcpdemo",
        version="0.1.0",
        instructions="Tools: slugify (make URL slugs from text) and countdown (a timer that reports progress).",
    )
    server.add_tool(
        tools.slugify,
        title="Slugify",
        annotations=ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False),
    )
    server.add_tool(
        tools.countdown,
        title="Countdown",
        annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=False),
    )
    return server
