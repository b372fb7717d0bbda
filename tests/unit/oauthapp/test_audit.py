"""The audit log records who registered, consented, denied and disconnected, and never a secret."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_application_model

from oauthapp.models import AuditEvent
from tests.support.oauth import SDK_REGISTRATION, VSCODE_REGISTRATION, CodeRequest, exchange_code, obtain_code, register

pytestmark = pytest.mark.django_db
Kind = AuditEvent.Kind


def events(kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind=kind).order_by("pk"))


def test_registration_is_recorded_with_the_clients_name_and_hosts(client: Client) -> None:
    registered = register(client, VSCODE_REGISTRATION)

    (event,) = events(Kind.CLIENT_REGISTERED)
    assert event.actor == AuditEvent.Actor.CLIENT
    assert event.client_id == registered["client_id"]
    assert event.application.client_id == registered["client_id"]
    assert event.ip_address == "127.0.0.1"
    assert event.detail == {
        "client_name": "Visual Studio Code",
        "client_type": "public",
        "redirect_hosts": ["127.0.0.1", "127.0.0.1:33418", "insiders.vscode.dev", "vscode.dev"],
    }


def test_a_refused_registration_is_not_recorded(client: Client) -> None:
    client.post("/register", {"redirect_uris": ["javascript:alert(1)"]}, content_type="application/json")

    assert not events(Kind.CLIENT_REGISTERED)


def test_consent_granted_is_recorded_with_the_user_and_scope(
    signed_in: Client, user: Any, vscode: dict[str, Any]
) -> None:
    obtain_code(signed_in, CodeRequest(vscode["client_id"]))

    (event,) = events(Kind.CONSENT_GRANTED)
    assert (event.actor, event.actor_user, event.user) == ("user", user, user)
    assert event.client_id == vscode["client_id"]
    assert event.detail == {"scope": "mcp", "redirect_host": "127.0.0.1:33418"}


def test_consent_denied_is_recorded(signed_in: Client, user: Any, vscode: dict[str, Any]) -> None:
    obtain_code(signed_in, CodeRequest(vscode["client_id"]), allow=False)

    (event,) = events(Kind.CONSENT_DENIED)
    assert (event.actor, event.user, event.client_id) == ("user", user, vscode["client_id"])
    assert not events(Kind.CONSENT_GRANTED)


def test_a_refused_authorization_records_no_consent(signed_in: Client, vscode: dict[str, Any]) -> None:
    request = CodeRequest(vscode["client_id"])
    page = signed_in.get("/authorize", request.params())
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    get_application_model().objects.filter(client_id=vscode["client_id"]).update(blocked_at=timezone.now())

    signed_in.post("/authorize", data | {"allow": "Authorize"})

    assert not events(Kind.CONSENT_GRANTED)
    assert not events(Kind.CONSENT_DENIED)


def test_no_event_ever_holds_a_token_code_or_secret(signed_in: Client, user: Any) -> None:
    confidential = register(signed_in, SDK_REGISTRATION)
    request = CodeRequest(confidential["client_id"], redirect_uri="http://localhost:3030/callback")
    code = obtain_code(signed_in, request)["code"]
    tokens = exchange_code(signed_in, request, code, client_secret=confidential["client_secret"]).json()
    connection_id = user.oauth_consents.get().pk
    signed_in.post(f"/connected-apps/{connection_id}/disconnect")

    secrets = [
        confidential["client_secret"],
        confidential["registration_access_token"],
        code,
        request.verifier,
        tokens["access_token"],
        tokens["refresh_token"],
    ]
    stored = json.dumps([[e.kind, e.client_id, e.detail] for e in AuditEvent.objects.all()])
    assert {e.kind for e in AuditEvent.objects.all()} >= {"client_registered", "consent_granted", "token_revoked"}
    assert [secret for secret in secrets if secret in stored] == []
