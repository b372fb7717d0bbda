"""The pages in a real browser (headless Chromium) against a real server process.

Sign in, consent, land on the client's loopback callback; deny; refuse to be framed by
another origin; escape a hostile client name; an administrator revokes a token in the
Django admin and /mcp refuses it on the next call.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from tests.support.chromium import (
    BROWSER_TEST_MARKS,
    AuthorizationRequest,
    LoopbackServer,
    chromium,
    loopback_server,
    query_of,
    sign_in,
)
from tests.support.live_server import LiveServer, live_server

pytestmark = BROWSER_TEST_MARKS

PASSWORD = "browser password 1"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    users = {"alice": PASSWORD, "bob": PASSWORD}
    # Every test signs in again: lift the per-address sign-in limit (10/m) above what they need.
    with live_server(tmp_path_factory.mktemp("browser"), users, MCPDEMO_RATE_LIMIT_LOGIN="200/m") as running:
        yield running


@pytest.fixture(scope="module")
def callback() -> Iterator[LoopbackServer]:
    """The client's redirect URI: a loopback port where nothing but this listens."""
    with loopback_server() as running:
        yield running


@pytest.fixture
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


@pytest.fixture
def page(browser: BrowserContext) -> Page:
    page = browser.new_page()
    page.set_default_timeout(15_000)
    return page


def wait_for_callback(callback: LoopbackServer, seen: int, timeout: float = 10) -> dict[str, str]:
    """The query of the next request to the client's redirect URI after ``seen`` earlier ones."""
    deadline = time.monotonic() + timeout
    while len(callback.requests_to("/callback")) <= seen:
        assert time.monotonic() < deadline, "the browser never reached the client's callback"
        time.sleep(0.05)
    return query_of(callback.requests_to("/callback")[seen])


def consent_page(page: Page, request: AuthorizationRequest, username: str = "alice") -> None:
    """Open the authorization URL, sign in when asked, and stop on the consent page."""
    page.goto(request.url)
    if "/accounts/login/" in page.url:
        sign_in(page, username, PASSWORD)
    page.wait_for_selector("#authorizationForm")


def mcp_initialize(server: LiveServer, access_token: str) -> httpx.Response:
    return httpx.post(
        server.url + "/mcp",
        json=INITIALIZE,
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json, text/event-stream"},
    )


def test_sign_in_and_allow_lands_on_the_loopback_callback_with_a_code(
    server: LiveServer, callback: LoopbackServer, page: Page
) -> None:
    request = AuthorizationRequest.register(server.url, callback, "Browser Test Client")

    page.goto(request.url)
    assert "/accounts/login/" in page.url
    assert "An application asked to connect" in page.inner_text("main")
    sign_in(page, "alice", PASSWORD)

    assert page.inner_text("h1") == "An application wants to use your account on mcpdemo"
    assert page.inner_text(".client-name") == "Browser Test Client"
    assert page.inner_text(".redirect-words") == f"An app on this computer (port {callback.port})"
    assert "unverified" in page.inner_text(".client-line")
    assert "Use this server's MCP tools on your behalf" in page.inner_text(".scopes")
    assert "alice" in page.inner_text(".signed-in")

    seen = len(callback.requests_to("/callback"))
    page.click("button[name=allow]")
    query = wait_for_callback(callback, seen)

    assert set(query) == {"code", "state", "iss"}
    assert query["state"] == request.state
    assert query["iss"] == server.url
    page.wait_for_url(f"{callback.origin}/callback?*")
    tokens = request.exchange(query["code"])
    assert mcp_initialize(server, tokens["access_token"]).status_code == 200


def test_deny_lands_on_the_callback_with_access_denied(
    server: LiveServer, callback: LoopbackServer, page: Page
) -> None:
    request = AuthorizationRequest.register(server.url, callback, "Denied Client")
    consent_page(page, request)

    seen = len(callback.requests_to("/callback"))
    page.click("text=Deny")
    query = wait_for_callback(callback, seen)

    assert query == {"error": "access_denied", "state": request.state, "iss": server.url}


def test_not_you_signs_out_and_returns_to_the_request_as_someone_else(
    server: LiveServer, callback: LoopbackServer, page: Page
) -> None:
    request = AuthorizationRequest.register(server.url, callback, "Shared Laptop Client")
    consent_page(page, request, "alice")

    with page.expect_navigation():
        page.click("#not-you")
    assert "/accounts/login/" in page.url
    sign_in(page, "bob", PASSWORD)

    page.wait_for_selector("#authorizationForm")
    assert "bob" in page.inner_text(".signed-in")
    assert page.inner_text(".redirect-host") == f"(127.0.0.1:{callback.port})"


