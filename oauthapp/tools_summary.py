"""What the consent page says the MCP tools are: each tool's title and the first line of its description.

The tools are the MCP server's (``MCPDEMO_MCP_TOOLS``, :func:`mcpapp.server.configured_tools`):
the person allowing a client should read what it will be able to do by name.
"""

from __future__ import annotations

from mcpapp.server import configured_tools, summary_line


def tool_summaries() -> list[dict[str, str]]:
    # Backticks are docstring markup, not for people.
    return [
        {"name": tool.title or tool.name, "description": summary_line(tool).replace("`", "")}
        for tool in configured_tools()
    ]
