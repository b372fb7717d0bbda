"""/metrics on a node of two uvicorn workers (scripts/run-production): known traffic, spread over
both workers, adds up exactly in every scrape, whichever worker answers it; a worker that dies
keeps its counts, and its replacement does not count it twice."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.live_server import ROOT, free_port, fresh_database
from tests.support.metrics import Samples, parse, value
from tests.support.oauth import pkce_pair
from tests.support.scripted_user import ScriptedUser

pytestmark = pytest.mark.e2e

PASSWORD = "metrics password 123"
FLUSH_WAIT = 1.5  # mcpdemo.metrics.FLUSH_SECONDS and a margin
SECRET = secrets.token_urlsafe(32)
REDIRECT = "http://127.0.0.1:33418/"
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",
}


@dataclass
class Node:
    url: str
    process: subprocess.Popen
    metrics_dir: Path
    log_path: Path

    def scrape(self) -> Samples:
        response = httpx.get(self.url + "/metrics", headers={"Authorization": f"Bearer {SECRET}"}, timeout=10)
        assert response.status_code == 200, response.text
        return parse(response.text)

    def worker_pids(self) -> set[int]:
        return {int(path.stem.rsplit("_", 1)[1]) for path in self.metrics_dir.glob("gauge_livesum_*.db")}

    def mcp_calls_by_worker(self) -> dict[int, float]:
        """Each worker's own count of answered tool calls, from its own file."""
        counts = {}
        for path in self.metrics_dir.glob("counter_*.db"):
            pid = int(path.stem.rsplit("_", 1)[1])
            for metric in MultiProcessCollector.merge([str(path)]):
                for sample in metric.samples:
                    if sample.name == "mcpdemo_tool_calls_total" and sample.labels == {
                        "tool": "slugify",
                        "outcome": "ok",
                    }:
                        counts[pid] = sample.value
        return counts


