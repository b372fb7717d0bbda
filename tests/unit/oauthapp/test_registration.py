"""RFC 7591 dynamic client registration and RFC 7592 management at ``/register``."""

from __future__ import annotations

import json
import time
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.test import Client
from oauth2_provider.models import get_access_token_model, get_application_model

from oauthapp.tokens import DEVICE_CODE
from tests.support.device import DEVICE_REGISTRATION
from tests.support.oauth import (
    CLAUDE_REGISTRATION,
    CURSOR_REGISTRATION,
    INSPECTOR_REGISTRATION,
    SDK_REGISTRATION,
    VSCODE_REGISTRATION,
    register,
)

pytestmark = pytest.mark.django_db

Application = get_application_model()
AccessToken = get_access_token_model()

PUBLIC_CLIENTS = {
    "vscode": VSCODE_REGISTRATION,
    "claude": CLAUDE_REGISTRATION,
    "cursor": CURSOR_REGISTRATION,
    "inspector": INSPECTOR_REGISTRATION,
}
ALL_CLIENTS = {**PUBLIC_CLIENTS, "mcp-sdk": SDK_REGISTRATION}


def post_register(client: Client, body: Any, path: str = "/register", **extra: Any) -> Any:
    payload = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, payload, content_type="application/json", **extra)


def with_changes(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**body, **changes}


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def stored_state() -> tuple[int, int]:
    """What a refused registration must leave untouched: applications and tokens."""
    return Application.objects.count(), AccessToken.objects.count()


# --- Successful registration of the clients we know -------------------------------------


def test_vscode_body_with_the_device_grant_is_registered_with_it(client: Client) -> None:
    response = post_register(client, DEVICE_REGISTRATION)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grant_types"] == ["authorization_code", "refresh_token", DEVICE_CODE]
    application = Application.objects.get(client_id=body["client_id"])
    assert application.allows_grant_type(DEVICE_CODE)
    assert application.allows_grant_type("authorization-code")  # the desktop flow is unchanged
    read = client.get(body["registration_client_uri"], **bearer(body["registration_access_token"]))
    assert read.json()["grant_types"] == body["grant_types"]


# A headless agent's registration: the device grant alone, no redirects.
HEADLESS_REGISTRATION = {
    "client_name": "Build agent",
    "grant_types": [DEVICE_CODE, "refresh_token"],
    "token_endpoint_auth_method": "none",
}


def test_a_headless_client_registers_for_the_device_grant_alone(client: Client) -> None:
    response = post_register(client, HEADLESS_REGISTRATION)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grant_types"] == [DEVICE_CODE, "refresh_token"]
    assert body["redirect_uris"] == [] and body["response_types"] == []
    application = Application.objects.get(client_id=body["client_id"])
    assert application.allows_grant_type(DEVICE_CODE)
    assert not application.allows_grant_type("authorization-code")  # no code flow: it has nowhere to redirect
    read = client.get(body["registration_client_uri"], **bearer(body["registration_access_token"]))
    assert read.json()["grant_types"] == body["grant_types"]


@pytest.mark.parametrize(
    "changes",
    [
        {"token_endpoint_auth_method": "client_secret_basic"},
        {"redirect_uris": ["http://127.0.0.1:33418/"]},
        {"response_types": ["code"]},
        {"grant_types": ["refresh_token"]},
    ],
    ids=["confidential", "redirect-uris", "response-type-code", "refresh-only"],
)
def test_a_device_only_registration_with_code_flow_metadata_is_refused(client: Client, changes: dict[str, Any]) -> None:
    assert_refused(post_register(client, {**HEADLESS_REGISTRATION, **changes}), "invalid_client_metadata")


def test_without_the_device_grant_a_client_is_not_given_it(client: Client) -> None:
    body = register(client)

    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert not Application.objects.get(client_id=body["client_id"]).allows_grant_type(DEVICE_CODE)


