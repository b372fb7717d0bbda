"""The multi-step conversations: sign-in, the OAuth flows of both servers, the MCP handshake.

Every step checks its status code and the fields it needs; anything unexpected raises
``FlowError`` so the load loops can count it as an error rather than measure it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .httpclient import Connection, CookieJar, Response

REDIRECT_URI = "http://127.0.0.1:33418/"
PROTOCOL_VERSION = "2025-11-25"
SLUG_TEXT = "Héllo Wörld benchmark"
SLUG = "hello-world-benchmark"
ACCEPT_MCP = "application/json, text/event-stream"

# What VS Code registers (see tests/support/oauth.py), with one loopback redirect URI.
OUR_REGISTRATION = {
    "client_name": "Visual Studio Code",
    "client_uri": "https://code.visualstudio.com",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "redirect_uris": [REDIRECT_URI],
    "scope": "mcp",
    "token_endpoint_auth_method": "none",
    "application_type": "native",
}
SEED_REGISTRATION = {"client_name": "bench", "redirect_uris": [REDIRECT_URI]}

_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'(\w+)="([^"]*)"')


class FlowError(ValueError):
    """A step answered something other than what a working flow gets."""


def expect(response: Response, status: int, step: str) -> Response:
    if response.status != status:
        raise FlowError(f"{step}: HTTP {response.status} (expected {status}): {response.text[:200]!r}")
    return response


def hidden_inputs(html: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(html):
        attrs = {key.lower(): unescape(value) for key, value in _ATTR.findall(tag)}
        if attrs.get("type") == "hidden" and "name" in attrs:
            fields[attrs["name"]] = attrs.get("value", "")
    return fields


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Tokens:
    client_id: str
    access_token: str
    refresh_token: str | None


# Our server ----------------------------------------------------------------------------


async def sign_in(conn: Connection, username: str, password: str) -> CookieJar:
    """Log in through /accounts/login/ as a browser would; return the session's cookies."""
    jar = CookieJar()
    page = expect(await conn.get("/accounts/login/"), 200, "GET /accounts/login/")
    jar.update(page)
    form = hidden_inputs(page.text) | {"username": username, "password": password, "next": "/"}
    response = await conn.post_form("/accounts/login/", form, {"Cookie": jar.header()})
    expect(response, 302, "POST /accounts/login/")
    jar.update(response)
    if "sessionid" not in jar.cookies:
        raise FlowError("sign-in set no session cookie")
    return jar


async def our_token_flow(conn: Connection, jar: CookieJar, resource: str) -> Tokens:
    """register → GET /authorize (consent page) → POST consent → POST /token: 4 requests."""
    response = expect(await conn.post_json("/register", OUR_REGISTRATION), 201, "POST /register")
    client_id = response.json()["client_id"]

    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(8)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "mcp",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": resource,
        }
    )
    page = expect(await conn.get("/authorize?" + query, {"Cookie": jar.header()}), 200, "GET /authorize")
    jar.update(page)  # the pending request is kept in the session
    form = hidden_inputs(page.text)
    # The form carries only the signed id of the request the page showed (oauthapp/consent_requests.py).
    if "csrfmiddlewaretoken" not in form or "request_id" not in form:
        raise FlowError("GET /authorize: no consent form in the page")
    form["allow"] = "Authorize"
    response = await conn.post_form("/authorize?" + query, form, {"Cookie": jar.header()})
    expect(response, 302, "POST /authorize (consent)")
    params = query_of(response.header("location"))
    if "code" not in params or params.get("state") != state:
        raise FlowError(f"consent redirect without code/state: {response.header('location')[:200]!r}")

    token_request = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT_URI,
        "client_id": client_id,
        "code_verifier": verifier,
        "resource": resource,
    }
    body = expect(await conn.post_form("/token", token_request), 200, "POST /token").json()
    if not body.get("access_token") or not body.get("refresh_token"):
        raise FlowError(f"POST /token: no tokens in {body!r}")
    return Tokens(client_id, body["access_token"], body["refresh_token"])


