"""Stateless requests answered in their own task give exactly what the SDK's transport gives.

Each request is sent twice through the whole /mcp endpoint: once on the single-exchange
path, once with that path turned off so the SDK's stateless JSON-response transport
answers it. Status, headers that matter and the JSON-RPC answer must be the same.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async

from mcpapp.endpoint import build_mcp_endpoint
from mcpapp.models import Tool
from mcpapp.transport import single_exchange
from mcpapp.transport.single_exchange import NOT_JSON, answered_at_once, decode_body
from mcpdemo.asgi import Router, build_application, django_application
from tests.support.mcp import INITIALIZE, LEGACY_VERSION, MODERN_VERSION, post_mcp, serving

pytestmark = pytest.mark.django_db(transaction=True)
QUICK_TOOLS = frozenset({"slugify"})


def rpc(method: str, params: Any = None, request_id: Any = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        body["params"] = params
    return body


SLUGIFY = {"name": "slugify", "arguments": {"text": "Hello World"}}
WITH_PROGRESS = {**SLUGIFY, "_meta": {"progressToken": "p1"}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (rpc("initialize", INITIALIZE["params"]), True),
        (rpc("ping"), True),
        (rpc("tools/list"), True),
        (rpc("server/discover", {}), True),
        (rpc("tools/call", SLUGIFY), True),
        (rpc("tools/call", WITH_PROGRESS), False),  # the client wants to hear progress
        (rpc("tools/call", {"name": "countdown", "arguments": {"seconds": 1}}), False),  # streams
        (rpc("tools/call", {"name": "no-such-tool"}), False),
        (rpc("subscriptions/listen", {}), False),  # a standing stream
        (rpc("resources/subscribe", {"uri": "x"}), False),  # not on the list
        ({"jsonrpc": "2.0", "method": "notifications/initialized"}, False),  # no id
        ([rpc("ping")], False),  # a batch
        (rpc("tools/call", ["not", "an", "object"]), False),
    ],
)
def test_which_requests_are_answered_at_once(body: Any, expected: bool) -> None:
    assert answered_at_once(decode_body(json.dumps(body).encode()), QUICK_TOOLS) is expected


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[" * 100_000])
def test_a_body_that_is_not_json_is_left_to_the_sdk(body: bytes) -> None:
    assert decode_body(body) is NOT_JSON
    assert not answered_at_once(decode_body(body), QUICK_TOOLS)


@pytest.fixture
def stateless(settings: Any) -> None:
    settings.MCPDEMO_MCP_STATELESS = True


@pytest.fixture
def access_token(tokens: dict[str, Any]) -> str:
    return tokens["access_token"]


@pytest.fixture
def single_exchanges(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The methods the single-exchange path served."""
    served: list[str] = []
    serve_one = single_exchange.serve_one

    async def counting_serve_one(server: Any, context: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        served.append(method)
        return await serve_one(server, context, method, *args, **kwargs)

    monkeypatch.setattr(single_exchange, "serve_one", counting_serve_one)
    return served


async def both_ways(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], token: str, **headers: str
) -> tuple[httpx.Response, httpx.Response]:
    """The answer on the single-exchange path, then the SDK transport's answer."""
    async with serving(build_application()) as http:
        ours = await post_mcp(http, body, token, **headers)
    sdk = build_mcp_endpoint(json_response=True, single_exchange=False)
    async with serving(Router(django_application, sdk)) as http:
        sdks = await post_mcp(http, body, token, **headers)
    return ours, sdks


LEGACY = {"MCP-Protocol-Version": LEGACY_VERSION}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(INITIALIZE, {}, id="initialize"),
        pytest.param(rpc("ping"), LEGACY, id="ping"),
        pytest.param(rpc("ping"), {}, id="ping without a version header"),
        pytest.param(rpc("ping"), {"MCP-Protocol-Version": "2025-03-26"}, id="ping at an older version"),
        pytest.param(rpc("tools/list", request_id="list-1"), LEGACY, id="tools/list, string id"),
        pytest.param(rpc("prompts/list"), LEGACY, id="prompts/list"),
        pytest.param(rpc("resources/list"), LEGACY, id="resources/list"),
        pytest.param(rpc("resources/templates/list"), LEGACY, id="resources/templates/list"),
        pytest.param(rpc("server/discover", {}), LEGACY, id="server/discover"),
        pytest.param(rpc("tools/call", SLUGIFY), LEGACY, id="slugify"),
        pytest.param(
            rpc("tools/call", {"name": "slugify", "arguments": {"text": "a b", "separator": "/"}}),
            LEGACY,
            id="slugify, tool error",
        ),
        pytest.param(rpc("tools/call", {"name": "slugify", "arguments": {}}), LEGACY, id="slugify, missing argument"),
        pytest.param(rpc("tools/call", {"name": "slugify", "arguments": "text"}), LEGACY, id="slugify, bad arguments"),
        pytest.param(
            rpc("tools/call", {"name": "slugify", "arguments": SLUGIFY["arguments"], "x": 1}), LEGACY, id="extra field"
        ),
    ],
)
async def test_the_answer_is_the_sdk_transports_answer(
    stateless: None,
    access_token: str,
    single_exchanges: list[str],
    monkeypatch: pytest.MonkeyPatch,
    body: dict[str, Any],
    headers: dict[str, str],
) -> None:
    ours, sdks = await both_ways(monkeypatch, body, access_token, **headers)

    assert single_exchanges == [body["method"]]  # served here, and only the first time
    assert ours.status_code == sdks.status_code
    assert ours.headers["content-type"] == sdks.headers["content-type"] == "application/json"
    assert "mcp-session-id" not in ours.headers
    assert ours.json() == sdks.json()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(rpc("tools/call", SLUGIFY), id="a restricted tool, refused"),
        pytest.param(rpc("tools/list"), id="tools/list without the restricted tool"),
        pytest.param(INITIALIZE, id="instructions without the restricted tool"),
    ],
)
async def test_a_restricted_tool_gets_the_sdk_transports_answer(
    stateless: None, access_token: str, single_exchanges: list[str], monkeypatch: pytest.MonkeyPatch, body: Any
) -> None:
    tool = await sync_to_async(Tool.objects.get)(name="slugify")
    tool.restricted = True
    await sync_to_async(tool.save)()

    ours, sdks = await both_ways(monkeypatch, body, access_token, **LEGACY)

    assert single_exchanges == [body["method"]]
    assert ours.status_code == sdks.status_code == 200
    assert ours.json() == sdks.json()
    assert "slugify" not in json.dumps(ours.json().get("result", {}))


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(rpc("ping"), {"MCP-Protocol-Version": MODERN_VERSION}, id="2026-07-28: the SDK's own entry"),
        pytest.param(rpc("ping"), {**LEGACY, "Content-Type": "text/plain"}, id="not JSON"),
        pytest.param(rpc("ping"), {**LEGACY, "Accept": "text/event-stream"}, id="JSON not accepted"),
        pytest.param({**rpc("ping"), "jsonrpc": "1.0"}, LEGACY, id="not JSON-RPC 2.0"),
        pytest.param({**rpc("ping"), "id": True}, LEGACY, id="a boolean id"),
    ],
)
async def test_anything_unusual_is_left_to_the_sdk(
    stateless: None,
    access_token: str,
    single_exchanges: list[str],
    body: dict[str, Any],
    headers: dict[str, str],
) -> None:
    async with serving(build_application()) as http:
        response = await post_mcp(http, body, access_token, **headers)

    assert single_exchanges == []
    assert response.status_code != 500
