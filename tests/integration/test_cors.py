"""CORS: browser clients may call discovery, registration, token and revocation; never /authorize."""

from __future__ import annotations

import httpx
import pytest
from django.test import Client

from mcpdemo.asgi import build_application
from tests.support.oauth import VSCODE_REGISTRATION

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


# /mcp answers browsers only from its own origin or MCPDEMO_ALLOWED_ORIGINS.


async def _mcp(method: str, headers: dict[str, str]) -> httpx.Response:
    app = build_application()
    async with (
        app.mcp_endpoint.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        return await http.request(method, "/mcp", headers=headers, content=b"{}" if method == "POST" else None)


PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, mcp-session-id"}


async def test_mcp_preflight_from_an_allowed_origin(settings) -> None:
    settings.MCPDEMO_ALLOWED_ORIGINS = [INSPECTOR]

    response = await _mcp("OPTIONS", {"Origin": INSPECTOR, **PREFLIGHT})

    assert response.status_code == 200  # Starlette's CORSMiddleware
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-origin"] == INSPECTOR
    allowed = response.headers["access-control-allow-headers"]
    for header in ("authorization", "content-type", "mcp-protocol-version", "mcp-session-id", "last-event-id"):
        assert header in allowed
    assert "mcp-method" in allowed and "mcp-name" in allowed


async def test_mcp_preflight_from_a_foreign_origin_is_refused() -> None:
    response = await _mcp("OPTIONS", {"Origin": "https://evil.example", **PREFLIGHT})

    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


async def test_mcp_challenge_is_readable_by_an_allowed_browser_client(settings) -> None:
    settings.MCPDEMO_ALLOWED_ORIGINS = [INSPECTOR]

    response = await _mcp("POST", {"Origin": INSPECTOR, "Content-Type": "application/json"})

    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == INSPECTOR
    exposed = response.headers["access-control-expose-headers"]
    assert "www-authenticate" in exposed and "mcp-session-id" in exposed


async def test_mcp_without_origin_sends_no_cors_headers() -> None:
    response = await _mcp("POST", {"Content-Type": "application/json"})

    assert response.status_code == 401
    assert "access-control-allow-origin" not in response.headers
