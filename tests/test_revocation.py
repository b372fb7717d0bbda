"""Revocation reaches responses that are already open: an MCP stream of a revoked token ends.

The ASGI application is driven directly (httpx's ASGI transport buffers whole responses,
so it cannot watch a stream end); the re-check interval is shortened to keep the tests
fast. One test runs against a real uvicorn process with the shipped interval.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import anyio
import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.test import Client as DjangoClient
from django.utils import timezone

import mcpapp.asgi
from mcpapp.auth import verify_token as real_verify_token
from mcpdemo.asgi import Router, build_application
from oauthapp import connections
from oauthapp.models import Connection
from tests.browser import ScriptedUser
from tests.live_server import LiveServer, live_server
from tests.oauth import VSCODE_REGISTRATION, CodeRequest
from tests.test_mcp_auth import (
    INITIALIZE,
    LEGACY_VERSION,
    alter_access_token,
    in_session,
    open_session,
    serving,
    tokens_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

RECHECK_SECONDS = 0.2
SHIPPED_RECHECK_SECONDS = mcpapp.asgi.STREAM_RECHECK_SECONDS


@pytest.fixture
def access_token(tokens: dict[str, Any]) -> str:
    return tokens["access_token"]


@pytest.fixture(autouse=True)
def _fast_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mcpapp.asgi, "STREAM_RECHECK_SECONDS", RECHECK_SECONDS)


class OpenRequest:
    """One request sent straight into the ASGI app; its messages are seen as they are sent."""

    def __init__(self, app: Router, method: str, headers: dict[str, str], body: bytes = b"") -> None:
        self.app = app
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": "/mcp",
            "raw_path": b"/mcp",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.body = body
        self.messages: list[dict[str, Any]] = []
        self.started = anyio.Event()
        self.ended = anyio.Event()
        self._body_sent = False
        self._client_gone = anyio.Event()

    async def receive(self) -> dict[str, Any]:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self._client_gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if message["type"] == "http.response.start":
            self.started.set()

    async def run(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        finally:
            self.ended.set()

    def disconnect(self) -> None:
        self._client_gone.set()

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.messages if m["type"] == "http.response.start")

    @property
    def completed(self) -> bool:
        """The response ended properly: its last body message says no more body follows."""
        bodies = [m for m in self.messages if m["type"] == "http.response.body"]
        return bool(bodies) and not bodies[-1].get("more_body", False)

    @property
    def text(self) -> str:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body").decode()


def sse_stream(app: Router, token: str, session_id: str) -> OpenRequest:
    """The client's standing GET stream for server-to-client messages."""
    headers = {
        "accept": "text/event-stream",
        "authorization": f"Bearer {token}",
        "mcp-session-id": session_id,
        "mcp-protocol-version": LEGACY_VERSION,
    }
    return OpenRequest(app, "GET", headers)


def long_tool_call(app: Router, token: str, session_id: str | None) -> OpenRequest:
    """A POST whose response stays open: a 30-second countdown (``session_id`` None: stateless)."""
    body = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {"name": "countdown", "arguments": {"seconds": 30}},
    }
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "authorization": f"Bearer {token}",
        "mcp-protocol-version": LEGACY_VERSION,
    }
    if session_id is not None:
        headers["mcp-session-id"] = session_id
    return OpenRequest(app, "POST", headers, json.dumps(body).encode())


# Three ways a token stops being valid: the client revokes it, the user disconnects the
# client, an administrator revokes every token of the client.
def revoke_by_client(tokens: dict[str, Any], user: Any) -> None:
    response = DjangoClient().post("/revoke", {"token": tokens["access_token"], "client_id": tokens["client_id"]})
    assert response.status_code == 200


def disconnect_by_user(tokens: dict[str, Any], user: Any) -> None:
    browser = DjangoClient()
    browser.force_login(user)
    connection = Connection.objects.get(user=user, application__client_id=tokens["client_id"])
    assert browser.post(f"/connected-apps/{connection.pk}/disconnect").status_code == 302


def revoke_by_admin(tokens: dict[str, Any], user: Any) -> None:
    admin = DjangoClient()
    admin.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    application = Connection.objects.get(user=user).application
    response = admin.post(
        "/admin/oauthapp/application/",
        {"action": "revoke_all_tokens", "_selected_action": [application.pk]},
    )
    assert response.status_code == 302


