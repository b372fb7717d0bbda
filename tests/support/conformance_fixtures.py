"""The conformance suite's fixtures, as an ``MCPDEMO_MCP_EXTENSIONS`` entry. Test-only.

``tests/e2e/test_conformance.py`` starts servers with
``MCPDEMO_MCP_EXTENSIONS=tests.support.conformance_fixtures.register`` (and
``JSON_SCHEMA_2020_12_TOOL`` added to ``MCPDEMO_MCP_TOOLS``) so that every server scenario of
``@modelcontextprotocol/conformance`` finds the tools, resources, prompts and behaviours it
calls by name. The product never loads this module.

Everything goes through the SDK's public API: ``add_tool``, the ``resource`` / ``prompt`` /
``completion`` decorators, ``Context`` (progress, logs, elicitation, input responses) and,
for the handshake-era methods ``MCPServer`` has no API for (``logging/setLevel``,
``resources/subscribe``, ``resources/unsubscribe``), one server middleware.
"""

from __future__ import annotations

import base64
import json
import warnings
import weakref
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    AudioContent,
    Completion,
    CompletionArgument,
    CompletionContext,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    ImageContent,
    InputRequest,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    LoggingLevel,
    PromptReference,
    ResourceTemplateReference,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

# A 1x1 PNG and a WAV header with two bytes of silence: the smallest valid media.
PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
STEP_SECONDS = 0.05
LOG_LEVELS: tuple[LoggingLevel, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)


async def legacy(call: Callable[[], Awaitable[Any]]) -> Any:
    """Await a handshake-era API the SDK marks deprecated (logging, sampling) without its warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        return await call()


# --- Tools: content types -----------------------------------------------------------


async def test_simple_text() -> str:
    """Returns one text block."""
    return "This is a simple text response for testing."


async def test_image_content() -> list[ImageContent]:
    """Returns one PNG image block."""
    return [ImageContent(type="image", data=PNG_BASE64, mime_type="image/png")]


async def test_audio_content() -> list[AudioContent]:
    """Returns one WAV audio block."""
    return [AudioContent(type="audio", data=WAV_BASE64, mime_type="audio/wav")]


async def test_embedded_resource() -> list[EmbeddedResource]:
    """Returns one embedded text resource."""
    resource = TextResourceContents(
        uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
    )
    return [EmbeddedResource(type="resource", resource=resource)]


async def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
    """Returns text, an image and an embedded JSON resource."""
    resource = TextResourceContents(
        uri="test://mixed-content-resource", mime_type="application/json", text='{"test": "data", "value": 123}'
    )
    return [
        TextContent(type="text", text="Multiple content types test:"),
        ImageContent(type="image", data=PNG_BASE64, mime_type="image/png"),
        EmbeddedResource(type="resource", resource=resource),
    ]


async def test_error_handling() -> str:
    """Always fails: the call's result is a tool error."""
    raise ToolError("This tool intentionally returns an error for testing")


# --- Tools: talking to the client during a call -------------------------------------

_levels: weakref.WeakKeyDictionary[Any, LoggingLevel] = weakref.WeakKeyDictionary()


async def log(ctx: Context, level: LoggingLevel, message: str) -> None:
    """A log notification, unless the session asked for a higher level with ``logging/setLevel``."""
    threshold = _levels.get(ctx.session, "debug")
    if LOG_LEVELS.index(level) >= LOG_LEVELS.index(threshold):
        await legacy(lambda: ctx.log(level, message))


async def test_tool_with_logging(ctx: Context) -> str:
    """Sends three info log notifications, 50 ms apart."""
    await log(ctx, "info", "Tool execution started")
    await anyio.sleep(STEP_SECONDS)
    await log(ctx, "info", "Tool processing data")
    await anyio.sleep(STEP_SECONDS)
    await log(ctx, "info", "Tool execution completed")
    return "Tool with logging executed successfully"


async def test_tool_with_progress(ctx: Context) -> str:
    """Reports progress 0, 50 and 100 of 100, 50 ms apart."""
    for step in (0, 50, 100):
        await ctx.report_progress(step, 100, f"Completed step {step} of 100")
        if step < 100:
            await anyio.sleep(STEP_SECONDS)
    return "Progress reported: 0, 50, 100 of 100"


async def test_sampling(prompt: str, ctx: Context) -> str:
    """Asks the client's model to answer ``prompt`` (sampling/createMessage)."""
    message = SamplingMessage(role="user", content=TextContent(type="text", text=prompt))
    result = await legacy(
        lambda: ctx.session.create_message(messages=[message], max_tokens=100, related_request_id=ctx.request_id)
    )
    text = result.content.text if result.content.type == "text" else f"<{result.content.type}>"
    return f"LLM response: {text}"


