"""Stateful MCP sessions: small records, each request served by the stateless path.

The session's life (open, used, cancelled requests, the GET stream, DELETE, idle expiry,
the cap) through the whole /mcp endpoint, plus the registry's own rules.
"""

from __future__ import annotations

import json
import types
from typing import Any

import anyio
import anyio.abc
import pytest

from mcpapp import sessions, tools
from mcpapp.sessions import SessionRegistry
from mcpdemo.asgi import build_application
from tests.support.mcp import (
    INITIALIZE,
    LEGACY_VERSION,
    OpenRequest,
    bearer,
    in_session,
    long_tool_call,
    open_session,
    post_mcp,
    rpc_message,
    serving,
    sse_stream,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def access_token(tokens: dict[str, Any]) -> str:
    return tokens["access_token"]


def session_headers(token: str, session_id: str, accept: str = "application/json, text/event-stream") -> dict[str, str]:
    return {
        **bearer(token),
        "Mcp-Session-Id": session_id,
        "MCP-Protocol-Version": LEGACY_VERSION,
        "Accept": accept,
    }


async def test_initialize_opens_a_session_and_answers_with_one_json_body(access_token: str) -> None:
    app = build_application()
    async with serving(app) as http:
        response = await post_mcp(http, INITIALIZE, access_token)

        session_id = response.headers["mcp-session-id"]
        assert session_id in app.mcp_endpoint.sessions.sessions
    assert response.headers["content-type"] == "application/json"
    assert response.json()["result"]["protocolVersion"] == LEGACY_VERSION


async def test_every_answer_in_a_session_carries_its_id(access_token: str) -> None:
    app = build_application()
    async with serving(app) as http:
        session_id = await open_session(http, access_token)
        listed = await in_session(http, session_id, access_token, "tools/list")
        streamed = await in_session(
            http, session_id, access_token, "tools/call", {"name": "countdown", "arguments": {"seconds": 0}}
        )
        session = app.mcp_endpoint.sessions.sessions[session_id]

    assert session.in_flight is None and session.active == 0  # idle again: nothing held

    assert listed.headers["mcp-session-id"] == session_id
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["mcp-session-id"] == session_id
    assert "Liftoff" in rpc_message(streamed)["result"]["content"][0]["text"]


async def test_a_request_without_a_session_id_gets_400(access_token: str) -> None:
    async with serving() as http:
        response = await post_mcp(http, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, access_token)

    assert response.status_code == 400
    assert response.json()["error"] == {"code": -32600, "message": "Bad Request: Missing session ID"}


async def test_delete_ends_the_session_and_its_id_then_gets_404(access_token: str) -> None:
    app = build_application()
    async with serving(app) as http:
        session_id = await open_session(http, access_token)
        deleted = await http.delete("/mcp", headers=session_headers(access_token, session_id))
        after = await in_session(http, session_id, access_token, "ping")

        assert session_id not in app.mcp_endpoint.sessions.sessions
    assert deleted.status_code == 200
    assert after.status_code == 404
    assert after.json()["error"]["message"] == "Session not found"


async def listen(app: Any, tasks: anyio.abc.TaskGroup, token: str, session_id: str) -> OpenRequest:
    """Open the session's GET stream in ``tasks``; return it once its answer has started."""
    stream = sse_stream(app, token, session_id)
    tasks.start_soon(stream.run)
    with anyio.fail_after(5):
        await stream.started.wait()
    return stream


async def test_the_get_stream_stays_open_until_the_session_is_deleted(access_token: str) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, access_token)
        stream = await listen(app, tasks, access_token, session_id)
        second = sse_stream(app, access_token, session_id)
        await second.run()
        await anyio.sleep(0.2)
        assert not stream.ended.is_set()

        await http.delete("/mcp", headers=session_headers(access_token, session_id))
        with anyio.fail_after(5):
            await stream.ended.wait()

    start = stream.messages[0]
    assert start["status"] == 200
    assert (b"content-type", b"text/event-stream") in start["headers"]
    assert (b"mcp-session-id", session_id.encode()) in start["headers"]
    assert stream.messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert second.messages[0]["status"] == 409  # one GET stream per session


async def test_the_get_stream_ends_when_the_client_goes_away(access_token: str) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, access_token)
        stream = await listen(app, tasks, access_token, session_id)
        stream.disconnect()
        with anyio.fail_after(5):
            await stream.ended.wait()
        again = await listen(app, tasks, access_token, session_id)
        again.disconnect()

    assert again.messages[0]["status"] == 200  # the session can listen again


async def test_a_get_stream_must_accept_event_streams(access_token: str) -> None:
    async with serving() as http:
        session_id = await open_session(http, access_token)
        response = await http.get("/mcp", headers=session_headers(access_token, session_id, accept="application/json"))

    assert response.status_code == 406


