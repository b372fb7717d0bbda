"""Server-to-client features through the SDK's own machinery, against a real server process.

Test-only tools (``tests/support/client_feature_tools.py``) elicit, sample, list roots and
log; the SDK's client answers with its callbacks. A stateful session
carries them; where no back-channel exists (a stateless server, or the 2026-07-28 era's
self-contained requests, where a tool asks through an input-required result instead) the
client gets a clear JSON-RPC error at once, never a hang. Log messages arrive in every mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import anyio
import pytest
from mcp import types
from mcp.shared.exceptions import MCPError

from tests.support.live_server import LiveServer, live_server
from tests.support.sdk_client import OAuthHarness

pytestmark = pytest.mark.e2e

PASSWORD = "e2e password 123"
TOOLS = ",".join(
    ["mcpapp.tools.SLUGIFY", "mcpapp.tools.COUNTDOWN"]
    + [f"tests.support.client_feature_tools.{name}" for name in ("ask_name", "sample", "roots", "chatty")]
)
MODES = {"stateful": "0", "stateless": "1"}
ERAS = {"handshake": "legacy", "2026-07-28": "2026-07-28"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], LiveServer]]:
    started: dict[str, LiveServer] = {}
    with ExitStack() as stack:

        def server(mode: str) -> LiveServer:
            if mode not in started:
                directory = tmp_path_factory.mktemp(f"features-{mode}")
                env = {"MCPDEMO_MCP_TOOLS": TOOLS, "MCPDEMO_MCP_STATELESS": MODES[mode]}
                started[mode] = stack.enter_context(live_server(directory, {"alice": PASSWORD}, **env))
            return started[mode]

        yield server


async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"name": "Alice"})


async def on_sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="banana"), model="m")


async def on_roots(context: Any) -> types.ListRootsResult:
    return types.ListRootsResult(roots=[types.Root(uri="file:///work/project", name="project")])


async def call(server: LiveServer, era: str, tool: str, logs: list[str] | None = None, **options: Any) -> Any:
    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        if logs is not None:
            logs.append(f"{params.level}: {params.data}")

    harness = OAuthHarness(server.url, "none", PASSWORD)
    callbacks = {"elicitation_callback": on_elicit, "sampling_callback": on_sample,
                 "list_roots_callback": on_roots, "logging_callback": on_log}  # fmt: skip
    with anyio.fail_after(30):  # a missing channel back to the client must never hang
        async with harness.client(ERAS[era], **callbacks, **options) as client:
            return await client.call_tool(tool, {})


FEATURES = {"ask_name": "hello Alice", "sample": "banana", "roots": ["file:///work/project"]}
METHODS = {"ask_name": "elicitation/create", "sample": "sampling/createMessage", "roots": "roots/list"}


@pytest.mark.parametrize(("tool", "expected"), list(FEATURES.items()), ids=list(FEATURES))
async def test_a_stateful_session_carries_server_to_client_requests_to_the_callbacks(
    servers: Callable[[str], LiveServer], tool: str, expected: Any
) -> None:
    result = await call(servers("stateful"), "handshake", tool)

    assert result.is_error is False, result
    assert result.structured_content == {"result": expected}


@pytest.mark.parametrize(("mode", "era"), [("stateless", "handshake"), ("stateful", "2026-07-28"),
                                           ("stateless", "2026-07-28")])  # fmt: skip
@pytest.mark.parametrize("tool", list(FEATURES))
async def test_without_a_back_channel_the_client_gets_a_clear_json_rpc_error(
    servers: Callable[[str], LiveServer], mode: str, era: str, tool: str
) -> None:
    """No session (stateless) or a self-contained request (2026-07-28, where a tool asks
    through an input-required result instead): the SDK refuses the request at once."""
    with pytest.raises(ExceptionGroup) as raised:
        await call(servers(mode), era, tool)

    (error,) = raised.value.subgroup(MCPError).exceptions[0].exceptions
    assert error.error.code == types.INVALID_REQUEST
    assert f"Cannot send '{METHODS[tool]}'" in error.error.message
    assert "back-channel" in error.error.message


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("era", list(ERAS))
async def test_log_messages_reach_the_client(servers: Callable[[str], LiveServer], mode: str, era: str) -> None:
    """In the 2026-07-28 era a client asks for log messages per request (``log_level``)."""
    logs: list[str] = []
    result = await call(servers(mode), era, "chatty", logs, log_level="info")

    assert result.is_error is False, result
    assert logs == ["info: starting", "warning: almost done"]


async def test_above_the_requested_level_only_the_warning_arrives(servers: Callable[[str], LiveServer]) -> None:
    logs: list[str] = []
    await call(servers("stateless"), "2026-07-28", "chatty", logs, log_level="warning")

    assert logs == ["warning: almost done"]
