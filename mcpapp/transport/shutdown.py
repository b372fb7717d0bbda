"""Ending a response the server stopped before it was complete (it is shutting down).

On SIGTERM uvicorn stops accepting and the SDK's event streams (sse-starlette) stop at
once, without the answer to their request. Left like that, a client waiting on a
``tools/call`` sees a cut connection and cannot tell what happened. Instead the stream
gets a final JSON-RPC error for its request, which tells the client to send it again
(to another node, behind a balancer), and is then closed properly.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from starlette.types import Message, Receive

from .response_state import ResponseState

SHUTDOWN_ERROR_CODE = -32000  # JSON-RPC "server error" range: implementation-defined
SHUTDOWN_MESSAGE = "The server is shutting down and ended this stream: send the request again"
TAP_LIMIT = 64 * 1024
logger = logging.getLogger(__name__)


class BodyTap:
    """Wraps ``receive``: keeps the request body as the application reads it (up to a limit)."""

    def __init__(self, receive: Receive) -> None:
        self.upstream = receive
        self.chunks: list[bytes] = []
        self.size = 0
        self._id: Any = None
        self._decoded = False

    async def receive(self) -> Message:
        message = await self.upstream()
        if message["type"] == "http.request" and self.size <= TAP_LIMIT:
            chunk = message.get("body", b"")
            self.chunks.append(chunk)
            self.size += len(chunk)
        return message

    def request_id(self) -> Any:
        """The JSON-RPC id of the request, or ``None`` (a notification, not JSON, too large)."""
        if not self._decoded and self.size <= TAP_LIMIT:
            self._decoded = True
            try:
                message = json.loads(b"".join(self.chunks))
            except (ValueError, RecursionError):
                message = None
            self._id = message.get("id") if isinstance(message, dict) else None
        return self._id


def shutdown_event(request_id: Any) -> bytes:
    error = {"jsonrpc": "2.0", "id": request_id, "error": {"code": SHUTDOWN_ERROR_CODE, "message": SHUTDOWN_MESSAGE}}
    return b"event: message\r\ndata: " + json.dumps(error).encode() + b"\r\n\r\n"


class StreamEnding:
    """Wraps ``send`` for one ``/mcp`` request: an event stream that ends without the answer
    to its request (the server is shutting down) gets the JSON-RPC error as its last event.

    sse-starlette either closes such a stream properly or returns without completing the
    response; both are covered (:meth:`finish` for the second).
    """

    def __init__(self, response: ResponseState, request_body: BodyTap) -> None:
        self.response = response
        self.request_body = request_body
        self.event_stream = False
        self.answered = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            media_type = dict(message.get("headers", [])).get(b"content-type", b"")
            self.event_stream = media_type.startswith(b"text/event-stream")
        elif message["type"] == "http.response.body" and self.event_stream and not self.answered:
            body = message.get("body", b"")
            # The answer is the one message of the stream with a "result" or "error" member.
            if b'"result"' in body or b'"error"' in body:
                self.answered = True
            elif not message.get("more_body", False):
                message = {**message, "body": body + self._farewell()}
        await self.response.send(message)

    def _farewell(self) -> bytes:
        request_id = self.request_body.request_id()
        if request_id is None:
            return b""
        self.answered = True
        logger.info("ended an /mcp stream without its answer (shutting down): sent a JSON-RPC error")
        return shutdown_event(request_id)

    async def finish(self) -> None:
        """After the application returned: complete a started response it left open."""
        if self.response.complete or not self.response.started:
            return
        body = self._farewell() if self.event_stream and not self.answered else b""
        with contextlib.suppress(OSError):  # the client may be gone already
            await self.response.send({"type": "http.response.body", "body": body, "more_body": False})
