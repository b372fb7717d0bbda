"""Headless Chromium (Debian's /usr/bin/chromium) for the browser tests and the screenshot script.

Playwright drives the system browser; it never downloads one. A tiny HTTP server on a
free loopback port stands in for an OAuth client's redirect URI (or for a page of
another origin), since nothing else listens there.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# The marks of every browser test module: end to end, browser, skipped without Chromium.
BROWSER_TEST_MARKS = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium chromium-driver"
    ),
]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@contextmanager
def chromium(
    viewport: dict[str, int] = DESKTOP, device_scale_factor: float = 1, color_scheme: str = "light"
) -> Iterator[BrowserContext]:
    """A fresh headless browser with its own temporary profile (``--user-data-dir``), light or dark."""
    with tempfile.TemporaryDirectory(prefix="mcpdemo-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,  # Playwright passes --headless
            args=CHROMIUM_FLAGS,
            viewport=viewport,
            device_scale_factor=device_scale_factor,
            color_scheme=color_scheme,
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class LoopbackServer:
    """Answers every GET with ``pages[path]`` (or a short "received" page) and remembers the URLs."""

    port: int
    pages: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_to(self, path: str) -> list[str]:
        """The URLs requested at ``path`` (the browser also asks for /favicon.ico)."""
        return [url for url in self.requests if urlsplit(url).path == path]


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@contextmanager
def loopback_server() -> Iterator[LoopbackServer]:
    state = LoopbackServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            state.requests.append(state.origin + self.path)
            body = state.pages.get(urlsplit(self.path).path, "<!doctype html><title>received</title><p>received")
            payload = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the URLs carry authorization codes: keep them out of the test output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class AuthorizationRequest:
    """A registered loopback client and one PKCE authorization request for it."""

    server_url: str
    client_id: str
    redirect_uri: str
    state: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @classmethod
    def register(cls, server_url: str, callback: LoopbackServer, client_name: str) -> AuthorizationRequest:
        # A native app registers the bare loopback URI; any port is accepted at authorization.
        body = {
            "client_name": client_name,
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        registered = httpx.post(server_url + "/register", json=body).raise_for_status().json()
        return cls(server_url, registered["client_id"], callback.origin + "/callback")

    @property
    def url(self) -> str:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "mcp",
            "state": self.state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": self.server_url + "/mcp",
        }
        return f"{self.server_url}/authorize?{urlencode(params)}"

    def exchange(self, code: str) -> dict[str, Any]:
        data = {
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
            "resource": self.server_url + "/mcp",
        }
        return httpx.post(self.server_url + "/token", data=data).raise_for_status().json()


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill in the sign-in form the page is showing and submit it."""
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
