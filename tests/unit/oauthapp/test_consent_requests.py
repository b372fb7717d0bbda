"""The pending authorization requests a person was shown: stored, answered once, bounded."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory

from oauthapp import consent_requests


def _request(user_pk: int = 1) -> Any:
    request = RequestFactory().get("/authorize")
    request.session = SessionStore()
    request.user = type("User", (), {"pk": user_pk})()
    return request


SHOWN = {"client_id": "c1", "redirect_uri": "http://127.0.0.1/", "scope": "mcp", "state": "s", "extra": "dropped"}


def test_a_stored_request_comes_back_once_with_only_the_form_fields() -> None:
    request = _request()
    signed_id = consent_requests.remember(request, SHOWN)

    first = consent_requests.take(request, signed_id)

    assert first is not None
    assert {key: first[key] for key in ("client_id", "redirect_uri", "scope", "state")} == {
        key: SHOWN[key] for key in ("client_id", "redirect_uri", "scope", "state")
    }
    assert "extra" not in first
    assert consent_requests.take(request, signed_id) is None


@pytest.mark.parametrize("signed_id", ["", "x", "x:y:z"])
def test_an_unsigned_or_unknown_id_finds_nothing(signed_id: str) -> None:
    request = _request()
    consent_requests.remember(request, SHOWN)

    assert consent_requests.take(request, signed_id) is None


def test_a_stored_request_belongs_to_the_person_it_was_shown_to() -> None:
    request = _request(user_pk=1)
    signed_id = consent_requests.remember(request, SHOWN)
    request.user = type("User", (), {"pk": 2})()

    assert consent_requests.take(request, signed_id) is None


def test_only_the_newest_requests_are_kept() -> None:
    request = _request()
    ids = [consent_requests.remember(request, SHOWN) for _ in range(consent_requests.MAX_PENDING + 3)]

    assert len(request.session[consent_requests.SESSION_KEY]) == consent_requests.MAX_PENDING
    assert consent_requests.take(request, ids[0]) is None
    assert consent_requests.take(request, ids[-1]) is not None


def test_a_device_request_keeps_its_own_fields_and_is_taken_only_as_one() -> None:
    request = _request()
    device = {"client_id": "c1", "scope": "mcp", "resource": ["http://testserver/mcp"], "device_grant": 7}
    device_id = consent_requests.remember(request, device, kind="device")
    authorize_id = consent_requests.remember(request, SHOWN)

    assert consent_requests.take(request, authorize_id, kind="device") is None
    assert consent_requests.take(request, device_id) is None  # not at /authorize
    device_id = consent_requests.remember(request, device, kind="device")
    assert consent_requests.take(request, device_id, kind="device") == device
