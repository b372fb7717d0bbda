"""The TypeScript MCP SDK's client, with its own OAuth provider, against a real server process.

``tests/js/oauth_client.mjs`` (npm ``@modelcontextprotocol/sdk``, run by Node) does the whole
journey a TypeScript MCP client does: 401, discovery, dynamic registration as a public client
with a loopback redirect, the user's sign-in and consent (scripted with fetch, like
``tests/browser.py``), ``finishAuth`` and reconnect, tools, and a refresh once the access token
has expired. It prints a JSON summary; these tests read it like a spec.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.live_server import ROOT, LiveServer, live_server

pytestmark = [pytest.mark.e2e, pytest.mark.node]

JS_PROJECT = ROOT / "tests" / "js"
SCRIPT = JS_PROJECT / "oauth_client.mjs"
PASSWORD = "typescript password 123"
# Short enough for the script to wait for the token to expire for real (it waits up to 30 s).
ACCESS_TOKEN_SECONDS = 4
NODE_TIMEOUT_SECONDS = 90


def node_command() -> list[str]:
    """``node`` with the project's npm packages installed, or a test failure that says what to run."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (20 or later) is needed for the TypeScript client test: install it, then run "
                    "`npm ci --prefix tests/js`")  # fmt: skip
    if not (JS_PROJECT / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json").is_file():
        pytest.fail("tests/js/node_modules is missing: run `npm ci --prefix tests/js` (scripts/test does it)")
    return [node, str(SCRIPT)]


@pytest.fixture(scope="module")
def node() -> list[str]:
    """Checked before a server is started for nothing."""
    return node_command()


@pytest.fixture(scope="module")
def server(node: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("typescript")
    with live_server(directory, {"alice": PASSWORD}, MCPDEMO_ACCESS_TOKEN_SECONDS=str(ACCESS_TOKEN_SECONDS)) as running:
        yield running


@pytest.fixture(scope="module")
def summary(node: list[str], server: LiveServer) -> dict[str, Any]:
    """Run the TypeScript client once against the server; its JSON summary."""
    result = subprocess.run(
        [*node, server.url, "alice"],
        env={**os.environ, "MCPDEMO_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\nserver log:\n{server.log()}"
    return json.loads(result.stdout)


def test_the_client_is_the_typescript_sdk_on_the_handshake_era(summary: dict[str, Any]) -> None:
    assert summary["sdk"]["name"] == "@modelcontextprotocol/sdk"
    assert summary["sdk"]["version"].startswith("1.")
    assert summary["server"]["name"] == "mcpdemo"
    assert summary["protocolVersion"] == "2025-11-25"


def test_it_discovers_and_registers_itself_as_a_public_client(summary: dict[str, Any]) -> None:
    paths = [(request["method"], request["path"], request["status"]) for request in summary["requests"][:4]]

    assert paths == [
        ("POST", "/mcp", 401),
        ("GET", "/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", "/.well-known/oauth-authorization-server", 200),
        ("POST", "/register", 201),
    ]
    registration = summary["registration"]
    assert registration["client_id_issued"]
    assert registration["token_endpoint_auth_method"] == "none"
    assert not registration["client_secret_issued"]
    (redirect_uri,) = registration["redirect_uris"]
    assert redirect_uri.startswith("http://127.0.0.1:") and redirect_uri.endswith("/callback")


def test_the_user_consents_once_and_the_code_comes_back_with_state_and_issuer(
    server: LiveServer, summary: dict[str, Any]
) -> None:
    authorization = summary["authorization"]

    assert authorization["redirects"] == 1
    assert authorization["request"] == {
        "response_type": "code",
        "scope": "mcp",
        "resource": server.url + "/mcp",
        "code_challenge_method": "S256",
        "redirect_uri": summary["registration"]["redirect_uris"][0],
    }
    assert authorization["consent_page_names_client"]
    assert authorization["redirected_to"] == summary["registration"]["redirect_uris"][0]
    assert authorization["state_matches"]
    assert authorization["iss"] == server.url


def test_tools_work_after_sign_in(summary: dict[str, Any]) -> None:
    assert summary["tools"] == ["countdown", "slugify"]
    assert summary["slugify"] == "aeroskobing-strasse"
    assert not summary["countdown"]["isError"]
    assert "Liftoff" in summary["countdown"]["text"]
    assert [tick["progress"] for tick in summary["countdown"]["progress"]] == [0, 1]
    assert {tick["total"] for tick in summary["countdown"]["progress"]} == {1}


def test_an_expired_access_token_is_refreshed_without_the_user(server: LiveServer, summary: dict[str, Any]) -> None:
    refresh = summary["refresh"]

    assert refresh["how"] == "waited for expiry"
    assert refresh["expires_in"] == ACCESS_TOKEN_SECONDS
    # The call after expiry is refused; the SDK rediscovers, refreshes, and sends it again.
    assert [(request["method"], request["path"], request["status"]) for request in refresh["requests"]] == [
        ("POST", "/mcp", 401),
        ("GET", "/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", "/.well-known/oauth-authorization-server", 200),
        ("POST", "/token", 200),
        ("POST", "/mcp", 200),
    ]
    token_request = refresh["requests"][3]
    assert token_request["grant_type"] == "refresh_token"
    assert token_request["resource"] == server.url + "/mcp"
    assert refresh["access_token_changed"] and refresh["refresh_token_rotated"]
    assert summary["slugify_after_refresh"] == "hello-again-world"
    # One code exchange, one refresh; the user was asked once, at the start.
    assert summary["token_grants"] == ["authorization_code", "refresh_token"]
    assert summary["authorization"]["redirects"] == 1