async def our_refresh(conn: Connection, client_id: str, refresh_token: str) -> str:
    """One refresh-token grant; returns the rotated refresh token."""
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    body = expect(await conn.post_form("/token", data), 200, "POST /token (refresh)").json()
    if not body.get("access_token") or not body.get("refresh_token"):
        raise FlowError(f"refresh: no tokens in {body!r}")
    return body["refresh_token"]


# The seed baseline ---------------------------------------------------------------------


async def seed_token_flow(conn: Connection) -> Tokens:
    """The seed's own flow (server.ts): register → GET /authorize → POST /authorize →
    GET /oauth/authorize-internal → POST /token: 5 requests."""
    response = expect(await conn.post_json("/register", SEED_REGISTRATION), 201, "seed POST /register")
    client_id = response.json()["client_id"]
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(8)
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
        "response_type": "code",
    }
    page = expect(await conn.get("/authorize?" + urlencode(params)), 200, "seed GET /authorize")
    form = hidden_inputs(page.text)
    if form.get("client_id") != client_id:
        raise FlowError("seed GET /authorize: no form in the page")
    response = expect(await conn.post_form("/authorize", form | {"authorize": "true"}), 302, "seed POST /authorize")
    internal = response.header("location")
    if not internal.startswith("/oauth/authorize-internal?"):
        raise FlowError(f"seed POST /authorize redirected to {internal[:200]!r}")
    response = expect(await conn.get(internal), 302, "seed GET /oauth/authorize-internal")
    redirect = query_of(response.header("location"))
    if "code" not in redirect or redirect.get("state") != state:
        raise FlowError(f"seed: redirect without code/state: {response.header('location')[:200]!r}")
    token_request = {
        "grant_type": "authorization_code",
        "code": redirect["code"],
        "redirect_uri": REDIRECT_URI,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    body = expect(await conn.post_form("/token", token_request), 200, "seed POST /token").json()
    if not body.get("access_token"):
        raise FlowError(f"seed POST /token: no access token in {body!r}")
    return Tokens(client_id, body["access_token"], body.get("refresh_token"))


# MCP -----------------------------------------------------------------------------------


def mcp_headers(token: str | None, session_id: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": ACCEPT_MCP, "MCP-Protocol-Version": PROTOCOL_VERSION}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if session_id:
        headers["Mcp-Session-Id"] = session_id
    return headers


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1.0"},
    },
}


def tools_call(request_id: int | str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "slugify", "arguments": {"text": SLUG_TEXT}},
    }


async def mcp_initialize(conn: Connection, token: str) -> str:
    """``initialize`` without a session id; returns the new ``Mcp-Session-Id``."""
    headers = mcp_headers(token)
    headers.pop("MCP-Protocol-Version")  # not sent before the version is negotiated
    response = expect(await conn.request("POST", "/mcp", headers, json.dumps(INITIALIZE).encode()), 200, "initialize")
    session_id = response.header("mcp-session-id")
    if not session_id:
        raise FlowError("initialize: no Mcp-Session-Id header")
    messages = response.rpc_messages()
    if not messages or "result" not in messages[0]:
        raise FlowError(f"initialize: no result in {response.text[:200]!r}")
    return session_id


async def mcp_open_session(conn: Connection, token: str) -> str:
    """initialize + notifications/initialized: a session ready for tool calls."""
    session_id = await mcp_initialize(conn, token)
    note = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
    expect(await conn.request("POST", "/mcp", mcp_headers(token, session_id), note), 202, "notifications/initialized")
    return session_id


async def mcp_call_slugify(conn: Connection, token: str | None, session_id: str | None, request_id: int) -> None:
    body = json.dumps(tools_call(request_id)).encode()
    response = expect(await conn.request("POST", "/mcp", mcp_headers(token, session_id), body), 200, "tools/call")
    messages = response.rpc_messages()
    result = messages[-1].get("result") if messages else None
    if not result or result.get("isError") or SLUG not in json.dumps(result):
        raise FlowError(f"tools/call: unexpected answer {response.text[:300]!r}")


async def mcp_delete_session(conn: Connection, token: str, session_id: str) -> None:
    response = await conn.request("DELETE", "/mcp", mcp_headers(token, session_id))
    if response.status not in (200, 202, 204):
        raise FlowError(f"DELETE /mcp: HTTP {response.status}")
