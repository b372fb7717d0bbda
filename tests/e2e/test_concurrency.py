"""Races and restarts against a real server process (SQLite file or PostgreSQL).

Threads behind a barrier send the same request at once, the way a retrying client,
two VS Code windows, or an attacker replaying a stolen code would.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.live_server import LiveServer, live_server
from tests.support.mcp import MCP_HEADERS
from tests.support.oauth import pkce_pair
from tests.support.scripted_user import ScriptedUser

pytestmark = pytest.mark.e2e

PASSWORD = "race password 123"
REDIRECT = "http://127.0.0.1:33418/"
RACE_WINDOW = 3
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "race", "version": "1"}},
}
UNLIMITED = {"MCPDEMO_RATE_LIMIT_TOKEN": "", "MCPDEMO_RATE_LIMIT_REGISTER": "", "MCPDEMO_RATE_LIMIT_LOGIN": ""}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(
        tmp_path_factory.mktemp("race"), {"alice": PASSWORD}, MCPDEMO_REFRESH_RACE_SECONDS=str(RACE_WINDOW), **UNLIMITED
    ) as running:
        yield running


def register(server: LiveServer) -> str:
    body = {"client_name": "racer", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
    response = httpx.post(server.url + "/register", json=body)
    assert response.status_code == 201
    return response.json()["client_id"]


def new_code(server: LiveServer, client_id: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    query = urlencode(
        {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "mcp",
         "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
    )  # fmt: skip
    result = asyncio.run(ScriptedUser("alice", PASSWORD).authorize(f"{server.url}/authorize?{query}"))
    return result["code"], verifier


def exchange(server: LiveServer, client_id: str, code: str, verifier: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "client_id": client_id, "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier, "resource": server.url + "/mcp"}  # fmt: skip
    return httpx.post(server.url + "/token", data=form, timeout=30)


def refresh(server: LiveServer, client_id: str, refresh_token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    return httpx.post(server.url + "/token", data=form, timeout=30)


def tokens_for(server: LiveServer) -> tuple[str, dict[str, Any]]:
    client_id = register(server)
    response = exchange(server, client_id, *new_code(server, client_id))
    assert response.status_code == 200
    return client_id, response.json()


def at_once(count: int, request: Callable[[], httpx.Response]) -> list[httpx.Response]:
    barrier = threading.Barrier(count)

    def go() -> httpx.Response:
        barrier.wait()
        return request()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: go(), range(count)))


def db_count(server: LiveServer, expression: str) -> int:
    code = f"from oauth2_provider.models import *; print({expression})"
    return int(server.manage("shell", "--no-imports", "-c", code).strip())


def test_racing_exchanges_of_one_code_yield_one_token_pair_and_no_errors(server: LiveServer) -> None:
    client_id = register(server)
    codes = [new_code(server, client_id) for _ in range(5)]

    outcomes = [at_once(8, lambda c=code: exchange(server, client_id, *c)) for code in codes]

    for responses in outcomes:
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [400] * 7
        assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
        assert all(r.headers["content-type"] == "application/json" for r in responses)
    # One refresh token (one pair) was ever minted per code; the replays revoked them.
    ours = f"application__client_id={client_id!r}"
    assert db_count(server, f"RefreshToken.objects.filter({ours}).count()") == 5
    assert db_count(server, f"AccessToken.objects.filter({ours}, user__isnull=False).count()") == 0


def test_racing_refreshes_all_get_the_same_answer_and_the_user_stays_signed_in(server: LiveServer) -> None:
    client_id, tokens = tokens_for(server)

    responses = at_once(6, lambda: refresh(server, client_id, tokens["refresh_token"]))

    assert [r.status_code for r in responses] == [200] * 6
    assert len({r.text for r in responses}) == 1
    answer = responses[0].json()
    assert refresh(server, client_id, answer["refresh_token"]).status_code == 200


def test_replay_after_the_race_window_revokes_the_family(server: LiveServer) -> None:
    client_id, tokens = tokens_for(server)
    rotated = refresh(server, client_id, tokens["refresh_token"]).json()

    time.sleep(RACE_WINDOW + 1)
    replay = refresh(server, client_id, tokens["refresh_token"])

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert refresh(server, client_id, rotated["refresh_token"]).status_code == 400


def test_registration_burst_succeeds_without_errors(server: LiveServer) -> None:
    body = {"client_name": "burst", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}

    responses = [r for _ in range(5) for r in at_once(16, lambda: httpx.post(server.url + "/register", json=body))]

    assert {r.status_code for r in responses} == {201}


def _initialize(server: LiveServer, access_token: str) -> httpx.Response:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {access_token}"}
    return httpx.post(server.url + "/mcp", content=json.dumps(INIT), headers=headers, timeout=10)


def test_restart_keeps_clients_and_tokens_and_asks_clients_to_reinitialize(tmp_path) -> None:
    with live_server(tmp_path, {"alice": PASSWORD}, **UNLIMITED) as server:
        client_id, tokens = tokens_for(server)
        session_id = _initialize(server, tokens["access_token"]).headers["mcp-session-id"]

        server.stop()
        server.start()

        headers = {**MCP_HEADERS, "Authorization": f"Bearer {tokens['access_token']}", "Mcp-Session-Id": session_id}
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        old_session = httpx.post(server.url + "/mcp", content=json.dumps(ping), headers=headers)
        new_session = _initialize(server, tokens["access_token"])
        refreshed = refresh(server, client_id, tokens["refresh_token"])

    assert old_session.status_code == 404
    assert new_session.status_code == 200
    assert new_session.headers["mcp-session-id"] != session_id
    assert refreshed.status_code == 200
