"""A real server ends the open stream of a revoked token within the shipped re-check interval."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
import pytest

import mcpapp.conf
from tests.support.live_server import LiveServer, live_server
from tests.support.mcp import INITIALIZE, LEGACY_VERSION
from tests.support.oauth import VSCODE_REGISTRATION, CodeRequest
from tests.support.scripted_user import ScriptedUser

SHIPPED_RECHECK_SECONDS = mcpapp.conf.STREAM_RECHECK_SECONDS

PASSWORD = "revocation password 1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with live_server(tmp_path_factory.mktemp("revocation"), {"alice": PASSWORD}) as running:
        yield running


async def _sign_in_and_get_tokens(server: LiveServer, http: httpx.AsyncClient) -> dict[str, Any]:
    registered = (await http.post(server.url + "/register", json=VSCODE_REGISTRATION)).json()
    request = CodeRequest(registered["client_id"], resource=server.url + "/mcp")
    authorize_url = str(httpx.URL(server.url + "/authorize", params=request.params()))
    result = await ScriptedUser("alice", PASSWORD).authorize(authorize_url)
    response = await http.post(
        server.url + "/token",
        data={
            "grant_type": "authorization_code",
            "client_id": registered["client_id"],
            "code": result["code"],
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.verifier,
            "resource": server.url + "/mcp",
        },
    )
    assert response.status_code == 200, response.text
    return {**response.json(), "client_id": registered["client_id"]}


async def test_a_real_server_ends_a_revoked_stream_within_a_few_seconds(server: LiveServer) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        tokens = await _sign_in_and_get_tokens(server, http)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        init = await http.post(
            server.url + "/mcp",
            json=INITIALIZE,
            headers={**headers, "Accept": "application/json, text/event-stream"},
        )
        session = {"Mcp-Session-Id": init.headers["mcp-session-id"], "MCP-Protocol-Version": LEGACY_VERSION}
        await http.post(
            server.url + "/mcp",
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
            headers={**headers, **session, "Accept": "application/json, text/event-stream"},
        )

        get_stream = {**headers, **session, "Accept": "text/event-stream"}
        async with http.stream("GET", server.url + "/mcp", headers=get_stream) as stream:
            assert stream.status_code == 200
            revoked = await http.post(
                server.url + "/revoke", data={"token": tokens["access_token"], "client_id": tokens["client_id"]}
            )
            assert revoked.status_code == 200
            started = time.monotonic()
            with anyio.fail_after(10):
                async for _chunk in stream.aiter_bytes():
                    pass  # pings, if any; the loop ends when the server ends the response
            elapsed = time.monotonic() - started

    assert elapsed < SHIPPED_RECHECK_SECONDS + 3
