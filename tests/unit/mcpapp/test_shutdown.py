"""A stream the server cut for shutdown ends with a JSON-RPC error for its request."""

from __future__ import annotations

import json

from mcpapp.transport.response_state import ResponseState
from mcpapp.transport.shutdown import SHUTDOWN_ERROR_CODE, BodyTap, StreamEnding


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


REQUEST = b'{"jsonrpc": "2.0", "id": "call-1", "method": "tools/call"}'
PROGRESS = b'event: message\r\ndata: {"jsonrpc": "2.0", "method": "notifications/progress"}\r\n\r\n'
ANSWER = b'event: message\r\ndata: {"jsonrpc": "2.0", "id": "call-1", "result": {}}\r\n\r\n'


async def _stream(request: bytes = REQUEST, media_type: bytes = b"text/event-stream"):
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    tap = BodyTap(_receiver(request))
    await tap.receive()
    response = ResponseState(send)
    ending = StreamEnding(response, tap)
    await ending.send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", media_type)]})
    await ending.send({"type": "http.response.body", "body": PROGRESS, "more_body": True})
    return ending, response, sent


def _error_in(body: bytes) -> dict:
    return json.loads(body.decode().rsplit("data: ", 1)[1].strip())


async def test_a_stream_closed_without_its_answer_ends_with_a_json_rpc_error() -> None:
    ending, response, sent = await _stream()

    await ending.send({"type": "http.response.body", "body": b"", "more_body": False})  # sse-starlette stopping

    error = _error_in(sent[-1]["body"])
    assert error["id"] == "call-1" and error["error"]["code"] == SHUTDOWN_ERROR_CODE
    assert "send the request again" in error["error"]["message"]
    assert response.complete


async def test_a_stream_left_open_is_completed_with_the_error() -> None:
    ending, response, sent = await _stream()

    await ending.finish()  # the application returned without completing the response

    assert sent[-1]["more_body"] is False
    assert _error_in(sent[-1]["body"])["id"] == "call-1"
    assert response.complete


async def test_an_answered_stream_is_left_as_it_is() -> None:
    ending, _response, sent = await _stream()
    await ending.send({"type": "http.response.body", "body": ANSWER, "more_body": True})
    await ending.send({"type": "http.response.body", "body": b"", "more_body": False})
    await ending.finish()

    assert [m["body"] for m in sent[1:]] == [PROGRESS, ANSWER, b""]


async def test_without_a_request_id_the_stream_is_just_closed() -> None:
    ending, _response, sent = await _stream(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')

    await ending.finish()

    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_json_answers_are_not_touched() -> None:
    ending, _response, sent = await _stream(media_type=b"application/json")
    await ending.send({"type": "http.response.body", "body": b"{}", "more_body": False})

    assert sent[-1]["body"] == b"{}"
