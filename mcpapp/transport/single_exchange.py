"""Stateless /mcp requests that are answered at once, served in the request's own task.

For every POST the SDK's stateless transport builds a transport, memory streams, a JSON-RPC
dispatcher and tasks, only to hand one request to its ``ServerRunner`` and carry the result
back: about half the CPU of a quick tool call. A request that needs none of that goes
straight to the same runner through the SDK's public single-exchange driver
(``mcp.server.runner.serve_one``, which the SDK's own 2026-07-28 entry uses), and its answer
is written as the SDK's transport writes it: same status, same headers that matter, same
JSON-RPC result or error. ``tests/unit/mcpapp/test_single_exchange.py`` sends each kind of
request both ways and compares.

Which requests qualify (:func:`quick_request`): one well-formed JSON-RPC request, JSON in and
accepted, a handshake-era (or absent) protocol version, and an answer that nothing can
precede: ``initialize``, ``ping``, the lists, or a call of a tool that cannot talk to the
client before its result (it takes no ``Context``, see ``mcpapp.server.answers_at_once``)
without a progress token. Such a request has nothing the SDK's transport would deliver
besides its answer, so no capability is lost. Everything else, errors included, is the SDK's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.connection import Connection
from mcp.server.lowlevel.server import Server
from mcp.server.runner import serve_one
from mcp.server.streamable_http import check_accept_headers
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import DEFAULT_NEGOTIATED_VERSION, ErrorData, JSONRPCError, JSONRPCRequest, JSONRPCResponse, RequestId
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

# Methods whose answer nothing can precede (tools/call qualifies per tool).
ANSWERED_AT_ONCE = frozenset(
    {
        "initialize",
        "ping",
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
    }
)
PEEK_LIMIT = 64 * 1024  # larger bodies go to the SDK unread (it enforces its own limit)
NOT_JSON: Any = object()  # a body that is not JSON, or too large to have been read here


async def peek_body(receive: Receive) -> tuple[bytes | None, Receive]:
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


def decode_body(body: bytes | None) -> Any:
    """The JSON value of a request body, or ``NOT_JSON`` (the SDK reports the error)."""
    if body is None:
        return NOT_JSON
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return NOT_JSON


def answered_at_once(message: Any, quick_tools: frozenset[str]) -> bool:
    """Whether this decoded body is one JSON-RPC request whose answer nothing can precede."""
    if not isinstance(message, dict) or "id" not in message:
        return False
    params = message.get("params", {})
    if not isinstance(params, dict):
        return False
    meta = params.get("_meta")
    if isinstance(meta, dict) and "progressToken" in meta:
        return False  # the client asked to hear progress
    method = message.get("method")
    if method == "tools/call":
        return params.get("name") in quick_tools
    return method in ANSWERED_AT_ONCE


def quick_request(scope: Scope, message: Any, quick_tools: frozenset[str]) -> tuple[JSONRPCRequest, str] | None:
    """The validated request and its protocol version, if this module may answer it (else ``None``)."""
    if not answered_at_once(message, quick_tools):
        return None
    request = Request(scope)
    version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
    if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return None  # the 2026-07-28 entry, with its own checks
    content_type = request.headers.get("content-type", "").split(";")[0]
    if "application/json" not in (part.strip() for part in content_type.split(",")):
        return None
    accepts_json, _accepts_sse = check_accept_headers(request)  # the SDK's own reading of Accept
    if not accepts_json:
        return None
    try:
        rpc = JSONRPCRequest.model_validate(message, by_name=False)
    except ValidationError:
        return None
    return rpc, version or DEFAULT_NEGOTIATED_VERSION


@dataclass
class _JSONResponseContext:
    """The ``DispatchContext`` of one request answered with one JSON body.

    As in the SDK's stateless transport: no back channel for server requests (no session for
    the reply to land in). Only requests that cannot notify reach here.
    """

    request_id: RequestId
    message_metadata: ServerMessageMetadata
    transport: TransportContext = field(
        default_factory=lambda: TransportContext(kind="streamable-http", can_send_request=False)
    )
    progress_token: None = None
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = False

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None) -> None:
        logger.warning("dropped %s: a request answered at once has no stream for it", method)

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None


async def answer(
    server: Server[Any],
    lifespan_state: Any,
    request: JSONRPCRequest,
    protocol_version: str,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Run ``request`` through the server's handlers and send its JSON-RPC answer."""
    context = _JSONResponseContext(
        request_id=request.id,
        message_metadata=ServerMessageMetadata(request_context=Request(scope, receive), can_send_request=False),
    )
    # Born ready, as the SDK's stateless transport makes it: no initialize needed first.
    connection = Connection.from_envelope(protocol_version, None, None)
    reply: JSONRPCResponse | JSONRPCError
    try:
        result = await serve_one(
            server, context, request.method, request.params, connection=connection, lifespan_state=lifespan_state
        )
    except Exception as exc:
        error = handler_exception_to_error_data(exc)
        if error is None:
            # As the SDK's dispatcher answers an unexpected handler failure.
            logger.exception("handler for %r raised", request.method)
            error = ErrorData(code=0, message=str(exc))
        reply = JSONRPCError(jsonrpc="2.0", id=request.id, error=error)
    else:
        reply = JSONRPCResponse(jsonrpc="2.0", id=request.id, result=result)
    body = reply.model_dump_json(by_alias=True, exclude_unset=True).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
