"""``/metrics`` and the request metrics of the ASGI applications outside Django (``/mcp``).

The router (``mcpdemo/asgi.py``) answers ``/metrics`` itself only for a reader
:func:`mcpdemo.metrics_access.allowed` lets in; every other request for it goes on to
Django, which knows no such page: a refusal is the site's ordinary 404, whatever the reason
(metrics off, wrong address, wrong or no secret). Served outside Django, a scrape needs no
Host in ``ALLOWED_HOSTS`` (a node is scraped at its own address), no https redirect, and
no database.
"""

from __future__ import annotations

import time

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics

METRICS_PATH = "/metrics"
EVENT_STREAM = b"text/event-stream"


async def serve_metrics(scope: Scope, receive: Receive, send: Send) -> None:
    # Merging the workers' files reads the disk: off the event loop.
    body = await anyio.to_thread.run_sync(metrics.exposition)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", metrics.CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def metered(app: ASGIApp, route: str, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve ``scope`` with ``app``, counting the answer by ``route`` and status, and its time.

    A response that is a server-sent event stream counts as an open stream while it lasts;
    the time of a ``GET`` stream (open as long as the client likes) is not a latency.
    """
    started = time.perf_counter()
    status = 0
    stream = False

    async def metered_send(message: Message) -> None:
        nonlocal status, stream
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", ()):
                if name.lower() == b"content-type" and value.startswith(EVENT_STREAM):
                    stream = True
                    metrics.stream_opened()
                    break
        await send(message)

    try:
        await app(scope, receive, metered_send)
    except Exception:
        status = status or 500  # the server answers 500 for an application that failed first
        raise
    finally:
        if stream:
            metrics.stream_closed()
        seconds = None if stream and scope["method"] == "GET" else time.perf_counter() - started
        # Nothing started and nothing failed: the client went away first (nginx's 499).
        metrics.record_http_request(route, scope["method"], status or 499, seconds)
