"""An administrator restricts a tool, grants it to a user and takes it away again in the admin,
in headless Chromium against a real server; each change is seen on the user's next /mcp request.
The usage page then shows the calls."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

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
from tests.support.mcp import MCP_HEADERS

pytestmark = BROWSER_TEST_MARKS

PASSWORD = "browser password 1"
VERSION = "2025-11-25"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("tools"), {"admin": PASSWORD}) as running:
        running.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user('carol', password={PASSWORD!r})",
        )
        yield running


@pytest.fixture(scope="module")
def callback() -> Iterator[LoopbackServer]:
    with loopback_server() as running:
        yield running


def reply(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC answer, sent as JSON or as the one message of an SSE stream."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        return next(json.loads(item) for item in data if item and "id" in json.loads(item))
    return response.json()


class Session:
    """One MCP session of carol's (the default, stateful mode)."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.url = server.url + "/mcp"
        self.headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}},
        }
        response = httpx.post(self.url, json=initialize, headers=self.headers)
        reply(response)
        self.headers |= {"Mcp-Session-Id": response.headers["mcp-session-id"], "MCP-Protocol-Version": VERSION}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert httpx.post(self.url, json=initialized, headers=self.headers).status_code == 202

    def ask(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 2, "method": method, **({"params": params} if params else {})}
        return reply(httpx.post(self.url, json=body, headers=self.headers))

    def tools(self) -> set[str]:
        return {tool["name"] for tool in self.ask("tools/list")["result"]["tools"]}

    def slugify(self) -> dict[str, Any]:
        return self.ask("tools/call", {"name": "slugify", "arguments": {"text": "Hello World"}})


def carols_token(server: LiveServer, callback: LoopbackServer) -> str:
    """carol signs in and allows a client, in a browser of her own."""
    request = AuthorizationRequest.register(server.url, callback, "Carol's Client")
    with chromium() as context:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(request.url)
        sign_in(page, "carol", PASSWORD)
        seen = len(callback.requests_to("/callback"))
        page.click("button[name=allow]")
        deadline = time.monotonic() + 10
        while len(callback.requests_to("/callback")) <= seen:
            assert time.monotonic() < deadline, "the browser never reached the client's callback"
            time.sleep(0.05)
        code = query_of(callback.requests_to("/callback")[seen])["code"]
    return str(request.exchange(code)["access_token"])


def open_tool(page: Page, server: LiveServer, name: str) -> None:
    page.goto(f"{server.url}/admin/mcpapp/tool/")
    with page.expect_navigation():
        page.click(f"#result_list a:text-is('{name}')")


def save(page: Page) -> None:
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert "was changed successfully" in page.inner_text(".messagelist")


def test_an_administrator_restricts_grants_and_takes_away_a_tool(server: LiveServer, callback: LoopbackServer) -> None:
    carol = Session(server, carols_token(server, callback))
    assert carol.tools() == {"slugify", "countdown"}

    with chromium() as context:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server.url}/accounts/login/?next=/admin/")
        sign_in(page, "admin", PASSWORD)

        open_tool(page, server, "slugify")
        page.check("#id_restricted")
        save(page)
        assert carol.tools() == {"countdown"}
        refused = carol.slugify()
        assert refused["error"]["message"] == "The tool slugify is not available to this account."

        open_tool(page, server, "slugify")
        page.select_option("#id_users_from", label="carol")
        page.click("#id_users_add")
        save(page)
        assert carol.tools() == {"slugify", "countdown"}
        assert carol.slugify()["result"]["structuredContent"] == {"result": "hello-world"}

        open_tool(page, server, "slugify")
        page.select_option("#id_users_to", label="carol")
        page.click("#id_users_remove")
        save(page)
        assert carol.tools() == {"countdown"}
        assert "error" in carol.slugify()

        # The counts reach the database within a flush interval (5 s).
        deadline = time.monotonic() + 20
        row: list[str] = []
        while row[:2] != ["slugify", "3"] and time.monotonic() < deadline:
            time.sleep(1)
            page.goto(f"{server.url}/admin/mcpapp/toolusage/")
            rows = page.locator(".usage-tools tbody tr", has_text="slugify")
            row = rows.inner_text().split("\t") if rows.count() else []
        assert row[:6] == ["slugify", "3", "1", "0", "0", "2"]  # calls, ok, tool errors, failed, refused
        assert page.locator("svg.chart").count() == 4
