"""Ending a response the server stopped before it was complete (it is shutting down).

On SIGTERM uvicorn stops accepting and the SDK's event streams (sse-starlette) stop at
once, returning without completing the response. Left like that, a client waiting on a
``tools/call`` sees a cut connection and cannot tell what happened. Instead the stream
gets a final JSON-RPC error for its request, which tells the client to send it again
(to another node, behind a balancer), and is then closed properly.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.types import Message, Receive

from .response_state import ResponseState

SHUTDOWN_ERROR_CODE = -32000  # JSON-RPC "server error" range: implementation-defined
SHUTDOWN_MESSAGE = "The server is shutting down and ended this stream: send the request again"
TAP_LIMIT = 64 * 1024


class BodyTap:
    """Wraps ``receive``: keeps the request body as the application reads it (up to a limit)."""

    def __init__(self, receive: Receive) -> None:
        self.upstream = receive
        self.chunks: list[bytes] = []
        self.size = 0

    async def receive(self) -> Message:
        message = await self.upstream()
        if message["type"] == "http.request" and self.size <= TAP_LIMIT:
            chunk = message.get("body", b"")
            self.chunks.append(chunk)
            self.size += len(chunk)
        return message

    def request_id(self) -> Any:
        """The JSON-RPC id of the request, or ``None`` (a notification, not JSON, too large)."""
        if self.size > TAP_LIMIT:
            return None
        try:
            message = json.loads(b"".join(self.chunks))
        except (ValueError, RecursionError):
            return None
        return message.get("id") if isinstance(message, dict) else None


def shutdown_event(request_id: Any) -> bytes:
    error = {"jsonrpc": "2.0", "id": request_id, "error": {"code": SHUTDOWN_ERROR_CODE, "message": SHUTDOWN_MESSAGE}}
    return b"event: message\r\ndata: " + json.dumps(error).encode() + b"\r\n\r\n"


async def end_cut_response(response: ResponseState, request_id: Any) -> None:
    """Finish a started response the application returned from without completing it."""
    if response.complete or not response.started:
        return
    body = b""
    if request_id is not None and (response.media_type or b"").startswith(b"text/event-stream"):
        body = shutdown_event(request_id)
    with contextlib.suppress(OSError):  # the client may be gone already
        await response.downstream({"type": "http.response.body", "body": body, "more_body": False})
