"""The MCP tools: the slug rules themselves, then both tools through the SDK in memory.

The in-memory tests run in both of the SDK's client modes: ``auto`` (2026-07-28,
dispatched directly) and ``legacy`` (the initialize handshake over JSON-RPC streams).
"""

from __future__ import annotations

import time
import types
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client

from mcpapp import tools
from mcpapp.server import create_mcp_server
from mcpapp.tools import make_slug

MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])


# --- make_slug: the examples table -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        # Transliteration: letters Unicode does not decompose, and accents.
        ("Ærøskøbing Straße", {}, "aeroskobing-strasse"),
        ("Œuvre Þór Łódź", {}, "oeuvre-thor-lodz"),
        ("Crème brûlée", {}, "creme-brulee"),
        ("ﬁ ①", {}, "fi-1"),
        # Runs of punctuation and whitespace collapse to one separator.
        ("Hello,   World!!!", {}, "hello-world"),
        ("C++ & Python 3.11", {}, "c-python-3-11"),
        ("hello_world", {}, "hello-world"),
        ("tab\there\nnewline", {}, "tab-here-newline"),
        # Leading and trailing junk is stripped.
        ("  --Hello--  ", {}, "hello"),
        ("...a...b...", {}, "a-b"),
        # The other separators.
        ("Hello World", {"separator": "_"}, "hello_world"),
        ("Hello World", {"separator": "."}, "hello.world"),
        ("Hello World", {"separator": ""}, "helloworld"),
        ("  Hello, World!  ", {"separator": "_"}, "hello_world"),
        # max_length cuts at a word boundary and never ends with a separator.
        ("hello wonderful world", {"max_length": 15}, "hello-wonderful"),
        ("hello wonderful world", {"max_length": 16}, "hello-wonderful"),
        ("hello wonderful world", {"max_length": 14}, "hello"),
        ("hello wonderful world", {"max_length": 6}, "hello"),
        ("ab cd", {"max_length": 3}, "ab"),
        ("hello wonderful world", {"max_length": 14, "separator": "_"}, "hello"),
        ("hello wonderful world", {"max_length": 10, "separator": "."}, "hello"),
        ("hello world", {"max_length": 100}, "hello-world"),
        ("hello world", {"max_length": 11}, "hello-world"),
        # A single word longer than max_length is cut hard.
        ("supercalifragilistic", {"max_length": 5}, "super"),
        ("supercalifragilistic expialidocious", {"max_length": 5}, "super"),
        # Without a separator there are no word boundaries left: a hard cut.
        ("hello wonderful world", {"max_length": 7, "separator": ""}, "hellowo"),
        # Nothing sluggable gives an empty slug.
        ("", {}, ""),
        ("!!! ... ---", {}, ""),
        ("   ", {"max_length": 3}, ""),
        ("¿¡—…", {"separator": "_"}, ""),
    ],
)
def test_make_slug_examples(text: str, kwargs: dict[str, Any], expected: str) -> None:
    assert make_slug(text, **kwargs) == expected


async def test_slugify_function_gives_the_same_slugs_as_make_slug() -> None:
    assert await tools.slugify("Ærøskøbing Straße") == "aeroskobing-strasse"
    assert await tools.slugify("Hello World", separator="_", max_length=5) == "hello"


@given(
    text=st.text(max_size=200),
    separator=st.sampled_from(["-", "_", ".", ""]),
    max_length=st.none() | st.integers(min_value=1, max_value=60),
)
def test_make_slug_invariants(text: str, separator: str, max_length: int | None) -> None:
    slug = make_slug(text, separator, max_length)

    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789" + separator)
    assert set(slug) <= allowed
    if max_length is not None:
        assert len(slug) <= max_length
    if separator:
        assert not slug.startswith(separator)
        assert not slug.endswith(separator)
        assert separator * 2 not in slug
    assert make_slug(slug, separator) == slug  # a slug is its own slug


# --- Through the SDK, in memory ----------------------------------------------------


def text_of(result: Any) -> str:
    assert len(result.content) == 1
    assert result.content[0].type == "text"
    return result.content[0].text


@MODES
async def test_tools_list_shows_both_tools_with_descriptions_and_schemas(mode: str) -> None:
    async with Client(create_mcp_server(), mode=mode) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(listed) == {"slugify", "countdown"}

    slugify = listed["slugify"]
    assert "slug" in slugify.description
    assert slugify.input_schema["type"] == "object"
    assert slugify.input_schema["required"] == ["text"]
    assert set(slugify.input_schema["properties"]) == {"text", "separator", "max_length"}
    assert slugify.input_schema["properties"]["text"]["type"] == "string"
    assert slugify.input_schema["properties"]["separator"]["default"] == "-"

    countdown = listed["countdown"]
    assert "Count down" in countdown.description
    seconds = countdown.input_schema["properties"]["seconds"]
    assert seconds["type"] == "integer"
    assert seconds["minimum"] == 0
    assert seconds["maximum"] == 300
    assert seconds["default"] == 3
    assert not countdown.input_schema.get("required")
    assert "ctx" not in countdown.input_schema["properties"]  # the Context is not an argument


