"""Restricted tools over /mcp: hidden from tools/list, refused by tools/call, in every mode and era.

Each request goes through the real ASGI application with a token from the real OAuth
endpoints; the administrator's changes are made through the models, as the admin makes
them (signals raise the tool policy version), and must be seen on the very next request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, Permission

from mcpapp import permissions
from mcpapp.endpoint import build_mcp_endpoint
from mcpapp.models import Tool
from mcpdemo.asgi import Router, build_application, django_application
from oauthapp import token_lookup
from oauthapp.models import AuditEvent
from tests.support.mcp import (
    INITIALIZE,
    LEGACY_VERSION,
    in_session,
    modern_request,
    open_session,
    post_mcp,
    rpc_message,
    serving,
)

pytestmark = pytest.mark.django_db(transaction=True)

SLUGIFY = {"name": "slugify", "arguments": {"text": "Hello World"}}
Ask = Callable[[str, dict[str, Any] | None], Awaitable[dict[str, Any]]]
MODES = ["stateful", "stateful, 2026-07-28", "stateless", "stateless, SDK transport", "stateless, 2026-07-28"]


@sync_to_async
def restrict(name: str, restricted: bool = True) -> None:
    tool = Tool.objects.get(name=name)
    tool.restricted = restricted
    tool.save()


@sync_to_async
def grant(user: Any, name: str) -> None:
    user.user_permissions.add(Permission.objects.get(codename=f"use_{name}"))


@sync_to_async
def take_away(user: Any, name: str) -> None:
    user.user_permissions.remove(Permission.objects.get(codename=f"use_{name}"))


@pytest.fixture
def asker(settings: Any) -> Callable[[str], Any]:
    """``async with asker(mode)(token) as ask``: ``await ask(method, params)`` sends it as ``mode`` does,
    and gives the JSON-RPC reply."""

    def for_mode(mode: str) -> Any:
        settings.MCPDEMO_MCP_STATELESS = mode.startswith("stateless")

        @contextlib.asynccontextmanager
        async def asking(token: str) -> AsyncIterator[Ask]:
            if mode == "stateless, SDK transport":
                app = Router(django_application, build_mcp_endpoint(json_response=True, single_exchange=False))
            else:
                app = build_application()
            async with serving(app) as http:
                session = await open_session(http, token) if mode == "stateful" else None

                async def ask(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
                    response: httpx.Response
                    if mode.endswith("2026-07-28"):
                        name = params.get("name") if params else None
                        response = await modern_request(http, method, params or {}, token, name)
                    elif session is not None:
                        response = await in_session(http, session, token, method, params)
                    else:
                        body: dict[str, Any] = {"jsonrpc": "2.0", "id": 2, "method": method}
                        if params is not None:
                            body["params"] = params
                        response = await post_mcp(http, body, token, **{"MCP-Protocol-Version": LEGACY_VERSION})
                    reply = rpc_message(response)
                    # The 2026-07-28 transport maps a JSON-RPC invalid-params error to 400 (its spec's table).
                    modern_error = mode.endswith("2026-07-28") and reply.get("error", {}).get("code") == -32602
                    assert response.status_code == (400 if modern_error else 200), response.text
                    return reply

                yield ask

        return asking

    return for_mode


def listed(reply: dict[str, Any]) -> set[str]:
    return {tool["name"] for tool in reply["result"]["tools"]}


@pytest.mark.parametrize("mode", MODES)
async def test_every_tool_is_open_until_an_administrator_restricts_one(
    asker: Callable[[str], Any], access_token: str, mode: str
) -> None:
    async with asker(mode)(access_token) as ask:
        assert listed(await ask("tools/list", None)) == {"slugify", "countdown"}
        called = await ask("tools/call", SLUGIFY)

    assert called["result"]["structuredContent"] == {"result": "hello-world"}


@pytest.mark.parametrize("mode", MODES)
async def test_a_restricted_tool_is_hidden_and_refused_until_granted(
    asker: Callable[[str], Any], user: Any, access_token: str, mode: str
) -> None:
    async with asker(mode)(access_token) as ask:
        await restrict("slugify")
        hidden = await ask("tools/list", None)
        refused = await ask("tools/call", SLUGIFY)
        await grant(user, "slugify")
        shown = await ask("tools/list", None)
        called = await ask("tools/call", SLUGIFY)
        await take_away(user, "slugify")
        hidden_again = await ask("tools/list", None)

    assert listed(hidden) == {"countdown"}
    assert refused["error"] == {"code": -32602, "message": "The tool slugify is not available to this account."}
    assert "result" not in refused
    assert listed(shown) == {"slugify", "countdown"}
    assert called["result"]["structuredContent"] == {"result": "hello-world"}
    assert listed(hidden_again) == {"countdown"}


async def test_a_group_permission_grants_the_tool_and_leaving_the_group_takes_it_away(
    asker: Callable[[str], Any], user: Any, access_token: str
) -> None:
    @sync_to_async
    def make_group() -> Group:
        group = Group.objects.create(name="slugifiers")
        group.permissions.add(Permission.objects.get(codename="use_slugify"))
        return group

    async with asker("stateless")(access_token) as ask:
        await restrict("slugify")
        group = await make_group()
        before = await ask("tools/list", None)
        await sync_to_async(user.groups.add)(group)
        member = await ask("tools/list", None)
        await sync_to_async(group.delete)()
        after = await ask("tools/list", None)

    assert listed(before) == {"countdown"}
    assert listed(member) == {"slugify", "countdown"}
    assert listed(after) == {"countdown"}


async def test_a_superuser_may_use_every_tool(asker: Callable[[str], Any], user: Any, access_token: str) -> None:
    await restrict("slugify")
    user.is_superuser = True
    await sync_to_async(user.save)()

    async with asker("stateless")(access_token) as ask:
        assert listed(await ask("tools/list", None)) == {"slugify", "countdown"}
        assert "result" in await ask("tools/call", SLUGIFY)


async def test_opening_the_tool_again_shows_it_to_everyone(asker: Callable[[str], Any], access_token: str) -> None:
    async with asker("stateless")(access_token) as ask:
        await restrict("slugify")
        assert listed(await ask("tools/list", None)) == {"countdown"}
        await restrict("slugify", restricted=False)
        assert listed(await ask("tools/list", None)) == {"slugify", "countdown"}


async def test_a_refused_call_is_audited_once_a_minute_without_what_the_tool_does(
    asker: Callable[[str], Any], user: Any, access_token: str
) -> None:
    await restrict("slugify")
    async with asker("stateless")(access_token) as ask:
        first = await ask("tools/call", SLUGIFY)
        await ask("tools/call", SLUGIFY)

    events = await wait_for_events(kind=AuditEvent.Kind.TOOL_REFUSED)
    assert len(events) == 1
    assert events[0].user_id == user.pk
    assert events[0].detail == {"tool": "slugify"}
    assert events[0].actor == AuditEvent.Actor.CLIENT
    assert "slug" not in first["error"]["message"].replace("slugify", "")  # nothing of the description


async def wait_for_events(**filters: Any) -> list[AuditEvent]:
    """The audit write runs on a lookup thread, not waited for by the request."""
    for _ in range(100):
        events = await sync_to_async(lambda: list(AuditEvent.objects.filter(**filters)))()
        if events:
            await asyncio.sleep(0.05)  # a second one, if it were written, would be there too
            return await sync_to_async(lambda: list(AuditEvent.objects.filter(**filters)))()
        await asyncio.sleep(0.02)
    return []


@pytest.mark.parametrize("mode", ["stateful", "stateless", "stateless, 2026-07-28"])
async def test_the_instructions_name_only_the_tools_the_user_may_use(
    asker: Callable[[str], Any], access_token: str, mode: str
) -> None:
    await restrict("slugify")
    method, params = ("server/discover", {}) if mode.endswith("2026-07-28") else ("initialize", INITIALIZE["params"])
    async with asker(mode)(access_token) as ask:
        reply = await ask(method, params)

    instructions = reply["result"]["instructions"]
    assert instructions.startswith("Tools: countdown (")
    assert "slugify" not in instructions


async def test_once_the_grants_are_read_a_call_reads_nothing_more(
    asker: Callable[[str], Any], user: Any, access_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await restrict("slugify")
    await grant(user, "slugify")
    reads = []
    run = token_lookup.run_on_lookup_thread

    def counting(function: Any, *args: Any) -> Any:
        reads.append(function.__name__)
        return run(function, *args)

    monkeypatch.setattr(token_lookup, "run_on_lookup_thread", counting)
    async with asker("stateless")(access_token) as ask:
        for _ in range(3):
            assert "result" in await ask("tools/call", SLUGIFY)

    # One read of the grants; the token itself is read on the event loop (SQLite or PostgreSQL reader).
    assert reads == ["_read_and_release"]


async def test_an_outage_while_reading_the_grants_is_a_json_rpc_error_not_a_5xx(
    asker: Callable[[str], Any], access_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    await restrict("slugify")
    permissions.forget()

    def failing(user_id: Any, restricted: Any) -> Any:
        raise OperationalError("database is down")

    monkeypatch.setattr(permissions, "_read", failing)
    async with asker("stateless")(access_token) as ask:
        reply = await ask("tools/call", SLUGIFY)

    assert reply["error"]["code"] == -32000
    assert "try again" in reply["error"]["message"]
