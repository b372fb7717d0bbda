"""Stateful MCP sessions (2025-era streamable HTTP) kept as small records.

The SDK's stateful mode keeps, for every session and for as long as it lives, a transport,
a JSON-RPC dispatcher, a server runner, memory streams and two tasks: about 40 KiB per idle
session, 400 MiB for 10,000. A session here is only what the protocol needs the server to
remember between requests: the credential that opened it (a request with another gets 404,
as in the SDK), when it was last used (idle sessions end after ``idle_timeout``), which of
its requests are in flight (so ``notifications/cancelled`` stops one, and ``DELETE`` stops
them all) and whether its GET stream is open (one at a time). Each request is then served
by the stateless path (the SDK's server runner; one JSON body or an SSE stream) with the
session's ``Mcp-Session-Id`` on the answer.

What the SDK's sessions would add, and this server does not use: requests from the server
to the client (sampling, elicitation, roots) and notifications outside a request. The GET
stream is offered all the same; it carries keep-alive comments until the session ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, AuthorizationContext, authorization_context
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, REQUEST_CANCELLED
from mcp.server.streamable_http_manager import DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE_TIMEOUT
from mcp_types import INTERNAL_ERROR, INVALID_REQUEST, ErrorData, JSONRPCError, RequestId
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from .progress import ResponseProgress
from .single_exchange import accepts

logger = logging.getLogger(__name__)

SESSION_ID_HEADER = MCP_SESSION_ID_HEADER.encode()
KEEP_ALIVE_SECONDS = 15.0  # a comment line on a quiet GET stream, as the SDK's SSE responses send
SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
]

# Serves one request the way a stateless server would (the rest of /mcp decides how).
StatelessServe = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(slots=True, eq=False)
class Session:
    owner: AuthorizationContext | None
    last_seen: float
    active: int = 0  # requests being served, the GET stream included
    in_flight: dict[RequestId, anyio.CancelScope] | None = None  # made on first use
    listening: bool = False
    ended: anyio.Event | None = None  # made when a GET stream waits for the end

    def end(self) -> None:
        for serving in (self.in_flight or {}).values():
            serving.cancel()
        if self.ended is not None:
            self.ended.set()


class SessionRegistry:
    """Open sessions by ``Mcp-Session-Id``, with the SDK's limits and idle timeout."""

    def __init__(
        self, max_sessions: int = DEFAULT_MAX_SESSIONS, idle_timeout: float = DEFAULT_SESSION_IDLE_TIMEOUT
    ) -> None:
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.sessions: dict[str, Session] = {}

    def open(self, owner: AuthorizationContext | None) -> str | None:
        """A new session's id, or ``None`` while ``max_sessions`` are open."""
        if len(self.sessions) >= self.max_sessions and not self.sweep():
            return None
        session_id = uuid4().hex
        self.sessions[session_id] = Session(owner, time.monotonic())
        return session_id

    def find(self, session_id: str, owner: AuthorizationContext | None) -> Session | None:
        """The open session, if ``owner`` opened it; an expired one ends now."""
        session = self.sessions.get(session_id)
        if session is None or session.owner != owner:
            return None
        if self._expired(session, time.monotonic()):
            self.end(session_id)
            return None
        return session

    def end(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is not None:
            session.end()

    def sweep(self) -> int:
        """End the sessions idle for longer than ``idle_timeout``; how many ended."""
        now = time.monotonic()
        expired = [session_id for session_id, session in self.sessions.items() if self._expired(session, now)]
        for session_id in expired:
            self.end(session_id)
        return len(expired)

    def _expired(self, session: Session, now: float) -> bool:
        return session.active == 0 and now - session.last_seen > self.idle_timeout

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Sweep idle sessions in the background; end every session on the way out."""
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._sweep_every, min(60.0, self.idle_timeout / 2))
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                for session_id in list(self.sessions):
                    self.end(session_id)

    async def _sweep_every(self, seconds: float) -> None:
        while True:
            await anyio.sleep(seconds)
            if swept := self.sweep():
                logger.info("ended %d idle MCP sessions", swept)

    @contextmanager
    def serving(self, session: Session) -> Iterator[None]:
        session.active += 1
        try:
            yield
        finally:
            session.active -= 1
            session.last_seen = time.monotonic()

    # --- Requests ------------------------------------------------------------------

    async def handle(
        self, scope: Scope, receive: Receive, send: Send, message: Any, serve_stateless: StatelessServe
    ) -> None:
        """Serve one 2025-era request of the stateful mode; ``message`` is the decoded POST body."""
        headers = Headers(scope=scope)
        user = scope.get("user")
        owner = authorization_context(user) if isinstance(user, AuthenticatedUser) else None
        session_id = headers.get(MCP_SESSION_ID_HEADER)
        method = scope["method"]
        if method not in ("POST", "GET", "DELETE"):
            await serve_stateless(scope, receive, send)  # the SDK's 405
            return
        if method == "POST" and session_id is None and _is_initialize(message):
            await self._open_session(owner, scope, receive, send, serve_stateless)
            return
        if method == "GET" and not accepts(headers)[1]:
            await _send_error(send, 406, "Not Acceptable: Client must accept text/event-stream")
            return
        if session_id is None:
            await _send_error(send, 400, "Bad Request: Missing session ID")
            return
        session = self.find(session_id, owner)
        if session is None:
            await _send_error(send, 404, "Session not found")
            return
        send = _with_session_id(send, session_id)
        if method == "DELETE":
            self.end(session_id)
            await _send(send, 200, b"", [(b"content-type", b"application/json")])
        elif method == "GET":
            await self._listen(session, receive, send)
        else:
            await self._post(session, message, scope, receive, send, serve_stateless)

    async def _open_session(
        self,
        owner: AuthorizationContext | None,
        scope: Scope,
        receive: Receive,
        send: Send,
        serve_stateless: StatelessServe,
    ) -> None:
        session_id = self.open(owner)
        if session_id is None:
            logger.warning("refusing to open a new MCP session: %d are open", self.max_sessions)
            await _send_error(send, 503, "Too many open sessions", INTERNAL_ERROR)
            return
        status: int | None = None

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            with self.serving(self.sessions[session_id]):
                await serve_stateless(scope, receive, _with_session_id(send_and_watch, session_id))
        finally:
            if status is None or status >= 400:  # nothing was established
                self.end(session_id)

    async def _post(
        self, session: Session, message: Any, scope: Scope, receive: Receive, send: Send, serve: StatelessServe
    ) -> None:
        if isinstance(message, dict) and message.get("method") == "notifications/cancelled":
            params = message.get("params")
            request_id = params.get("requestId") if isinstance(params, dict) else None
            if session.in_flight and isinstance(request_id, str | int) and request_id in session.in_flight:
                session.in_flight[request_id].cancel()
        request_id = message.get("id") if isinstance(message, dict) and "method" in message else None
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            with self.serving(session):  # notifications, client responses, anything odd
                await serve(scope, receive, send)
            return
        progress = _Progress(send)
        with anyio.CancelScope() as serving:
            if session.in_flight is None:
                session.in_flight = {}
            session.in_flight[request_id] = serving
            try:
                with self.serving(session):
                    await serve(scope, receive, progress.send)
            finally:
                if session.in_flight.get(request_id) is serving:
                    del session.in_flight[request_id]
                if not session.in_flight:
                    session.in_flight = None  # an idle session keeps no empty dict
        if serving.cancelled_caught:
            await progress.cancelled(request_id)

    async def _listen(self, session: Session, receive: Receive, send: Send) -> None:
        """The GET stream: open until the session ends or the client goes away."""
        if session.listening:
            await _send_error(send, 409, "Conflict: Only one SSE stream is allowed per session")
            return
        session.listening = True
        if session.ended is None:
            session.ended = anyio.Event()
        try:
            with self.serving(session):
                await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
                async with anyio.create_task_group() as tasks:

                    async def until_disconnected() -> None:
                        while (await receive())["type"] != "http.disconnect":
                            pass
                        tasks.cancel_scope.cancel()

                    async def until_ended() -> None:
                        await session.ended.wait()
                        tasks.cancel_scope.cancel()

                    tasks.start_soon(until_disconnected)
                    tasks.start_soon(until_ended)
                    while True:
                        await anyio.sleep(KEEP_ALIVE_SECONDS)
                        await send({"type": "http.response.body", "body": b": ping\r\n\r\n", "more_body": True})
                with anyio.CancelScope(shield=True):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        finally:
            session.listening = False


class _Progress(ResponseProgress):
    """A request's answer, followed so that a cancelled one can still be ended."""

    async def cancelled(self, request_id: RequestId) -> None:
        """End the answer of a cancelled request with ``Request cancelled``, as the SDK's 2025-era transport does."""
        if self.complete:
            return
        error = JSONRPCError(
            jsonrpc="2.0", id=request_id, error=ErrorData(code=REQUEST_CANCELLED, message="Request cancelled")
        ).model_dump_json(by_alias=True, exclude_unset=True)
        with anyio.CancelScope(shield=True):
            try:
                if self.media_type is None:
                    await _send(self._send, 200, error.encode(), [(b"content-type", b"application/json")])
                elif self.media_type.startswith(b"text/event-stream"):
                    event = f"event: message\r\ndata: {error}\r\n\r\n".encode()
                    await self._send({"type": "http.response.body", "body": event, "more_body": False})
                else:
                    await self._send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:
                pass  # the client went away


def _is_initialize(message: Any) -> bool:
    return isinstance(message, dict) and message.get("method") == "initialize" and "id" in message


def _with_session_id(send: Send, session_id: str) -> Send:
    value = session_id.encode()

    async def send_with_session_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (SESSION_ID_HEADER, value)]}
        await send(message)

    return send_with_session_id


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, status: int, text: str, code: int = INVALID_REQUEST) -> None:
    """A JSON-RPC error without a request id, as the SDK's transport answers session errors."""
    body = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=code, message=text))
    await _send(
        send,
        status,
        body.model_dump_json(by_alias=True, exclude_unset=True).encode(),
        [(b"content-type", b"application/json")],
    )