class UserDetails(BaseModel):
    username: str = Field(description="User's response")
    email: str = Field(description="User's email address")


async def test_elicitation(message: str, ctx: Context) -> str:
    """Asks the user for a username and an email address (elicitation/create)."""
    result = await ctx.elicit(message=message, schema=UserDetails)
    content = result.data.model_dump_json() if result.action == "accept" else "{}"
    return f"User response: action={result.action}, content={content}"


class Defaults(BaseModel):
    name: str = Field(default="John Doe", description="User name")
    age: int = Field(default=30, description="User age")
    score: float = Field(default=95.5, description="User score")
    status: str = Field(
        default="active", description="User status", json_schema_extra={"enum": ["active", "inactive", "pending"]}
    )
    verified: bool = Field(default=True, description="Verification status")


async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    """Elicits a form whose every primitive field has a default (SEP-1034)."""
    result = await ctx.elicit(message="Please provide user information", schema=Defaults)
    content = result.data.model_dump_json() if result.action == "accept" else "{}"
    return f"Elicitation completed: action={result.action}, content={content}"


def _choices(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"const": value, "title": title} for value, title in pairs]


class Enums(BaseModel):
    untitledSingle: str = Field(  # noqa: N815 - the suite's field names
        description="Untitled single-select", json_schema_extra={"enum": ["option1", "option2", "option3"]}
    )
    titledSingle: str = Field(  # noqa: N815
        description="Titled single-select",
        json_schema_extra={"oneOf": _choices(("value1", "First Option"), ("value2", "Second Option"))},
    )
    legacyEnum: str = Field(  # noqa: N815
        description="Legacy titled enum",
        json_schema_extra={"enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
    )
    untitledMulti: list[str] = Field(  # noqa: N815
        description="Untitled multi-select",
        json_schema_extra={"items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
    )
    titledMulti: list[str] = Field(  # noqa: N815
        description="Titled multi-select",
        json_schema_extra={"items": {"anyOf": _choices(("value1", "First Choice"), ("value2", "Second Choice"))}},
    )


async def test_elicitation_sep1330_enums(ctx: Context) -> str:
    """Elicits a form with the five enum shapes of SEP-1330."""
    result = await ctx.elicit(message="Please choose from each list", schema=Enums)
    content = result.data.model_dump_json() if result.action == "accept" else "{}"
    return f"Elicitation completed: action={result.action}, content={content}"


async def test_reconnection(ctx: Context) -> str:
    """Closes its SSE stream mid-call, for the client to resume it (SEP-1699)."""
    await log(ctx, "info", "Before disconnect")
    await ctx.close_sse_stream()
    await anyio.sleep(0.2)
    await log(ctx, "info", "After reconnect")
    return "Reconnection test completed"


async def test_missing_capability(ctx: Context) -> str:
    """Needs the client's sampling capability; without it, a -32021 JSON-RPC error (SEP-2575)."""
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.sampling is None:
        raise MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message="This tool requires the client's sampling capability",
            data={"requiredCapabilities": {"sampling": {}}},
        )
    return "The client declared sampling."


async def test_x_mcp_header(
    region: Annotated[
        str, Field(description="Mirrored in the Mcp-Param-Region header", json_schema_extra={"x-mcp-header": "Region"})
    ] = "none",
) -> str:
    """Has an argument carried in a custom header too (SEP-2243)."""
    return f"region={region}"


# --- Tools: input-required results (2026-07-28, SEP-2322) ----------------------------


def _ask(message: str, field: str, kind: str = "string") -> ElicitRequest:
    schema = {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))


def _sample(text: str, max_tokens: int) -> CreateMessageRequest:
    message = SamplingMessage(role="user", content=TextContent(type="text", text=text))
    return CreateMessageRequest(params=CreateMessageRequestParams(messages=[message], max_tokens=max_tokens))


def _answer(ctx: Context, key: str) -> Any:
    return (ctx.input_responses or {}).get(key)


def _accepted(answer: Any, field: str) -> Any:
    return answer.content.get(field) if isinstance(answer, ElicitResult) and answer.content else None


async def test_input_required_result_elicitation(ctx: Context) -> str | InputRequiredResult:
    """Asks for the user's name through the client, then greets them."""
    name = _accepted(_answer(ctx, "user_name"), "name")
    if name is None:
        return InputRequiredResult(input_requests={"user_name": _ask("What is your name?", "name")})
    return f"Hello, {name}!"


async def test_input_required_result_sampling(ctx: Context) -> str | InputRequiredResult:
    """Asks the client's model a question, then repeats its answer."""
    answer = _answer(ctx, "capital_question")
    if not isinstance(answer, CreateMessageResult):
        return InputRequiredResult(input_requests={"capital_question": _sample("What is the capital of France?", 100)})
    return f"Model said: {answer.content.text if answer.content.type == 'text' else answer.content.type}"