def wait_for(condition, timeout: float = 40, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (httpx.TransportError, AssertionError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    tmp_path = tmp_path_factory.mktemp("metrics")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with fresh_database(tmp_path) as database_url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MCPDEMO_", "PROMETHEUS_"))},
            "MCPDEMO_ENV_FILE": "",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "metrics-" + secrets.token_hex(32),
            # The project's settings with cheap password hashing.
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "MCPDEMO_PUBLIC_URL": url,
            "DATABASE_URL": database_url,
            "MCPDEMO_METRICS_ENABLED": "1",
            "MCPDEMO_METRICS_TOKEN": SECRET,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
            "LOG_LEVEL": "INFO",
        }
        run = {"cwd": ROOT, "check": True, "capture_output": True}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], env=env, **run)
        subprocess.run(
            [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "alice",
             "--email", "alice@example.com"],
            env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}, **run,
        )  # fmt: skip
        # Left over from an earlier run: prestart must empty it, or these would be added.
        (tmp_path / "prometheus").mkdir()
        (tmp_path / "prometheus" / "counter_1.db").write_bytes(b"stale")
        node_env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "MCPDEMO_WORKERS": "2", "MIGRATE_ON_START": "0"}
        log_path = tmp_path / "node.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [str(ROOT / "scripts" / "run-production")],
                cwd=ROOT, env=node_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        running = Node(url, process, tmp_path / "prometheus", log_path)
        try:
            wait_for(lambda: value(running.scrape(), "mcpdemo_workers") == 2, what="two workers")
            yield running
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def register(url: str) -> str:
    body = {"client_name": "metered", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
    response = httpx.post(url + "/register", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["client_id"]


def tokens(url: str) -> tuple[str, dict[str, str]]:
    client_id = register(url)
    verifier, challenge = pkce_pair()
    query = urlencode(
        {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "mcp",
         "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
    )  # fmt: skip
    code = asyncio.run(ScriptedUser("alice", PASSWORD).authorize(f"{url}/authorize?{query}"))["code"]
    form = {"grant_type": "authorization_code", "client_id": client_id, "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier, "resource": url + "/mcp"}  # fmt: skip
    response = httpx.post(url + "/token", data=form, timeout=30)
    assert response.status_code == 200, response.text
    return client_id, response.json()


def slugify(url: str, token: str | None, request_id: int) -> int:
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
            "params": {"name": "slugify", "arguments": {"text": f"Hello {request_id}"}}}  # fmt: skip
    headers = {**MCP_HEADERS, "Connection": "close", **({"Authorization": f"Bearer {token}"} if token else {})}
    # A new connection each time: the kernel hands connections to both workers.
    with httpx.Client(timeout=10) as client:
        return client.post(url + "/mcp", content=json.dumps(body), headers=headers).status_code


def test_traffic_across_both_workers_adds_up_in_every_scrape(node: Node) -> None:
    assert not (node.metrics_dir / "counter_1.db").exists()  # emptied before the workers started
    client_id, issued = tokens(node.url)
    register(node.url)
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": issued["refresh_token"]}
    refreshed = httpx.post(node.url + "/token", data=form, timeout=30)
    assert refreshed.status_code == 200
    token = refreshed.json()["access_token"]  # the refresh revoked the first one

    calls = 0
    with ThreadPoolExecutor(8) as pool:
        for _batch in range(10):  # until both workers have served calls (bounded)
            statuses = list(pool.map(lambda i: slugify(node.url, token, i), range(calls, calls + 24)))
            assert statuses == [200] * 24
            calls += 24
            time.sleep(FLUSH_WAIT)  # each worker hands its counts to its file every second
            if len([n for n in node.mcp_calls_by_worker().values() if n > 0]) == 2:
                break
        assert list(pool.map(lambda i: slugify(node.url, None, i), range(5))) == [401] * 5
        assert list(pool.map(lambda i: slugify(node.url, "wrong-" + str(i), i), range(3))) == [401] * 3

    time.sleep(FLUSH_WAIT)
    per_worker = node.mcp_calls_by_worker()
    assert len(per_worker) == 2 and all(count > 0 for count in per_worker.values()), per_worker
    assert sum(per_worker.values()) == calls

    for _scrape in range(4):  # whichever worker answers, the same sums
        samples = node.scrape()
        assert value(samples, "mcpdemo_workers") == 2
        assert value(samples, "mcpdemo_tool_calls_total", tool="slugify", outcome="ok") == calls
        assert value(samples, "mcpdemo_tool_call_duration_seconds_count", tool="slugify") == calls
        assert value(samples, "mcpdemo_http_requests_total", route="mcp", method="POST", status="200") == calls
        assert value(samples, "mcpdemo_http_requests_total", route="mcp", method="POST", status="401") == 8
        assert value(samples, "mcpdemo_token_checks_total", result="valid") == calls
        assert value(samples, "mcpdemo_token_checks_total", result="invalid_token") == 3
        assert value(samples, "mcpdemo_oauth_registrations_total", client_type="public") == 2
        assert value(samples, "mcpdemo_oauth_tokens_issued_total", grant_type="authorization_code") == 1
        assert value(samples, "mcpdemo_oauth_tokens_issued_total", grant_type="refresh_token") == 1
        assert (
            value(samples, "mcpdemo_http_requests_total", route="oauth2_provider:token", method="POST", status="200")
            == 2
        )
        assert value(samples, "mcpdemo_mcp_open_streams") == 0

    # Not for everyone: without the secret, the site's 404.
    assert httpx.get(node.url + "/metrics", timeout=10).status_code == 404

    # A worker killed outright: uvicorn starts another; the dead one's counts stay, its live gauges go.
    victim = next(iter(node.worker_pids()))
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in node.worker_pids() and len(node.worker_pids()) == 2, what="a replacement worker")
    samples = node.scrape()
    assert value(samples, "mcpdemo_workers") == 2
    assert value(samples, "mcpdemo_tool_calls_total", tool="slugify", outcome="ok") == calls
