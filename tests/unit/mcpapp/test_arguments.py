from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import BaseModel

from mcpapp.arguments import ConciseTool, concise
from tests.support.metrics import Samples, value


def add(a: int, b: int = 0) -> int:
    """Add."""
    return a + b


class Point(BaseModel):
    x: int


def broken(value: str) -> int:
    """A tool whose own body raises pydantic's error (not the caller's mistake)."""
    return Point.model_validate({"x": value}).x


async def test_a_missing_and_a_wrong_argument_are_both_named() -> None:
    with pytest.raises(ToolError) as raised:
        await ConciseTool.from_function(add).run({"b": "many"}, context=None)

    assert str(raised.value) == (
        "Invalid arguments for tool add: a: Field required; b: Input should be a valid integer, "
        "unable to parse string as an integer"
    )
    assert raised.value.__cause__ is None


async def test_valid_arguments_run_the_tool() -> None:
    assert await ConciseTool.from_function(add).run({"a": 2, "b": 3}, context=None) == 5


async def test_a_tool_error_from_the_tools_own_body_is_left_to_the_sdk() -> None:
    with pytest.raises(Exception) as raised:  # noqa: B017 - the SDK's UnexpectedToolError
        await ConciseTool.from_function(broken).run({"value": "x"}, context=None)

    assert not str(raised.value).startswith("Invalid arguments")


def test_concise_keeps_what_the_tool_is() -> None:
    original = Tool.from_function(add, name="adder", description="Adds two numbers.")

    converted = concise(original)

    assert isinstance(converted, ConciseTool)
    assert (converted.name, converted.description, converted.parameters) == (
        "adder",
        "Adds two numbers.",
        original.parameters,
    )
    assert concise(converted) is converted


async def test_every_call_is_counted_by_outcome_with_its_time(metrics_on: Callable[[], Samples]) -> None:
    async def slow(seconds: float) -> str:
        """Sleeps."""
        await anyio.sleep(seconds)
        return "done"

    tools = {"add": ConciseTool.from_function(add), "broken": ConciseTool.from_function(broken)}
    assert await tools["add"].run({"a": 1}, context=None) == 1
    for tool, arguments in (("add", {"b": "many"}), ("broken", {"value": "x"})):
        with pytest.raises(ToolError):
            await tools[tool].run(arguments, context=None)
    sleeper = ConciseTool.from_function(slow)
    with anyio.move_on_after(0.01):
        await sleeper.run({"seconds": 5}, context=None)

    samples = metrics_on()
    assert value(samples, "mcpdemo_tool_calls_total", tool="add", outcome="ok") == 1
    assert value(samples, "mcpdemo_tool_calls_total", tool="add", outcome="invalid_arguments") == 1
    assert value(samples, "mcpdemo_tool_calls_total", tool="broken", outcome="error") == 1
    assert value(samples, "mcpdemo_tool_calls_total", tool="slow", outcome="cancelled") == 1
    assert value(samples, "mcpdemo_tool_call_duration_seconds_count", tool="add") == 2
    assert 0.005 < value(samples, "mcpdemo_tool_call_duration_seconds_sum", tool="slow") < 5
