from __future__ import annotations

import json
from typing import Any

from mcpapp.transport.concise_errors import PLAIN_MESSAGE, concise_errors


async def replay(*messages: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    wrapped = concise_errors(send)
    for message in messages:
        await wrapped(message)
    return sent


def start(status: int, content_type: bytes = b"application/json") -> dict[str, Any]:
    return {"type": "http.response.start", "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", b"999")]}  # fmt: skip


def error_body(message: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32602, "message": message}}).encode()


async def test_the_sdks_validation_report_is_replaced_and_the_length_recomputed() -> None:
    body = error_body("Validation error: 4 validation errors for union[JSONRPCRequest, ...]")
    sent = await replay(
        start(400),
        {"type": "http.response.body", "body": body[:10], "more_body": True},
        {"type": "http.response.body", "body": body[10:]},
    )

    assert len(sent) == 2
    answer = json.loads(sent[1]["body"])
    assert answer["error"] == {"code": -32602, "message": PLAIN_MESSAGE}
    assert dict(sent[0]["headers"])[b"content-length"] == str(len(sent[1]["body"])).encode()


async def test_other_400s_pass_through_unchanged() -> None:
    body = error_body("Bad Request: Missing session ID")
    sent = await replay(start(400), {"type": "http.response.body", "body": body})

    assert json.loads(sent[1]["body"])["error"]["message"] == "Bad Request: Missing session ID"


async def test_successful_and_streamed_responses_are_not_held() -> None:
    messages = [
        start(200, b"text/event-stream"),
        {"type": "http.response.body", "body": b"data: x\n\n", "more_body": True},
    ]

    assert await replay(*messages) == messages
