"""Tool calls over /mcp are counted exactly: by user, client, tool and outcome, in both modes."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db.models import Sum
from mcp.server.mcpserver.exceptions import ToolError

from mcpapp import usage
from mcpapp.endpoint import build_mcp_endpoint
from mcpapp.models import Outcome, Tool, ToolUsage
from mcpapp.server import configured_tools, create_mcp_server, load_tool
from mcpdemo.asgi import Router, django_application
from tests.support.mcp import LEGACY_VERSION, in_session, open_session, post_mcp, rpc_message, serving

pytestmark = pytest.mark.django_db(transaction=True)


async def crash(text: str) -> str:
    """Always crashes."""
    raise RuntimeError("boom")


async def refuse(text: str) -> str:
    """Always reports an error."""
    raise ToolError("no")


def app_with_more_tools() -> Router:
    tools = [*configured_tools(), load_tool("tests.integration.test_tool_usage.crash")]
    tools.append(load_tool("tests.integration.test_tool_usage.refuse"))
    return Router(django_application, build_mcp_endpoint(create_mcp_server(tools), tools))


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


@sync_to_async
def counts() -> dict[tuple[str, str], int]:
    rows = ToolUsage.objects.values("tool", "outcome").annotate(n=Sum("calls"))
    return {(row["tool"], row["outcome"]): row["n"] for row in rows}


@sync_to_async
def restrict(name: str) -> None:
    tool = Tool.objects.get(name=name)
    tool.restricted = True
    tool.save()


CALLS = [
    *[call("slugify", text="a b")] * 3,
    call("slugify", text="a", separator="/"),  # the tool reports an error
    call("slugify"),  # invalid arguments: a tool error too
    call("crash", text="x"),
    call("refuse", text="x"),
    call("countdown", seconds=1),  # restricted below
    call("no-such-tool"),
]
EXPECTED = {
    ("slugify", Outcome.OK): 3,
    ("slugify", Outcome.TOOL_ERROR): 2,
    ("crash", Outcome.FAILED): 1,
    ("refuse", Outcome.TOOL_ERROR): 1,
    ("countdown", Outcome.REFUSED): 1,
    ("(unknown)", Outcome.TOOL_ERROR): 1,
}


@pytest.mark.parametrize("stateless", [True, False], ids=["stateless", "stateful"])
async def test_usage_counts_are_exact_after_known_calls(
    settings: Any, user: Any, tokens: dict[str, Any], stateless: bool
) -> None:
    settings.MCPDEMO_MCP_STATELESS = stateless
    await restrict("countdown")
    token = tokens["access_token"]
    async with serving(app_with_more_tools()) as http:
        session = None if stateless else await open_session(http, token)
        for params in CALLS:
            if session is None:
                body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
                response = await post_mcp(http, body, token, **{"MCP-Protocol-Version": LEGACY_VERSION})
            else:
                response = await in_session(http, session, token, "tools/call", params)
            assert response.status_code == 200
            rpc_message(response)
        await usage.aflush()

    assert await counts() == {(tool, str(outcome)): n for (tool, outcome), n in EXPECTED.items()}
    rows = await sync_to_async(lambda: list(ToolUsage.objects.values_list("user_id", "application__client_id")))()
    assert set(rows) == {(user.pk, tokens["client_id"])}
