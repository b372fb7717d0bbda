"""Consent, device sign-in and admin pages in headless Chromium at desktop (1280x800) and
phone (390x844), light and dark.

Hostile client names cannot reorder the page, impersonate the badge or push Allow/Deny off a
phone screen; focus rings meet 3:1; the site follows prefers-color-scheme; long names do
not widen admin lists; the admin's Disconnect and Block (with confirmation) work for real.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page

from tests.support.chromium import (
    BROWSER_TEST_MARKS,
    DESKTOP,
    PHONE,
    AuthorizationRequest,
    LoopbackServer,
    chromium,
    loopback_server,
    sign_in,
)
from tests.support.device import DEVICE_REGISTRATION
from tests.support.live_server import LiveServer, live_server

pytestmark = BROWSER_TEST_MARKS

PASSWORD = "browser pages password 1"
LONG_NAME = ("Visual Studio Code (verified by Microsoft) ✓ trusted " * 5).strip()[:250]
VIEWS = [
    pytest.param(DESKTOP, "light", id="desktop-light"),
    pytest.param(DESKTOP, "dark", id="desktop-dark"),
    pytest.param(PHONE, "light", id="phone-light"),
    pytest.param(PHONE, "dark", id="phone-dark"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("pages"), {"alice": PASSWORD}, MCPDEMO_RATE_LIMIT_LOGIN="200/m") as s:
        yield s


@pytest.fixture(scope="module")
def callback() -> Iterator[LoopbackServer]:
    with loopback_server() as running:
        yield running


def open_page(viewport: dict[str, int], scheme: str) -> Iterator[Page]:
    with chromium(viewport, color_scheme=scheme) as browser:
        page = browser.new_page()
        page.set_default_timeout(15_000)
        yield page


def consent(page: Page, request: AuthorizationRequest) -> None:
    page.goto(request.url)
    if "/accounts/login/" in page.url:
        sign_in(page, "alice", PASSWORD)
    page.wait_for_selector("#authorizationForm")


def rgb(css: str) -> tuple[float, ...]:
    return tuple(float(part) for part in re.findall(r"[\d.]+", css)[:3])


def luminance(color: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in color)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: tuple[float, ...], second: tuple[float, ...]) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize(("viewport", "scheme"), VIEWS)
def test_a_hostile_long_name_leaves_the_heading_ours_and_allow_deny_on_screen(
    server: LiveServer, callback: LoopbackServer, viewport: dict[str, int], scheme: str
) -> None:
    request = AuthorizationRequest.register(server.url, callback, "\u202e" + LONG_NAME)
    for page in open_page(viewport, scheme):
        consent(page, request)

        assert page.inner_text("h1") == "An application wants to use your account on mcpdemo"
        shown = page.inner_text(".client-name")
        assert "\u202e" not in page.content()
        assert len(shown) <= 60 and shown.endswith("…")
        assert page.locator(".client-line .badge").inner_text() == "unverified"
        for button in ("button[name=allow]", "text=Deny"):
            box = page.locator(button).bounding_box()
            assert box is not None and box["y"] + box["height"] <= viewport["height"], (button, box)
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


@pytest.mark.parametrize(("viewport", "scheme"), VIEWS)
def test_the_focus_ring_has_three_to_one_contrast(
    server: LiveServer, callback: LoopbackServer, viewport: dict[str, int], scheme: str
) -> None:
    request = AuthorizationRequest.register(server.url, callback, "Focus Client")
    for page in open_page(viewport, scheme):
        consent(page, request)
        page.focus("button[name=allow]")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # keyboard focus: :focus-visible applies

        style = page.evaluate(
            """() => { const b = document.querySelector("button[name=allow]");
                       const s = getComputedStyle(b);
                       const card = getComputedStyle(b.closest(".card"));
                       return [s.outlineColor, s.outlineWidth, s.outlineStyle, card.backgroundColor]; }"""
        )
        outline, width, line, card = style
        assert line == "solid" and float(width.rstrip("px")) >= 2
        assert contrast(rgb(outline), rgb(card)) >= 3, style


def test_the_site_follows_the_dark_color_scheme(server: LiveServer, callback: LoopbackServer) -> None:
    request = AuthorizationRequest.register(server.url, callback, "Dark Client")
    backgrounds = {}
    for scheme in ("light", "dark"):
        for page in open_page(DESKTOP, scheme):
            consent(page, request)
            card = page.evaluate("getComputedStyle(document.querySelector('.card')).backgroundColor")
            text = page.evaluate("getComputedStyle(document.body).color")
            backgrounds[scheme] = luminance(rgb(card))
            assert contrast(rgb(card), rgb(text)) >= 7
    assert backgrounds["light"] > 0.8 and backgrounds["dark"] < 0.05


def test_the_consent_page_says_what_the_tools_are_and_where_it_goes_back_to(
    server: LiveServer, callback: LoopbackServer
) -> None:
    request = AuthorizationRequest.register(server.url, callback, "Tools Client")
    for page in open_page(DESKTOP, "light"):
        consent(page, request)

        tools = page.inner_text(".tools")
        assert "Slugify" in tools and "Countdown" in tools
        assert "Until you disconnect it" in page.inner_text(".duration")
        assert page.inner_text(".redirect-words") == f"An app on this computer (port {callback.port})"
        assert "alice" in page.inner_text(".signed-in")


def test_long_names_do_not_widen_the_admin_lists(server: LiveServer, callback: LoopbackServer) -> None:
    AuthorizationRequest.register(server.url, callback, "x" * 255)
    hosts = [f"https://a-rather-long-subdomain-{n}.example-client-vendor.com/cb" for n in range(5)]
    body = {"client_name": "Long " * 50, "redirect_uris": hosts, "token_endpoint_auth_method": "none"}
    httpx.post(server.url + "/register", json=body).raise_for_status()
    for page in open_page(DESKTOP, "light"):
        page.goto(server.url + "/accounts/login/?next=/admin/")
        sign_in(page, "alice", PASSWORD)
        for path in ["oauthapp/application", "oauthapp/auditevent", "oauthapp/consent", "oauth2_provider/accesstoken"]:
            page.goto(f"{server.url}/admin/{path}/")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= DESKTOP["width"], (path, width)
            if page.locator("#result_list").count():  # every column in view, none under the filters
                last = page.locator("#result_list thead th").last.bounding_box()
                results = page.locator("#changelist .results").bounding_box()
                assert last is not None and results is not None
                assert last["x"] + last["width"] <= results["x"] + results["width"] + 1, (path, last, results)


def test_an_admin_disconnects_a_user_in_one_click_and_blocks_after_confirming(
    server: LiveServer, callback: LoopbackServer
) -> None:
    request = AuthorizationRequest.register(server.url, callback, "Admin Target Client")
    for page in open_page(DESKTOP, "light"):
        consent(page, request)
        seen = len(callback.requests_to("/callback"))
        page.click("button[name=allow]")
        deadline = time.monotonic() + 10
        while len(callback.requests_to("/callback")) <= seen:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        code = dict(re.findall(r"[?&](code|state)=([^&]+)", callback.requests_to("/callback")[seen]))["code"]
        tokens = request.exchange(code)

        page.goto(f"{server.url}/admin/oauthapp/consent/?q={request.client_id}")
        with page.expect_navigation():
            page.click("#result_list button:has-text('Disconnect')")
        assert "Signed alice out of Admin Target Client" in page.inner_text(".messagelist")
        refreshed = httpx.post(
            server.url + "/token",
            data={
                "grant_type": "refresh_token",
                "client_id": request.client_id,
                "refresh_token": tokens["refresh_token"],
            },
        )
        assert refreshed.json()["error"] == "invalid_grant"

        page.goto(f"{server.url}/admin/oauthapp/application/?q={request.client_id}")
        page.locator("#result_list input[name=_selected_action]").check()
        page.select_option("select[name=action]", "block")
        with page.expect_navigation():
            page.click("button[name=index]")
        assert "Block this application?" in page.inner_text("#content")
        with page.expect_navigation():
            page.click("input[type=submit]")
        assert "Blocked 1 application and revoked 0 tokens." in page.inner_text(".messagelist")

        page.goto(f"{server.url}/admin/oauthapp/auditevent/?q={request.client_id}")
        audit = page.inner_text("#result_list")
        assert "refresh refused: revoked by an administrator" in audit
        assert "reuse detected" not in audit


def device_codes(server: LiveServer, name: str) -> dict:
    """A device client named ``name`` and the codes it shows (RFC 8628)."""
    registered = httpx.post(server.url + "/register", json={**DEVICE_REGISTRATION, "client_name": name}).json()
    return httpx.post(
        server.url + "/device-authorization", data={"client_id": registered["client_id"], "scope": "mcp"}
    ).json()


@pytest.mark.parametrize(("viewport", "scheme"), VIEWS)
def test_the_device_pages_keep_the_code_field_and_allow_deny_on_screen(
    server: LiveServer, viewport: dict[str, int], scheme: str
) -> None:
    codes = device_codes(server, "\u202e" + LONG_NAME)
    for page in open_page(viewport, scheme):
        page.goto(codes["verification_uri_complete"])
        sign_in(page, "alice", PASSWORD)

        assert page.inner_text("h1") == "Connect a device"
        field = page.locator("#id_user_code").bounding_box()
        assert field is not None and field["x"] + field["width"] <= viewport["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        note = page.evaluate(
            """() => [getComputedStyle(document.querySelector('.device .note')).color,
                      getComputedStyle(document.querySelector('.card')).backgroundColor]"""
        )
        assert contrast(rgb(note[0]), rgb(note[1])) >= 4.5, note

        with page.expect_navigation():
            page.click("form.stacked button[type=submit]")
        page.wait_for_selector("#authorizationForm")
        assert page.inner_text("h1") == "An application on another device wants to use your account on mcpdemo"
        assert "\u202e" not in page.content()
        assert codes["user_code"] in page.inner_text(".device-warning")
        warning = page.evaluate(
            """() => [getComputedStyle(document.querySelector('.device-warning')).color,
                      getComputedStyle(document.querySelector('.device-warning')).backgroundColor]"""
        )
        assert contrast(rgb(warning[0]), rgb(warning[1])) >= 4.5, warning
        for button in ("button[name=allow]", "button:has-text('Deny')"):
            box = page.locator(button).bounding_box()
            assert box is not None and box["y"] + box["height"] <= viewport["height"], (button, box)
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