def test_consent_page_refuses_to_render_inside_a_frame_of_another_origin(
    server: LiveServer, callback: LoopbackServer, page: Page
) -> None:
    request = AuthorizationRequest.register(server.url, callback, "Framed Client")
    consent_page(page, request)  # signed in: a frame would get the consent page if allowed
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "frame" in message.text else None)

    with loopback_server() as attacker:
        attacker.pages["/"] = (
            "<!doctype html><title>attacker</title>"
            f'<iframe id="consent" src="{html.escape(request.url)}"></iframe>'
            f'<iframe id="control" src="{server.url}/static/css/site.css"></iframe>'
        )
        page.goto(attacker.origin + "/")
        page.wait_for_load_state("load")
        control = page.frame_locator("#control").locator("body")
        assert control.inner_text().startswith("/* mcpdemo")  # this harness does render cross-origin frames

        assert page.frame_locator("#consent").locator("#authorizationForm").count() == 0
        assert not any(
            "authorizationForm" in frame.content() for frame in page.frames[1:] if frame.url != "about:blank"
        )
    assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in refused), refused


def test_a_hostile_client_name_is_shown_as_text_and_never_runs(
    server: LiveServer, callback: LoopbackServer, page: Page
) -> None:
    name = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    request = AuthorizationRequest.register(server.url, callback, name)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    consent_page(page, request)

    assert page.inner_text(".client-name") == name
    assert page.locator("main img").count() == 0
    assert dialogs == []


def test_pages_load_without_content_security_policy_violations(
    server: LiveServer, callback: LoopbackServer, page: Page
) -> None:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("requestfailed", lambda failed: problems.append(f"failed: {failed.url}"))
    request = AuthorizationRequest.register(server.url, callback, "CSP Check Client")

    consent_page(page, request)
    admin_lists = ["oauthapp/application", "oauthapp/auditevent", "oauth2_provider/accesstoken"]
    for path in ["/", "/connected-apps/", "/admin/", *(f"/admin/{name}/" for name in admin_lists)]:
        page.goto(server.url + path)
        page.wait_for_load_state("load")
    page.goto(f"{server.url}/admin/oauthapp/application/?q={request.client_id}")
    with page.expect_navigation():
        page.click("#result_list tbody tr a")  # the change form, with DOT's application_form.js
    page.wait_for_load_state("load")

    assert "CSP Check Client" in page.inner_text("#content")
    assert problems == []


def test_copy_button_copies_the_mcp_url(server: LiveServer, browser: BrowserContext, page: Page) -> None:
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page.goto(server.url + "/")

    page.click("button[data-copy-target=mcp-url]")

    assert page.inner_text("button[data-copy-target=mcp-url]") == "Copied"
    assert page.evaluate("navigator.clipboard.readText()") == server.url + "/mcp"


def test_an_admin_revokes_a_token_and_the_next_mcp_call_gets_401(
    server: LiveServer, callback: LoopbackServer, page: Page
) -> None:
    request = AuthorizationRequest.register(server.url, callback, "Revoked Client")
    consent_page(page, request)
    seen = len(callback.requests_to("/callback"))
    page.click("button[name=allow]")
    tokens = request.exchange(wait_for_callback(callback, seen)["code"])
    assert mcp_initialize(server, tokens["access_token"]).status_code == 200

    page.goto(f"{server.url}/admin/oauth2_provider/accesstoken/?q={request.client_id}")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "Revoked Client" in rows.inner_text()
    rows.locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", "revoke_selected")
    with page.expect_navigation():
        page.click("button[name=index]")

    assert "Revoked 1 access token." in page.inner_text(".messagelist")
    response = mcp_initialize(server, tokens["access_token"])
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_a_user_disconnects_a_client_on_connected_apps(
    server: LiveServer, callback: LoopbackServer, page: Page
) -> None:
    request = AuthorizationRequest.register(server.url, callback, "Disconnected Client")
    consent_page(page, request)
    seen = len(callback.requests_to("/callback"))
    page.click("button[name=allow]")
    tokens = request.exchange(wait_for_callback(callback, seen)["code"])

    page.goto(server.url + "/connected-apps/")
    entry = page.locator(".connection", has_text="Disconnected Client")
    with page.expect_navigation():
        entry.locator("button", has_text="Disconnect").click()

    assert "Disconnected Disconnected Client" in page.inner_text(".messages")
    assert page.locator(".connection", has_text="Disconnected Client").count() == 0
    assert mcp_initialize(server, tokens["access_token"]).status_code == 401
