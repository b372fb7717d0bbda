"""Each real client's exact requests, replayed against a real server process.

Registration bodies, redirect URIs, token and refresh request shapes are those in
docs/clients.md: VS Code (its loopback port 33418 and a random port), Claude
(claude.ai's callback), Cursor (three redirect URIs, one private-use), MCP Inspector
(from a browser origin, so every call is cross-origin) and the mcp SDK (confidential,
HTTP Basic). Each gets through discovery, registration, sign-in and consent, token,
tools, refresh, and tools again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.live_server import LiveServer, live_server
from tests.support.oauth import (
    CLAUDE_REGISTRATION,
    CURSOR_REGISTRATION,
    INSPECTOR_REGISTRATION,
    SDK_REGISTRATION,
    VSCODE_REGISTRATION,
    pkce_pair,
)
from tests.support.scripted_user import ScriptedUser

pytestmark = pytest.mark.e2e

PASSWORD = "clients password 123"
INSPECTOR_ORIGIN = "http://localhost:6274"


@dataclass
class ClientProfile:
    registration: dict[str, Any]
    redirect_uri: str
    origin: str | None = None  # a browser-based client sends Origin on every call
    basic_auth: bool = False  # the mcp SDK's confidential client authenticates with HTTP Basic
    extra_authorize: dict[str, str] = field(default_factory=dict)


PROFILES = {
    "vscode-port-33418": ClientProfile(VSCODE_REGISTRATION, "http://127.0.0.1:33418/"),
    "vscode-random-port": ClientProfile(VSCODE_REGISTRATION, "http://127.0.0.1:49731/"),
    "claude": ClientProfile(CLAUDE_REGISTRATION, "https://claude.ai/api/mcp/auth_callback"),
    "cursor": ClientProfile(CURSOR_REGISTRATION, "cursor://anysphere.cursor-mcp/oauth/callback"),
    "mcp-inspector": ClientProfile(
        INSPECTOR_REGISTRATION, "http://localhost:6274/oauth/callback/debug", origin=INSPECTOR_ORIGIN
    ),
    "mcp-sdk": ClientProfile(SDK_REGISTRATION, "http://localhost:3030/callback", basic_auth=True),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(
        tmp_path_factory.mktemp("clients"),
        {"alice": PASSWORD},
        MCPDEMO_ALLOWED_ORIGINS=INSPECTOR_ORIGIN,
        MCPDEMO_RATE_LIMIT_LOGIN="",
    ) as running:
        yield running


def _headers(profile: ClientProfile, **extra: str) -> dict[str, str]:
    return {**({"Origin": profile.origin} if profile.origin else {}), **extra}


def _check_cors(profile: ClientProfile, response: httpx.Response) -> None:
    if profile.origin:
        assert response.headers.get("access-control-allow-origin") in ("*", profile.origin), response.request.url


def _mcp(server: LiveServer, profile: ClientProfile, token: str, body: dict, session: str | None = None) -> Any:
    headers = _headers(
        profile,
        **{"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
           "Content-Type": "application/json"},
    )  # fmt: skip
    if session:
        headers["Mcp-Session-Id"] = session
    response = httpx.post(server.url + "/mcp", content=json.dumps(body), headers=headers, timeout=15)
    _check_cors(profile, response)
    return response


def _rpc_result(response: httpx.Response) -> dict:
    text = response.text
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
        return json.loads(data[-1])
    return response.json()


def _use_tools(server: LiveServer, profile: ClientProfile, token: str, text: str) -> str:
    client_info = {"name": "c", "version": "1"}
    params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client_info}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    opened = _mcp(server, profile, token, init)
    assert opened.status_code == 200, opened.text
    session = opened.headers["mcp-session-id"]
    _mcp(server, profile, token, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    listed = _rpc_result(_mcp(server, profile, token, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session))
    assert {tool["name"] for tool in listed["result"]["tools"]} == {"slugify", "countdown"}
    call = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "slugify", "arguments": {"text": text}},
    }
    return _rpc_result(_mcp(server, profile, token, call, session))["result"]["content"][0]["text"]


@pytest.mark.parametrize("name", list(PROFILES))
def test_client_gets_through_the_whole_flow(server: LiveServer, name: str) -> None:
    profile = PROFILES[name]

    # 1. First call: 401 with a challenge; discovery documents.
    challenge = httpx.post(
        server.url + "/mcp", json={}, headers=_headers(profile, Accept="application/json, text/event-stream")
    )
    assert challenge.status_code == 401
    _check_cors(profile, challenge)
    resource_metadata = httpx.get(server.url + "/.well-known/oauth-protected-resource/mcp", headers=_headers(profile))
    _check_cors(profile, resource_metadata)
    assert resource_metadata.json()["resource"] == server.url + "/mcp"
    server_metadata = httpx.get(
        server.url + "/.well-known/oauth-authorization-server", headers=_headers(profile)
    ).json()

    # 2. Registration with the client's exact body.
    registered = httpx.post(
        server_metadata["registration_endpoint"], json=profile.registration, headers=_headers(profile)
    )
    assert registered.status_code == 201, registered.text
    _check_cors(profile, registered)
    client = registered.json()

    # 3. Authorization in the browser: sign in, consent.
    verifier, challenge_value = pkce_pair()
    query = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": profile.redirect_uri,
             "scope": "mcp", "state": f"state-{name}", "code_challenge": challenge_value,
             "code_challenge_method": "S256", "resource": server.url + "/mcp"}  # fmt: skip
    user = ScriptedUser("alice", PASSWORD)
    answer = asyncio.run(user.authorize(f"{server_metadata['authorization_endpoint']}?{urlencode(query)}"))
    assert user.redirects[-1].startswith(profile.redirect_uri + "?")
    assert answer["state"] == f"state-{name}"
    assert answer["iss"] == server_metadata["issuer"]

    # 4. Token: form body with code_verifier and resource (HTTP Basic for the SDK's confidential client).
    form = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": profile.redirect_uri,
            "code_verifier": verifier, "resource": server.url + "/mcp"}  # fmt: skip
    auth = None
    if profile.basic_auth:
        auth = httpx.BasicAuth(client["client_id"], client["client_secret"])
    else:
        form["client_id"] = client["client_id"]
    issued = httpx.post(server_metadata["token_endpoint"], data=form, auth=auth, headers=_headers(profile))
    assert issued.status_code == 200, issued.text
    _check_cors(profile, issued)
    tokens = issued.json()

    # 5. Tools.
    assert _use_tools(server, profile, tokens["access_token"], f"Hello {name}!") == f"hello-{name}"

    # 6. Refresh the way VS Code does: form with resource, no scope; then tools again.
    refresh_form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                    "resource": server.url + "/mcp"}  # fmt: skip
    if not profile.basic_auth:
        refresh_form["client_id"] = client["client_id"]
    refreshed = httpx.post(server_metadata["token_endpoint"], data=refresh_form, auth=auth, headers=_headers(profile))
    assert refreshed.status_code == 200, refreshed.text
    assert _use_tools(server, profile, refreshed.json()["access_token"], "Ærøskøbing Straße") == "aeroskobing-strasse"