@MODES
async def test_tools_are_annotated_read_only(mode: str) -> None:
    async with Client(create_mcp_server(), mode=mode) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert listed["slugify"].annotations.read_only_hint is True
    assert listed["slugify"].annotations.idempotent_hint is True
    assert listed["countdown"].annotations.read_only_hint is True


@MODES
async def test_call_slugify_returns_the_slug_as_text(mode: str) -> None:
    async with Client(create_mcp_server(), mode=mode) as client:
        result = await client.call_tool("slugify", {"text": "Ærøskøbing Straße"})
        with_options = await client.call_tool(
            "slugify", {"text": "Hello wonderful world", "separator": "_", "max_length": 15}
        )

    assert result.is_error is False
    assert text_of(result) == "aeroskobing-strasse"
    assert result.structured_content == {"result": "aeroskobing-strasse"}
    assert text_of(with_options) == "hello_wonderful"


@MODES
@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("slugify", {"text": "a b", "separator": "x"}),
        ("slugify", {"text": "a b", "separator": "--"}),
        ("slugify", {}),
        ("slugify", {"text": "a b", "max_length": 0}),
        ("slugify", {"text": "x" * (tools.MAX_TEXT_LENGTH + 1)}),
        ("countdown", {"seconds": -1}),
        ("countdown", {"seconds": 301}),
        ("countdown", {"seconds": "abc"}),
    ],
)
async def test_bad_arguments_give_an_error_result_and_the_server_keeps_working(
    mode: str, tool: str, arguments: dict[str, Any]
) -> None:
    async with Client(create_mcp_server(), mode=mode) as client:
        result = await client.call_tool(tool, arguments)
        assert result.is_error is True
        assert text_of(result)  # an explanation, not an empty error

        after = await client.call_tool("slugify", {"text": "still here"})
        assert after.is_error is False
        assert text_of(after) == "still-here"


@MODES
async def test_countdown_reports_progress_every_tick_and_ends_with_liftoff(mode: str) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async with Client(create_mcp_server(), mode=mode) as client:
        started = time.monotonic()
        result = await client.call_tool("countdown", {"seconds": 2}, progress_callback=on_progress)
        elapsed = time.monotonic() - started

    assert result.is_error is False
    assert "Liftoff" in text_of(result)
    assert 1.5 < elapsed < 5  # it really counts, one tick per second
    values = [value for value, _total, _message in progress]
    assert len(values) >= 2  # at least one notification per tick
    assert values == sorted(values)
    assert len(set(values)) == len(values)  # strictly increasing
    assert values[-1] == 2
    assert {total for _value, total, _message in progress} == {2}


@MODES
async def test_countdown_from_zero_returns_at_once(mode: str) -> None:
    async with Client(create_mcp_server(), mode=mode) as client:
        with anyio.fail_after(1):
            result = await client.call_tool("countdown", {"seconds": 0})

    assert result.is_error is False
    assert "Liftoff" in text_of(result)


@MODES
async def test_cancelled_countdown_stops_promptly_and_the_server_keeps_answering(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Watch the tool's own sleeps, to see that the server side really stops.
    sleeps: list[str] = []
    tool_cancelled = anyio.Event()

    async def watched_sleep(delay: float) -> None:
        sleeps.append("sleeping")
        try:
            await anyio.sleep(delay)
        except anyio.get_cancelled_exc_class():
            sleeps.append("cancelled")
            tool_cancelled.set()
            raise

    monkeypatch.setattr(tools, "anyio", types.SimpleNamespace(sleep=watched_sleep))

    async with Client(create_mcp_server(), mode=mode) as client:
        started = time.monotonic()
        with anyio.move_on_after(0.5) as scope:
            await client.call_tool("countdown", {"seconds": 300})
        assert scope.cancelled_caught

        with anyio.fail_after(2):
            await tool_cancelled.wait()  # the server side stopped too
        assert time.monotonic() - started < 3

        with anyio.fail_after(2):
            after = await client.call_tool("slugify", {"text": "after the countdown"})
        assert text_of(after) == "after-the-countdown"

    assert sleeps == ["sleeping", "cancelled"]