@pytest.mark.parametrize("body", PUBLIC_CLIENTS.values(), ids=PUBLIC_CLIENTS.keys())
def test_register_public_mcp_client_gets_full_rfc7591_response(client: Client, body: dict[str, Any]) -> None:
    before = time.time()
    response = post_register(client, body)

    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert isinstance(data["client_id"], str)
    assert data["client_id"]
    assert isinstance(data["client_id_issued_at"], int)
    assert before - 5 <= data["client_id_issued_at"] <= time.time() + 5
    assert data["redirect_uris"] == body["redirect_uris"]
    assert data["grant_types"] == ["authorization_code", "refresh_token"]
    assert data["response_types"] == ["code"]
    assert data["token_endpoint_auth_method"] == "none"
    assert data["client_name"] == body["client_name"]
    assert data["registration_access_token"]
    assert data["registration_client_uri"] == f"http://testserver/register/{data['client_id']}"
    assert "client_secret" not in data
    assert "client_secret_expires_at" not in data


@pytest.mark.parametrize("field", ["client_uri", "scope", "application_type"])
@pytest.mark.parametrize("body", PUBLIC_CLIENTS.values(), ids=PUBLIC_CLIENTS.keys())
def test_register_echoes_optional_metadata_the_client_sent(client: Client, body: dict[str, Any], field: str) -> None:
    data = register(client, body)

    if field in body:
        assert data[field] == body[field]
    elif field == "scope":
        assert data["scope"] == "mcp"  # the default scope is what the client gets
    else:
        assert field not in data


def test_register_with_trailing_slash_answers_201_without_redirect(client: Client) -> None:
    response = post_register(client, CLAUDE_REGISTRATION, path="/register/")

    assert response.status_code == 201, response.content
    assert "Location" not in response
    assert response.json()["redirect_uris"] == CLAUDE_REGISTRATION["redirect_uris"]


def test_registered_public_client_is_stored_as_a_dcr_authorization_code_client(client: Client) -> None:
    data = register(client, VSCODE_REGISTRATION)

    application = Application.objects.get(client_id=data["client_id"])
    assert application.client_type == Application.CLIENT_PUBLIC
    assert application.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
    assert application.registration_source == Application.RegistrationSource.DCR
    assert application.user is None
    assert application.name == "Visual Studio Code"
    assert application.redirect_uris.split() == VSCODE_REGISTRATION["redirect_uris"]
    assert application.client_metadata["client_uri"] == "https://code.visualstudio.com"
    assert application.client_metadata["token_endpoint_auth_method"] == "none"


def test_register_ignores_unknown_metadata_fields(client: Client) -> None:
    data = register(client, with_changes(CLAUDE_REGISTRATION, x_vendor_field="whatever", jwks={"keys": []}))

    assert "x_vendor_field" not in data
    assert "jwks" not in data
    application = Application.objects.get(client_id=data["client_id"])
    assert "x_vendor_field" not in application.client_metadata


def test_register_does_not_let_the_client_choose_its_id_or_secret(client: Client) -> None:
    body = with_changes(SDK_REGISTRATION, client_id="chosen-id", client_secret="chosen-secret")

    data = register(client, body)

    assert data["client_id"] != "chosen-id"
    assert data["client_secret"] != "chosen-secret"
    assert not Application.objects.filter(client_id="chosen-id").exists()


# --- Public clients cost no password hashing --------------------------------------------


@pytest.mark.parametrize("body", PUBLIC_CLIENTS.values(), ids=PUBLIC_CLIENTS.keys())
def test_public_client_is_stored_without_a_secret(client: Client, body: dict[str, Any]) -> None:
    data = register(client, body)

    application = Application.objects.get(client_id=data["client_id"])
    assert application.client_secret == ""
    assert application.hash_client_secret is False


def test_public_client_registration_does_no_password_hashing(client: Client) -> None:
    with (
        mock.patch("oauth2_provider.models.make_password", wraps=make_password) as dot_spy,
        mock.patch("django.contrib.auth.hashers.make_password", wraps=make_password) as django_spy,
    ):
        register(client, VSCODE_REGISTRATION)

    dot_spy.assert_not_called()
    django_spy.assert_not_called()


def test_confidential_client_registration_hashes_its_secret_once(client: Client) -> None:
    # The positive control for the spy above: it does see the hashing when there is some.
    with mock.patch("oauth2_provider.models.make_password", wraps=make_password) as spy:
        register(client, SDK_REGISTRATION)

    assert spy.call_count == 1


# --- Confidential clients (the mcp SDK omits token_endpoint_auth_method) -----------------


