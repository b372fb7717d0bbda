"""Refresh the README's screenshots: .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts a real server on a fresh database, registers a few well-known MCP clients (and two
that share a name, and one with a long name), signs them in, blocks one, and photographs
the home page, the consent page, the device sign-in page and its consent page, Connected
apps, an error page and the admin (applications, one application's page, connections, the
audit log, the tools and a month of made-up tool usage) with headless Chromium (Debian's
/usr/bin/chromium): on a desktop (1280x800), on a phone (390x844) and on a desktop in dark mode.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.chromium import DESKTOP, PHONE, chromium, sign_in  # noqa: E402
from tests.support.device import DEVICE_REGISTRATION  # noqa: E402
from tests.support.live_server import LiveServer, live_server  # noqa: E402
from tests.support.oauth import (  # noqa: E402
    CLAUDE_REGISTRATION,
    CURSOR_REGISTRATION,
    INSPECTOR_REGISTRATION,
    VSCODE_REGISTRATION,
    CodeRequest,
)
from tests.support.scripted_user import ScriptedUser  # noqa: E402

USERNAME, PASSWORD = "alice", "screenshots password 1"


def register(server: LiveServer, body: dict) -> str:
    return httpx.post(server.url + "/register", json=body).raise_for_status().json()["client_id"]


def connect(server: LiveServer, client_id: str, redirect_uri: str) -> str:
    """Sign in, allow, and exchange the code, as the client and its user would; the access token."""
    request = CodeRequest(client_id, redirect_uri=redirect_uri, resource=server.url + "/mcp")
    url = str(httpx.URL(server.url + "/authorize", params=request.params()))
    code = asyncio.run(ScriptedUser(USERNAME, PASSWORD).authorize(url))["code"]
    data = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": request.verifier,
        "resource": server.url + "/mcp",
    }
    return httpx.post(server.url + "/token", data=data).raise_for_status().json()["access_token"]


def use(server: LiveServer, access_token: str) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "s", "version": "1"}},
    }
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json, text/event-stream"}
    httpx.post(server.url + "/mcp", json=initialize, headers=headers).raise_for_status()


def device_url(server: LiveServer) -> str:
    """A device sign-in waiting for its user: the link (with the code) the device shows."""
    client_id = register(server, DEVICE_REGISTRATION)
    data = {"client_id": client_id, "scope": "mcp", "resource": server.url + "/mcp"}
    codes = httpx.post(server.url + "/device-authorization", data=data).raise_for_status().json()
    return codes["verification_uri_complete"]


# A month of tool calls by the connected clients, made up (the same every time).
USAGE_HISTORY = """
import random
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauthapp.models import Application
from mcpapp.models import BUCKET_FIELDS, Tool, ToolUsage
random.seed(18)
user = get_user_model().objects.get(username="alice")
now = timezone.now().replace(minute=0, second=0, microsecond=0)
tool = Tool.objects.get(name="countdown")
tool.restricted = True
tool.save()
for application in Application.objects.filter(consents__isnull=False):
    for day in range(30):
        for name, outcome, share in [("slugify", "ok", 1.0), ("slugify", "tool_error", 0.04),
                                     ("countdown", "ok", 0.3), ("countdown", "refused", 0.02)]:
            calls = int(random.randint(5, 60) * share * (1 + day / 15))
            if not calls:
                continue
            buckets = [0] * len(BUCKET_FIELDS)
            for _ in range(calls):
                buckets[min(len(buckets) - 1, int(random.expovariate(0.7)) + (9 if name == "countdown" else 0))] += 1
            hour = now - timedelta(days=day, hours=random.randint(0, 8))
            ToolUsage.objects.create(
                hour=hour, user=user, application=application, tool=name, outcome=outcome, calls=calls,
                total_ms=calls * 2.0, last_call=hour, **dict(zip(BUCKET_FIELDS, buckets)),
            )
"""


def populate(server: LiveServer) -> str:
    """A server with some history; returns the VS Code client's consent URL."""
    vscode = register(server, VSCODE_REGISTRATION)
    connect(server, vscode, "http://127.0.0.1:33418/")
    use(server, connect(server, register(server, CLAUDE_REGISTRATION), "https://claude.ai/api/mcp/auth_callback"))
    register(server, INSPECTOR_REGISTRATION)
    register(server, VSCODE_REGISTRATION)  # a second "Visual Studio Code": the admin tells them apart
    register(server, {**VSCODE_REGISTRATION, "client_name": "Helpful assistant for every task " * 7})
    cursor = register(server, CURSOR_REGISTRATION)
    block = (
        "from django.utils import timezone; from oauthapp.models import Application; "
        f"Application.objects.filter(client_id='{cursor}').update(blocked_at=timezone.now())"
    )
    server.manage("shell", "-c", block)
    server.manage("shell", "-c", USAGE_HISTORY)
    request = CodeRequest(vscode, redirect_uri="http://127.0.0.1:33418/", resource=server.url + "/mcp")
    return str(httpx.URL(server.url + "/authorize", params=request.params()))


def photograph(server: LiveServer, consent_url: str, device: str, out: Path) -> list[Path]:
    shots: list[Path] = []
    variants = [("desktop", DESKTOP, 1, "light"), ("phone", PHONE, 2, "light"), ("dark", DESKTOP, 1, "dark")]
    for variant, viewport, scale, scheme in variants:
        with chromium(viewport, device_scale_factor=scale, color_scheme=scheme) as browser:
            page = browser.new_page()
            page.goto(server.url + "/accounts/login/")
            sign_in(page, USERNAME, PASSWORD)
            page.goto(server.url + "/admin/oauthapp/application/?q=Visual+Studio+Code")
            application_page = server.url + page.locator("#result_list tbody tr a").last.get_attribute("href")
            for name, url in [
                ("home", server.url + "/"),
                ("consent", consent_url),
                ("device", device),
                ("connected-apps", server.url + "/connected-apps/"),
                ("error", server.url + "/authorize?response_type=code&client_id=no-such-client"),
                ("admin-applications", server.url + "/admin/oauthapp/application/"),
                ("admin-application", application_page),
                ("admin-connections", server.url + "/admin/oauthapp/consent/"),
                ("admin-audit", server.url + "/admin/oauthapp/auditevent/"),
                ("admin-tools", server.url + "/admin/mcpapp/tool/"),
                ("admin-usage", server.url + "/admin/mcpapp/toolusage/"),
            ]:
                page.goto(url)
                page.wait_for_load_state("networkidle")
                path = out / f"{name}-{variant}.png"
                page.screenshot(path=str(path), full_page=True)
                shots.append(path)
            # The device flow's consent page comes after the code is entered (a POST).
            page.goto(device)
            with page.expect_navigation():
                page.click("form.stacked button[type=submit]")
            path = out / f"device-consent-{variant}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp), {USERNAME: PASSWORD}) as server:
        consent_url = populate(server)
        for path in photograph(server, consent_url, device_url(server), args.out):
            sys.stdout.write(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}\n")


if __name__ == "__main__":
    main()
