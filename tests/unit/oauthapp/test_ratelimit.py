"""Per-address rate limits: 429 with Retry-After, JSON on the API, a page on the login form."""

from __future__ import annotations

import pytest
from django.test import Client

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
