"""The ``/mcp`` ASGI endpoint: Host and Origin checks, CORS, the bearer challenge, then the SDK.

The protocol is the ``mcp`` SDK's: its ``StreamableHTTPSessionManager`` serves every
request, stateful (its own sessions: server-to-client requests, notifications, the GET
stream, ``logging/setLevel``, subscriptions) or stateless (any worker answers any request),
in both protocol eras. In front of it this layer does what the SDK's Starlette app would do,
per request rather than fixed at start-up (the public origin comes from the request's Host
in development):

- DNS-rebinding defence: the Host must be one of ``ALLOWED_HOSTS`` (421), a browser's
  Origin must be ours or in ``MCPDEMO_ALLOWED_ORIGINS`` (403); allowed browser origins get
  CORS (Starlette's middleware);
- the bearer token, checked by DOT's configured validator (:mod:`mcpapp.auth`): 401 with
  the RFC 6750 / RFC 9728 challenge, 403 ``insufficient_scope``, 503 while the database is down;
- a response still open after a few seconds (an SSE stream, a long tool call) re-checks its
  token and ends once the token is revoked, expired or its user deactivated.

One shortcut, invisible on the wire: in stateless mode a request answered at once goes to
the SDK's single-exchange driver (:mod:`mcpapp.transport.single_exchange`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio
from django.conf import settings
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from oauth2_provider.utils import parse_bearer_token
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from mcpdemo.logs import OUTAGES
from oauthapp import token_lookup
from oauthapp.public_url import MCP_PATH, PROTECTED_RESOURCE_METADATA_PATH, origin_for

from . import conf as conf_module
from . import usage
from .auth import DOTTokenVerifier, Verdict
from .conf import conf
from .server import answers_at_once, configured_tools, create_mcp_server
from .transport import single_exchange
from .transport.concise_errors import concise_errors
from .transport.response_state import ResponseState
from .transport.shutdown import BodyTap, StreamEnding

MCP_PATHS = frozenset({MCP_PATH, MCP_PATH + "/"})
RETRY_AFTER_SECONDS = b"5"
CORS_ALLOW_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "mcp-protocol-version",
    "mcp-session-id",
    "last-event-id",
    "mcp-method",
    "mcp-name",
)
CORS_EXPOSE_HEADERS = ("www-authenticate", "mcp-session-id", "mcp-protocol-version")
logger = logging.getLogger(__name__)


async def send_json(send: Send, status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
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


def _rpc_error(message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}


def _trim_field_values(scope: Scope) -> Scope:
    """RFC 9110 §5.5: a field value excludes leading and trailing whitespace (SP and HTAB
    only). h11 trims both ends, but httptools (uvicorn's parser when installed, and
    production's) keeps trailing whitespace, so ``Mcp-Name: slugify `` would not match
    the body's ``slugify`` in the SDK's header check."""
    return {**scope, "headers": [(name, value.strip(b" \t")) for name, value in scope["headers"]]}


def challenge(origin: str, verdict: Verdict | None = None) -> bytes:
    """RFC 6750 §3 challenge pointing at our RFC 9728 metadata (the MCP authorization spec)."""
    params = [f'resource_metadata="{origin}{PROTECTED_RESOURCE_METADATA_PATH}"', f'scope="{conf.MCP_SCOPE}"']
    if verdict is not None:  # §3.1: no error code when the request carried no credentials
        params += [f'error="{verdict.error}"', f'error_description="{verdict.description}"']
    return ("Bearer " + ", ".join(params)).encode()


async def refuse(send: Send, origin: str, verdict: Verdict | None) -> None:
    """401 (or 403 for a token without the scope) with the challenge."""
    status = 403 if verdict is not None and verdict.error == "insufficient_scope" else 401
    error = verdict.error if verdict is not None else "invalid_token"
    description = verdict.description if verdict is not None else "Authentication required"
    await send_json(
        send,
        status,
        {"error": error, "error_description": description},
        [(b"www-authenticate", challenge(origin, verdict))],
    )


class MCPEndpoint:
    """The ``/mcp`` ASGI application over one MCPServer."""

    def __init__(
        self,
        server: MCPServer,
        tools: list[Tool],
        *,
        stateless: bool,
        json_response: bool = False,
        single_exchange: bool = True,
    ) -> None:
        """``json_response`` and ``single_exchange=False`` exist for the contract tests: the SDK's
        JSON-response transport, without the shortcut, is what the shortcut must equal."""
        self.server = server
        self.stateless = stateless
        self.single_exchange = stateless and single_exchange
        # The SDK's documented way to serve an MCPServer inside another ASGI app: build its
        # Starlette app once, then drive its session manager (started by our lifespan).
        # Host/Origin checks are ours (from ALLOWED_HOSTS), so the SDK's are off.
        server.streamable_http_app(
            stateless_http=stateless, json_response=json_response, transport_security=None, host=""
        )
        self.session_manager: StreamableHTTPSessionManager = server.session_manager
        self.quick_tools = frozenset(tool.name for tool in tools if answers_at_once(tool))
        self.quick_lifespan_state: Any = None
        self.allowed_origins = frozenset(conf.ALLOWED_ORIGINS)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            # First in, last out: the final flush counts the calls the session manager ended.
            await stack.enter_async_context(usage.flushing())
            await stack.enter_async_context(token_lookup.reading())
            await stack.enter_async_context(self.session_manager.run())
            if self.single_exchange:
                # The single-exchange shortcut runs the server's handlers itself, inside the
                # server's own (public) lifespan, as the SDK's managers do.
                lowlevel = self.session_manager.app
                self.quick_lifespan_state = await stack.enter_async_context(lowlevel.lifespan(lowlevel))
            yield

    def _host_allowed(self, host: str) -> bool:
        domain, _port = split_domain_port(host)
        return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = _trim_field_values(scope)
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        # DNS-rebinding defence, before anything else is looked at.
        if not self._host_allowed(host):
            await send_json(send, 421, _rpc_error("Invalid Host header"))
            return
        origin = origin_for(scope.get("scheme", "http"), host)
        request_origin = headers.get("origin")
        if request_origin and request_origin != origin:
            if request_origin not in self.allowed_origins:
                await send_json(send, 403, _rpc_error("Invalid Origin header"))
                return
            # A browser client from an allowed origin (e.g. MCP Inspector): Starlette's CORS.
            app = CORSMiddleware(
                self._authenticated,
                allow_origins=[request_origin],
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=CORS_ALLOW_HEADERS,
                expose_headers=CORS_EXPOSE_HEADERS,
                max_age=86400,
            )
            await app(scope, receive, send)
            return
        await self._authenticated(scope, receive, send)

    async def _authenticated(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        origin = origin_for(scope.get("scheme", "http"), headers.get("host", ""))
        credentials = headers.getlist("authorization")
        if len(credentials) > 1:
            # Two credentials: which one the request means is anyone's guess (RFC 6750 §3.1).
            await send_json(
                send,
                400,
                {"error": "invalid_request", "error_description": "Send one Authorization header"},
                [
                    (
                        b"www-authenticate",
                        challenge(origin, Verdict(None, "invalid_request", "Send one Authorization header")),
                    )
                ],
            )
            return
        token = parse_bearer_token(credentials[0]) if credentials else None
        if not token:
            await refuse(send, origin, None)
            return
        verifier = DOTTokenVerifier(resource=origin + MCP_PATH, issuer=origin)
        try:
            verdict = await verifier.check(token)
        except DatabaseError as exc:
            OUTAGES.log(
                logger,
                logging.ERROR,
                "mcp-token-check",
                "token check failed, answering 503: database unavailable (%s)",
                exc,
            )
            await send_json(
                send,
                503,
                {"error": "temporarily_unavailable", "error_description": "Try again shortly"},
                [(b"retry-after", RETRY_AFTER_SECONDS)],
            )
            return
        if verdict.access_token is None:
            await refuse(send, origin, verdict)
            return

        scope = {
            **scope,
            "path": MCP_PATH,
            "user": AuthenticatedUser(verdict.access_token),
            "auth": AuthCredentials(verdict.access_token.scopes),
        }
        serve: ASGIApp = self.session_manager.handle_request
        version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
        if (
            self.single_exchange
            and scope["method"] == "POST"
            and (version is None or version in HANDSHAKE_PROTOCOL_VERSIONS)
        ):
            serve = self._serve_stateless_post
        await self._serve_while_authorized(serve, scope, receive, concise_errors(send), verifier, token)

    async def _serve_stateless_post(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request answered at once goes to the server's runner directly; anything else to the SDK's manager."""
        body, receive = await single_exchange.peek_body(receive)
        quick = single_exchange.quick_request(scope, single_exchange.decode_body(body), self.quick_tools)
        if quick is None:
            await self.session_manager.handle_request(scope, receive, send)
            return
        await single_exchange.answer(self.session_manager.app, self.quick_lifespan_state, *quick, scope, receive, send)

    async def _serve_while_authorized(
        self,
        serve: Callable[[Scope, Receive, Send], Awaitable[None]],
        scope: Scope,
        receive: Receive,
        send: Send,
        verifier: DOTTokenVerifier,
        token: str,
    ) -> None:
        """Serve the request; if it is still running after a few seconds, re-check its token every
        ``STREAM_RECHECK_SECONDS`` and end the response once the token is no longer good.

        A short request finishes before the first check: it costs a timer, not a task, and no query.
        """
        response = ResponseState(send)
        request_body = BodyTap(receive)
        ending = StreamEnding(response, request_body)
        token_lost = False
        watcher: asyncio.Task[None] | None = None
        interval = conf_module.STREAM_RECHECK_SECONDS

        with anyio.CancelScope() as serving:

            async def watch_token() -> None:
                nonlocal token_lost
                while True:
                    if not await self._still_authorized(verifier, token):
                        token_lost = True
                        serving.cancel()
                        return
                    await asyncio.sleep(interval)

            def start_watching() -> None:
                nonlocal watcher
                watcher = asyncio.ensure_future(watch_token())

            timer = asyncio.get_running_loop().call_later(interval, start_watching)
            try:
                await serve(scope, request_body.receive, ending.send)
            finally:
                timer.cancel()
                if watcher is not None:
                    watcher.cancel()

        if token_lost:
            user: AuthenticatedUser = scope["user"]
            logger.info(
                "ended an open /mcp response: its token is no longer valid (client=%s)", user.access_token.client_id
            )
            await self._end(response, verifier)
        else:
            await ending.finish()  # a stream the SDK left open when stopping

    async def _still_authorized(self, verifier: DOTTokenVerifier, token: str) -> bool:
        try:
            return (await verifier.check(token)).access_token is not None
        except DatabaseError:
            # An outage is not a revocation: keep the stream, check again next time.
            OUTAGES.log(
                logger,
                logging.WARNING,
                "mcp-token-recheck",
                "could not re-check the token of an open /mcp response: database unavailable",
            )
            return True

    @staticmethod
    async def _end(response: ResponseState, verifier: DOTTokenVerifier) -> None:
        """End a response whose token was revoked: close the body, or answer 401 if nothing was sent."""
        if response.complete:
            return
        if not response.started:
            origin = verifier.issuer
            await refuse(
                response.downstream, origin, Verdict(None, description="The access token was revoked or expired")
            )
            return
        with contextlib.suppress(OSError):  # the client may be gone already
            await response.downstream({"type": "http.response.body", "body": b"", "more_body": False})


def build_mcp_endpoint(server: MCPServer | None = None, tools: list[Tool] | None = None, **options: Any) -> MCPEndpoint:
    """The /mcp endpoint over ``server`` (ours, with the configured tools, by default)."""
    if server is None:
        tools = configured_tools() if tools is None else tools
        server = create_mcp_server(tools)
    return MCPEndpoint(server, tools or [], stateless=conf.STATELESS, **options)
