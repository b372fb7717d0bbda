from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import BaseModel

from mcpapp.arguments import ConciseTool, concise


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
