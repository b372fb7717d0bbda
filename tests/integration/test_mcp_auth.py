"""The resource server at /mcp, driven through the real ASGI application.

Every request goes through ``mcpdemo.asgi.Router`` → ``MCPEndpoint`` (Host, Origin and
bearer checks) → the SDK's session manager; tokens come from the real OAuth endpoints
(conftest's ``tokens``) and are then altered in the database where a test needs an
expired, unbound or otherwise unusable one.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client as DjangoClient
from django.utils import timezone
from mcp import Client as MCPClient
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context

from mcpapp.auth import current_user_id
from mcpapp.endpoint import MCPEndpoint, build_mcp_endpoint
from mcpapp.server import create_mcp_server
from mcpdemo.asgi import Router, build_application
from oauthapp.validator import MCPOAuth2Validator
from tests.support.mcp import (
    BASE,
    INITIALIZE,
    LEGACY_VERSION,
    MCP_HEADERS,
    MODERN_VERSION,
    RESOURCE_METADATA,
    alter_access_token,
    assert_unauthorized,
    bearer,
    in_session,
    modern_request,
    open_session,
    post_mcp,
    rpc_message,
    serving,
)
from tests.support.oauth import refresh

pytestmark = pytest.mark.django_db(transaction=True)


async def test_no_token_gets_401_with_a_challenge_pointing_at_the_metadata() -> None:
    async with serving() as http:
        response = await post_mcp(http, INITIALIZE)

    # RFC 6750 §3.1: no error code when the request carried no credentials.
    assert_unauthorized(response, error=None)
    assert response.json()["error_description"]
    assert response.headers["cache-control"] == "no-store"


async def test_no_token_on_the_trailing_slash_path_also_gets_401() -> None:
    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, path="/mcp/")

    assert_unauthorized(response, error=None)


async def test_other_authorization_schemes_count_as_no_token(access_token: str) -> None:
    async with serving() as http:
        basic = await post_mcp(http, INITIALIZE, Authorization="Basic YWxpY2U6c2VjcmV0")
        empty_bearer = await post_mcp(http, INITIALIZE, Authorization="Bearer ")

    assert_unauthorized(basic, error=None)
    assert_unauthorized(empty_bearer, error=None)


async def test_garbage_token_gets_401_invalid_token() -> None:
    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, "not-a-real-token")

    assert_unauthorized(response, error="invalid_token")


async def test_refresh_token_is_not_an_access_token(tokens: dict[str, Any]) -> None:
    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, tokens["refresh_token"])

    assert_unauthorized(response)


async def test_token_in_the_query_string_only_is_ignored(access_token: str) -> None:
    async with serving() as http:
        response = await http.post(
            "/mcp", params={"access_token": access_token}, content=json.dumps(INITIALIZE), headers=MCP_HEADERS
        )

    assert_unauthorized(response, error=None)


async def test_expired_token_gets_401(access_token: str) -> None:
    await alter_access_token(access_token, expires=timezone.now() - timedelta(seconds=1))

    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, access_token)

    assert_unauthorized(response)


async def test_token_without_the_mcp_scope_gets_403_insufficient_scope(access_token: str) -> None:
    await alter_access_token(access_token, scope="read write")

    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, access_token)

    assert response.status_code == 403, response.text  # RFC 6750 §3.1
    assert response.json()["error"] == "insufficient_scope"
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="mcp"' in challenge
    assert RESOURCE_METADATA in challenge


class RefusingValidator(MCPOAuth2Validator):
    """A deployer's validator subclass that refuses every bearer token."""

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        return False


@pytest.fixture
def refusing_validator(settings: Any) -> None:
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OAUTH2_VALIDATOR_CLASS": f"{__name__}.RefusingValidator",
    }


@pytest.mark.usefixtures("refusing_validator")
@pytest.mark.parametrize("era", ["session", "modern"])
async def test_the_configured_validator_decides_so_a_refusing_subclass_gets_401(access_token: str, era: str) -> None:
    async with serving() as http:
        if era == "modern":
            response = await modern_request(http, "tools/list", {}, access_token)
        else:
            response = await post_mcp(http, INITIALIZE, access_token)

    assert_unauthorized(response)


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param(["https://other.example/api"], id="another-resource"),
        pytest.param([], id="unbound"),
        pytest.param(["http://testserver/mcp/other"], id="another-path-on-this-host"),
        pytest.param(["http://evil.example/mcp"], id="another-host"),
    ],
)
async def test_token_not_issued_for_this_resource_gets_401(access_token: str, resource: list[str]) -> None:
    await alter_access_token(access_token, resource=resource)

    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, access_token)

    assert_unauthorized(response)


