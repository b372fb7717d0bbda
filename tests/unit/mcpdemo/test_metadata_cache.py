"""Discovery documents are answered from memory after the first request, exactly as Django answered."""

from __future__ import annotations

import httpx
import pytest

from mcpdemo.asgi import build_application

pytestmark = pytest.mark.django_db(transaction=True)
PRM = "/.well-known/oauth-protected-resource/mcp"


class CountingDjango:
    def __init__(self, app) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


def _client(host: str = "testserver") -> tuple[httpx.AsyncClient, CountingDjango]:
    app = build_application()
    counting = CountingDjango(app.discovery.app)
    app.discovery.app = counting
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}"), counting


async def test_second_request_is_served_from_memory_with_the_same_answer() -> None:
    http, django = _client()
    async with http:
        first = await http.get(PRM)
        second = await http.get(PRM)

    assert django.calls == 1
    assert second.status_code == first.status_code == 200
    assert second.json() == first.json() == {**first.json(), "resource": "http://testserver/mcp"}
    assert second.headers["cache-control"] == first.headers["cache-control"]
    assert second.headers["access-control-allow-origin"] == "*"


async def test_each_origin_gets_its_own_document(settings) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    http, django = _client()
    async with http:
        here = await http.get(PRM)
        there = await http.get(PRM, headers={"Host": "localhost:8000"})

    assert django.calls == 2
    assert here.json()["resource"] == "http://testserver/mcp"
    assert there.json()["resource"] == "http://localhost:8000/mcp"


async def test_refused_hosts_are_never_remembered() -> None:
    http, django = _client()
    async with http:
        answers = [(await http.get(PRM, headers={"Host": "evil.example"})).status_code for _ in range(2)]

    assert answers == [400, 400]
    assert django.calls == 2


async def test_other_methods_and_paths_go_to_django_as_before() -> None:
    http, django = _client()
    async with http:
        get = [(await http.get("/.well-known/oauth-authorization-server")).status_code for _ in range(3)]
        head = await http.head("/.well-known/oauth-authorization-server")
        health = await http.get("/healthz")

    assert get == [200, 200, 200]
    assert django.calls == 1  # HEAD and /healthz bypass the cache (and this counter) entirely
    assert head.status_code == 200 and head.content == b""
    assert health.json() == {"status": "ok"}