def test_register_without_auth_method_makes_a_confidential_client_with_a_secret(client: Client) -> None:
    response = post_register(client, SDK_REGISTRATION)

    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["token_endpoint_auth_method"] == "client_secret_basic"
    assert isinstance(data["client_secret"], str)
    assert len(data["client_secret"]) >= 32
    assert data["client_secret_expires_at"] == 0
    assert data["redirect_uris"] == SDK_REGISTRATION["redirect_uris"]
    assert data["grant_types"] == ["authorization_code", "refresh_token"]
    assert data["client_name"] == "mcp sdk client"
    application = Application.objects.get(client_id=data["client_id"])
    assert application.client_type == Application.CLIENT_CONFIDENTIAL


def test_confidential_client_secret_is_stored_hashed(client: Client) -> None:
    data = register(client, SDK_REGISTRATION)

    application = Application.objects.get(client_id=data["client_id"])
    assert application.client_secret != data["client_secret"]
    assert data["client_secret"] not in application.client_secret
    assert check_password(data["client_secret"], application.client_secret)
    assert not check_password("wrong-" + data["client_secret"], application.client_secret)


def test_confidential_client_secret_is_shown_only_at_registration(client: Client) -> None:
    data = register(client, SDK_REGISTRATION)

    response = client.get(data["registration_client_uri"], **bearer(data["registration_access_token"]))

    assert response.status_code == 200, response.content
    assert response.json()["client_id"] == data["client_id"]
    assert "client_secret" not in response.json()
    assert data["client_secret"] not in response.content.decode()


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_register_with_explicit_secret_auth_method_is_confidential(client: Client, method: str) -> None:
    data = register(client, with_changes(SDK_REGISTRATION, token_endpoint_auth_method=method))

    assert data["client_secret"]
    assert data["token_endpoint_auth_method"] == method


# --- Refusals: RFC 7591 §3.2.2 errors, and nothing stored --------------------------------

INVALID_REDIRECT_URI_BODIES = {
    "missing": {k: v for k, v in CLAUDE_REGISTRATION.items() if k != "redirect_uris"},
    "empty-list": with_changes(CLAUDE_REGISTRATION, redirect_uris=[]),
    "string-not-list": with_changes(CLAUDE_REGISTRATION, redirect_uris="https://claude.ai/api/mcp/auth_callback"),
    "null": with_changes(CLAUDE_REGISTRATION, redirect_uris=None),
    "object-not-list": with_changes(CLAUDE_REGISTRATION, redirect_uris={"uri": "https://a.example/cb"}),
    "non-string-entry": with_changes(CLAUDE_REGISTRATION, redirect_uris=["https://a.example/cb", 42]),
    "null-entry": with_changes(CLAUDE_REGISTRATION, redirect_uris=[None]),
    "http-public-host": with_changes(CLAUDE_REGISTRATION, redirect_uris=["http://evil.example/cb"]),
    "one-bad-among-good": with_changes(
        CLAUDE_REGISTRATION, redirect_uris=["https://claude.ai/api/mcp/auth_callback", "http://evil.example/cb"]
    ),
    "javascript": with_changes(CLAUDE_REGISTRATION, redirect_uris=["javascript:alert(1)"]),
    "data": with_changes(CLAUDE_REGISTRATION, redirect_uris=["data:text/html,hi"]),
    "file": with_changes(CLAUDE_REGISTRATION, redirect_uris=["file:///etc/passwd"]),
    "fragment": with_changes(CLAUDE_REGISTRATION, redirect_uris=["https://a.example/cb#x"]),
    "userinfo": with_changes(CLAUDE_REGISTRATION, redirect_uris=["http://u:p@127.0.0.1/"]),
    "more-than-20": with_changes(CLAUDE_REGISTRATION, redirect_uris=[f"http://127.0.0.1/cb{i}" for i in range(21)]),
    "500-uris": with_changes(CLAUDE_REGISTRATION, redirect_uris=[f"http://127.0.0.1/cb{i}" for i in range(500)]),
}

