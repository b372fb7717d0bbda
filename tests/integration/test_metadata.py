"""Discovery: RFC 9728 protected-resource metadata and RFC 8414 server metadata."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.support.oauth import BASE, MCP_URL

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"],
    ids=["path-inserted", "root"],
)
def test_protected_resource_metadata_names_the_mcp_endpoint(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.json() == {
        "resource": MCP_URL,
        "authorization_servers": [BASE],
        "scopes_supported": ["mcp"],
        "bearer_methods_supported": ["header"],
        "resource_name": "mcpdemo MCP server",
    }
    assert response["Access-Control-Allow-Origin"] == "*"


def test_protected_resource_metadata_for_another_path_is_not_found(client: Client) -> None:
    assert client.get("/.well-known/oauth-protected-resource/other").status_code == 404


def test_server_metadata_advertises_exactly_what_mcp_clients_can_use(client: Client) -> None:
    response = client.get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == BASE
    assert metadata["authorization_endpoint"] == f"{BASE}/authorize"
    assert metadata["token_endpoint"] == f"{BASE}/token"
    assert metadata["registration_endpoint"] == f"{BASE}/register"
    assert metadata["revocation_endpoint"] == f"{BASE}/revoke"
    assert metadata["response_types_supported"] == ["code"]
    # Anything listed here (password, ...) ends up in VS Code's registration body.
    assert metadata["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    ]
    assert metadata["device_authorization_endpoint"] == f"{BASE}/device-authorization"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "none" in metadata["token_endpoint_auth_methods_supported"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["scopes_supported"] == ["mcp"]
    assert "introspection_endpoint" not in metadata


def test_issuer_is_spelled_the_same_in_both_documents(client: Client) -> None:
    """Clients compare these as strings: `http://h` and `http://h/` are different issuers."""
    resource_metadata = client.get("/.well-known/oauth-protected-resource/mcp").json()
    server_metadata = client.get("/.well-known/oauth-authorization-server").json()

    assert resource_metadata["authorization_servers"] == [server_metadata["issuer"]]
    assert not server_metadata["issuer"].endswith("/")
    assert not resource_metadata["resource"].endswith("/")


def test_urls_follow_the_request_host_when_no_public_url_is_set(settings, client: Client) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]

    server_metadata = client.get("/.well-known/oauth-authorization-server", HTTP_HOST="localhost:8000").json()
    resource_metadata = client.get("/.well-known/oauth-protected-resource/mcp", HTTP_HOST="localhost:8000").json()

    assert server_metadata["issuer"] == "http://localhost:8000"
    assert server_metadata["token_endpoint"] == "http://localhost:8000/token"
    assert resource_metadata["resource"] == "http://localhost:8000/mcp"


def test_public_url_setting_pins_issuer_and_resource(settings, client: Client) -> None:
    settings.MCPDEMO_PUBLIC_URL = "https://mcp.example.com"
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": "https://mcp.example.com"}

    server_metadata = client.get("/.well-known/oauth-authorization-server").json()
    resource_metadata = client.get("/.well-known/oauth-protected-resource/mcp").json()

    assert server_metadata["issuer"] == "https://mcp.example.com"
    assert server_metadata["authorization_endpoint"] == "https://mcp.example.com/authorize"
    assert resource_metadata == {
        **resource_metadata,
        "resource": "https://mcp.example.com/mcp",
        "authorization_servers": ["https://mcp.example.com"],
    }


@pytest.mark.parametrize("path", ["/token", "/token/", "/register", "/register/", "/revoke", "/revoke/"])
def test_post_endpoints_never_redirect(client: Client, path: str) -> None:
    """VS Code turns a redirected POST into a GET, so no POST may answer 3xx."""
    response = client.post(path, {})

    assert not 300 <= response.status_code < 400
    assert response["Content-Type"].startswith("application/json")