async def test_input_required_result_list_roots(ctx: Context) -> str | InputRequiredResult:
    """Asks for the client's roots, then counts them."""
    answer = _answer(ctx, "client_roots")
    if not isinstance(answer, ListRootsResult):
        return InputRequiredResult(input_requests={"client_roots": ListRootsRequest()})
    return f"Client exposed {len(answer.roots)} root(s): {', '.join(str(root.uri) for root in answer.roots)}"


async def test_input_required_result_request_state(ctx: Context) -> str | InputRequiredResult:
    """Round-trips a request state: complete only when it comes back unchanged."""
    if _answer(ctx, "confirm") is not None and ctx.request_state == "confirm-pending":
        return "state-ok: confirmation received"
    return InputRequiredResult(
        input_requests={"confirm": _ask("Please confirm", "ok", "boolean")}, request_state="confirm-pending"
    )


async def test_input_required_result_multiple_inputs(ctx: Context) -> str | InputRequiredResult:
    """Asks for a name, a sampled greeting and the roots at once."""
    if {"user_name", "greeting", "client_roots"} <= set(ctx.input_responses or {}):
        return "All inputs received."
    return InputRequiredResult(
        input_requests={
            "user_name": _ask("What is your name?", "name"),
            "greeting": _sample("Generate a greeting", 50),
            "client_roots": ListRootsRequest(),
        },
        request_state="multiple-inputs",
    )


async def test_input_required_result_multi_round(ctx: Context) -> str | InputRequiredResult:
    """Three rounds: a name, then a colour, then the result; the state says which round it is."""
    state = json.loads(ctx.request_state) if ctx.request_state else {"round": 0}
    name = _accepted(_answer(ctx, "step1"), "name")
    color = _accepted(_answer(ctx, "step2"), "color")
    if state["round"] == 1 and name is not None:
        return InputRequiredResult(
            input_requests={"step2": _ask("Step 2: What is your favorite color?", "color")},
            request_state=json.dumps({"round": 2, "name": name}),
        )
    if state["round"] == 2 and color is not None:
        return f"{state['name']} likes {color}."
    return InputRequiredResult(
        input_requests={"step1": _ask("Step 1: What is your name?", "name")}, request_state=json.dumps({"round": 1})
    )


async def test_input_required_result_tampered_state(ctx: Context) -> str | InputRequiredResult:
    """Hands out a request state; the SDK's sealing rejects it if it comes back altered."""
    if ctx.request_state is None:
        return InputRequiredResult(
            input_requests={"confirm": _ask("Please confirm", "ok", "boolean")}, request_state="round-1"
        )
    return f"state-ok: {ctx.request_state}"


async def test_input_required_result_capabilities(ctx: Context) -> InputRequiredResult:
    """Asks only for what the client declared it can answer."""
    capabilities = ctx.client_capabilities
    requests: dict[str, InputRequest] = {}
    if capabilities is None or capabilities.sampling is not None:
        requests["sample"] = _sample("Say hello", 50)
    if capabilities is None or capabilities.elicitation is not None:
        requests["ask"] = _ask("What is your name?", "name")
    return InputRequiredResult(input_requests=requests, request_state="capability-gated")


# --- Tools: list changes (2026-07-28 subscriptions/listen) ---------------------------


def make_list_change_tools(server: MCPServer) -> list[Callable[..., Awaitable[str]]]:
    async def dynamic() -> str:
        """Exists only for a moment."""
        return "dynamic"

    async def test_trigger_tool_change(ctx: Context) -> str:
        """Adds and removes a tool, then announces that the tool list changed."""
        server.add_tool(dynamic, name="test_dynamic_tool")
        server.remove_tool("test_dynamic_tool")
        await ctx.notify_tools_changed()
        return "tool list changed"

    async def test_trigger_prompt_change(ctx: Context) -> str:
        """Announces that the prompt list changed."""
        await ctx.notify_prompts_changed()
        return "prompt list changed"

    return [test_trigger_tool_change, test_trigger_prompt_change]


# --- A tool whose input schema uses JSON Schema 2020-12 (SEP-1613, SEP-2106) ----------

JSON_SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "address",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


async def json_schema_2020_12_tool() -> str:
    """Tool with JSON Schema 2020-12 features."""
    return "json_schema_2020_12_tool"


# No MCPServer.add_tool argument sets an input schema, so this one is a Tool for
# MCPDEMO_MCP_TOOLS, its schema replaced through pydantic's public model_copy.
JSON_SCHEMA_2020_12_TOOL = Tool.from_function(json_schema_2020_12_tool).model_copy(
    update={"parameters": JSON_SCHEMA_2020_12}
)


