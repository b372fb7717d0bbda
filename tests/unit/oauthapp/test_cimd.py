"""Client ID Metadata Documents: VS Code's and Claude Code's real documents work; bad ones fail safely.

The network fetch is replaced with the clients' published documents (see docs/clients.md;
the tests have no internet); DOT's SSRF checks in front of the fetch stay real.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.cimd import CIMDError

from oauthapp.models import Application, DeviceGrant
from oauthapp.tokens import DEVICE_CODE
from tests.support.device import decide, enter_code, poll, start
from tests.support.oauth import BASE, CodeRequest, consent_form_data, exchange_code, query_of

pytestmark = pytest.mark.django_db

VSCODE_ID = "https://vscode.dev/oauth/client-metadata.json"
VSCODE_DOCUMENT = {
    "client_id": VSCODE_ID,
    "client_name": "Visual Studio Code",
    "redirect_uris": ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
    "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
    "token_endpoint_auth_method": "none",
    "application_type": "native",
}
CLAUDE_CODE_ID = "https://claude.ai/oauth/claude-code-client-metadata"
CLAUDE_CODE_DOCUMENT = {
    "client_id": CLAUDE_CODE_ID,
    "client_name": "Claude Code",
    "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "token_endpoint_auth_method": "none",
}


def serving(*documents: dict[str, Any]) -> Any:
    """Replace the HTTPS fetch (only the network part) with these documents."""
    by_url = {document["client_id"]: document for document in documents}

    def fetch(self: Any, client_id: str) -> tuple[dict[str, Any], int]:
        if client_id not in by_url:
            raise CIMDError("HTTP 404")
        return dict(by_url[client_id]), 3600

    return mock.patch("oauth2_provider.cimd.SafeMetadataFetcher.fetch", autospec=True, side_effect=fetch)


def test_server_metadata_advertises_metadata_documents(client: Client) -> None:
    assert client.get("/.well-known/oauth-authorization-server").json()["client_id_metadata_document_supported"]


def test_vscode_document_works_although_it_lists_the_device_code_grant(signed_in: Client) -> None:
    request = CodeRequest(VSCODE_ID, redirect_uri="http://127.0.0.1:51234/")
    with serving(VSCODE_DOCUMENT):
        page = signed_in.get("/authorize", request.params())
        redirect = signed_in.post("/authorize", consent_form_data(page))
        token = exchange_code(signed_in, request, query_of(redirect["Location"])["code"])

    assert page.status_code == 200
    # The document's host is the client's identity on the consent page.
    assert (
        'title="Described by a metadata document published by vscode.dev.">vscode.dev</span>' in page.content.decode()
    )
    assert token.status_code == 200
    application = Application.objects.get(client_id=VSCODE_ID)
    assert application.registration_source == "cimd"
    assert application.authorization_grant_type == "authorization-code"
    assert application.client_secret == ""


def test_vscode_document_opens_the_device_grant_to_it(signed_in: Client) -> None:
    device = Client()
    with serving(VSCODE_DOCUMENT):
        codes = start(device, VSCODE_ID).json()
        page = enter_code(signed_in, codes["user_code"])
        decide(signed_in, page)
        DeviceGrant.objects.update(last_checked=timezone.now() - timedelta(seconds=60))
        token = poll(device, VSCODE_ID, codes["device_code"])

    assert "Visual Studio Code" in page.content.decode()
    assert token.status_code == 200, token.content
    application = Application.objects.get(client_id=VSCODE_ID)
    assert application.client_metadata["grant_types"] == ["authorization_code", "refresh_token", DEVICE_CODE]
    assert application.authorization_grant_type == "authorization-code"  # what DOT was given


def test_a_document_without_the_device_grant_may_not_start_it() -> None:
    with serving(CLAUDE_CODE_DOCUMENT):
        response = start(Client(), CLAUDE_CODE_ID)

    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert not Application.objects.get(client_id=CLAUDE_CODE_ID).allows_device_grant


def test_claude_code_document_with_localhost_on_any_port(signed_in: Client) -> None:
    request = CodeRequest(CLAUDE_CODE_ID, redirect_uri="http://localhost:54545/callback")
    with serving(CLAUDE_CODE_DOCUMENT):
        page = signed_in.get("/authorize", request.params())
        redirect = signed_in.post("/authorize", consent_form_data(page))

    assert page.status_code == 200
    assert redirect["Location"].startswith("http://localhost:54545/callback?")
    assert query_of(redirect["Location"])["iss"] == BASE


@pytest.mark.parametrize(
    "document",
    [
        {**VSCODE_DOCUMENT, "client_id": "https://vscode.dev/other.json"},  # claims to be someone else
        {**VSCODE_DOCUMENT, "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"]},
        {**VSCODE_DOCUMENT, "redirect_uris": ["http://evil.example/cb"]},
        {**VSCODE_DOCUMENT, "token_endpoint_auth_method": "client_secret_basic"},
        {**VSCODE_DOCUMENT, "redirect_uris": []},
    ],
    ids=["wrong-client-id", "no-supported-grant", "http-redirect-off-loopback", "confidential", "no-redirects"],
)
def test_invalid_document_gives_an_error_page_and_no_redirect(signed_in: Client, document: dict) -> None:
    with serving(document):
        response = signed_in.get("/authorize", CodeRequest(VSCODE_ID).params())

    assert response.status_code == 400
    assert "Location" not in response
    assert not Application.objects.filter(client_id=VSCODE_ID).exists()


def test_unreachable_document_gives_an_error_page(signed_in: Client) -> None:
    with serving():
        response = signed_in.get("/authorize", CodeRequest(VSCODE_ID).params())

    assert response.status_code == 400
    assert "Location" not in response


def test_host_allow_list_refuses_other_documents_without_fetching(signed_in: Client, settings: Any) -> None:
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "CIMD_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.cimd.HostAllowlistCIMDPermission",),
        "CIMD_ALLOWED_HOSTS": ["vscode.dev"],
    }
    with serving(VSCODE_DOCUMENT, CLAUDE_CODE_DOCUMENT) as fetch:
        refused = signed_in.get(
            "/authorize", CodeRequest(CLAUDE_CODE_ID, redirect_uri="http://127.0.0.1/callback").params()
        )
        allowed = signed_in.get("/authorize", CodeRequest(VSCODE_ID).params())

    assert refused.status_code == 400
    assert allowed.status_code == 200
    assert [call.args[1] for call in fetch.call_args_list] == [VSCODE_ID]


@pytest.mark.parametrize(
    "client_id",
    [
        "https://10.0.0.5/client.json",
        "https://127.0.0.1/client.json",
        "https://[::1]/client.json",
        "https://169.254.169.254/latest",
    ],
)
def test_documents_on_private_addresses_are_never_fetched(signed_in: Client, client_id: str) -> None:
    with mock.patch("oauth2_provider.cimd.urllib3.HTTPSConnectionPool") as pool:
        response = signed_in.get("/authorize", CodeRequest(client_id).params())

    assert response.status_code == 400
    pool.assert_not_called()


def test_http_document_urls_are_not_metadata_documents(signed_in: Client) -> None:
    with serving() as fetch:
        response = signed_in.get("/authorize", CodeRequest("http://vscode.dev/oauth/client-metadata.json").params())

    assert response.status_code == 400
    fetch.assert_not_called()


def test_a_document_client_name_is_stored_without_bidi_or_invisible_characters(signed_in: Client) -> None:
    document = {**VSCODE_DOCUMENT, "client_name": "Visual\u202e Studio\u200b Code"}
    with serving(document):
        page = signed_in.get("/authorize", CodeRequest(VSCODE_ID, redirect_uri="http://127.0.0.1:51234/").params())

    assert page.status_code == 200
    assert Application.objects.get(client_id=VSCODE_ID).name == "Visual Studio Code"


def test_an_unreachable_document_is_explained_with_its_host(signed_in: Client) -> None:
    with serving():
        html = signed_in.get("/authorize", CodeRequest(VSCODE_ID).params()).content.decode()

    assert "could not fetch the application’s description from vscode.dev" in html
    assert "outbound HTTPS to vscode.dev" in html
