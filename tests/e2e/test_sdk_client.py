"""The whole journey against a real server process, driven by the ``mcp`` SDK's own client.

Discovery from the 401 challenge, dynamic registration, sign-in and consent,
code exchange with PKCE and resource, tool calls on both protocol eras, and a
refresh that does not ask the user again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.support.live_server import LiveServer, live_server
from tests.support.sdk_client import ISSUED_SECRETS, OAuthHarness

pytestmark = pytest.mark.e2e

PASSWORD = "e2e password 123"
ACCESS_TOKEN_SECONDS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(
        tmp_path_factory.mktemp("e2e"),
        {"alice": PASSWORD},
        MCPDEMO_ACCESS_TOKEN_SECONDS=str(ACCESS_TOKEN_SECONDS),
    ) as running:
        yield running


@pytest.mark.parametrize(
    ("mode", "auth_method"),
    [("legacy", "none"), ("legacy", None), ("2026-07-28", "none")],
    ids=["handshake-era-public-client", "handshake-era-sdk-default-confidential", "2026-07-28-public-client"],
)
async def test_full_journey_with_the_sdk_client(server: LiveServer, mode: str, auth_method: str | None) -> None:
    harness = OAuthHarness(server.url, auth_method, PASSWORD)
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with harness.client(mode) as client:
        tools = await client.list_tools()
        slug = await client.call_tool("slugify", {"text": "Ærøskøbing Straße"})
        countdown = await client.call_tool("countdown", {"seconds": 1}, progress_callback=on_progress)

    assert {tool.name for tool in tools.tools} == {"slugify", "countdown"}
    assert slug.content[0].text == "aeroskobing-strasse"
    assert not countdown.is_error
    assert "Liftoff" in countdown.content[0].text
    assert progress == [0, 1]

    # The user saw one consent page naming the client and where it would be sent.
    assert len(harness.redirects) == 1
    (consent_page,) = harness.user.consent_pages
    assert "e2e test client" in consent_page
    assert "127.0.0.1:33418" in consent_page
    assert "resource=" in harness.redirects[0] and "code_challenge_method=S256" in harness.redirects[0]
    first_tokens = harness.storage.tokens
    assert first_tokens is not None and first_tokens.refresh_token

    # Later: the access token has expired; the client refreshes without asking the user.
    await asyncio.sleep(ACCESS_TOKEN_SECONDS + 1)
    async with harness.client(mode) as client:
        again = await client.call_tool("slugify", {"text": "Hello again, World!"})

    assert again.content[0].text == "hello-again-world"
    assert len(harness.redirects) == 1
    assert harness.storage.tokens.access_token != first_tokens.access_token
    assert harness.storage.tokens.refresh_token != first_tokens.refresh_token


async def test_denied_consent_reaches_the_client_as_access_denied(server: LiveServer) -> None:
    harness = OAuthHarness(server.url, "none", PASSWORD, allow=False)

    with pytest.raises(Exception):  # noqa: B017 - the SDK wraps the callback's error in its own types
        async with harness.client("legacy") as client:
            await client.list_tools()

    assert harness.result["error"] == "access_denied"
    assert harness.result["iss"] == server.url
    assert harness.result["state"]


def test_server_log_holds_no_secrets(server: LiveServer) -> None:
    """No code, token or client secret the journeys above obtained appears in the server's log."""
    log = server.log()

    assert "POST /token" in log  # the log is the one the journeys wrote
    assert len(ISSUED_SECRETS) >= 10
    assert [secret for secret in ISSUED_SECRETS if secret in log] == []
