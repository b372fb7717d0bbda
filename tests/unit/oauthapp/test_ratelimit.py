"""Rate limits: sliding windows per address (IPv6 per /64) and per account; 429 with Retry-After,
JSON on the API, a page on every password form that leads back to the pending request."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from mcpdemo.logs import OUTAGES
from oauthapp.models import AuditEvent
from oauthapp.ratelimit import Counter, Rate, address_key, parse_rate
from tests.support.oauth import PASSWORD, VSCODE_REGISTRATION

pytestmark = pytest.mark.django_db

LIMITS = {"register": "3/m", "token": "4/m", "login": "2/m", "login_account": "3/h"}


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
    # The window slides in tenths: a refused client may wait up to a tenth longer than it.
    assert 1 <= int(limited["Retry-After"]) <= 66


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


def _sign_in(client: Client, path: str, password: str = "wrong", address: str = "203.0.113.7", **extra: str) -> Any:  # noqa: S107
    return client.post(path, {"username": "alice", "password": password, **extra}, REMOTE_ADDR=address)


def test_the_admin_sign_in_is_limited_too(client: Client, user: Any) -> None:
    answers = [_sign_in(client, "/admin/login/").status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    assert _sign_in(client, "/admin/login/", PASSWORD).status_code == 429  # not even the right password


def test_every_password_form_shares_one_limit(client: Client, user: Any) -> None:
    _sign_in(client, "/accounts/login/")
    _sign_in(client, "/admin/login/")

    assert _sign_in(client, "/admin/login/").status_code == 429
    assert _sign_in(client, "/accounts/login/").status_code == 429


def test_failed_sign_ins_are_limited_per_account_from_any_address(client: Client, user: Any) -> None:
    answers = [_sign_in(client, "/accounts/login/", address=f"198.51.100.{n}").status_code for n in range(4)]

    assert answers == [200, 200, 200, 429]
    assert "Too many attempts" in _sign_in(client, "/admin/login/", address="192.0.2.1").content.decode()


def test_the_account_limit_ignores_case_and_spaces(client: Client, user: Any) -> None:
    for n, name in enumerate(["alice", "ALICE", " Alice "]):
        client.post("/accounts/login/", {"username": name, "password": "x"}, REMOTE_ADDR=f"198.51.100.{n}")

    assert _sign_in(client, "/accounts/login/", address="192.0.2.9").status_code == 429


def test_successful_sign_ins_do_not_count(client: Client, user: Any) -> None:
    for _ in range(4):
        assert _sign_in(client, "/accounts/login/", PASSWORD).status_code == 302
        client.logout()

    assert _sign_in(client, "/accounts/login/").status_code == 200


def test_the_429_page_leads_back_to_the_pending_request(client: Client, user: Any) -> None:
    pending = "/authorize?client_id=abc&state=xyz"
    for _ in range(2):
        _sign_in(client, "/accounts/login/", next=pending)

    response = _sign_in(client, "/accounts/login/", next=pending)

    assert response.status_code == 429
    assert 'href="/accounts/login/?next=%2Fauthorize%3Fclient_id%3Dabc%26state%3Dxyz"' in response.content.decode()


def test_the_429_page_does_not_lead_off_site(client: Client, user: Any) -> None:
    for _ in range(3):
        response = _sign_in(client, "/accounts/login/", next="https://evil.example/")

    assert response.status_code == 429
    assert "evil.example" not in response.content.decode()


def test_failed_sign_ins_are_audited_without_the_password(client: Client, user: Any) -> None:
    _sign_in(client, "/admin/login/", password="hunter2-guess")

    event = AuditEvent.objects.get(kind=AuditEvent.Kind.SIGN_IN_FAILED)
    assert event.detail == {"username": "alice", "form": "/admin/login/"}
    assert event.ip_address == "203.0.113.7"
    assert "hunter2" not in str(event.detail)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not an address", "not an address"),
    ],
)
def test_addresses_are_counted_per_ipv4_address_and_ipv6_64(rf: Any, address: str, key: str) -> None:
    assert address_key(rf.post("/register", REMOTE_ADDR=address)) == key


def test_registration_is_limited_per_ipv6_64(client: Client) -> None:
    for n in range(3):
        assert _register(client, f"2001:db8:0:1::{n + 1}").status_code == 201

    assert _register(client, "2001:db8:0:1:ffff:ffff:ffff:ffff").status_code == 429
    assert _register(client, "2001:db8:0:2::1").status_code == 201


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("10/m", Rate(10, 60)), ("5/10m", Rate(5, 600)), ("30/h", Rate(30, 3600)), ("1/d", Rate(1, 86400)), ("", None)],
)
def test_rates_parse(rate: str, parsed: Rate | None) -> None:
    assert parse_rate(rate) == parsed


def test_a_rate_that_does_not_parse_fails_the_system_check(settings: Any) -> None:
    settings.MCPDEMO_RATE_LIMITS = {**LIMITS, "login": "ten a minute"}

    with pytest.raises(SystemCheckError, match="oauthapp.E001"):
        call_command("check")


def test_a_burst_across_a_window_boundary_gets_no_more_than_the_limit() -> None:
    counter = Counter("burst", "k", Rate(4, 60))
    # Four at the end of one minute, four at the start of the next: a fixed window passes all eight.
    late = [counter.take(now=1_000_000 * 60 + 59.5) for _ in range(4)]
    early = [counter.take(now=1_000_001 * 60 + 0.5) for _ in range(4)]

    assert late == [None] * 4
    assert all(wait is not None and wait > 0 for wait in early)


def test_the_window_slides_on() -> None:
    counter = Counter("slide", "k", Rate(2, 60))
    start = 1_000_000 * 60.0
    assert [counter.take(now=start), counter.take(now=start + 30)] == [None, None]

    assert counter.take(now=start + 59) is not None
    assert counter.take(now=start + 72) is None  # the first one has left the window (and its tenth)
    assert counter.take(now=start + 73) is not None  # the one at +30 has not


def test_a_refused_request_takes_no_slot() -> None:
    counter = Counter("refused", "k", Rate(1, 60))
    start = 1_000_000 * 60.0
    counter.take(now=start)
    for _ in range(5):
        counter.take(now=start + 1)

    assert counter.take(now=start + 67) is None


def test_a_cache_outage_lets_requests_through_and_is_logged_once(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", broken)
    OUTAGES.reset()

    with caplog.at_level(logging.WARNING, logger="oauthapp.ratelimit"):
        answers = {_register(client).status_code for _ in range(5)}

    assert answers == {201}
    assert [r.getMessage() for r in caplog.records if r.name == "oauthapp.ratelimit"] == [
        "rate limits not enforced: the cache failed (ConnectionError); requests are let through"
    ]


def test_the_429_page_offers_to_sign_in_again_keeping_the_pending_request(client: Client) -> None:
    pending = "/authorize?client_id=abc&state=xyz"
    for _ in range(2):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong", "next": pending})

    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong", "next": pending})

    html = response.content.decode()
    assert response.status_code == 429
    assert 'href="/accounts/login/?next=%2Fauthorize%3Fclient_id%3Dabc%26state%3Dxyz"' in html


def test_the_429_page_never_offers_an_off_site_next(client: Client) -> None:
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": "a", "password": "b", "next": "https://evil.example/"})

    assert 'href="/accounts/login/"' in response.content.decode()
    assert "evil.example" not in response.content.decode()


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
    request: pytest.FixtureRequest, redis_fixture: str, settings: Any, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": request.getfixturevalue(redis_fixture),
            "OPTIONS": settings.REDIS_CACHE_OPTIONS,
        }
    }
    OUTAGES.reset()
    started = time.monotonic()

    answers = [_register(client).status_code for _ in range(4)]

    per_request = (time.monotonic() - started) / 4
    assert answers == [201] * 4  # served although the limit cannot be counted
    assert per_request < 1.0
    warnings = [record for record in caplog.records if record.name == "oauthapp.ratelimit"]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert "rate limits not enforced" in warnings[0].getMessage()


def test_the_redis_timeouts_are_well_under_a_second(settings: Any) -> None:
    assert 0 < settings.REDIS_CACHE_OPTIONS["socket_timeout"] < 1
    assert 0 < settings.REDIS_CACHE_OPTIONS["socket_connect_timeout"] < 1