INVALID_METADATA_BODIES = {
    "grant-password": with_changes(CLAUDE_REGISTRATION, grant_types=["password"]),
    "grant-client-credentials": with_changes(CLAUDE_REGISTRATION, grant_types=["client_credentials"]),
    "grant-implicit": with_changes(CLAUDE_REGISTRATION, grant_types=["implicit"]),
    "grant-refresh-token-only": with_changes(CLAUDE_REGISTRATION, grant_types=["refresh_token"]),
    "grant-empty": with_changes(CLAUDE_REGISTRATION, grant_types=[]),
    "grant-device-code-confidential": with_changes(
        SDK_REGISTRATION, grant_types=["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"]
    ),
    "grant-device-code-only": with_changes(
        CLAUDE_REGISTRATION, grant_types=["urn:ietf:params:oauth:grant-type:device_code"]
    ),
    "grant-code-plus-client-credentials": with_changes(
        CLAUDE_REGISTRATION, grant_types=["authorization_code", "client_credentials"]
    ),
    "grant-types-string": with_changes(CLAUDE_REGISTRATION, grant_types="authorization_code"),
    "response-type-token": with_changes(CLAUDE_REGISTRATION, response_types=["token"]),
    "response-type-code-token": with_changes(CLAUDE_REGISTRATION, response_types=["code", "token"]),
    "auth-private-key-jwt": with_changes(CLAUDE_REGISTRATION, token_endpoint_auth_method="private_key_jwt"),
    "auth-tls-client-auth": with_changes(CLAUDE_REGISTRATION, token_endpoint_auth_method="tls_client_auth"),
    "auth-method-not-string": with_changes(CLAUDE_REGISTRATION, token_endpoint_auth_method=["none"]),
    "scope-admin": with_changes(CLAUDE_REGISTRATION, scope="admin"),
    "scope-mcp-plus-admin": with_changes(CLAUDE_REGISTRATION, scope="mcp admin"),
    "scope-not-string": with_changes(CLAUDE_REGISTRATION, scope=["mcp"]),
    "client-name-too-long": with_changes(CLAUDE_REGISTRATION, client_name="x" * 256),
    "client-name-number": with_changes(CLAUDE_REGISTRATION, client_name=42),
    "client-name-object": with_changes(CLAUDE_REGISTRATION, client_name={"en": "Claude"}),
    "logo-uri-javascript": with_changes(CLAUDE_REGISTRATION, logo_uri="javascript:x"),
    "client-uri-data": with_changes(CLAUDE_REGISTRATION, client_uri="data:text/html,hi"),
    "application-type-other": with_changes(CLAUDE_REGISTRATION, application_type="browser"),
    "contacts-not-list": with_changes(CLAUDE_REGISTRATION, contacts="a@example.com"),
}


def assert_refused(response: Any, error: str) -> None:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"].strip()


@pytest.mark.parametrize("body", INVALID_REDIRECT_URI_BODIES.values(), ids=INVALID_REDIRECT_URI_BODIES.keys())
def test_register_rejects_bad_redirect_uris_with_invalid_redirect_uri(client: Client, body: dict[str, Any]) -> None:
    before = stored_state()

    response = post_register(client, body)

    assert_refused(response, "invalid_redirect_uri")
    assert stored_state() == before


def test_register_rejects_http_redirect_on_public_host(client: Client) -> None:
    response = post_register(
        client, {"redirect_uris": ["http://evil.example/cb"], "token_endpoint_auth_method": "none"}
    )

    assert_refused(response, "invalid_redirect_uri")
    assert "http://evil.example/cb" in response.json()["error_description"]
    assert "loopback" in response.json()["error_description"]


def test_register_accepts_exactly_20_redirect_uris(client: Client) -> None:
    uris = [f"http://127.0.0.1/cb{i}" for i in range(20)]

    data = register(client, with_changes(CLAUDE_REGISTRATION, redirect_uris=uris))

    assert data["redirect_uris"] == uris


@pytest.mark.parametrize("body", INVALID_METADATA_BODIES.values(), ids=INVALID_METADATA_BODIES.keys())
def test_register_rejects_unsupported_metadata_with_invalid_client_metadata(
    client: Client, body: dict[str, Any]
) -> None:
    before = stored_state()

    response = post_register(client, body)

    assert_refused(response, "invalid_client_metadata")
    assert stored_state() == before


