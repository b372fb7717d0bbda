"""Per-address rate limits: 429 with Retry-After, JSON on the API, a page on the login form."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from django.test import Client

from mcpdemo.logs import OUTAGES
from tests.support.oauth import VSCODE_REGISTRATION

pytestmark = pytest.mark.django_db

LIMITS = {"register": "3/m", "token": "4/m", "login": "2/m"}


@pytest.fixture(autouse=True)
def tight_limits(settings) -> None:
    settings.MCPDEMO_RATE_LIMITS = LIMITS


def _register(client: Client, address: str = "203.0.113.7"):
    return client.post("/register", VSCODE_REGISTRATION, content_type="application/json", REMOTE_ADDR=address)


def test_registration_beyond_the_limit_gets_429_json_with_retry_after(client: Client) -> None:
    answers = [_register(client).status_code for _ in range(3)]

    limited = _register(client)

    assert answers == [201, 201, 201]
    assert limited.status_code == 429
    assert limited.json()["error"] == "too_many_requests"
    assert 1 <= int(limited["Retry-After"]) <= 60


def test_limits_are_per_client_address(client: Client) -> None:
    for _ in range(4):
        _register(client, "203.0.113.7")

    assert _register(client, "198.51.100.1").status_code == 201


def test_token_endpoint_is_limited(client: Client) -> None:
    answers = [client.post("/token", {"grant_type": "refresh_token"}).status_code for _ in range(5)]

    assert answers[:4] != [429] * 4
    assert answers[4] == 429


def test_login_form_posts_are_limited_with_a_page(client: Client) -> None:
    for _ in range(2):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert response["Retry-After"]
    assert client.get("/accounts/login/").status_code == 200  # reading the form is not limited


def test_an_empty_limit_turns_it_off(settings, client: Client) -> None:
    settings.MCPDEMO_RATE_LIMITS = {**LIMITS, "register": ""}

    assert {_register(client).status_code for _ in range(6)} == {201}


@pytest.fixture
def hanging_redis() -> Iterator[str]:
    """A Redis address that accepts connections and never answers (a paused server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


@pytest.fixture
def refusing_redis() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens there any more


@pytest.mark.parametrize("redis_fixture", ["hanging_redis", "refusing_redis"])
def test_limits_fail_open_quickly_while_redis_is_unavailable(
    request: pytest.FixtureRequest, redis_fixture: str, settings, client: Client, caplog
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": request.getfixturevalue(redis_fixture),
            "OPTIONS": settings.REDIS_CACHE_OPTIONS,
        }
    }
    OUTAGES._last.clear()  # noqa: SLF001 - our own helper, reset between tests
    started = time.monotonic()

    answers = [_register(client).status_code for _ in range(4)]

    per_request = (time.monotonic() - started) / 4
    assert answers == [201] * 4  # served although the limit (3/m) cannot be counted
    assert per_request < 1.0
    warnings = [record for record in caplog.records if record.name == "oauthapp.ratelimit"]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert "rate limits not enforced" in warnings[0].getMessage()


def test_the_redis_timeouts_are_well_under_a_second(settings) -> None:
    assert 0 < settings.REDIS_CACHE_OPTIONS["socket_timeout"] < 1
    assert 0 < settings.REDIS_CACHE_OPTIONS["socket_connect_timeout"] < 1
