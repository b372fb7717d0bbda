"""The device flow (RFC 8628) end to end: a scripted headless client (httpx) against a real
server, and the person approving in headless Chromium on the /device page.

The journey: discovery, registration with the device grant, codes, polling while the person
signs in, enters the code and allows, the token, /mcp tools, refresh with rotation, then
Disconnect on Connected apps and /mcp refusing the token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from oauthapp.tokens import DEVICE_CODE
from tests.support.chromium import BROWSER_TEST_MARKS, chromium, sign_in
from tests.support.device import DEVICE_REGISTRATION
from tests.support.live_server import LiveServer, live_server
from tests.support.mcp import INITIALIZE, INITIALIZED, MCP_HEADERS

pytestmark = BROWSER_TEST_MARKS

PASSWORD = "device password 1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # A one-second interval keeps the polling short; everything else is as shipped.
    with live_server(
        tmp_path_factory.mktemp("device"), {"alice": PASSWORD}, MCPDEMO_DEVICE_POLL_SECONDS="1"
    ) as running:
        yield running


class HeadlessClient:
    """What an MCP client on a machine without a browser does (RFC 8628 §3.1-3.5)."""

    def __init__(self, http: httpx.Client, metadata: dict[str, Any], client_id: str) -> None:
        self.http, self.metadata, self.client_id = http, metadata, client_id
        self.interval = 5

    def start(self, resource: str) -> dict[str, Any]:
        response = self.http.post(
            self.metadata["device_authorization_endpoint"],
            data={"client_id": self.client_id, "scope": "mcp", "resource": resource},
        )
        assert response.status_code == 200, response.text
        codes = response.json()
        self.interval = codes["interval"]
        return codes

    def poll_once(self, device_code: str) -> httpx.Response:
        return self.http.post(
            self.metadata["token_endpoint"],
            data={"grant_type": DEVICE_CODE, "client_id": self.client_id, "device_code": device_code},
        )

    def poll(self, device_code: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(self.interval)
            response = self.poll_once(device_code)
            if response.status_code == 200:
                return response.json()
            error = response.json()["error"]
            if error == "slow_down":
                self.interval += 5
            elif error != "authorization_pending":
                raise AssertionError(f"polling ended with {error}")
        raise AssertionError("never approved")


def mcp(http: httpx.Client, url: str, token: str, body: dict, session: str | None = None) -> httpx.Response:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}", **({"Mcp-Session-Id": session} if session else {})}
    return http.post(url, content=json.dumps(body), headers=headers)


def rpc_result(response: httpx.Response) -> dict[str, Any]:
    if response.headers["content-type"].startswith("text/event-stream"):
        return json.loads([line[6:] for line in response.text.splitlines() if line.startswith("data: ")][-1])
    return response.json()


def approve_in_browser(page: Page, verification_uri_complete: str, user_code: str) -> None:
    page.goto(verification_uri_complete)
    assert "/accounts/login/" in page.url
    sign_in(page, "alice", PASSWORD)
    # The link filled in the code; nothing happens until the person continues.
    assert page.input_value("#id_user_code") == user_code
    assert "Continue only if it matches" in page.inner_text("main")
    with page.expect_navigation():
        page.click("form.stacked button[type=submit]")
    page.wait_for_selector("#authorizationForm")
    assert page.inner_text("h1") == "An application on another device wants to use your account on mcpdemo"
    assert page.inner_text(".client-name") == "Visual Studio Code"
    assert user_code in page.inner_text(".device-warning")
    with page.expect_navigation():
        page.click("button[name=allow]")
    assert page.inner_text("h1") == "Device connected"


def test_a_headless_client_signs_in_through_the_device_page(server: LiveServer) -> None:
    resource = server.url + "/mcp"
    with httpx.Client(timeout=15) as http, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(15_000)
        metadata = http.get(server.url + "/.well-known/oauth-authorization-server").json()
        assert DEVICE_CODE in metadata["grant_types_supported"]
        registered = http.post(metadata["registration_endpoint"], json=DEVICE_REGISTRATION)
        assert registered.status_code == 201, registered.text
        device = HeadlessClient(http, metadata, registered.json()["client_id"])

        codes = device.start(resource)
        assert codes["verification_uri"] == server.url + "/device"
        time.sleep(device.interval)
        assert device.poll_once(codes["device_code"]).json()["error"] == "authorization_pending"

        approve_in_browser(page, codes["verification_uri_complete"], codes["user_code"])
        tokens = device.poll(codes["device_code"])
        assert tokens["scope"] == "mcp"

        opened = mcp(http, resource, tokens["access_token"], INITIALIZE)
        assert opened.status_code == 200, opened.text
        session = opened.headers["mcp-session-id"]
        mcp(http, resource, tokens["access_token"], INITIALIZED, session)
        listed = rpc_result(
            mcp(http, resource, tokens["access_token"], {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session)
        )
        assert {tool["name"] for tool in listed["result"]["tools"]} == {"slugify", "countdown"}
        call = {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "slugify", "arguments": {"text": "Hello Device Flow"}},
        }
        assert (
            rpc_result(mcp(http, resource, tokens["access_token"], call, session))["result"]["content"][0]["text"]
            == "hello-device-flow"
        )

        renewed = http.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "refresh_token",
                "client_id": device.client_id,
                "refresh_token": tokens["refresh_token"],
                "resource": resource,
            },
        )
        assert renewed.status_code == 200, renewed.text
        fresh = renewed.json()
        assert fresh["refresh_token"] != tokens["refresh_token"]
        assert mcp(http, resource, fresh["access_token"], INITIALIZE).status_code == 200

        page.goto(server.url + "/connected-apps/")
        with page.expect_navigation():
            page.locator(".connection", has_text="Visual Studio Code").locator("button", has_text="Disconnect").click()

        refused = mcp(http, resource, fresh["access_token"], INITIALIZE)
        assert refused.status_code == 401
        assert "Bearer" in refused.headers["www-authenticate"]
        again = http.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "refresh_token",
                "client_id": device.client_id,
                "refresh_token": fresh["refresh_token"],
            },
        )
        assert again.json()["error"] == "invalid_grant"