# --- Handshake-era methods MCPServer has no API for ---------------------------------


async def handshake_era_methods(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """``logging/setLevel`` and resource (un)subscription before 2026-07-28, and their
    capabilities in the ``initialize`` result; everything else passes through."""
    if ctx.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS or ctx.request_id is None:
        return await call_next(ctx)
    if ctx.method == "logging/setLevel":
        _levels[ctx.session] = SetLevelRequestParams.model_validate(ctx.params or {}).level
        return {}
    if ctx.method == "resources/subscribe":
        SubscribeRequestParams.model_validate(ctx.params or {})
        return {}
    if ctx.method == "resources/unsubscribe":
        UnsubscribeRequestParams.model_validate(ctx.params or {})
        return {}
    result = await call_next(ctx)
    if ctx.method == "initialize" and isinstance(result, dict):
        capabilities = result.setdefault("capabilities", {})
        capabilities["logging"] = {}
        capabilities.setdefault("resources", {})["subscribe"] = True
    return result


# --- Registration -------------------------------------------------------------------

TOOLS: tuple[Callable[..., Awaitable[Any]], ...] = (
    test_simple_text,
    test_image_content,
    test_audio_content,
    test_embedded_resource,
    test_multiple_content_types,
    test_error_handling,
    test_tool_with_logging,
    test_tool_with_progress,
    test_sampling,
    test_elicitation,
    test_elicitation_sep1034_defaults,
    test_elicitation_sep1330_enums,
    test_reconnection,
    test_missing_capability,
    test_x_mcp_header,
    test_input_required_result_elicitation,
    test_input_required_result_sampling,
    test_input_required_result_list_roots,
    test_input_required_result_request_state,
    test_input_required_result_multiple_inputs,
    test_input_required_result_multi_round,
    test_input_required_result_tampered_state,
    test_input_required_result_capabilities,
)


def register(server: MCPServer) -> None:
    """Add every fixture the suite's server scenarios call (``MCPDEMO_MCP_EXTENSIONS`` entry)."""
    for tool in (*TOOLS, *make_list_change_tools(server)):
        server.add_tool(tool, structured_output=False)
    register_resources(server)
    register_prompts(server)

    @server.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        """Suggestions for a prompt or template argument: those of a few words that start with the typed value."""
        words = ("paris", "park", "party", "test", "testing")
        values = [word for word in words if word.startswith(argument.value)]
        return Completion(values=values, total=len(values), has_more=False)

    server.middleware.append(handshake_era_methods)


def register_resources(server: MCPServer) -> None:
    @server.resource("test://static-text", mime_type="text/plain")
    def static_text() -> str:
        """A static text resource."""
        return "This is the content of the static text resource."

    @server.resource("test://static-binary", mime_type="image/png")
    def static_binary() -> bytes:
        """A static binary resource (a PNG image)."""
        return base64.b64decode(PNG_BASE64)

    @server.resource("test://template/{id}/data", mime_type="application/json")
    def template(id: str) -> str:  # noqa: A002 - the template's parameter name
        """A resource template: the id substituted into JSON."""
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.resource("test://watched-resource", mime_type="text/plain")
    def watched() -> str:
        """A resource a client can subscribe to."""
        return "Watched resource content"


def register_prompts(server: MCPServer) -> None:
    @server.prompt()
    def test_simple_prompt() -> list[UserMessage]:
        """A prompt without arguments."""
        return [UserMessage(content=TextContent(type="text", text="This is a simple prompt for testing."))]

    @server.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
        """A prompt with two required arguments."""
        text = f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
        return [UserMessage(content=TextContent(type="text", text=text))]

    @server.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:  # noqa: N803 - the suite's name
        """A prompt that embeds the resource it is given."""
        resource = TextResourceContents(
            uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
        )
        return [
            UserMessage(content=EmbeddedResource(type="resource", resource=resource)),
            UserMessage(content=TextContent(type="text", text="Please process the embedded resource above.")),
        ]

    @server.prompt()
    def test_prompt_with_image() -> list[UserMessage]:
        """A prompt with an image."""
        return [
            UserMessage(content=ImageContent(type="image", data=PNG_BASE64, mime_type="image/png")),
            UserMessage(content=TextContent(type="text", text="Please analyze the image above.")),
        ]

    @server.prompt()
    async def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | InputRequiredResult:
        """A prompt that first asks the user for context (SEP-2322 outside tools/call)."""
        context = _accepted(_answer(ctx, "user_context"), "context")
        if context is None:
            return InputRequiredResult(
                input_requests={"user_context": _ask("What context should the prompt use?", "context")}
            )
        return [UserMessage(content=TextContent(type="text", text=f"Use the following context: {context}"))]
