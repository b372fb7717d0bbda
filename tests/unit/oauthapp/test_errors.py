"""Faults and bad input: standard errors, 503 during a database outage, never a traceback."""

from __future__ import annotations

from unittest import mock

import httpx
import pytest
from django.db import DataError, OperationalError
from django.test import Client
from oauth2_provider.models import get_access_token_model

from mcpdemo.asgi import build_application
from mcpdemo.logs import OUTAGES

AccessToken = get_access_token_model()

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiet_client() -> Client:
    """A client that gets the error response instead of the exception."""
    return Client(raise_request_exception=False)


def test_database_outage_at_the_token_endpoint_is_503_json(quiet_client: Client) -> None:
    with mock.patch(
        "oauthapp.views.token.dot_views.TokenView.post", side_effect=OperationalError("database is locked")
    ):
        response = quiet_client.post("/token", {"grant_type": "authorization_code", "code": "x"})

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"] == "5"
    assert response["Cache-Control"] == "no-store"


def test_database_outage_at_registration_is_503_json(quiet_client: Client) -> None:
    with mock.patch("oauthapp.views.token.transaction.atomic", side_effect=OperationalError("no such table")):
        response = quiet_client.post(
            "/register",
            {"redirect_uris": ["http://127.0.0.1/"], "token_endpoint_auth_method": "none"},
            content_type="application/json",
        )

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"


def test_database_outage_on_a_page_is_a_friendly_503_page(quiet_client: Client) -> None:
    with mock.patch("mcpdemo.views.HomeView.get_context_data", side_effect=OperationalError("disk I/O error")):
        response = quiet_client.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    html = response.content.decode()
    assert "Briefly unavailable" in html
    assert "Traceback" not in html and "OperationalError" not in html


def test_unexpected_error_on_the_api_is_json_without_details(quiet_client: Client) -> None:
    with mock.patch("oauthapp.views.token.dot_views.TokenView.post", side_effect=RuntimeError("secret detail")):
        response = quiet_client.post("/token", {"grant_type": "authorization_code"})

    assert response.status_code == 500
    assert response.json() == {"error": "server_error", "error_description": "Something went wrong on our side"}


def test_unexpected_error_on_a_page_shows_no_traceback(quiet_client: Client) -> None:
    with mock.patch("mcpdemo.views.HomeView.get_context_data", side_effect=RuntimeError("secret detail")):
        response = quiet_client.get("/")

    assert response.status_code == 500
    assert "secret detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_oversized_form_body_is_400_json_on_the_api(client: Client) -> None:
    response = client.post("/token", {"grant_type": "refresh_token", "refresh_token": "x" * 70_000})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_unknown_host_on_the_api_is_400_json(client: Client) -> None:
    response = client.get("/.well-known/oauth-authorization-server", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_database_outage_at_mcp_is_503_json_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    app = build_application()
    transport = httpx.ASGITransport(app=app)
    OUTAGES.reset()
    with mock.patch("oauthapp.token_lookup.aload", side_effect=OperationalError("database is locked")):
        async with (
            app.mcp_endpoint.lifespan(),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        ):
            responses = [
                await http.post(
                    "/mcp",
                    json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    headers={"Authorization": "Bearer abc", "Accept": "application/json, text/event-stream"},
                )
                for _ in range(3)
            ]

    response = responses[-1]
    assert {r.status_code for r in responses} == {503}
    lines = [r for r in caplog.records if r.name == "mcpapp.endpoint"]
    assert len(lines) == 1 and lines[0].exc_info is None  # one line per outage, no traceback
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["retry-after"] == "5"


@pytest.mark.parametrize("path", ["/token", "/revoke"])
def test_nul_characters_in_parameters_are_a_bad_request(client: Client, path: str) -> None:
    response = client.post(path, {"grant_type": "refresh_token", "refresh_token": "a\x00b", "token": "a\x00"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_nul_characters_in_registration_metadata_are_refused(client: Client) -> None:
    body = {"client_name": "a\x00b", "redirect_uris": ["http://127.0.0.1/"], "token_endpoint_auth_method": "none"}

    response = client.post("/register", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_a_value_the_database_cannot_store_is_a_bad_request_not_an_outage(quiet_client: Client) -> None:
    with mock.patch("oauthapp.views.token.dot_views.TokenView.post", side_effect=DataError("value too long")):
        response = quiet_client.post("/token", {"grant_type": "authorization_code"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_outage_midway_through_a_refresh_leaves_nothing_half_written(signed_in: Client, tokens: dict) -> None:
    quiet = Client(raise_request_exception=False)
    form = {"grant_type": "refresh_token", "client_id": tokens["client_id"], "refresh_token": tokens["refresh_token"]}
    with mock.patch("oauthapp.views.token.refresh_race.remember", side_effect=OperationalError("database is locked")):
        failed = quiet.post("/token", form)

    retried = quiet.post("/token", form)

    assert failed.status_code == 503
    assert retried.status_code == 200  # the rotation was rolled back with the failure
    assert AccessToken.objects.filter(user__isnull=False).count() == 1
