"""A ceiling over all addresses on never-used registrations per hour: 429 once reached."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from oauthapp.models import Application
from tests.support.oauth import LOOPBACK_REDIRECT

pytestmark = pytest.mark.django_db

BODY = {"redirect_uris": [LOOPBACK_REDIRECT], "token_endpoint_auth_method": "none"}


@pytest.fixture(autouse=True)
def ceiling(settings) -> None:
    settings.MCPDEMO_REGISTRATION_UNUSED_PER_HOUR = 3
    settings.MCPDEMO_RATE_LIMITS = {"register": "", "token": "", "login": ""}


def _register(client: Client, address: str) -> Any:
    return client.post("/register", BODY, content_type="application/json", REMOTE_ADDR=address)


def test_registrations_from_many_addresses_stop_at_the_ceiling(client: Client) -> None:
    answers = [_register(client, f"203.0.113.{i}") for i in range(1, 6)]

    assert [answer.status_code for answer in answers] == [201, 201, 201, 429, 429]
    refused = answers[3]
    assert refused.json()["error"] == "too_many_requests"
    assert 1 <= int(refused["Retry-After"]) <= 3601
    assert refused["Cache-Control"] == "no-store"
    assert Application.objects.count() == 3


def test_older_registrations_and_used_clients_do_not_count(client: Client, tokens: dict[str, Any]) -> None:
    # ``tokens``: a client a user connected, so it is used; it never counts.
    for i in range(3):
        assert _register(client, f"198.51.100.{i}").status_code == 201
    Application.objects.exclude(client_id=tokens["client_id"]).update(created=timezone.now() - timedelta(hours=2))

    assert _register(client, "198.51.100.9").status_code == 201


def test_zero_turns_the_ceiling_off(client: Client, settings) -> None:
    settings.MCPDEMO_REGISTRATION_UNUSED_PER_HOUR = 0

    assert {_register(client, f"192.0.2.{i}").status_code for i in range(5)} == {201}