async def test_dcr_registration_access_token_gets_401(vscode: dict[str, Any], tokens: dict[str, Any]) -> None:
    registration_token = vscode["registration_access_token"]
    assert registration_token

    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, registration_token)

    assert_unauthorized(response)


async def test_token_of_an_inactive_user_gets_401(user: Any, access_token: str) -> None:
    await sync_to_async(get_user_model().objects.filter(pk=user.pk).update)(is_active=False)

    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, access_token)

    assert_unauthorized(response)


async def test_revoked_token_is_refused_on_the_very_next_request(client: DjangoClient, tokens: dict[str, Any]) -> None:
    async with serving() as http:
        session_id = await open_session(http, tokens["access_token"])
        before = await in_session(http, session_id, tokens["access_token"], "tools/list")
        assert before.status_code == 200

        revoked = await sync_to_async(client.post)(
            "/revoke", {"token": tokens["access_token"], "client_id": tokens["client_id"]}
        )
        assert revoked.status_code == 200, revoked.content

        after = await in_session(http, session_id, tokens["access_token"], "tools/list")
        new_session = await post_mcp(http, INITIALIZE, tokens["access_token"])

    assert_unauthorized(after)
    assert_unauthorized(new_session)


# --- Valid tokens -------------------------------------------------------------------


async def test_valid_token_initializes_a_session(access_token: str) -> None:
    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, access_token)

    assert response.status_code == 200, response.text
    assert len(response.headers["mcp-session-id"]) >= 32
    result = rpc_message(response)["result"]
    assert result["protocolVersion"] == LEGACY_VERSION
    assert result["serverInfo"]["name"] == "mcpdemo"
    assert "tools" in result["capabilities"]


async def test_trailing_slash_path_is_served_and_never_redirected(access_token: str) -> None:
    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, access_token, path="/mcp/")

    assert response.status_code == 200, response.text
    assert "location" not in response.headers
    assert response.headers["mcp-session-id"]


async def test_tools_list_and_call_over_a_session(access_token: str) -> None:
    async with serving() as http:
        session_id = await open_session(http, access_token)
        listed = await in_session(http, session_id, access_token, "tools/list")
        called = await in_session(
            http,
            session_id,
            access_token,
            "tools/call",
            {"name": "slugify", "arguments": {"text": "Ærøskøbing Straße"}},
        )
        bad = await in_session(
            http, session_id, access_token, "tools/call", {"name": "slugify", "arguments": {"separator": "x"}}
        )

    assert listed.status_code == 200, listed.text
    assert {tool["name"] for tool in rpc_message(listed)["result"]["tools"]} == {"slugify", "countdown"}
    assert called.status_code == 200, called.text
    result = rpc_message(called)["result"]
    assert result["isError"] is False
    assert result["content"] == [{"type": "text", "text": "aeroskobing-strasse"}]
    assert rpc_message(bad)["result"]["isError"] is True


async def test_session_requests_without_a_token_get_401(access_token: str) -> None:
    async with serving() as http:
        session_id = await open_session(http, access_token)
        response = await in_session(http, session_id, None, "tools/list")

    assert_unauthorized(response, error=None)


async def test_unknown_session_id_gets_404(access_token: str) -> None:
    async with serving() as http:
        response = await in_session(http, "0" * 32, access_token, "tools/list")

    assert response.status_code == 404


async def test_another_users_token_cannot_use_a_session(tokens: dict[str, Any], bob_tokens: dict[str, Any]) -> None:
    async with serving() as http:
        alices_session = await open_session(http, tokens["access_token"])
        as_bob = await in_session(http, alices_session, bob_tokens["access_token"], "tools/list")
        as_alice = await in_session(http, alices_session, tokens["access_token"], "tools/list")

    # Indistinguishable from a session that does not exist.
    assert as_bob.status_code == 404
    assert as_alice.status_code == 200