REVOCATIONS = [
    pytest.param(revoke_by_client, id="client-revokes"),
    pytest.param(disconnect_by_user, id="user-disconnects"),
    pytest.param(revoke_by_admin, id="admin-revokes"),
]


async def ended_within(request: OpenRequest, seconds: float) -> float:
    started = time.monotonic()
    with anyio.fail_after(seconds):
        await request.ended.wait()
    return time.monotonic() - started


@pytest.mark.parametrize("revoke", REVOCATIONS)
async def test_an_open_event_stream_ends_soon_after_its_token_is_revoked(
    user: Any, tokens: dict[str, Any], revoke: Callable[[dict[str, Any], Any], None]
) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        stream = sse_stream(app, tokens["access_token"], session_id)
        tasks.start_soon(stream.run)
        with anyio.fail_after(5):
            await stream.started.wait()
        assert stream.status == 200

        await sync_to_async(revoke)(tokens, user)
        elapsed = await ended_within(stream, 5)

    assert elapsed < 1 + RECHECK_SECONDS * 2
    assert stream.completed  # ended as a finished response, not a dropped connection


async def test_a_long_tool_call_stream_ends_when_its_token_is_revoked(user: Any, tokens: dict[str, Any]) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        call = long_tool_call(app, tokens["access_token"], session_id)
        tasks.start_soon(call.run)
        with anyio.fail_after(5):
            await call.started.wait()

        await sync_to_async(revoke_by_client)(tokens, user)
        await ended_within(call, 5)

    assert call.status == 200
    assert call.completed
    assert "Liftoff" not in call.text


async def test_a_stateless_long_tool_call_ends_when_its_token_is_revoked(
    settings: Any, user: Any, tokens: dict[str, Any]
) -> None:
    settings.MCPDEMO_MCP_STATELESS = True
    app = build_application()
    async with serving(app), anyio.create_task_group() as tasks:
        call = long_tool_call(app, tokens["access_token"], None)
        tasks.start_soon(call.run)
        await anyio.sleep(RECHECK_SECONDS * 2)  # running, and re-checked at least once

        await sync_to_async(revoke_by_client)(tokens, user)
        await ended_within(call, 5)

    assert call.status == 200
    assert call.completed
    assert "Liftoff" not in call.text


async def test_a_stream_ends_when_its_token_expires(tokens: dict[str, Any]) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        stream = sse_stream(app, tokens["access_token"], session_id)
        tasks.start_soon(stream.run)
        with anyio.fail_after(5):
            await stream.started.wait()

        await alter_access_token(tokens["access_token"], expires=timezone.now())
        await ended_within(stream, 5)

    assert stream.completed


async def test_a_stream_with_a_valid_token_stays_open(tokens: dict[str, Any]) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        stream = sse_stream(app, tokens["access_token"], session_id)
        tasks.start_soon(stream.run)
        await anyio.sleep(RECHECK_SECONDS * 5)  # several re-checks

        still_open = not stream.ended.is_set()
        stream.disconnect()
        tasks.cancel_scope.cancel()

    assert still_open
    assert stream.status == 200


async def test_a_database_outage_during_a_recheck_does_not_end_the_stream(tokens: dict[str, Any]) -> None:
    database_down = False
    failed_checks = 0

    async def verify_token(*args: Any) -> Any:
        nonlocal failed_checks
        if database_down:
            failed_checks += 1
            raise OperationalError("database is down")
        return await real_verify_token(*args)

    app = build_application()
    with mock.patch("mcpapp.asgi.verify_token", verify_token):
        async with serving(app) as http, anyio.create_task_group() as tasks:
            session_id = await open_session(http, tokens["access_token"])
            stream = sse_stream(app, tokens["access_token"], session_id)
            tasks.start_soon(stream.run)
            with anyio.fail_after(5):
                await stream.started.wait()

            database_down = True
            await anyio.sleep(RECHECK_SECONDS * 4)
            still_open = not stream.ended.is_set()
            tasks.cancel_scope.cancel()

    assert failed_checks >= 2  # it did re-check, and could not tell
    assert still_open  # an outage is not a revocation


