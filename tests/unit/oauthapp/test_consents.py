"""Connected apps: what a user has allowed, when it was last used, and disconnecting it."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthapp import consents
from oauthapp.models import AuditEvent, Consent
from oauthapp.tokens import checksum
from tests.support.mcp import accepted_at_mcp
from tests.support.oauth import (
    LOOPBACK_REDIRECT,
    CodeRequest,
    exchange_code,
    obtain_code,
    refresh,
    register,
)

pytestmark = pytest.mark.django_db
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


def authorize(client: Client, client_id: str) -> dict[str, Any]:
    request = CodeRequest(client_id)
    response = exchange_code(client, request, obtain_code(client, request)["code"])
    assert response.status_code == 200, response.content
    return response.json()


def use_mcp(token: str) -> bool:
    """What /mcp's token check says (and records) for this token."""
    accepted = accepted_at_mcp(token)
    if accepted:  # what the /mcp verifier does next (there on a background thread)
        access_token = AccessToken.objects.get(token_checksum=checksum(token))
        consents.note_use(access_token.user_id, access_token.application_id)
    return accepted


# --- Keeping the connection up to date ------------------------------------------------


def test_allowing_a_client_creates_the_connection(user: Any, tokens: dict[str, Any]) -> None:
    connection = Consent.objects.get()

    assert connection.user == user
    assert connection.application.client_id == tokens["client_id"]
    assert connection.scope == "mcp"
    assert connection.last_used_at is None
    assert timezone.now() - connection.last_authorized_at < timedelta(seconds=10)


def test_allowing_again_updates_the_one_connection(signed_in: Client, tokens: dict[str, Any]) -> None:
    first = Consent.objects.get().last_authorized_at

    authorize(signed_in, tokens["client_id"])

    assert Consent.objects.count() == 1
    assert Consent.objects.get().last_authorized_at > first


def test_denying_creates_no_connection(signed_in: Client, vscode: dict[str, Any]) -> None:
    obtain_code(signed_in, CodeRequest(vscode["client_id"]), allow=False)

    assert not Consent.objects.exists()


def test_using_mcp_records_the_last_use(tokens: dict[str, Any]) -> None:
    assert use_mcp(tokens["access_token"])

    assert timezone.now() - Consent.objects.get().last_used_at < timedelta(seconds=10)


def test_last_use_is_written_at_most_once_a_minute(tokens: dict[str, Any]) -> None:
    assert use_mcp(tokens["access_token"])
    Consent.objects.update(last_used_at=None)

    assert use_mcp(tokens["access_token"])  # within the minute: no write
    assert Consent.objects.get().last_used_at is None

    a_minute_later = time.monotonic() + 61
    cache.clear()  # the shared throttle's minute has passed, and this process's too:
    with mock.patch("oauthapp.consents.time.monotonic", return_value=a_minute_later):
        assert use_mcp(tokens["access_token"])
    assert Consent.objects.get().last_used_at is not None


def test_a_refused_token_records_no_use(tokens: dict[str, Any]) -> None:
    AccessToken.objects.filter(user__isnull=False).update(expires=timezone.now())

    assert not use_mcp(tokens["access_token"])
    assert Consent.objects.get().last_used_at is None


# --- The page -----------------------------------------------------------------------


