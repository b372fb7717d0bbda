"""The consent page with hostile client names, in our words: what, who, for how long, where to."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

from mcpapp.models import Tool
from oauthapp import consents
from tests.support.oauth import (
    CLAUDE_REGISTRATION,
    CURSOR_REGISTRATION,
    LOOPBACK_REDIRECT,
    VSCODE_REGISTRATION,
    CodeRequest,
    register,
)

pytestmark = pytest.mark.django_db
Application = get_application_model()

BIDI_AND_INVISIBLE = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
BIDI_AND_INVISIBLE += ["\u200e", "\u200f", "\u200b", "\u2060", "\ufeff", "\x07"]
HEADING = "<h1>An application wants to use your account on mcpdemo</h1>"


def consent_html(client: Client, client_id: str, **params: str) -> str:
    response = client.get("/authorize", CodeRequest(client_id, **params).params())
    assert response.status_code == 200, response.content
    return response.content.decode()


def hostile(client: Client, name: str, **registration: Any) -> str:
    """A client that registered ``name`` (then set raw in the database, as an old row or the admin would)."""
    client_id = register(client, {**VSCODE_REGISTRATION, "client_name": name, **registration})["client_id"]
    Application.objects.filter(client_id=client_id).update(name=name)
    return client_id


def test_a_right_to_left_override_cannot_reorder_the_page(signed_in: Client) -> None:
    html = consent_html(signed_in, hostile(signed_in, "Claude\u202e to Visual Studio Code"))

    assert HEADING in html
    assert "\u202e" not in html
    assert '<q class="client-name" dir="auto"><bdi>Claude to Visual Studio Code</bdi></q>' in html


@pytest.mark.parametrize("character", BIDI_AND_INVISIBLE)
def test_bidi_controls_and_invisible_characters_are_removed(signed_in: Client, character: str) -> None:
    html = consent_html(signed_in, hostile(signed_in, f"Visual{character} Studio Code"))

    assert character not in html
    assert "<bdi>Visual Studio Code</bdi>" in html


def test_a_name_claiming_to_be_verified_is_only_a_quoted_name(signed_in: Client) -> None:
    name = "Visual Studio Code (verified by Microsoft) ✓ trusted"

    html = consent_html(signed_in, hostile(signed_in, name))

    assert HEADING in html  # the heading is ours, never the name
    assert f'It calls itself\n        <q class="client-name" dir="auto"><bdi>{name}</bdi></q>' in html
    assert ">unverified</span>" in html
    assert "<title>Connection request · mcpdemo</title>" in html


def test_a_long_name_is_shortened_with_the_full_name_on_request(signed_in: Client) -> None:
    name = "Helpful assistant " * 14  # 252 characters

    html = consent_html(signed_in, hostile(signed_in, name.strip()))

    shown = re.search(r'<q class="client-name"[^>]*><bdi>([^<]*)</bdi></q>', html).group(1)
    assert len(shown) <= 60 and shown.endswith("…")
    assert f'<summary>Show the full name</summary><bdi dir="auto">{name.strip()}</bdi>' in html


def test_a_name_that_is_only_invisible_characters_reads_as_no_name(signed_in: Client) -> None:
    html = consent_html(signed_in, hostile(signed_in, "\u202e\u200b\u2066"))

    assert "nothing (no name given)" in html


def test_registration_stores_the_name_cleaned(client: Client) -> None:
    client_id = register(client, {**VSCODE_REGISTRATION, "client_name": "Visual\u202e Studio\u200b Code"})["client_id"]

    assert Application.objects.get(client_id=client_id).name == "Visual Studio Code"


def test_the_page_names_the_service_the_account_the_tools_and_how_long(signed_in: Client, vscode: dict) -> None:
    html = consent_html(signed_in, vscode["client_id"])

    assert '<strong>alice</strong> on <span class="service-host">testserver</span>' in html
    assert "<strong>Slugify</strong> — Turn text into a URL-friendly slug." in html
    assert "<strong>Countdown</strong> — Count down from seconds to zero, one tick per second." in html
    days = round((oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS + oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS) / 86400)
    assert "Until you disconnect it under" in html
    assert f"unless it goes unused for {days} days" in html


def test_the_page_names_only_the_tools_the_user_may_use(signed_in: Client, user: Any, vscode: dict) -> None:
    tool = Tool.objects.get(name="countdown")
    tool.restricted = True
    tool.save()
    hidden = consent_html(signed_in, vscode["client_id"])
    user.user_permissions.add(Permission.objects.get(codename="use_countdown"))

    assert "Countdown" not in hidden and "Count down" not in hidden
    assert "<strong>Slugify</strong>" in hidden
    assert "<strong>Countdown</strong>" in consent_html(signed_in, vscode["client_id"])


@pytest.mark.parametrize(
    ("registration", "redirect_uri", "words"),
    [
        (VSCODE_REGISTRATION, LOOPBACK_REDIRECT, "An app on this computer (port 33418)"),
        (CLAUDE_REGISTRATION, CLAUDE_REGISTRATION["redirect_uris"][0], "The website claude.ai"),
        (
            CURSOR_REGISTRATION,
            CURSOR_REGISTRATION["redirect_uris"][0],
            "The app on this device that opens cursor: links",
        ),
    ],
)
def test_the_redirect_is_described_in_words(
    signed_in: Client, registration: dict, redirect_uri: str, words: str
) -> None:
    client_id = register(signed_in, registration)["client_id"]

    html = consent_html(signed_in, client_id, redirect_uri=redirect_uri)

    assert f'<span class="redirect-words">{words}' in html


def test_allow_and_deny_come_before_the_details(signed_in: Client, vscode: dict) -> None:
    html = consent_html(signed_in, vscode["client_id"])

    assert html.index('name="allow"') < html.index("If you allow it, it can")


def test_connected_apps_shows_a_hostile_name_cleaned_and_just_now(signed_in: Client, user: Any) -> None:
    client_id = hostile(signed_in, "Claude\u202e edoC")
    consents.remember_consent(user, Application.objects.get(client_id=client_id), "mcp")

    html = signed_in.get(reverse("connected-apps")).content.decode()

    assert "\u202e" not in html
    assert '<bdi dir="auto" class="client-name">Claude edoC</bdi>' in html
    assert "(just now)" in html and "0 minutes" not in html


# --- Errors: one sentence per cause ------------------------------------------------------


def error_html(client: Client, **params: str | None) -> str:
    response = client.get("/authorize", CodeRequest("unused").params(**params))
    assert response.status_code == 400, response.status_code
    return response.content.decode()


def test_missing_client_id_is_explained(signed_in: Client) -> None:
    html = error_html(signed_in, client_id=None)

    assert "did not say which application it is" in html
    assert "Remove Dynamic Authentication Providers" not in html


def test_an_unregistered_redirect_address_is_explained(signed_in: Client, vscode: dict) -> None:
    html = error_html(signed_in, client_id=vscode["client_id"], redirect_uri="https://evil.example/cb")

    assert "send you back to the website evil.example, an address it never registered" in html
    assert "<code>invalid_request</code>" in html


def test_metadata_documents_turned_off_is_explained_to_the_operator(
    signed_in: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oauth2_settings, "CIMD_ENABLED", False)

    html = error_html(signed_in, client_id="https://vscode.dev/oauth/client-metadata.json")

    assert "does not accept applications described by a document on vscode.dev" in html
    assert "MCPDEMO_CIMD_ENABLED=1" in html
    assert "Remove Dynamic Authentication Providers" not in html


def test_a_host_off_the_allowlist_is_explained_to_the_operator(
    signed_in: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oauth2_settings, "CIMD_ALLOWED_HOSTS", ["claude.ai"])

    html = error_html(signed_in, client_id="https://vscode.dev/oauth/client-metadata.json")

    assert "vscode.dev is not one" in html
    assert "add vscode.dev to MCPDEMO_CIMD_ALLOWED_HOSTS" in html


def test_a_document_that_cannot_be_fetched_is_explained(signed_in: Client) -> None:
    html = error_html(signed_in, client_id="https://cimd.invalid/client.json")

    assert "could not fetch the application’s description from cimd.invalid" in html
    assert "outbound HTTPS to cimd.invalid" in html