async def test_a_cancelled_request_stops_and_its_answer_says_so(
    access_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool_stopped = anyio.Event()
    real_sleep = tools.anyio.sleep

    async def watched_sleep(delay: float) -> None:
        try:
            await real_sleep(delay)
        except anyio.get_cancelled_exc_class():
            tool_stopped.set()
            raise

    monkeypatch.setattr(tools, "anyio", types.SimpleNamespace(sleep=watched_sleep))
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}}
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, access_token)
        call = long_tool_call(app, access_token, session_id)  # request id 9
        tasks.start_soon(call.run)
        with anyio.fail_after(5):
            await call.started.wait()

        accepted = await post_mcp(http, cancel, access_token, **{"Mcp-Session-Id": session_id})
        with anyio.fail_after(5):
            await tool_stopped.wait()
            await call.ended.wait()
        after = await in_session(http, session_id, access_token, "ping")

    assert accepted.status_code == 202
    last = call.messages[-1]
    assert last["more_body"] is False
    assert b'"code":-32800' in last["body"] and b'"id":9' in last["body"]  # "Request cancelled"
    assert after.status_code == 200  # the session goes on


async def test_a_failed_initialize_leaves_no_session(access_token: str) -> None:
    app = build_application()
    async with serving(app) as http:
        response = await http.post(
            "/mcp",
            content=json.dumps(INITIALIZE),
            headers={**bearer(access_token), "Accept": "text/event-stream", "Content-Type": "application/json"},
        )

        assert response.status_code == 406
        assert app.mcp_endpoint.sessions.sessions == {}


async def test_at_the_cap_a_new_session_gets_503_and_existing_ones_go_on(access_token: str) -> None:
    app = build_application()
    app.mcp_endpoint.sessions.max_sessions = 1
    async with serving(app) as http:
        session_id = await open_session(http, access_token)
        refused = await post_mcp(http, INITIALIZE, access_token)
        existing = await in_session(http, session_id, access_token, "ping")

    assert refused.status_code == 503
    assert refused.json()["error"]["message"] == "Too many open sessions"
    assert existing.status_code == 200


# --- The registry -----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(sessions.time, "monotonic", clock)
    return clock


OWNER = {"client_id": "c", "issuer": None, "subject": "1"}


def test_a_session_belongs_to_the_credential_that_opened_it(clock: Clock) -> None:
    registry = SessionRegistry()
    session_id = registry.open(OWNER)

    assert registry.find(session_id, OWNER) is not None
    assert registry.find(session_id, {**OWNER, "subject": "2"}) is None
    assert registry.find("no-such-session", OWNER) is None


def test_an_idle_session_ends_after_the_idle_timeout(clock: Clock) -> None:
    registry = SessionRegistry(idle_timeout=60)
    session_id = registry.open(OWNER)

    clock.now += 59
    assert registry.find(session_id, OWNER) is not None
    clock.now += 61
    assert registry.find(session_id, OWNER) is None
    assert registry.sessions == {}


async def test_a_session_with_a_request_in_flight_never_expires(clock: Clock) -> None:
    registry = SessionRegistry(idle_timeout=60)
    session_id = registry.open(OWNER)
    session = registry.find(session_id, OWNER)

    with registry.serving(session):
        clock.now += 3600
        assert registry.sweep() == 0
    clock.now += 59
    assert registry.sweep() == 0  # idle counts from the end of the last request
    clock.now += 2
    assert registry.sweep() == 1


def test_at_the_cap_an_expired_session_makes_room(clock: Clock) -> None:
    registry = SessionRegistry(max_sessions=1, idle_timeout=60)
    first = registry.open(OWNER)

    assert registry.open(OWNER) is None
    clock.now += 61
    second = registry.open(OWNER)
    assert second is not None
    assert list(registry.sessions) == [second] != [first]


async def test_ending_a_session_stops_its_requests(clock: Clock) -> None:
    registry = SessionRegistry()
    session_id = registry.open(OWNER)
    session = registry.find(session_id, OWNER)

    with anyio.CancelScope() as request:
        session.in_flight = {1: request}
        registry.end(session_id)
        await anyio.sleep(1)

    assert request.cancelled_caught


async def test_shutting_down_ends_every_session() -> None:
    registry = SessionRegistry()
    async with registry.running():
        registry.open(OWNER)
        registry.open(OWNER)

    assert registry.sessions == {}


def test_an_idle_session_is_a_small_record(clock: Clock) -> None:
    registry = SessionRegistry()
    session = registry.find(registry.open(OWNER), OWNER)

    assert not hasattr(session, "__dict__")  # slots: no per-instance dict
    assert session.in_flight is None and session.ended is None  # made only when used