async def test_the_session_accepts_a_new_stream_after_a_revoked_one_was_ended(
    user: Any, tokens: dict[str, Any]
) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        first = sse_stream(app, tokens["access_token"], session_id)
        tasks.start_soon(first.run)
        with anyio.fail_after(5):
            await first.started.wait()
        await sync_to_async(revoke_by_client)(tokens, user)
        await ended_within(first, 5)

        # The same user signs in again; the client reopens its stream in the same session.
        fresh = await sync_to_async(tokens_for)(user, tokens["client_id"])
        second = sse_stream(app, fresh["access_token"], session_id)
        tasks.start_soon(second.run)
        with anyio.fail_after(5):
            await second.started.wait()
        second_status = second.status
        tasks.cancel_scope.cancel()

    assert second_status == 200  # not 409: the ended stream left nothing behind


async def test_short_requests_check_the_token_only_once(access_token: str) -> None:
    checks = mock.AsyncMock(wraps=real_verify_token)

    with mock.patch("mcpapp.asgi.verify_token", checks):
        async with serving() as http:
            session_id = await open_session(http, access_token)
            checks.reset_mock()
            listed = await in_session(http, session_id, access_token, "tools/list")

    assert listed.status_code == 200
    assert checks.await_count == 1


async def test_a_revoked_connection_closes_the_stream_even_without_a_refresh_token(
    user: Any, tokens: dict[str, Any]
) -> None:
    """Access tokens whose refresh token was already rotated away are revoked too."""
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        stream = sse_stream(app, tokens["access_token"], session_id)
        tasks.start_soon(stream.run)
        with anyio.fail_after(5):
            await stream.started.wait()

        application = await sync_to_async(lambda: Connection.objects.get(user=user).application)()
        await sync_to_async(connections.revoke_tokens)(application, user)
        await ended_within(stream, 5)

    assert stream.completed


# --- A real server, the shipped interval ------------------------------------------------

PASSWORD = "revocation password 1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with live_server(tmp_path_factory.mktemp("revocation"), {"alice": PASSWORD}) as running:
        yield running


async def _sign_in_and_get_tokens(server: LiveServer, http: httpx.AsyncClient) -> dict[str, Any]:
    registered = (await http.post(server.url + "/register", json=VSCODE_REGISTRATION)).json()
    request = CodeRequest(registered["client_id"], resource=server.url + "/mcp")
    authorize_url = str(httpx.URL(server.url + "/authorize", params=request.params()))
    result = await ScriptedUser("alice", PASSWORD).authorize(authorize_url)
    response = await http.post(
        server.url + "/token",
        data={
            "grant_type": "authorization_code",
            "client_id": registered["client_id"],
            "code": result["code"],
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.verifier,
            "resource": server.url + "/mcp",
        },
    )
    assert response.status_code == 200, response.text
    return {**response.json(), "client_id": registered["client_id"]}


@pytest.mark.e2e
async def test_a_real_server_ends_a_revoked_stream_within_a_few_seconds(server: LiveServer) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        tokens = await _sign_in_and_get_tokens(server, http)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        init = await http.post(
            server.url + "/mcp",
            json=INITIALIZE,
            headers={**headers, "Accept": "application/json, text/event-stream"},
        )
        session = {"Mcp-Session-Id": init.headers["mcp-session-id"], "MCP-Protocol-Version": LEGACY_VERSION}
        await http.post(
            server.url + "/mcp",
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
            headers={**headers, **session, "Accept": "application/json, text/event-stream"},
        )

        get_stream = {**headers, **session, "Accept": "text/event-stream"}
        async with http.stream("GET", server.url + "/mcp", headers=get_stream) as stream:
            assert stream.status_code == 200
            revoked = await http.post(
                server.url + "/revoke", data={"token": tokens["access_token"], "client_id": tokens["client_id"]}
            )
            assert revoked.status_code == 200
            started = time.monotonic()
            with anyio.fail_after(10):
                async for _chunk in stream.aiter_bytes():
                    pass  # pings, if any; the loop ends when the server ends the response
            elapsed = time.monotonic() - started

    assert elapsed < SHIPPED_RECHECK_SECONDS + 3