async def test_a_refreshed_token_of_the_same_user_keeps_the_session(
    client: DjangoClient, tokens: dict[str, Any]
) -> None:
    async with serving() as http:
        session_id = await open_session(http, tokens["access_token"])
        refreshed = await sync_to_async(refresh)(client, tokens["client_id"], tokens["refresh_token"])
        assert refreshed.status_code == 200, refreshed.content
        new_token = refreshed.json()["access_token"]
        assert new_token != tokens["access_token"]

        response = await in_session(http, session_id, new_token, "tools/list")

    assert response.status_code == 200, response.text


# --- Host and Origin (DNS rebinding) ------------------------------------------------


async def test_foreign_host_header_gets_421(access_token: str) -> None:
    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, access_token, Host="evil.example")

    assert response.status_code == 421
    assert "mcp-session-id" not in response.headers


async def test_foreign_host_is_refused_before_the_token_is_looked_at() -> None:
    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, Host="evil.example")

    assert response.status_code == 421
    assert "www-authenticate" not in response.headers


async def test_foreign_origin_gets_403(access_token: str) -> None:
    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, access_token, Origin="http://evil.example")

    assert response.status_code == 403
    assert "mcp-session-id" not in response.headers


async def test_own_origin_is_allowed(access_token: str) -> None:
    async with serving() as http:
        response = await post_mcp(http, INITIALIZE, access_token, Origin=BASE)

    assert response.status_code == 200, response.text


async def test_configured_extra_origin_is_allowed(settings: Any, access_token: str) -> None:
    settings.MCPDEMO_ALLOWED_ORIGINS = ["http://localhost:6274"]

    async with serving() as http:
        allowed = await post_mcp(http, INITIALIZE, access_token, Origin="http://localhost:6274")
        other = await post_mcp(http, INITIALIZE, access_token, Origin="http://localhost:6275")

    assert allowed.status_code == 200, allowed.text
    assert other.status_code == 403


# --- The 2026-07-28 era: self-contained requests --------------------------------------


async def test_modern_tools_call_with_a_valid_token_succeeds(access_token: str) -> None:
    async with serving() as http:
        response = await modern_request(
            http, "tools/call", {"name": "slugify", "arguments": {"text": "Hello, World!"}}, access_token, "slugify"
        )

    assert response.status_code == 200, response.text
    assert "mcp-session-id" not in response.headers
    result = rpc_message(response)["result"]
    assert result["resultType"] == "complete"
    assert result["content"] == [{"type": "text", "text": "hello-world"}]


async def test_routing_header_values_are_compared_without_surrounding_whitespace(access_token: str) -> None:
    """RFC 9110 §5.5: ``Mcp-Name: " slugify\t"`` names ``slugify``. uvicorn's httptools parser
    keeps trailing whitespace (h11 does not), so /mcp trims it before the SDK compares."""
    async with serving() as http:
        response = await modern_request(
            http, "tools/call", {"name": "slugify", "arguments": {"text": "Hello"}}, access_token, " slugify\t"
        )

    assert response.status_code == 200, response.text
    assert rpc_message(response)["result"]["content"] == [{"type": "text", "text": "hello"}]


async def test_modern_tools_list_with_a_valid_token_succeeds(access_token: str) -> None:
    async with serving() as http:
        response = await modern_request(http, "tools/list", {}, access_token)

    assert response.status_code == 200, response.text
    assert {tool["name"] for tool in rpc_message(response)["result"]["tools"]} == {"slugify", "countdown"}


async def test_modern_request_without_a_token_gets_401() -> None:
    async with serving() as http:
        response = await modern_request(
            http, "tools/call", {"name": "slugify", "arguments": {"text": "Hello"}}, None, "slugify"
        )

    assert_unauthorized(response, error=None)


async def test_modern_request_with_an_unbound_token_gets_401(access_token: str) -> None:
    await alter_access_token(access_token, resource=[])

    async with serving() as http:
        response = await modern_request(http, "tools/list", {}, access_token)

    assert_unauthorized(response)


# --- The SDK's own client against the real application --------------------------------


