"""What the consent page says the MCP tools are: each tool's title and the first line of its description.

The tools are the MCP server's (``MCPDEMO_MCP_TOOLS``, :func:`mcpapp.server.configured_tools`):
the person allowing a client should read what it will be able to do by name: only the
tools that person may use (:func:`mcpapp.permissions.hidden_tools`).
"""

from __future__ import annotations

from typing import Any

from mcpapp.permissions import hidden_tools
from mcpapp.server import configured_tools, summary_line


def tool_summaries(user: Any = None) -> list[dict[str, str]]:
    hidden = hidden_tools(user) if user is not None else frozenset()
    # Backticks are docstring markup, not for people.
    return [
        {"name": tool.title or tool.name, "description": summary_line(tool).replace("`", "")}
        for tool in configured_tools()
        if tool.name not in hidden
    ]
