"""Helpers that talk to /mcp in-process: the ASGI app through httpx, or one raw ASGI request at a time."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
from asgiref.sync import sync_to_async
from django.test import Client as DjangoClient
from oauth2_provider.models import get_access_token_model
from oauthlib.common import Request as OAuthRequest

from mcpapp.auth import configured_validator
from mcpapp.endpoint import MCPEndpoint
from mcpdemo.asgi import Router, build_application
from oauthapp.tokens import checksum
from tests.support.oauth import CodeRequest, exchange_code, obtain_code

BASE = "http://testserver"
MCP_RESOURCE = BASE + "/mcp"
RESOURCE_METADATA = f'resource_metadata="{BASE}/.well-known/oauth-protected-resource/mcp"'
LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": LEGACY_VERSION, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@contextlib.asynccontextmanager
async def serving(app: Any = None, endpoint: MCPEndpoint | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for a fresh application, with the MCP session manager running.

    The ASGI transport does not run the lifespan, so enter the endpoint's ourselves.
    """
    app = app if app is not None else build_application()
    endpoint = endpoint if endpoint is not None else app.mcp_endpoint
    transport = httpx.ASGITransport(app=app)
    async with endpoint.lifespan(), httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post_mcp(
    http: httpx.AsyncClient, body: dict[str, Any], token: str | None = None, path: str = "/mcp", **headers: str
) -> httpx.Response:
    all_headers = {**MCP_HEADERS, **(bearer(token) if token else {}), **headers}
    return await http.post(path, content=json.dumps(body), headers=all_headers)


def rpc_message(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC response in a reply, whether sent as JSON or as an SSE stream."""
    if response.headers["content-type"].startswith("text/event-stream"):
        messages = [
            json.loads(line.removeprefix("data:").strip())
            for line in response.text.splitlines()
            if line.startswith("data:") and line.removeprefix("data:").strip()
        ]
        replies = [message for message in messages if "id" in message]
        assert len(replies) == 1, messages
        return replies[0]
    return response.json()


async def open_session(http: httpx.AsyncClient, token: str) -> str:
    """initialize + notifications/initialized; return the Mcp-Session-Id."""
    response = await post_mcp(http, INITIALIZE, token)
    assert response.status_code == 200, response.text
    assert rpc_message(response)["result"]["protocolVersion"] == LEGACY_VERSION
    session_id = response.headers["mcp-session-id"]
    initialized = await post_mcp(
        http, INITIALIZED, token, **{"Mcp-Session-Id": session_id, "MCP-Protocol-Version": LEGACY_VERSION}
    )
    assert initialized.status_code == 202, initialized.text
    return session_id


async def in_session(
    http: httpx.AsyncClient, session_id: str, token: str | None, method: str, params: dict[str, Any] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 2, "method": method}
    if params is not None:
        body["params"] = params
    return await post_mcp(http, body, token, **{"Mcp-Session-Id": session_id, "MCP-Protocol-Version": LEGACY_VERSION})


async def modern_request(
    http: httpx.AsyncClient, method: str, params: dict[str, Any], token: str | None, name: str | None = None
) -> httpx.Response:
    """A 2026-07-28 request: self-contained, routing headers plus the version in ``_meta``."""
    headers = {"MCP-Protocol-Version": MODERN_VERSION, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": {**params, "_meta": MODERN_META}}
    return await post_mcp(http, body, token, **headers)


def assert_unauthorized(response: httpx.Response, error: str | None = "invalid_token") -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert RESOURCE_METADATA in challenge
    assert 'scope="mcp"' in challenge
    if error is None:
        assert "error=" not in challenge
    else:
        assert f'error="{error}"' in challenge
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "invalid_token"
    assert "mcp-session-id" not in response.headers


@sync_to_async
def alter_access_token(token: str, **fields: Any) -> None:
    """Change the stored row of an access token (tokens are stored hashed)."""
    assert get_access_token_model().objects.filter(token_checksum=checksum(token)).update(**fields) == 1


def tokens_for(user: Any, client_id: str) -> dict[str, Any]:
    """Run the authorization-code flow for another user of the same client."""
    browser = DjangoClient()
    browser.force_login(user)
    request = CodeRequest(client_id)
    code = obtain_code(browser, request)["code"]
    response = exchange_code(browser, request, code)
    assert response.status_code == 200, response.content
    return response.json()


class OpenRequest:
    """One request sent straight into the ASGI app; its messages are seen as they are sent."""

    def __init__(self, app: Router, method: str, headers: dict[str, str], body: bytes = b"") -> None:
        self.app = app
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": "/mcp",
            "raw_path": b"/mcp",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.body = body
        self.messages: list[dict[str, Any]] = []
        self.started = anyio.Event()
        self.ended = anyio.Event()
        self._body_sent = False
        self._client_gone = anyio.Event()

    async def receive(self) -> dict[str, Any]:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self._client_gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if message["type"] == "http.response.start":
            self.started.set()

    async def run(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        finally:
            self.ended.set()

    def disconnect(self) -> None:
        self._client_gone.set()

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.messages if m["type"] == "http.response.start")

    @property
    def completed(self) -> bool:
        """The response ended properly: its last body message says no more body follows."""
        bodies = [m for m in self.messages if m["type"] == "http.response.body"]
        return bool(bodies) and not bodies[-1].get("more_body", False)

    @property
    def text(self) -> str:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body").decode()


def sse_stream(app: Router, token: str, session_id: str) -> OpenRequest:
    """The client's standing GET stream for server-to-client messages."""
    headers = {
        "accept": "text/event-stream",
        "authorization": f"Bearer {token}",
        "mcp-session-id": session_id,
        "mcp-protocol-version": LEGACY_VERSION,
    }
    return OpenRequest(app, "GET", headers)


def long_tool_call(app: Router, token: str, session_id: str | None) -> OpenRequest:
    """A POST whose response stays open: a 30-second countdown (``session_id`` None: stateless)."""
    body = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {"name": "countdown", "arguments": {"seconds": 30}},
    }
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "authorization": f"Bearer {token}",
        "mcp-protocol-version": LEGACY_VERSION,
    }
    if session_id is not None:
        headers["mcp-session-id"] = session_id
    return OpenRequest(app, "POST", headers, json.dumps(body).encode())


# Three ways a token stops being valid: the client revokes it, the user disconnects the


def accepted_at_mcp(token: str) -> bool:
    """What DOT's configured validator says of ``token`` at /mcp, on this thread (a sync test's transaction)."""
    request = OAuthRequest(MCP_RESOURCE, http_method="POST")
    return bool(configured_validator().validate_bearer_token(token, ["mcp"], request))
