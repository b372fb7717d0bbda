"""The request metrics of ASGI applications outside Django (/mcp): status, latency, open streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from mcpdemo.metrics_endpoint import metered, serve_metrics
from tests.support.metrics import Samples, parse, value


def http_scope(method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": "/mcp", "headers": []}


async def nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def answering(
    status: int, content_type: bytes, body_sent: anyio.Event | None = None, release: anyio.Event | None = None
):
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
        if release is not None:
            assert body_sent is not None
            body_sent.set()
            await release.wait()
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def sink(message: Any) -> None:
    return None


async def test_an_answer_is_counted_with_its_status_and_time(metrics_on: Callable[[], Samples]) -> None:
    await metered(answering(202, b"application/json"), "mcp", http_scope(), nothing, sink)

    samples = metrics_on()
    assert value(samples, "mcpdemo_http_requests_total", route="mcp", method="POST", status="202") == 1
    assert value(samples, "mcpdemo_http_request_duration_seconds_count", route="mcp") == 1
    assert value(samples, "mcpdemo_mcp_open_streams") == 0


async def test_a_get_stream_is_open_while_it_lasts_and_not_a_latency(metrics_on: Callable[[], Samples]) -> None:
    started, release = anyio.Event(), anyio.Event()
    app = answering(200, b"text/event-stream", started, release)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(metered, app, "mcp", http_scope("GET"), nothing, sink)
        with anyio.fail_after(5):
            await started.wait()
        assert value(metrics_on(), "mcpdemo_mcp_open_streams") == 1
        release.set()

    samples = metrics_on()
    assert value(samples, "mcpdemo_mcp_open_streams") == 0
    assert value(samples, "mcpdemo_http_requests_total", route="mcp", method="GET", status="200") == 1
    assert value(samples, "mcpdemo_http_request_duration_seconds_count", route="mcp") == 0


async def test_a_posted_stream_is_a_latency_too(metrics_on: Callable[[], Samples]) -> None:
    await metered(answering(200, b"text/event-stream"), "mcp", http_scope(), nothing, sink)
    assert value(metrics_on(), "mcpdemo_http_request_duration_seconds_count", route="mcp") == 1


async def test_a_failing_application_counts_as_500_and_a_vanished_client_as_499(
    metrics_on: Callable[[], Samples],
) -> None:
    async def fails(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("bug")

    async def gives_up(scope: Any, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(RuntimeError):
        await metered(fails, "mcp", http_scope(), nothing, sink)
    await metered(gives_up, "mcp", http_scope(), nothing, sink)

    samples = metrics_on()
    assert value(samples, "mcpdemo_http_requests_total", route="mcp", method="POST", status="500") == 1
    assert value(samples, "mcpdemo_http_requests_total", route="mcp", method="POST", status="499") == 1


async def test_the_metrics_answer_is_the_text_format(metrics_on: Callable[[], Samples]) -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await serve_metrics(http_scope("GET"), nothing, send)

    start, body = sent
    headers = dict(start["headers"])
    assert start["status"] == 200
    assert headers[b"content-type"] == b"text/plain; version=0.0.4; charset=utf-8"
    assert int(headers[b"content-length"]) == len(body["body"])
    assert "mcpdemo_workers" in {name for name, _labels in parse(body["body"].decode())}
