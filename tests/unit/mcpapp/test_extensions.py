"""``MCPDEMO_MCP_EXTENSIONS``: callables run on the MCPServer after the tools, and their system check."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcpapp.checks import check_extensions
from mcpapp.server import create_mcp_server, load_extension

NOT_CALLABLE = "a module attribute that is not callable"
CALLED: list[str] = []


def add_a_resource_and_a_prompt(server: MCPServer) -> None:
    """An extension as a deployer would write one: the SDK's public decorators."""
    CALLED.append("first")

    @server.resource("demo://motd", mime_type="text/plain")
    def motd() -> str:
        """Message of the day."""
        return "Hello from an extension."

    @server.prompt()
    def greet(name: str) -> str:
        """Greet someone."""
        return f"Say hello to {name}."


def record_the_tools_seen(server: MCPServer) -> None:
    """Runs second: sees the configured tools already registered."""
    CALLED.append("second")


@pytest.fixture(autouse=True)
def _forget_calls() -> None:
    CALLED.clear()


def test_load_extension_returns_the_callable() -> None:
    assert load_extension(f"{__name__}.add_a_resource_and_a_prompt") is add_a_resource_and_a_prompt


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module.extend", "cannot import 'no_such_module.extend'"),
        (f"{__name__}.missing", f"cannot import '{__name__}.missing'"),
        (f"{__name__}.NOT_CALLABLE", "is not callable"),
        ("not-a-dotted-path", "cannot import"),
    ],
)
def test_load_extension_refuses_what_is_not_an_importable_callable(path: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="MCPDEMO_MCP_EXTENSIONS") as raised:
        load_extension(path)

    assert message in str(raised.value)


async def test_the_configured_extensions_run_in_order_after_the_tools(settings: Any) -> None:
    settings.MCPDEMO_MCP_EXTENSIONS = [f"{__name__}.add_a_resource_and_a_prompt", f"{__name__}.record_the_tools_seen"]

    server = create_mcp_server()

    assert CALLED == ["first", "second"]
    async with Client(server) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        resources = [str(resource.uri) for resource in (await client.list_resources()).resources]
        text = (await client.read_resource("demo://motd")).contents[0].text
        prompt = await client.get_prompt("greet", {"name": "Ada"})

    assert tools == {"slugify", "countdown"}
    assert resources == ["demo://motd"]
    assert text == "Hello from an extension."
    assert prompt.messages[0].content.text == "Say hello to Ada."


async def test_no_extensions_by_default() -> None:
    async with Client(create_mcp_server()) as client:
        assert (await client.list_resources()).resources == []
        assert (await client.list_prompts()).prompts == []


def test_explicit_extensions_replace_the_configured_ones(settings: Any) -> None:
    settings.MCPDEMO_MCP_EXTENSIONS = [f"{__name__}.add_a_resource_and_a_prompt"]

    create_mcp_server(extensions=[record_the_tools_seen])

    assert CALLED == ["second"]


def test_the_check_reports_each_unimportable_extension(settings: Any) -> None:
    settings.MCPDEMO_MCP_EXTENSIONS = [
        f"{__name__}.add_a_resource_and_a_prompt",
        "no_such_module.extend",
        f"{__name__}.NOT_CALLABLE",
    ]

    messages = check_extensions()

    assert [message.id for message in messages] == ["mcpapp.E004", "mcpapp.E004"]
    assert "no_such_module.extend" in messages[0].msg
    assert "is not callable" in messages[1].msg


def test_the_check_passes_without_extensions(settings: Any) -> None:
    settings.MCPDEMO_MCP_EXTENSIONS = []

    assert check_extensions() == []
