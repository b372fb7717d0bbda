"""The ASGI router: Django is served as WSGI on a fixed pool of threads that keep their connections."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connection

from mcpdemo.asgi import build_application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def django_threads() -> Iterator[list[tuple[int, Any]]]:
    """(thread id, the thread's database connection after the request) for every Django request."""
    seen: list[tuple[int, Any]] = []
    started: dict[int, bool] = {}

    def on_started(**kwargs: Any) -> None:
        started[threading.get_ident()] = True

    def on_finished(**kwargs: Any) -> None:
        # Runs after Django's own close_old_connections receiver.
        seen.append((threading.get_ident(), connection.connection))

    request_started.connect(on_started)
    request_finished.connect(on_finished)
    yield seen
    request_started.disconnect(on_started)
    request_finished.disconnect(on_finished)


async def get_many(paths: list[str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=build_application())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await asyncio.gather(*(http.get(path) for path in paths))


async def test_django_requests_share_a_bounded_pool_of_threads(django_threads: list[tuple[int, Any]]) -> None:
    responses = await get_many(["/readyz"] * 40)

    assert [r.status_code for r in responses] == [200] * 40
    threads = {ident for ident, _ in django_threads}
    assert len(django_threads) == 40
    assert 1 <= len(threads) <= settings.MCPDEMO_DJANGO_THREADS
    assert threading.get_ident() not in threads  # never on the event loop's thread


async def test_a_pool_thread_keeps_its_database_connection_between_requests(
    django_threads: list[tuple[int, Any]],
) -> None:
    requests = 2 * settings.MCPDEMO_DJANGO_THREADS + 1  # so some thread serves several
    for _ in range(requests):
        (response,) = await get_many(["/readyz"])
        assert response.status_code == 200

    by_thread: dict[int, set[int]] = {}
    for ident, raw in django_threads:
        assert raw is not None  # not closed at the end of the request
        by_thread.setdefault(ident, set()).add(id(raw))
    assert len(django_threads) == requests > len(by_thread)
    assert all(len(raws) == 1 for raws in by_thread.values())  # one connection per thread, reused


def test_connections_are_kept_and_health_checked_by_default() -> None:
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 60 or settings.DATABASES["default"].get("OPTIONS", {}).get(
        "pool"
    )
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
