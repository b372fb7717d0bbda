"""The token and revocation endpoints: code exchange, refresh rotation, reuse detection, revocation."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from oauthapp.models import AuditEvent, ConsumedCode, RefreshReplay
from oauthapp.tokens import checksum
from tests.support.oauth import (
    MCP_URL,
    OTHER_RESOURCES,
    SDK_REGISTRATION,
    CodeRequest,
    exchange_code,
    obtain_code,
    refresh,
    register,
)

pytestmark = pytest.mark.django_db
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()


def _code(client: Client, vscode: dict[str, Any]) -> tuple[CodeRequest, str]:
    request = CodeRequest(vscode["client_id"])
    return request, obtain_code(client, request)["code"]


def test_code_exchange_returns_bearer_tokens_for_one_hour(signed_in: Client, vscode: dict[str, Any]) -> None:
    request, code = _code(signed_in, vscode)

    response = exchange_code(signed_in, request, code)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "mcp"
    assert body["refresh_token"] != body["access_token"]
    assert response["Cache-Control"] == "no-store"


def test_a_code_exchange_reads_its_grant_once_for_all_its_checks(signed_in: Client, vscode: dict[str, Any]) -> None:
    request, code = _code(signed_in, vscode)

    with CaptureQueriesContext(connection) as queries:
        response = exchange_code(signed_in, request, code)

    assert response.status_code == 200
    grant_reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and Grant._meta.db_table in q["sql"]]
    # Ours (locked), DOT's validate_code and DOT's resource check; the redirect URI and
    # PKCE checks reuse the locked row.
    assert len(grant_reads) == 3


def test_tokens_are_bound_to_the_mcp_resource(signed_in: Client, vscode: dict[str, Any]) -> None:
    request, code = _code(signed_in, vscode)

    exchange_code(signed_in, request, code, resource=None)

    assert AccessToken.objects.get(user__isnull=False).resource == [MCP_URL]
    assert RefreshToken.objects.get().resource == [MCP_URL]


def test_tokens_are_stored_hashed(signed_in: Client, tokens: dict[str, Any]) -> None:
    access_token = AccessToken.objects.get(user__username="alice")
    refresh_token = RefreshToken.objects.get()

    assert access_token.token == ""
    assert refresh_token.token == ""
    assert len(access_token.token_checksum) == 64
    assert tokens["access_token"] not in access_token.token_checksum


def test_access_tokens_have_at_least_128_bits(tokens: dict[str, Any]) -> None:
    # 30 characters from [A-Za-z0-9] carry ~178 bits.
    assert len(tokens["access_token"]) >= 30
    assert tokens["access_token"].isalnum()


def test_token_request_for_another_resource_is_refused(signed_in: Client, vscode: dict[str, Any]) -> None:
    request, code = _code(signed_in, vscode)

    response = exchange_code(signed_in, request, code, resource="https://other.example/api")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    assert not AccessToken.objects.filter(user__isnull=False).exists()


def test_wrong_verifier_is_refused(signed_in: Client, vscode: dict[str, Any]) -> None:
    request, code = _code(signed_in, vscode)

    response = exchange_code(signed_in, request, code, code_verifier="x" * 50)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_missing_verifier_is_refused(signed_in: Client, vscode: dict[str, Any]) -> None:
    request, code = _code(signed_in, vscode)

    response = exchange_code(signed_in, request, code, code_verifier=None)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_replayed_code_is_refused_and_revokes_what_it_issued(signed_in: Client, vscode: dict[str, Any]) -> None:
    """OAuth 2.1 §4.1.3: a code used twice was stolen; kill everything it produced."""
    request, code = _code(signed_in, vscode)
    first = exchange_code(signed_in, request, code).json()

    replay = exchange_code(signed_in, request, code)

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(token_checksum=checksum(first["access_token"])).exists()
    assert refresh(signed_in, vscode["client_id"], first["refresh_token"]).status_code == 400
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CODE_REUSE_DETECTED).count() == 1


def test_consumed_codes_are_remembered_by_checksum_only(signed_in: Client, vscode: dict[str, Any]) -> None:
    request, code = _code(signed_in, vscode)
    exchange_code(signed_in, request, code)

    consumed = ConsumedCode.objects.get()

    assert consumed.code_checksum == checksum(code)
    assert code not in str(consumed.__dict__)


def test_expired_code_is_refused(signed_in: Client, vscode: dict[str, Any]) -> None:
    request, code = _code(signed_in, vscode)
    Grant.objects.update(expires=timezone.now())

    response = exchange_code(signed_in, request, code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_codes_expire_within_a_minute(signed_in: Client, vscode: dict[str, Any]) -> None:
    before = timezone.now()
    _code(signed_in, vscode)

    assert Grant.objects.get().expires <= before + timedelta(seconds=61)


def test_refresh_rotates_the_refresh_token(signed_in: Client, tokens: dict[str, Any]) -> None:
    # VS Code's refresh: form body with resource, no scope.
    response = refresh(signed_in, tokens["client_id"], tokens["refresh_token"])

    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    assert body["scope"] == "mcp"
    assert AccessToken.objects.get(user__isnull=False).resource == [MCP_URL]
    assert not AccessToken.objects.filter(token_checksum=checksum(tokens["access_token"])).exists()


def test_refresh_without_resource_keeps_the_binding(signed_in: Client, tokens: dict[str, Any]) -> None:
    response = refresh(signed_in, tokens["client_id"], tokens["refresh_token"], resource=None)

    assert response.status_code == 200
    assert AccessToken.objects.get(user__isnull=False).resource == [MCP_URL]


def test_refresh_repeated_within_seconds_gets_the_same_answer(signed_in: Client, tokens: dict[str, Any]) -> None:
    """Two windows of one client refreshing at once must not sign the user out."""
    first = refresh(signed_in, tokens["client_id"], tokens["refresh_token"])
    second = refresh(signed_in, tokens["client_id"], tokens["refresh_token"])

    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert refresh(signed_in, tokens["client_id"], first.json()["refresh_token"]).status_code == 200


def test_kept_refresh_answer_is_encrypted(signed_in: Client, tokens: dict[str, Any]) -> None:
    answer = refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).json()

    stored = bytes(RefreshReplay.objects.get().ciphertext)

    assert answer["refresh_token"].encode() not in stored
    assert answer["access_token"].encode() not in stored
    assert RefreshReplay.objects.get().refresh_token_checksum == checksum(tokens["refresh_token"])


def test_replayed_refresh_token_after_the_window_revokes_the_whole_family(
    signed_in: Client, tokens: dict[str, Any]
) -> None:
    rotated = refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).json()
    RefreshReplay.objects.update(expires=timezone.now())

    replay = refresh(signed_in, tokens["client_id"], tokens["refresh_token"])
    after = refresh(signed_in, tokens["client_id"], rotated["refresh_token"])

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert after.status_code == 400
    assert not AccessToken.objects.filter(token_checksum=checksum(rotated["access_token"])).exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSE_DETECTED).exists()


def test_kept_refresh_answer_is_not_given_to_another_client(signed_in: Client, tokens: dict[str, Any]) -> None:
    refresh(signed_in, tokens["client_id"], tokens["refresh_token"])
    other = signed_in.post(
        "/register",
        {"redirect_uris": ["http://127.0.0.1/"], "token_endpoint_auth_method": "none"},
        content_type="application/json",
    ).json()

    response = refresh(signed_in, other["client_id"], tokens["refresh_token"])

    assert response.status_code == 400
    assert "access_token" not in response.json()


def test_kept_refresh_answer_dies_with_the_tokens_it_holds(signed_in: Client, tokens: dict[str, Any]) -> None:
    answer = refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).json()
    signed_in.post("/revoke", {"token": answer["refresh_token"], "client_id": tokens["client_id"]})

    response = refresh(signed_in, tokens["client_id"], tokens["refresh_token"])

    assert response.status_code == 400


def test_refresh_by_another_client_is_refused(signed_in: Client, tokens: dict[str, Any]) -> None:
    other = signed_in.post(
        "/register",
        {"redirect_uris": ["http://127.0.0.1/"], "token_endpoint_auth_method": "none"},
        content_type="application/json",
    ).json()

    response = refresh(signed_in, other["client_id"], tokens["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_expired_access_token_can_still_be_refreshed(signed_in: Client, tokens: dict[str, Any]) -> None:
    AccessToken.objects.filter(user__isnull=False).update(expires=timezone.now())

    assert refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).status_code == 200


def test_public_client_can_revoke_its_access_token(signed_in: Client, tokens: dict[str, Any]) -> None:
    response = signed_in.post("/revoke", {"token": tokens["access_token"], "client_id": tokens["client_id"]})

    assert response.status_code == 200
    assert not AccessToken.objects.filter(token_checksum=checksum(tokens["access_token"])).exists()


def test_revoking_the_refresh_token_ends_the_grant(signed_in: Client, tokens: dict[str, Any]) -> None:
    signed_in.post("/revoke", {"token": tokens["refresh_token"], "client_id": tokens["client_id"]})

    response = refresh(signed_in, tokens["client_id"], tokens["refresh_token"])

    assert response.status_code == 400
    assert not AccessToken.objects.filter(user__isnull=False).exists()


def test_another_client_cannot_revoke_the_token(signed_in: Client, tokens: dict[str, Any]) -> None:
    other = signed_in.post(
        "/register",
        {"redirect_uris": ["http://127.0.0.1/"], "token_endpoint_auth_method": "none"},
        content_type="application/json",
    ).json()

    signed_in.post("/revoke", {"token": tokens["access_token"], "client_id": other["client_id"]})

    assert AccessToken.objects.filter(token_checksum=checksum(tokens["access_token"])).exists()


def test_device_grant_is_refused_to_a_client_that_did_not_register_it(client: Client, vscode: dict[str, Any]) -> None:
    response = client.post(
        "/token",
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": vscode["client_id"],
            "device_code": "x",
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    "grant_type",
    ["password", "client_credentials", "implicit", "foo"],
)
def test_other_grant_types_are_refused(client: Client, vscode: dict[str, Any], grant_type: str) -> None:
    response = client.post(
        "/token",
        {"grant_type": grant_type, "client_id": vscode["client_id"], "username": "alice", "password": "x"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert response["Cache-Control"] == "no-store"


def test_token_errors_are_json(client: Client) -> None:
    response = client.post("/token", {"grant_type": "authorization_code", "code": "nope", "client_id": "nope"})

    assert response.status_code in (400, 401)
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("name", ["code_verifier", "code", "client_id", "grant_type", "redirect_uri"])
def test_a_repeated_parameter_at_token_is_invalid_request(signed_in: Client, vscode: dict[str, Any], name: str) -> None:
    request, code = _code(signed_in, vscode)
    values = {"grant_type": "authorization_code", "client_id": request.client_id, "code": code,
              "redirect_uri": request.redirect_uri, "code_verifier": request.verifier}  # fmt: skip

    response = exchange_code(signed_in, request, **{"code": code, name: [values[name], values[name]]})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert name in response.json()["error_description"]
    assert response["Cache-Control"] == "no-store"
    assert not AccessToken.objects.filter(user__isnull=False).exists()
    assert exchange_code(signed_in, request, code).status_code == 200  # the code was not spent


def test_a_parameter_in_the_query_and_the_body_at_token_is_invalid_request(
    signed_in: Client, vscode: dict[str, Any]
) -> None:
    request, code = _code(signed_in, vscode)

    response = signed_in.post(
        f"/token?code_verifier={request.verifier}",
        {
            "grant_type": "authorization_code",
            "client_id": request.client_id,
            "code": code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.verifier,
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_resource_may_be_repeated_at_token(signed_in: Client, vscode: dict[str, Any]) -> None:
    request, code = _code(signed_in, vscode)

    assert exchange_code(signed_in, request, code, resource=[MCP_URL, MCP_URL]).status_code == 200


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1:33419/", "http://127.0.0.1:33418/cb", "HTTP://127.0.0.1:33418/", "https://vscode.dev/redirect"],
)
def test_a_redirect_uri_differing_at_token_is_invalid_grant(
    signed_in: Client, vscode: dict[str, Any], redirect_uri: str
) -> None:
    request, code = _code(signed_in, vscode)

    response = exchange_code(signed_in, request, code, redirect_uri=redirect_uri)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(user__isnull=False).exists()


def _confidential_code(client: Client) -> tuple[dict[str, Any], CodeRequest, str]:
    registration = register(client, SDK_REGISTRATION)
    request = CodeRequest(registration["client_id"], redirect_uri="http://localhost:3030/callback")
    return registration, request, obtain_code(client, request)["code"]


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{quote(client_id)}:{quote(secret)}".encode()).decode()


def test_a_wrong_secret_over_basic_gets_401_with_a_basic_challenge(signed_in: Client) -> None:
    registration, request, code = _confidential_code(signed_in)

    response = exchange_code(
        signed_in, request, code, client_id=None, headers={"Authorization": _basic(registration["client_id"], "wrong")}
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith('Basic realm="http://testserver"')
    assert "Bearer" not in response["WWW-Authenticate"]


def test_the_right_secret_over_basic_gets_tokens(signed_in: Client) -> None:
    registration, request, code = _confidential_code(signed_in)

    response = exchange_code(
        signed_in,
        request,
        code,
        client_id=None,
        headers={"Authorization": _basic(registration["client_id"], registration["client_secret"])},
    )

    assert response.status_code == 200, response.content


def test_a_wrong_secret_in_the_body_gets_no_bearer_challenge(signed_in: Client) -> None:
    _registration, request, code = _confidential_code(signed_in)

    response = exchange_code(signed_in, request, code, client_secret="wrong")

    assert response.json()["error"] == "invalid_client"
    assert "Bearer" not in response.get("WWW-Authenticate", "")


def test_a_wrong_secret_at_revoke_gets_a_basic_challenge(signed_in: Client) -> None:
    registration, _request, _code = _confidential_code(signed_in)

    response = signed_in.post("/revoke", {"token": "x"}, HTTP_AUTHORIZATION=_basic(registration["client_id"], "wrong"))

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic realm=")


@pytest.mark.parametrize("resource", OTHER_RESOURCES)
def test_the_resource_rule_of_authorize_holds_at_token(
    signed_in: Client, vscode: dict[str, Any], resource: str
) -> None:
    request, code = _code(signed_in, vscode)

    response = exchange_code(signed_in, request, code, resource=resource)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


@pytest.mark.parametrize("resource", ["HTTP://TESTSERVER/mcp", "http://TestServer/mcp"])
def test_upper_case_scheme_or_host_in_resource_is_accepted_at_token_as_at_authorize(
    signed_in: Client, vscode: dict[str, Any], resource: str
) -> None:
    request, code = _code(signed_in, vscode)

    response = exchange_code(signed_in, request, code, resource=resource)

    assert response.status_code == 200, response.content
    assert (
        refresh(signed_in, vscode["client_id"], response.json()["refresh_token"], resource=resource).status_code == 200
    )
    assert AccessToken.objects.filter(user__isnull=False).latest("pk").resource == [MCP_URL]


def test_the_resource_rule_holds_on_refresh(signed_in: Client, tokens: dict[str, Any]) -> None:
    response = refresh(signed_in, tokens["client_id"], tokens["refresh_token"], resource=MCP_URL + "/")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def _issued_seconds_ago(seconds: int) -> None:
    """Date alice's current token pair back as if it had been issued ``seconds`` ago."""
    issued = timezone.now() - timedelta(seconds=seconds)
    AccessToken.objects.filter(user__isnull=False).update(
        expires=issued + timedelta(seconds=settings.MCPDEMO_ACCESS_TOKEN_SECONDS)
    )


def test_a_refresh_token_lives_exactly_the_configured_seconds_from_issue(
    signed_in: Client, tokens: dict[str, Any]
) -> None:
    _issued_seconds_ago(settings.MCPDEMO_REFRESH_TOKEN_SECONDS)

    response = refresh(signed_in, tokens["client_id"], tokens["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_refresh_token_works_until_then(signed_in: Client, tokens: dict[str, Any]) -> None:
    _issued_seconds_ago(settings.MCPDEMO_REFRESH_TOKEN_SECONDS - 60)

    assert refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).status_code == 200
