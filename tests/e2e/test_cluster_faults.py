"""Dependency outages under load, through nginx (deploy/nginx.conf) over two nodes.

The cluster runs on a PostgreSQL and a Redis of its own (started here on free ports),
which the tests stop, pause and refuse; the shared servers are never touched. Every
answer is counted and the counts are printed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.cluster import NGINX, Cluster, cluster
from tests.support.load import SteadyLoad, describe_failure, slugify_call
from tests.support.private_services import (
    PrivatePostgres,
    PrivateRedis,
    private_postgres,
    private_redis,
    services_available,
)
from tests.support.sdk_client import OAuthHarness

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

PASSWORD = "cluster password 123"
OUTAGE_SECONDS = 10


@dataclass
class Faulty:
    lb: Cluster
    postgres: PrivatePostgres
    redis: PrivateRedis
    access_token: str
    client_id: str


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    missing = services_available()
    if not shutil.which("nginx") and not Path(NGINX).exists():
        missing.append("nginx")
    if missing:
        message = "the fault tests need " + ", ".join(missing)
        if os.environ.get("MCPDEMO_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with private_postgres() as postgres, private_redis() as redis_server:
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE mcpdemo")
        database_url = postgres.url.rsplit("/", 1)[0] + "/mcpdemo"
        tmp = tmp_path_factory.mktemp("faults")
        with cluster(tmp, {"alice": PASSWORD}, database_url=database_url, redis_url=redis_server.url) as lb:
            harness = OAuthHarness(lb.url, "none", PASSWORD)

            async def connect() -> None:
                async with harness.client("legacy") as client:
                    await client.list_tools()

            asyncio.run(connect())
            yield Faulty(lb, postgres, redis_server, harness.storage.tokens.access_token,
                         harness.storage.client_info.client_id)  # fmt: skip


def _token_request(url: str, client_id: str):
    """A refresh with a refresh token that does not exist: 400 when served (it passes the rate limit)."""

    def call(http: httpx.Client, i: int) -> str:
        started = time.monotonic()
        data = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": f"unknown-{i}"}
        response = http.post(url + "/token", data=data, headers={"X-Forwarded-For": f"198.51.100.{i % 200}"})
        slow = " slow" if time.monotonic() - started > 1.0 else ""
        return ("400" if response.status_code == 400 else describe_failure(response)) + slow

    return call


def _readiness(url: str):
    def call(http: httpx.Client, i: int) -> str:
        response = http.get(url + "/readyz")
        return f"{response.status_code} {response.json().get('status')}"

    return call


def _seconds_until_mcp_answers(f: Faulty, limit: float = 30) -> float:
    started = time.monotonic()
    call = slugify_call(f.lb.url, f.access_token)
    with httpx.Client(timeout=5) as http:
        while call(http, 1) != "200":
            assert time.monotonic() - started < limit
            time.sleep(0.05)
    return time.monotonic() - started


def test_postgres_stopped_gives_only_json_503s_and_recovers_at_once(faulty: Faulty) -> None:
    with SteadyLoad(slugify_call(faulty.lb.url, faulty.access_token), clients=6) as load:
        time.sleep(2)
        faulty.postgres.stop()
        time.sleep(OUTAGE_SECONDS)
        faulty.postgres.start()
        recovered = _seconds_until_mcp_answers(faulty)
        time.sleep(2)

    failures = load.failures()
    print(f"PostgreSQL stopped {OUTAGE_SECONDS} s: outcomes {dict(load.outcomes)}; "  # noqa: T201
          f"/mcp answered again {recovered:.2f} s after its return")  # fmt: skip
    assert set(failures) <= {"503 json retry-after"}, failures
    assert failures  # the outage was seen
    assert recovered < 2
    log = "".join(node.log() for node in faulty.lb.nodes)
    assert "Traceback" not in log


@pytest.mark.parametrize("fault", ["paused", "refusing"])
def test_redis_unavailable_costs_nothing_but_the_rate_limits(faulty: Faulty, fault: str) -> None:
    mcp = SteadyLoad(slugify_call(faulty.lb.url, faulty.access_token), clients=4)
    token = SteadyLoad(_token_request(faulty.lb.url, faulty.client_id), clients=2)
    ready = SteadyLoad(_readiness(faulty.lb.url), clients=1)
    with mcp, token, ready:
        time.sleep(1)
        if fault == "paused":
            faulty.redis.pause()
        else:
            faulty.redis.stop()
        ready.outcomes.clear()
        time.sleep(OUTAGE_SECONDS)
        during = dict(ready.outcomes)
        if fault == "paused":
            faulty.redis.resume()
        else:
            faulty.redis.start()
        time.sleep(2)

    print(f"Redis {fault} {OUTAGE_SECONDS} s: /mcp {dict(mcp.outcomes)}; /token {dict(token.outcomes)} "  # noqa: T201
          f"(slowest {token.slowest:.2f} s); /readyz during {during}")  # fmt: skip
    assert mcp.failures() == {}
    assert token.failures("400") == {}  # no 500, none slower than a second
    assert set(during) <= {"200 degraded", "200 ok"} and "200 degraded" in during
    log = "".join(node.log() for node in faulty.lb.nodes)
    assert "Traceback" not in log
