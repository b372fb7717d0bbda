"""A stream the server cut for shutdown ends with a JSON-RPC error for its request."""

from __future__ import annotations

import json

from mcpapp.transport.response_state import ResponseState
from mcpapp.transport.shutdown import SHUTDOWN_ERROR_CODE, BodyTap, end_cut_response


def _receiver(*chunks: bytes):
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        return messages.pop(0)

    return receive


async def test_the_tap_reads_the_request_id_from_what_the_application_read() -> None:
    tap = BodyTap(_receiver(b'{"jsonrpc": "2.0", "id": 7, ', b'"method": "tools/call"}'))

    first, second = await tap.receive(), await tap.receive()

    assert first["body"] and second["body"]  # handed on unchanged
    assert tap.request_id() == 7


async def test_the_tap_has_no_id_for_notifications_or_garbage() -> None:
    for body in (b'{"jsonrpc": "2.0", "method": "notifications/initialized"}', b"not json", b"[1, 2]"):
        tap = BodyTap(_receiver(body))
        await tap.receive()
        assert tap.request_id() is None


async def _started(media_type: bytes) -> tuple[ResponseState, list[dict]]:
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    response = ResponseState(send)
    await response.send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", media_type)]})
    event = b"event: message\r\ndata: {}\r\n\r\n"
    await response.send({"type": "http.response.body", "body": event, "more_body": True})
    return response, sent


async def test_a_cut_event_stream_gets_a_json_rpc_error_and_is_closed() -> None:
    response, sent = await _started(b"text/event-stream")

    await end_cut_response(response, "call-1")

    last = sent[-1]
    assert last["more_body"] is False
    data = last["body"].decode().split("data: ", 1)[1].strip()
    error = json.loads(data)
    assert error["id"] == "call-1" and error["error"]["code"] == SHUTDOWN_ERROR_CODE
    assert "send the request again" in error["error"]["message"]


async def test_a_cut_response_without_a_request_id_is_just_closed() -> None:
    response, sent = await _started(b"text/event-stream")

    await end_cut_response(response, None)

    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_a_complete_response_is_left_alone() -> None:
    response, sent = await _started(b"text/event-stream")
    await response.send({"type": "http.response.body", "body": b"", "more_body": False})
    count = len(sent)

    await end_cut_response(response, 1)

    assert len(sent) == count
