"""CORS: browser clients may call discovery, registration, token and revocation; never /authorize."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.oauth import VSCODE_REGISTRATION

pytestmark = pytest.mark.django_db

INSPECTOR = "http://localhost:6274"
API_PATHS = [
    "/.well-known/oauth-authorization-server",
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-protected-resource",
    "/register",
    "/token",
    "/revoke",
]


@pytest.mark.parametrize("path", API_PATHS)
def test_preflight_is_answered_for_api_endpoints(client: Client, path: str) -> None:
    response = client.options(
        path,
        HTTP_ORIGIN=INSPECTOR,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, mcp-protocol-version",
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "mcp-protocol-version" in response["Access-Control-Allow-Headers"]
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response


def test_registration_from_a_browser_origin_can_read_the_answer(client: Client) -> None:
    response = client.post("/register", VSCODE_REGISTRATION, content_type="application/json", HTTP_ORIGIN=INSPECTOR)

    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == "*"


def test_metadata_answers_carry_one_allow_origin_header(client: Client) -> None:
    response = client.get("/.well-known/oauth-authorization-server", HTTP_ORIGIN=INSPECTOR)

    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert (
        "WWW-Authenticate" in response["Access-Control-Expose-Headers"]
        or "www-authenticate" in (response["Access-Control-Expose-Headers"])
    )


@pytest.mark.parametrize("method", ["get", "options"])
def test_authorization_endpoint_never_answers_cross_origin(client: Client, method: str) -> None:
    response = getattr(client, method)(
        "/authorize", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )

    assert "Access-Control-Allow-Origin" not in response


def test_pages_do_not_answer_cross_origin(client: Client) -> None:
    assert "Access-Control-Allow-Origin" not in client.get("/", HTTP_ORIGIN="https://evil.example")