@pytest.mark.parametrize(("mode", "version"), [("auto", MODERN_VERSION), ("legacy", LEGACY_VERSION)])
async def test_sdk_client_with_a_bearer_token_calls_tools(access_token: str, mode: str, version: str) -> None:
    app = build_application()
    async with app.mcp_endpoint.lifespan():
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE, headers=bearer(access_token))
        async with http, MCPClient(streamable_http_client(f"{BASE}/mcp", http_client=http), mode=mode) as client:
            assert client.protocol_version == version
            result = await client.call_tool("slugify", {"text": "Ærøskøbing Straße"})

    assert result.is_error is False
    assert result.content[0].text == "aeroskobing-strasse"


# --- Tools see the authenticated Django user ---------------------------------------


def build_whoami_endpoint() -> MCPEndpoint:
    """Our server plus a test-only tool, mounted the way ``build_mcp_endpoint`` does it."""
    server = create_mcp_server()

    def whoami(ctx: Context) -> int | None:
        """The Django user id behind this call."""
        return current_user_id(ctx)

    server.add_tool(whoami)
    return build_mcp_endpoint(server)


async def test_a_tool_sees_the_authenticated_user_over_a_session(user: Any, access_token: str) -> None:
    endpoint = build_whoami_endpoint()
    async with serving(endpoint, endpoint) as http:
        session_id = await open_session(http, access_token)
        response = await in_session(http, session_id, access_token, "tools/call", {"name": "whoami", "arguments": {}})

    result = rpc_message(response)["result"]
    assert result["isError"] is False
    assert result["structuredContent"] == {"result": user.pk}


async def test_a_tool_sees_the_authenticated_user_in_a_modern_request(user: Any, access_token: str) -> None:
    endpoint = build_whoami_endpoint()
    async with serving(endpoint, endpoint) as http:
        response = await modern_request(http, "tools/call", {"name": "whoami", "arguments": {}}, access_token, "whoami")

    result = rpc_message(response)["result"]
    assert result["isError"] is False
    assert result["structuredContent"] == {"result": user.pk}


async def test_each_user_is_seen_as_themselves(
    user: Any, other_user: Any, tokens: dict[str, Any], bob_tokens: dict[str, Any]
) -> None:
    endpoint = build_whoami_endpoint()
    async with serving(endpoint, endpoint) as http:
        seen = {}
        for name, token in [("alice", tokens["access_token"]), ("bob", bob_tokens["access_token"])]:
            response = await modern_request(http, "tools/call", {"name": "whoami", "arguments": {}}, token, "whoami")
            seen[name] = rpc_message(response)["result"]["structuredContent"]["result"]

    assert seen == {"alice": user.pk, "bob": other_user.pk}


# --- The router -------------------------------------------------------------------


async def test_router_answers_the_lifespan_protocol(access_token: str) -> None:
    app = build_application()
    to_app_send, to_app_receive = anyio.create_memory_object_stream[dict[str, Any]](4)
    from_app_send, from_app_receive = anyio.create_memory_object_stream[dict[str, Any]](4)
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

    with anyio.fail_after(10):
        async with to_app_send, to_app_receive, from_app_send, from_app_receive, anyio.create_task_group() as tasks:
            tasks.start_soon(app, scope, to_app_receive.receive, from_app_send.send)

            await to_app_send.send({"type": "lifespan.startup"})
            assert await from_app_receive.receive() == {"type": "lifespan.startup.complete"}

            # Started: the MCP session manager now serves requests.
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
                response = await post_mcp(http, INITIALIZE, access_token)
            assert response.status_code == 200, response.text

            await to_app_send.send({"type": "lifespan.shutdown"})
            assert await from_app_receive.receive() == {"type": "lifespan.shutdown.complete"}


async def test_router_sends_everything_else_to_django() -> None:
    app = build_application()
    assert isinstance(app, Router)
    async with serving(app) as http:
        metadata = await http.get("/.well-known/oauth-protected-resource/mcp")
        below_mcp = await http.post("/mcp/extra", content=json.dumps(INITIALIZE), headers=MCP_HEADERS)

    assert metadata.status_code == 200
    assert metadata.json()["resource"] == f"{BASE}/mcp"
    assert below_mcp.status_code == 404
    assert "www-authenticate" not in below_mcp.headers