def test_connected_apps_requires_sign_in(client: Client) -> None:
    response = client.get("/connected-apps/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/connected-apps/"


def test_connected_apps_lists_the_client_with_when_last_used_and_scope(
    signed_in: Client, tokens: dict[str, Any]
) -> None:
    use_mcp(tokens["access_token"])

    html = signed_in.get("/connected-apps/").content.decode()

    assert "Visual Studio Code" in html
    assert ">unverified</span>" in html
    assert "Allowed" in html
    assert "Last used" in html and "not yet" not in html
    assert "Use this server&#x27;s MCP tools on your behalf" in html
    assert 'action="/connected-apps/' in html and "Disconnect" in html


def test_connected_apps_shows_only_the_users_own_clients(
    client: Client, signed_in: Client, tokens: dict[str, Any], other_user: Any
) -> None:
    claude = register(
        client, {"client_name": "Claude", "redirect_uris": [LOOPBACK_REDIRECT], "token_endpoint_auth_method": "none"}
    )
    bob = Client()
    bob.force_login(other_user)
    authorize(bob, claude["client_id"])

    alices = signed_in.get("/connected-apps/").content.decode()
    bobs = bob.get("/connected-apps/").content.decode()

    assert "Visual Studio Code" in alices and "Claude" not in alices
    assert "Claude" in bobs and "Visual Studio Code" not in bobs


def test_connected_apps_explains_when_nothing_is_connected(signed_in: Client) -> None:
    html = signed_in.get("/connected-apps/").content.decode()

    assert "No applications are connected" in html
    assert "http://testserver/mcp" in html


def test_connected_apps_escapes_the_client_name(signed_in: Client) -> None:
    hostile = register(
        signed_in,
        {
            "client_name": "<img src=x onerror=alert(1)>",
            "redirect_uris": [LOOPBACK_REDIRECT],
            "token_endpoint_auth_method": "none",
        },
    )
    authorize(signed_in, hostile["client_id"])

    html = signed_in.get("/connected-apps/").content.decode()

    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


# --- Disconnect ---------------------------------------------------------------------


def _disconnect(client: Client) -> Any:
    return client.post(f"/connected-apps/{Consent.objects.get().pk}/disconnect")


def test_disconnect_revokes_the_users_tokens_for_the_client_at_once(signed_in: Client, tokens: dict[str, Any]) -> None:
    assert use_mcp(tokens["access_token"])

    response = _disconnect(signed_in)

    assert response.status_code == 302
    assert response["Location"] == "/connected-apps/"
    assert not use_mcp(tokens["access_token"])
    assert refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert not Consent.objects.exists()


def test_disconnect_also_revokes_tokens_from_earlier_consents(signed_in: Client, tokens: dict[str, Any]) -> None:
    second = authorize(signed_in, tokens["client_id"])

    _disconnect(signed_in)

    assert not use_mcp(tokens["access_token"])
    assert not use_mcp(second["access_token"])
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_a_refresh_token_rotated_while_disconnecting_is_revoked_too(signed_in: Client, tokens: dict[str, Any]) -> None:
    real_revoke = RefreshToken.revoke
    racing: dict[str, Any] = {}

    def revoke_after_a_racing_refresh(token: Any) -> None:
        if not racing:  # the client refreshed just before we got the row: a successor exists
            racing["started"] = True
            racing["tokens"] = refresh(Client(), tokens["client_id"], tokens["refresh_token"]).json()
        real_revoke(token)

    with mock.patch.object(RefreshToken, "revoke", revoke_after_a_racing_refresh):
        _disconnect(signed_in)

    assert "refresh_token" in racing["tokens"]
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert not use_mcp(racing["tokens"]["access_token"])


def test_disconnect_leaves_other_users_and_the_client_registration_alone(
    signed_in: Client, tokens: dict[str, Any], other_user: Any
) -> None:
    bob = Client()
    bob.force_login(other_user)
    bobs = authorize(bob, tokens["client_id"])

    alices = Consent.objects.get(user__username="alice")
    signed_in.post(f"/connected-apps/{alices.pk}/disconnect")

    assert use_mcp(bobs["access_token"])
    assert AccessToken.objects.filter(user__isnull=True).count() == 1  # the RFC 7592 registration token


def test_disconnect_shows_a_confirmation_and_records_an_audit_event(
    signed_in: Client, user: Any, tokens: dict[str, Any]
) -> None:
    response = _disconnect(signed_in)
    page = signed_in.get(response["Location"]).content.decode()

    assert "Disconnected Visual Studio Code" in page
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.TOKEN_REVOKED)
    assert event.actor == AuditEvent.Actor.USER
    assert event.actor_user == user
    assert event.user == user
    assert event.client_id == tokens["client_id"]
    assert event.detail["tokens"] == 2  # the refresh token and its access token


def test_a_disconnected_client_can_ask_again(signed_in: Client, tokens: dict[str, Any]) -> None:
    _disconnect(signed_in)

    again = authorize(signed_in, tokens["client_id"])

    assert use_mcp(again["access_token"])
    assert Consent.objects.count() == 1


def test_disconnect_is_post_only(signed_in: Client, tokens: dict[str, Any]) -> None:
    response = signed_in.get(f"/connected-apps/{Consent.objects.get().pk}/disconnect")

    assert response.status_code == 405
    assert use_mcp(tokens["access_token"])


def test_disconnect_requires_the_csrf_token(user: Any, tokens: dict[str, Any]) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    response = _disconnect(browser)

    assert response.status_code == 403
    assert use_mcp(tokens["access_token"])


def test_another_users_connection_cannot_be_disconnected(
    client: Client, tokens: dict[str, Any], other_user: Any
) -> None:
    client.force_login(other_user)

    response = _disconnect(client)

    assert response.status_code == 404
    assert use_mcp(tokens["access_token"])


def test_disconnect_requires_sign_in(tokens: dict[str, Any]) -> None:
    response = _disconnect(Client())

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert use_mcp(tokens["access_token"])
