"""The MCP tools this server ships. Their signatures and docstrings are their schemas.

``SLUGIFY`` and ``COUNTDOWN`` are what ``MCPDEMO_MCP_TOOLS`` lists by default; a deployer
adds a tool by adding its import path there (see docs/tools.md).
"""

from __future__ import annotations

from typing import Annotated

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import Field
from slugify import slugify as python_slugify

MAX_TEXT_LENGTH = 10_000
MAX_COUNTDOWN_SECONDS = 300

_ALLOWED_SEPARATORS = ("-", "_", ".", "")


def make_slug(text: str, separator: str = "-", max_length: int | None = None) -> str:
    """Lower-case ASCII slug: any script transliterated (python-slugify), runs of anything else one separator.

    ``max_length`` cuts back to the last whole word (a first word longer than that is cut hard).
    """
    # The backend named, not "auto": auto first tries to import the optional Unidecode, a failed
    # import (a filesystem search) on every call with non-ASCII text.
    slug = python_slugify(text, separator=separator, backend="text-unidecode")
    if max_length is not None and len(slug) > max_length:
        cut = slug[:max_length]
        inside_word = separator and not slug[max_length:].startswith(separator)
        if inside_word and separator in cut:
            cut = cut[: cut.rfind(separator)]  # back to the last whole word
        slug = cut.rstrip(separator) if separator else cut
    return slug


# async although it never awaits: the SDK runs a plain function on a worker thread,
# and the hop costs more than slugifying 10,000 characters.
async def slugify(
    text: Annotated[str, Field(description="The text to turn into a slug.", max_length=MAX_TEXT_LENGTH)],
    separator: Annotated[str, Field(description='What joins the words: "-", "_", "." or "" (nothing).')] = "-",
    max_length: Annotated[
        int | None, Field(description="Longest slug to return, cut at a word boundary.", ge=1, le=1000)
    ] = None,
) -> str:
    """Turn text into a URL-friendly slug.

    Lower-case ASCII only: letters of any script are transliterated
    ("Ærøskøbing Straße" → "aeroskobing-strasse", "Привет мир" → "privet-mir"), and
    every run of spaces or punctuation becomes one separator.
    """
    if separator not in _ALLOWED_SEPARATORS:
        raise ToolError(f"separator must be one of {', '.join(repr(s) for s in _ALLOWED_SEPARATORS)}")
    return make_slug(text, separator, max_length)


async def countdown(
    ctx: Context,
    seconds: Annotated[
        int, Field(description="How many seconds to count down from.", ge=0, le=MAX_COUNTDOWN_SECONDS)
    ] = 3,
) -> str:
    """Count down from `seconds` to zero, one tick per second.

    Sends a progress notification for every tick when the caller asked for
    progress, and stops at once when the call is cancelled.
    """
    for elapsed in range(seconds):
        await ctx.report_progress(
            elapsed, seconds, f"{seconds - elapsed} second{'s' if seconds - elapsed != 1 else ''} left"
        )
        await anyio.sleep(1)
    await ctx.report_progress(seconds, seconds, "Liftoff!")
    return f"Liftoff! Counted down from {seconds} second{'s' if seconds != 1 else ''}."


SLUGIFY = Tool.from_function(
    slugify,
    title="Slugify",
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
)
COUNTDOWN = Tool.from_function(
    countdown,
    title="Countdown",
    annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
)
