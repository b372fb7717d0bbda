"""JSON-RPC errors about a malformed message, in plain words instead of pydantic's text.

The SDK's transport answers a body that is not one valid JSON-RPC message (a batch, params
that are not an object, ...) with 400 and ``"Validation error: <pydantic's report>"``: model
names, input values, links. This wraps ``send`` and replaces only that message; every other
response passes through untouched (a status check per response).
"""

from __future__ import annotations

import json

from starlette.types import Message, Send

SDK_PREFIX = "Validation error:"
PLAIN_MESSAGE = (
    "Invalid request: the body must be one JSON-RPC 2.0 request, notification or response "
    "object with object params (batches are not supported)"
)


def concise_errors(send: Send) -> Send:
    held: list[Message] = []

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            content_type = dict(message.get("headers", [])).get(b"content-type", b"")
            if message["status"] == 400 and content_type.startswith(b"application/json"):
                held.append(message)
                return
        elif held and message["type"] == "http.response.body":
            held.append(message)
            if message.get("more_body", False):
                return
            start, *parts = held
            held.clear()
            body = _plain(b"".join(part.get("body", b"") for part in parts))
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return wrapped


def _plain(body: bytes) -> bytes:
    try:
        answer = json.loads(body)
        message = answer["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body
    if not isinstance(message, str) or not message.startswith(SDK_PREFIX):
        return body
    answer["error"]["message"] = PLAIN_MESSAGE
    return json.dumps(answer, separators=(",", ":")).encode()
