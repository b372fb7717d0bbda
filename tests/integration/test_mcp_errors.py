"""Errors a client's bad input gets at /mcp: plain words, never pydantic's internals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.mcp import in_session, modern_request, open_session, post_mcp, rpc_message, serving

pytestmark = pytest.mark.django_db(transaction=True)

INTERNALS = ("pydantic", "validation error for", "input_value", "Arguments", "type=")


def assert_plain(text: str) -> None:
    assert not [word for word in INTERNALS if word in text], text


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "Invalid arguments for tool slugify: text: Field required"),
        ({"text": 5}, "Invalid arguments for tool slugify: text: Input should be a valid string"),
        ({"text": "x", "max_length": "big"},
         "Invalid arguments for tool slugify: max_length: Input should be a valid integer"),
    ],
    ids=["missing", "wrong-type", "not-a-number"],
)  # fmt: skip
async def test_invalid_tool_arguments_name_the_argument_and_nothing_else(
    access_token: str, arguments: dict[str, Any], expected: str
) -> None:
    async with serving() as http:
        response = await modern_request(
            http, "tools/call", {"name": "slugify", "arguments": arguments}, access_token, name="slugify"
        )

    result = rpc_message(response)["result"]
    assert result["isError"] is True
    assert result["content"][0]["text"].startswith(expected)
    assert_plain(result["content"][0]["text"])


async def test_invalid_arguments_over_a_session_read_the_same(access_token: str) -> None:
    async with serving() as http:
        session_id = await open_session(http, access_token)
        response = await in_session(
            http, session_id, access_token, "tools/call", {"name": "countdown", "arguments": {"seconds": "x"}}
        )

    text = rpc_message(response)["result"]["content"][0]["text"]
    assert text.startswith("Invalid arguments for tool countdown: seconds: ")
    assert_plain(text)


@pytest.mark.parametrize(
    "body",
    [[{"jsonrpc": "2.0", "id": 1, "method": "ping"}], {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": 5}],
    ids=["batch", "params-not-an-object"],
)
async def test_a_malformed_message_gets_a_plain_json_rpc_error(access_token: str, body: Any) -> None:
    async with serving() as http:
        response = await post_mcp(http, body, access_token)

    assert response.status_code == 400
    assert response.headers["content-length"] == str(len(response.content))
    error = response.json()["error"]
    assert error["message"].startswith("Invalid request: the body must be one JSON-RPC 2.0")
    assert_plain(error["message"])
