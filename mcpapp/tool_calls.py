"""The one place every tool listing and tool call passes: permissions, then usage counting.

:class:`ToolCallMiddleware` is an SDK ``ServerMiddleware`` (the SDK's public hook around
every inbound request), so it sees the same thing on every path: stateful and stateless,
both protocol eras, the SDK's transport and the single-exchange quick path.

- ``tools/list`` leaves out the tools the caller may not use, and ``initialize`` /
  ``server/discover`` the server instructions' summary of them;
- ``tools/call`` of such a tool is a JSON-RPC error (``-32602``, "not available to this
  account", nothing about what it does) and an audit event;
- every ``tools/call`` is counted (:func:`mcpapp.usage.record`): user, client, tool,
  outcome (ok, tool error, refused, failed) and duration.
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from mcpdemo.logs import OUTAGES

from . import permissions, usage
from .auth import UserAccessToken
from .conf import SWITCHES
from .models import Outcome

logger = logging.getLogger(__name__)

UNKNOWN_TOOL = "(unknown)"  # usage of names the server does not offer is counted under this one
UNAVAILABLE_CODE = -32000  # JSON-RPC server error: the grants could not be read (try again)
INSTRUCTED_METHODS = frozenset({"initialize", "server/discover"})
# The outcomes as plain strings (an enum member lookup per call costs more than the dict update).
OK, TOOL_ERROR, REFUSED, FAILED = (str(Outcome.OK), str(Outcome.TOOL_ERROR), str(Outcome.REFUSED), str(Outcome.FAILED))


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def not_available(tool_name: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=f"The tool {tool_name} is not available to this account.")


@dataclass
class CallRecord:
    """What a tool's own code tells the middleware (``mcpapp.arguments.ConciseTool``): it crashed."""

    crashed: bool = False


CURRENT_CALL: contextvars.ContextVar[CallRecord | None] = contextvars.ContextVar("mcpapp_current_call", default=None)


def note_crash() -> None:
    record = CURRENT_CALL.get()
    if record is not None:
        record.crashed = True


def request_token(ctx: ServerRequestContext[Any, Any]) -> UserAccessToken | None:
    """The token of the HTTP request that carried this message (``None`` for one without ours)."""
    request = ctx.request
    scope = getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    token = user.access_token if isinstance(user, AuthenticatedUser) else None
    return token if isinstance(token, UserAccessToken) else None


class ToolCallMiddleware(ServerMiddleware[Any]):
    def __init__(self, server: MCPServer, instructions_for: Any) -> None:
        self.server = server
        self.instructions_for = instructions_for  # [(name, summary)] -> the server's instructions
        self._tools: dict[str, str] | None = None  # name -> summary line, read once from the server

    async def tools(self) -> dict[str, str]:
        if self._tools is None:
            listed = await self.server.list_tools()
            self._tools = {tool.name: first_line(tool.description) for tool in listed}
        return self._tools

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        method = ctx.method
        if method == "tools/call":
            if SWITCHES.tool_permissions or SWITCHES.usage_counting:
                return await self.call(ctx, call_next)
        elif method == "tools/list":
            return await self.list(ctx, call_next)
        elif method in INSTRUCTED_METHODS:
            return await self.instruct(ctx, call_next)
        return await call_next(ctx)

    async def access(
        self, ctx: ServerRequestContext[Any, Any], token: UserAccessToken | None
    ) -> permissions.ToolAccess:
        if ctx.request is None:
            return permissions.EVERY_TOOL  # in-process use of the server, not /mcp
        known = permissions.known_access(token)
        if known is not None:
            return known  # the usual case: no await
        try:
            return await permissions.access_for(token)
        except DatabaseError as exc:
            OUTAGES.log(logger, logging.ERROR, "tool-permissions", "tool permissions unreadable: %s", exc)
            raise MCPError(code=UNAVAILABLE_CODE, message="Temporarily unavailable: try again shortly.") from None

    async def list(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        access = await self.access(ctx, request_token(ctx))
        result = await call_next(ctx)
        if access.hidden and isinstance(result, dict) and isinstance(result.get("tools"), list):
            result = {**result, "tools": [tool for tool in result["tools"] if access.allows(tool.get("name"))]}
        return result

    async def instruct(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        access = await self.access(ctx, request_token(ctx))
        result = await call_next(ctx)
        if access.hidden and isinstance(result, dict) and result.get("instructions"):
            tools = await self.tools()
            # Only the instructions this server wrote from its tools; an extension's own text stays.
            if result["instructions"] == self.instructions_for(list(tools.items())):
                allowed = [(name, summary) for name, summary in tools.items() if access.allows(name)]
                result = {**result, "instructions": self.instructions_for(allowed)}
                if result["instructions"] is None:
                    del result["instructions"]
        return result

    async def call(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        started = time.perf_counter()
        params = ctx.params
        name = params.get("name") if params else None
        token = request_token(ctx)
        tools = self._tools if self._tools is not None else await self.tools()
        outcome = FAILED
        record = CallRecord()
        reset = CURRENT_CALL.set(record)
        try:
            access = permissions.known_access(token) if ctx.request is not None else permissions.EVERY_TOOL
            if access is None:
                access = await self.access(ctx, token)
            if isinstance(name, str) and name in access.hidden:
                outcome = REFUSED
                permissions.note_refusal(token, name)
                raise not_available(name)
            result = await call_next(ctx)
            if record.crashed:
                outcome = FAILED
            elif isinstance(result, dict) and result.get("isError") is True:
                outcome = TOOL_ERROR
            else:
                outcome = OK
            return result
        finally:
            CURRENT_CALL.reset(reset)
            if token is not None:
                counted = name if isinstance(name, str) and name in tools else UNKNOWN_TOOL
                usage.record(token.user_id, token.application_id, counted, outcome, time.perf_counter() - started)
