"""ASGI side of /mcp: Host/Origin checks, bearer authentication, then the SDK's transport.

The SDK's own Starlette app fixes the resource URL at start-up; ours is per request
when ``MCPDEMO_PUBLIC_URL`` is unset (development), so this small layer does the
checks in front of the SDK's ``StreamableHTTPSessionManager`` and hands it an
authenticated scope (``scope["user"]``), which the SDK uses to bind sessions. A response
that stays open (an SSE stream) re-checks its token every few seconds and ends once the
token is revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from django.conf import settings
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oauthapp.public_url import MCP_PATH, PROTECTED_RESOURCE_METADATA_PATH, origin_for

from . import postgres_reader, single_exchange
from .auth import verify_token
from .progress import ResponseProgress
from .server import INSTANT_TOOLS, create_mcp_server
from .sessions import SessionRegistry

MCP_PATHS = frozenset({MCP_PATH, MCP_PATH + "/"})
RETRY_AFTER_SECONDS = b"5"
# How often a response still open (an SSE stream) re-checks its token: a revoked
# token's stream ends within this many seconds (plus one database query).
STREAM_RECHECK_SECONDS = 2.0
logger = logging.getLogger(__name__)


async def _send_json(send: Send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


CORS_ALLOW_HEADERS = (
    b"authorization, content-type, accept, mcp-protocol-version, mcp-session-id, last-event-id, mcp-method, mcp-name"
)
CORS_EXPOSE_HEADERS = b"www-authenticate, mcp-session-id, mcp-protocol-version"


def _cors_headers(request_origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", request_origin.encode("latin-1")),
        (b"access-control-expose-headers", CORS_EXPOSE_HEADERS),
        (b"vary", b"Origin"),
    ]


async def _send_preflight(send: Send, request_origin: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                *_cors_headers(request_origin),
                (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
                (b"access-control-allow-headers", CORS_ALLOW_HEADERS),
                (b"access-control-max-age", b"86400"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _with_cors_headers(send: Send, request_origin: str) -> Send:
    extra = _cors_headers(request_origin)

    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return send_with_cors


def _rpc_error(message: str) -> dict:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}


def _trim_field_values(scope: Scope) -> Scope:
    """RFC 9110 §5.5: a field value excludes leading and trailing whitespace (SP and HTAB
    only). h11 trims both ends, but httptools (uvicorn's parser when installed, and
    production's) keeps trailing whitespace, so ``Mcp-Name: slugify `` would not match
    the body's ``slugify`` in the SDK's header check."""
    return {**scope, "headers": [(name, value.strip(b" \t")) for name, value in scope["headers"]]}


def _challenge(origin: str, error: str | None = None, description: str | None = None) -> str:
    """RFC 6750 §3 challenge pointing at our RFC 9728 metadata (MCP authorization spec)."""
    params = [f'resource_metadata="{origin}{PROTECTED_RESOURCE_METADATA_PATH}"', f'scope="{settings.MCP_SCOPE}"']
    if error:
        params += [f'error="{error}"', f'error_description="{description}"']
    return "Bearer " + ", ".join(params)


PEEK_LIMIT = 64 * 1024  # larger bodies go to the SDK unread (it enforces its own limit)


async def _peek_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the request body (up to ``PEEK_LIMIT``) and a ``receive`` that replays it.

    The body is ``None`` when it is larger than the limit or the client went away; the
    replaying ``receive`` hands on whatever was read either way.
    """
    messages: list[Message] = []
    size = 0
    body: bytes | None = None
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > PEEK_LIMIT:
            break
        if not message.get("more_body", False):
            body = b"".join(m.get("body", b"") for m in messages)
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


class MCPEndpoint:
    """The ``/mcp`` ASGI application."""

    def __init__(
        self,
        session_manager: StreamableHTTPSessionManager,
        json_session_manager: StreamableHTTPSessionManager,
        sessions: SessionRegistry | None = None,
    ) -> None:
        # The SDK's stateless managers over one server: SSE answers, and one JSON body for
        # the 2026-07-28 requests answered at once. 2025-era requests answered at once go
        # to the server's runner directly (single_exchange).
        self.session_manager = session_manager
        self.json_session_manager = json_session_manager
        # Stateful mode: the open sessions (each request is then served as above).
        self.sessions = sessions

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(postgres_reader.reading())
            await stack.enter_async_context(self.session_manager.run())
            await stack.enter_async_context(self.json_session_manager.run())
            if self.sessions is not None:
                await stack.enter_async_context(self.sessions.running())
            yield

    def _host_allowed(self, host: str) -> bool:
        domain, _port = split_domain_port(host)
        return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = _trim_field_values(scope)
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        # DNS-rebinding defence: the Host must be ours and a browser Origin must be ours
        # (or configured), before anything else is looked at.
        if not self._host_allowed(host):
            await _send_json(send, 421, _rpc_error("Invalid Host header"))
            return
        origin = origin_for(scope.get("scheme", "http"), host)
        request_origin = headers.get("origin")
        if request_origin and request_origin != origin and request_origin not in settings.MCPDEMO_ALLOWED_ORIGINS:
            await _send_json(send, 403, _rpc_error("Invalid Origin header"))
            return
        if request_origin:
            # A browser client from an allowed origin (e.g. MCP Inspector): CORS.
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await _send_preflight(send, request_origin)
                return
            send = _with_cors_headers(send, request_origin)

        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            # RFC 6750 §3.1: no error code when the request carried no credentials.
            await _send_json(
                send,
                401,
                {"error": "invalid_token", "error_description": "Authentication required"},
                [(b"www-authenticate", _challenge(origin).encode())],
            )
            return
        try:
            access_token = await verify_token(token, origin + MCP_PATH, origin)
        except DatabaseError:
            logger.exception("token check failed: database unavailable")
            await _send_json(
                send,
                503,
                {"error": "temporarily_unavailable", "error_description": "Try again shortly"},
                [(b"retry-after", RETRY_AFTER_SECONDS)],
            )
            return
        if access_token is None:
            description = "The access token is invalid, expired, revoked or not issued for this resource"
            await _send_json(
                send,
                401,
                {"error": "invalid_token", "error_description": description},
                [(b"www-authenticate", _challenge(origin, "invalid_token", description).encode())],
            )
            return

        scope = dict(scope)
        scope["path"] = MCP_PATH
        scope["user"] = AuthenticatedUser(access_token)
        scope["auth"] = AuthCredentials(access_token.scopes)
        body: bytes | None = None
        if scope["method"] == "POST":
            body, receive = await _peek_body(receive)
        message = single_exchange.decode_body(body)
        serve: ASGIApp = functools.partial(self._serve_stateless, message)
        version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
        if self.sessions is not None and (version is None or version in HANDSHAKE_PROTOCOL_VERSIONS):
            serve = functools.partial(self.sessions.handle, message=message, serve_stateless=serve)
        await self._serve_while_authorized(serve, scope, receive, send, token, origin)

    async def _serve_stateless(self, message: Any, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request as a stateless server: a request answered at once gets one JSON body."""
        if single_exchange.answered_at_once(message, INSTANT_TOOLS):
            quick = single_exchange.quick_request(Headers(scope=scope), message)
            if quick is not None:
                # The state the SDK's manager entered at start-up (a public attribute in
                # the SDK's own single-exchange entry, a private one on the manager).
                lifespan_state = self.session_manager._lifespan_state
                await single_exchange.answer(self.session_manager.app, lifespan_state, *quick, scope, receive, send)
                return
            await self.json_session_manager.handle_request(scope, receive, send)
            return
        await self.session_manager.handle_request(scope, receive, send)

    async def _serve_while_authorized(
        self,
        serve: ASGIApp,
        scope: Scope,
        receive: Receive,
        send: Send,
        token: str,
        origin: str,
    ) -> None:
        """Serve the request; if it is still running after a few seconds (an SSE stream, a
        long tool call), re-check its token every ``STREAM_RECHECK_SECONDS`` and end the
        response once the token is revoked, expired or its user deactivated.

        A short request finishes before the first check: it costs a timer, not a task (a
        task group and a sleeping task per request cost ~0.3 ms of CPU), and no query.
        """
        response = _ResponseProgress(send)
        token_lost = False
        watcher: asyncio.Task | None = None

        with anyio.CancelScope() as serving:

            async def watch_token() -> None:
                nonlocal token_lost
                while True:
                    if not await self._still_authorized(token, origin):
                        token_lost = True
                        serving.cancel()
                        return
                    await asyncio.sleep(STREAM_RECHECK_SECONDS)

            def start_watching() -> None:
                nonlocal watcher
                watcher = asyncio.ensure_future(watch_token())

            timer = asyncio.get_running_loop().call_later(STREAM_RECHECK_SECONDS, start_watching)
            try:
                await serve(scope, receive, response.send)
            finally:
                timer.cancel()
                if watcher is not None:
                    watcher.cancel()

        if token_lost:
            user: AuthenticatedUser = scope["user"]
            logger.info(
                "ended an open /mcp response: its token is no longer valid (client=%s)", user.access_token.client_id
            )
            await response.finish(origin)

    async def _still_authorized(self, token: str, origin: str) -> bool:
        try:
            return await verify_token(token, origin + MCP_PATH, origin) is not None
        except DatabaseError:
            # An outage is not a revocation: keep the stream, check again next time.
            logger.warning("could not re-check the token of an open /mcp response: database unavailable")
            return True


class _ResponseProgress(ResponseProgress):
    """A response that a revoked token ends cleanly."""

    async def finish(self, origin: str) -> None:
        """End a response whose token was revoked: close the body, or answer 401 if nothing was sent."""
        if self.complete:
            return
        if not self.started:
            description = "The access token was revoked or expired"
            await _send_json(
                self._send,
                401,
                {"error": "invalid_token", "error_description": description},
                [(b"www-authenticate", _challenge(origin, "invalid_token", description).encode())],
            )
            return
        with contextlib.suppress(OSError):  # the client may be gone already
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})


def build_mcp_endpoint(server: MCPServer | None = None) -> MCPEndpoint:
    """The /mcp endpoint over ``server`` (ours by default), stateful or stateless by settings."""
    server = server or create_mcp_server()
    # The SDK builds a session manager in streamable_http_app(); we use the managers, not
    # its Starlette app, and do Host/Origin checks ourselves (from ALLOWED_HOSTS).
    server.streamable_http_app(stateless_http=True, json_response=True, transport_security=None, host="")
    json_session_manager = server.session_manager
    server.streamable_http_app(stateless_http=True, transport_security=None, host="")
    sessions = None if settings.MCPDEMO_MCP_STATELESS else SessionRegistry()
    return MCPEndpoint(server.session_manager, json_session_manager, sessions)
