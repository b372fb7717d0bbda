"""Stateless /mcp: requests that are answered at once get one JSON body, everything else SSE.

Both are valid Streamable HTTP answers (the client accepts both); the JSON body costs
the SDK about half the CPU. Progress, long tool calls and anything unknown keep SSE.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcpapp.transport.single_exchange import PEEK_LIMIT, peek_body
from mcpdemo.asgi import build_application
from tests.support.mcp import (
    INITIALIZE,
    LEGACY_VERSION,
    modern_request,
    post_mcp,
    rpc_message,
    serving,
)

pytestmark = pytest.mark.django_db(transaction=True)


def rpc(method: str, params: dict[str, Any] | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method, **extra}
    if params is not None:
        body["params"] = params
    return json.dumps(body).encode()


SLUGIFY = {"name": "slugify", "arguments": {"text": "Hello World"}}


async def test_a_body_in_several_chunks_is_read_whole_and_replayed_for_the_sdk() -> None:
    chunks = [
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b" 1}", "more_body": False},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    body, replay = await peek_body(receive)

    assert body == b'{"a": 1}'
    assert [await replay(), await replay(), await replay()] == [
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b" 1}", "more_body": False},
        {"type": "http.disconnect"},  # and then the client's own messages again
    ]


async def test_a_body_over_the_peek_limit_is_not_read_further_but_still_handed_on() -> None:
    chunks = [
        {"type": "http.request", "body": b"x" * PEEK_LIMIT, "more_body": True},
        {"type": "http.request", "body": b"y", "more_body": True},
        {"type": "http.request", "body": b"z", "more_body": False},
    ]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    body, replay = await peek_body(receive)

    assert body is None
    assert b"".join([(await replay())["body"] for _ in range(3)]) == b"x" * PEEK_LIMIT + b"yz"


@pytest.fixture
def access_token(tokens: dict[str, Any]) -> str:
    return tokens["access_token"]


@pytest.fixture
def stateless(settings: Any) -> None:
    settings.MCPDEMO_MCP_STATELESS = True


def content_type(response: Any) -> str:
    return response.headers["content-type"].split(";")[0]


async def test_a_quick_tool_call_is_answered_with_one_json_body(stateless: None, access_token: str) -> None:
    async with serving(build_application()) as http:
        response = await post_mcp(
            http, json.loads(rpc("tools/call", SLUGIFY)), access_token, **{"MCP-Protocol-Version": LEGACY_VERSION}
        )

    assert response.status_code == 200
    assert content_type(response) == "application/json"
    assert response.json()["result"]["structuredContent"] == {"result": "hello-world"}


async def test_initialize_and_tools_list_are_answered_with_json(stateless: None, access_token: str) -> None:
    async with serving(build_application()) as http:
        initialized = await post_mcp(http, INITIALIZE, access_token)
        listed = await post_mcp(
            http, json.loads(rpc("tools/list")), access_token, **{"MCP-Protocol-Version": LEGACY_VERSION}
        )

    assert content_type(initialized) == "application/json"
    assert "mcp-session-id" not in initialized.headers  # stateless: no session
    assert initialized.json()["result"]["protocolVersion"] == LEGACY_VERSION
    assert content_type(listed) == "application/json"
    assert {tool["name"] for tool in listed.json()["result"]["tools"]} == {"slugify", "countdown"}


async def test_a_modern_request_is_answered_with_json(stateless: None, access_token: str) -> None:
    async with serving(build_application()) as http:
        response = await modern_request(http, "tools/call", SLUGIFY, access_token, "slugify")

    assert response.status_code == 200, response.text
    assert content_type(response) == "application/json"
    assert response.json()["result"]["structuredContent"] == {"result": "hello-world"}


async def test_a_call_that_asks_for_progress_streams_it(stateless: None, access_token: str) -> None:
    params = {"name": "countdown", "arguments": {"seconds": 1}, "_meta": {"progressToken": "tick"}}
    async with serving(build_application()) as http:
        response = await post_mcp(
            http, json.loads(rpc("tools/call", params)), access_token, **{"MCP-Protocol-Version": LEGACY_VERSION}
        )

    assert content_type(response) == "text/event-stream"
    events = [
        json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:") and line[5:].strip()
    ]
    progress = [event["params"]["progress"] for event in events if event.get("method") == "notifications/progress"]
    assert progress == [0, 1]
    assert "Liftoff" in rpc_message(response)["result"]["content"][0]["text"]


async def test_a_long_tool_without_progress_still_streams(stateless: None, access_token: str) -> None:
    params = {"name": "countdown", "arguments": {"seconds": 0}}
    async with serving(build_application()) as http:
        response = await post_mcp(
            http, json.loads(rpc("tools/call", params)), access_token, **{"MCP-Protocol-Version": LEGACY_VERSION}
        )

    assert content_type(response) == "text/event-stream"
    assert "Liftoff" in rpc_message(response)["result"]["content"][0]["text"]


async def test_an_oversized_body_still_gets_a_json_rpc_answer(stateless: None, access_token: str) -> None:
    params = {"name": "slugify", "arguments": {"text": "a" * (PEEK_LIMIT + 1)}}
    async with serving(build_application()) as http:
        response = await post_mcp(
            http, json.loads(rpc("tools/call", params)), access_token, **{"MCP-Protocol-Version": LEGACY_VERSION}
        )

    assert response.status_code == 200
    result = rpc_message(response)["result"]
    assert result["isError"] is True  # over the tool's 10,000-character limit, said in the result


async def test_malformed_json_gets_the_sdks_parse_error(stateless: None, access_token: str) -> None:
    async with serving(build_application()) as http:
        response = await http.post(
            "/mcp",
            content=b"{not json",
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
            },
        )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700