def test_register_accepts_client_name_of_exactly_255_characters(client: Client) -> None:
    data = register(client, with_changes(CLAUDE_REGISTRATION, client_name="x" * 255))

    assert data["client_name"] == "x" * 255


@pytest.mark.parametrize(
    "payload",
    ["{not json", "", "\xff\xfe", b"\xff\xfe{}", "[]", json.dumps([CLAUDE_REGISTRATION]), '"a string"', "null", "42"],
    ids=["malformed", "empty", "garbage", "invalid-utf8", "empty-array", "array", "string", "null", "number"],
)
def test_register_rejects_a_body_that_is_not_a_json_object(client: Client, payload: str | bytes) -> None:
    before = stored_state()

    response = post_register(client, payload)

    assert_refused(response, "invalid_client_metadata")
    assert stored_state() == before


def test_register_rejects_a_form_encoded_body(client: Client) -> None:
    before = stored_state()

    response = client.post("/register", {"redirect_uris": "https://claude.ai/api/mcp/auth_callback"})

    assert_refused(response, "invalid_client_metadata")
    assert stored_state() == before


@pytest.mark.parametrize("size", [64 * 1024 + 1, 3 * 1024 * 1024], ids=["64KiB+1", "3MiB"])
def test_register_rejects_a_body_over_64_kib_with_413_json(client: Client, size: int) -> None:
    body = json.dumps(with_changes(CLAUDE_REGISTRATION, client_name="x"))
    padded = body[:-1] + ', "padding": "' + "p" * size + '"}'
    before = stored_state()

    response = post_register(client, padded)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]
    assert response.json()["error_description"]
    assert stored_state() == before


def test_register_accepts_a_body_just_under_64_kib(client: Client) -> None:
    body = json.dumps(CLAUDE_REGISTRATION)
    padding = 64 * 1024 - len(body) - len(', "padding": ""')
    padded = body[:-1] + ', "padding": "' + "p" * padding + '"}'
    assert len(padded.encode()) == 64 * 1024

    response = post_register(client, padded)

    assert response.status_code == 201, response.content


def test_register_rejects_deeply_nested_json_under_the_size_cap(client: Client) -> None:
    payload = "[" * 60_000
    before = stored_state()

    response = post_register(client, payload)

    assert_refused(response, "invalid_client_metadata")
    assert stored_state() == before


# --- RFC 7592 management -----------------------------------------------------------------


def test_management_put_cannot_switch_to_an_unsupported_grant_type(client: Client) -> None:
    data = register(client, CLAUDE_REGISTRATION)
    before = stored_state()

    response = client.put(
        data["registration_client_uri"],
        json.dumps(with_changes(CLAUDE_REGISTRATION, grant_types=["password"])),
        content_type="application/json",
        **bearer(data["registration_access_token"]),
    )

    assert_refused(response, "invalid_client_metadata")
    application = Application.objects.get(client_id=data["client_id"])
    assert application.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
    assert stored_state() == before


def test_management_put_cannot_add_a_bad_redirect_uri(client: Client) -> None:
    data = register(client, CLAUDE_REGISTRATION)

    response = client.put(
        data["registration_client_uri"],
        json.dumps(with_changes(CLAUDE_REGISTRATION, redirect_uris=["http://evil.example/cb"])),
        content_type="application/json",
        **bearer(data["registration_access_token"]),
    )

    assert_refused(response, "invalid_redirect_uri")
    application = Application.objects.get(client_id=data["client_id"])
    assert application.redirect_uris.split() == CLAUDE_REGISTRATION["redirect_uris"]


def test_management_put_cannot_turn_a_public_client_confidential(client: Client) -> None:
    data = register(client, CLAUDE_REGISTRATION)

    response = client.put(
        data["registration_client_uri"],
        json.dumps(with_changes(CLAUDE_REGISTRATION, token_endpoint_auth_method="client_secret_basic")),
        content_type="application/json",
        **bearer(data["registration_access_token"]),
    )

    assert_refused(response, "invalid_client_metadata")
    application = Application.objects.get(client_id=data["client_id"])
    assert application.client_type == Application.CLIENT_PUBLIC


