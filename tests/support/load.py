"""Steady load for the fault tests: a few threads repeating a request, every outcome counted."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

from tests.support.mcp import MCP_HEADERS

# A request: given a client and a sequence number, send it and name the outcome ("200" is success).
Request = Callable[[httpx.Client, int], str]


def answer_of(response: httpx.Response) -> dict:
    text = response.text
    return json.loads(text.split("data: ", 1)[1].split("\n", 1)[0]) if text.startswith("event:") else response.json()


def describe_failure(response: httpx.Response) -> str:
    """``503 json retry-after``, ``502 html``…: enough to tell our answers from the proxy's."""
    kind = "json" if response.headers.get("content-type", "").startswith("application/json") else "other"
    retry = " retry-after" if "retry-after" in response.headers else ""
    return f"{response.status_code} {kind}{retry}"


def slugify_call(url: str, access_token: str) -> Request:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {access_token}", "MCP-Protocol-Version": "2025-11-25"}

    def call(http: httpx.Client, i: int) -> str:
        body = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                "params": {"name": "slugify", "arguments": {"text": f"load {i}"}}}  # fmt: skip
        response = http.post(url + "/mcp", content=json.dumps(body), headers=headers)
        if response.status_code != 200:
            return describe_failure(response)
        try:
            return "200" if answer_of(response)["result"]["content"][0]["text"] == f"load-{i}" else "200 wrong body"
        except (ValueError, KeyError, IndexError):
            return "200 truncated"

    return call


class SteadyLoad:
    """``clients`` threads sending ``request`` until stopped; outcomes and the slowest answer are kept."""

    def __init__(self, request: Request, clients: int = 8) -> None:
        self.request = request
        self.outcomes: Counter[str] = Counter()
        self.slowest = 0.0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.numbers = itertools.count(1)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(timeout=15) as http:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    outcome = self.request(http, next(self.numbers))
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                elapsed = time.monotonic() - started
                with self.lock:
                    self.outcomes[outcome] += 1
                    self.slowest = max(self.slowest, elapsed)

    def __enter__(self) -> SteadyLoad:
        for thread in self.threads:
            thread.start()
        time.sleep(1)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(1)
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def failures(self, success: str = "200") -> dict[str, int]:
        return {outcome: count for outcome, count in self.outcomes.items() if outcome != success}
