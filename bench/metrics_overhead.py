"""What the metrics add to one stateless ``tools/call``, in microseconds of CPU, measured in-process.

    .venv/bin/python -m bench.metrics_overhead [--calls N]

The end-to-end comparison is ``bench/run --scenarios 9a,9b``; its difference is within the
machine's noise, so this measures the recording itself: the same trivial ASGI request
(a start and a body sent) with what ``/mcp`` records for a tool call (the request through
``metered()``, one token check, one tool call), with metrics on in multiprocess mode (as
production serves them), then with metrics off. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from typing import Any

DIRECTORY = tempfile.mkdtemp(prefix="mcpdemo-metrics-overhead-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = DIRECTORY  # before prometheus-client is imported

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(MCPDEMO_METRICS_ENABLED=True)
django.setup()

from mcpdemo import metrics  # noqa: E402
from mcpdemo.metrics_endpoint import metered  # noqa: E402

SCOPE = {"type": "http", "method": "POST", "path": "/mcp", "headers": []}
START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
BODY = {"type": "http.response.body", "body": b"{}"}


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def send(message: Any) -> None:
    return None


async def tool_call(scope: Any, receive: Any, send: Any) -> None:
    """What the /mcp path records for one call, around nothing else."""
    metrics.record_token_check("valid")
    started = time.perf_counter()
    metrics.observe_tool_call("slugify", "ok", time.perf_counter() - started)
    await send(START)
    await send(BODY)


async def measure(calls: int, on: bool) -> float:
    """CPU microseconds per request."""
    settings.MCPDEMO_METRICS_ENABLED = on
    for _ in range(1000):  # warm: children built, files mapped
        await (metered(tool_call, "mcp", SCOPE, receive, send) if on else tool_call(SCOPE, receive, send))
    began = time.process_time()
    for _ in range(calls):
        if metrics.enabled():
            await metered(tool_call, "mcp", SCOPE, receive, send)
        else:
            await tool_call(SCOPE, receive, send)
    return 1e6 * (time.process_time() - began) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    try:
        rounds = [(asyncio.run(measure(args.calls, True)), asyncio.run(measure(args.calls, False))) for _ in range(3)]
    finally:
        shutil.rmtree(DIRECTORY, ignore_errors=True)
    on = sorted(r[0] for r in rounds)[1]
    off = sorted(r[1] for r in rounds)[1]
    print(f"metrics on (multiprocess): {on:.2f} µs per request; off: {off:.2f} µs; added: {on - off:.2f} µs")


if __name__ == "__main__":
    main()