def test_management_put_updates_client_name(client: Client) -> None:
    data = register(client, VSCODE_REGISTRATION)

    response = client.put(
        data["registration_client_uri"],
        json.dumps(with_changes(VSCODE_REGISTRATION, client_name="Visual Studio Code - Insiders")),
        content_type="application/json",
        **bearer(data["registration_access_token"]),
    )

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    assert response.json()["client_name"] == "Visual Studio Code - Insiders"
    assert response.json()["registration_access_token"]
    application = Application.objects.get(client_id=data["client_id"])
    assert application.name == "Visual Studio Code - Insiders"
    assert application.client_metadata["client_name"] == "Visual Studio Code - Insiders"
    assert application.client_type == Application.CLIENT_PUBLIC
    assert application.client_secret == ""


def test_management_put_rejects_a_body_over_64_kib_with_413_json(client: Client) -> None:
    data = register(client, CLAUDE_REGISTRATION)
    body = with_changes(CLAUDE_REGISTRATION, client_name="renamed", padding="p" * (64 * 1024))

    response = client.put(
        data["registration_client_uri"],
        json.dumps(body),
        content_type="application/json",
        **bearer(data["registration_access_token"]),
    )

    assert response.status_code == 413
    assert response.json()["error"]
    assert Application.objects.get(client_id=data["client_id"]).name == "Claude"


def test_management_get_returns_the_registration_without_secrets(client: Client) -> None:
    data = register(client, CURSOR_REGISTRATION)

    response = client.get(data["registration_client_uri"], **bearer(data["registration_access_token"]))

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    assert response.json()["client_id"] == data["client_id"]
    assert response.json()["redirect_uris"] == CURSOR_REGISTRATION["redirect_uris"]
    assert "client_secret" not in response.json()


def test_management_delete_with_the_registration_token_removes_the_client(client: Client) -> None:
    data = register(client, CLAUDE_REGISTRATION)

    response = client.delete(data["registration_client_uri"], **bearer(data["registration_access_token"]))

    assert response.status_code == 204
    assert not Application.objects.filter(client_id=data["client_id"]).exists()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-real-token", "Basic dXNlcjpwYXNz"],
    ids=["no-token", "unknown-token", "basic-auth"],
)
def test_management_without_a_valid_registration_token_is_401(
    client: Client, method: str, authorization: str | None
) -> None:
    data = register(client, CLAUDE_REGISTRATION)
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    body = json.dumps(with_changes(CLAUDE_REGISTRATION, client_name="hijacked"))

    response = client.generic(method, data["registration_client_uri"], body, content_type="application/json", **headers)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    application = Application.objects.get(client_id=data["client_id"])
    assert application.name == "Claude"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_management_with_another_clients_registration_token_is_401(client: Client, method: str) -> None:
    victim = register(client, CLAUDE_REGISTRATION)
    attacker = register(client, CURSOR_REGISTRATION)
    body = json.dumps(with_changes(CLAUDE_REGISTRATION, client_name="hijacked"))

    response = client.generic(
        method,
        victim["registration_client_uri"],
        body,
        content_type="application/json",
        **bearer(attacker["registration_access_token"]),
    )

    assert response.status_code == 401
    assert Application.objects.get(client_id=victim["client_id"]).name == "Claude"


# --- Stored XSS is the consent page's problem: registration keeps the name verbatim ------


def test_register_stores_and_returns_a_script_client_name_verbatim(client: Client) -> None:
    name = "<script>alert(1)</script>"

    response = post_register(client, with_changes(CLAUDE_REGISTRATION, client_name=name))

    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["client_name"] == name
    application = Application.objects.get(client_id=response.json()["client_id"])
    assert application.name == name
    assert application.client_metadata["client_name"] == name


def test_management_read_describes_the_client_as_registered(client: Client) -> None:
    data = register(client, with_changes(SDK_REGISTRATION, token_endpoint_auth_method="client_secret_post"))

    response = client.get(data["registration_client_uri"], **bearer(data["registration_access_token"]))

    assert response.status_code == 200
    body = response.json()
    assert body["token_endpoint_auth_method"] == "client_secret_post"
    assert body["client_name"] == SDK_REGISTRATION["client_name"]
    assert body["response_types"] == ["code"]
    assert body["client_id_issued_at"] == data["client_id_issued_at"]
    assert "client_secret" not in body
    assert response["Cache-Control"] == "no-store"
