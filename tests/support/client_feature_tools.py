"""Test-only tools that ask the client something mid-call: elicitation, sampling, roots, logging.

Loaded by a live server through ``MCPDEMO_MCP_TOOLS``; never part of the product.
"""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp.types import SamplingMessage, TextContent
from pydantic import BaseModel


class Name(BaseModel):
    name: str


async def ask_name(ctx: Context) -> str:
    """Ask the person for their name (elicitation)."""
    answer = await ctx.elicit("What is your name?", Name)
    return f"hello {answer.data.name}" if answer.action == "accept" and answer.data else answer.action


async def sample(ctx: Context) -> str:
    """Ask the client's model for a word (sampling)."""
    reply = await ctx.session.create_message(
        messages=[SamplingMessage(role="user", content=TextContent(type="text", text="Say a word."))],
        max_tokens=5,
    )
    return reply.content.text if isinstance(reply.content, TextContent) else str(reply.content)


async def roots(ctx: Context) -> list[str]:
    """The client's roots."""
    listed = await ctx.session.list_roots()
    return [str(root.uri) for root in listed.roots]


async def chatty(ctx: Context) -> str:
    """Log two messages to the client, then answer."""
    await ctx.info("starting")
    await ctx.warning("almost done")
    return "done"
