"""Test helpers that play an OAuth client (and its user) against the Django test client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.test import Client

BASE = "http://testserver"
MCP_URL = BASE + "/mcp"
LOOPBACK_REDIRECT = "http://127.0.0.1:33418/"

# Resources this server refuses at /authorize and /token alike (only MCP_URL is ours).
OTHER_RESOURCES = [
    "https://other.example/api",
    BASE,
    BASE + "/mcp-other",
    "not a uri",
    MCP_URL + "/",  # not the canonical URI (RFC 8707 §2), refused at /token as well
    BASE + "/MCP",
    MCP_URL + "?x=1",
    MCP_URL + "#x",
    "",
]

# The password of the test users (conftest's ``user`` and ``other_user``).
PASSWORD = "correct horse battery staple"

# The exact registration bodies these clients send (docs/clients.md).
VSCODE_REGISTRATION = {
    "client_name": "Visual Studio Code",
    "client_uri": "https://code.visualstudio.com",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "redirect_uris": [
        "https://insiders.vscode.dev/redirect",
        "https://vscode.dev/redirect",
        "http://127.0.0.1/",
        "http://127.0.0.1:33418/",
    ],
    "scope": "mcp",
    "token_endpoint_auth_method": "none",
    "application_type": "native",
}
CLAUDE_REGISTRATION = {
    "client_name": "Claude",
    "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
}
CURSOR_REGISTRATION = {
    "client_name": "Cursor",
    "redirect_uris": [
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "https://www.cursor.com/agents/mcp/oauth/callback",
        "http://localhost:8787/callback",
    ],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
}
INSPECTOR_REGISTRATION = {
    "redirect_uris": ["http://localhost:6274/oauth/callback/debug"],
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "client_name": "MCP Inspector",
    "client_uri": "https://github.com/modelcontextprotocol/inspector",
    "scope": "mcp",
}
# The mcp SDK omits token_endpoint_auth_method: the server defaults to a confidential client.
SDK_REGISTRATION = {
    "redirect_uris": ["http://localhost:3030/callback"],
    "token_endpoint_auth_method": None,
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "client_name": "mcp sdk client",
    "scope": "mcp",
}
SDK_REGISTRATION = {k: v for k, v in SDK_REGISTRATION.items() if v is not None}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def register(client: Client, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/register", body or VSCODE_REGISTRATION, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


@dataclass
class CodeRequest:
    client_id: str
    redirect_uri: str = LOOPBACK_REDIRECT
    state: str = "state-123"
    scope: str = "mcp"
    resource: str | None = MCP_URL

    def __post_init__(self) -> None:
        self.verifier, self.challenge = pkce_pair()

    def params(self, **overrides: str | None) -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            "resource": self.resource,
        }
        params.update(overrides)
        return {key: value for key, value in params.items() if value is not None}


def consent_form_data(response: Any, allow: bool = True) -> dict[str, str]:
    """What the consent form posts: its hidden fields, plus the button pressed."""
    form = response.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    if allow:
        data["allow"] = "Authorize"
    return data


def obtain_code(client: Client, request: CodeRequest, allow: bool = True) -> dict[str, str]:
    """Authorize as the signed-in user; return the redirect's query (code, state, iss)."""
    page = client.get("/authorize", request.params())
    assert page.status_code == 200, page.content
    response = client.post("/authorize", consent_form_data(page, allow))
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(request.redirect_uri.split("?")[0][:20])
    return query_of(response["Location"])


def exchange_code(
    client: Client, request: CodeRequest, code: str, headers: dict[str, str] | None = None, **overrides: Any
) -> Any:
    data = {
        "grant_type": "authorization_code",
        "client_id": request.client_id,
        "code": code,
        "redirect_uri": request.redirect_uri,
        "code_verifier": request.verifier,
        "resource": MCP_URL,
    }
    data.update(overrides)
    return client.post("/token", {k: v for k, v in data.items() if v is not None}, headers=headers)


def refresh(client: Client, client_id: str, refresh_token: str, **overrides: str) -> Any:
    data = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token, "resource": MCP_URL}
    data.update(overrides)
    return client.post("/token", {k: v for k, v in data.items() if v is not None})
