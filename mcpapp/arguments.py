"""Tools whose argument errors read as plain words, without pydantic's internals.

The SDK reports arguments that fail the input schema as ``ToolError("Error executing tool
<name>: <pydantic's ValidationError text>")``: model class names, input values and links to
pydantic's site. The model that called the tool needs only which argument is wrong and why.
"""

from __future__ import annotations

import time
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import ValidationError

from mcpdemo import metrics

from .tool_calls import note_crash


def describe(error: ValidationError) -> str:
    """``text: Field required; max_length: Input should be a valid integer``."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in problem["loc"]) or "arguments"
        problems.append(f"{where}: {problem['msg']}")
    return "; ".join(problems)


class ConciseTool(Tool):
    """An SDK ``Tool`` whose invalid-argument error names the arguments and nothing else."""

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        # Every call runs here, on the quick path and through the SDK's transport alike: the one
        # place a call is timed and counted.
        started = time.perf_counter()
        outcome = "cancelled"
        try:
            result = await super().run(arguments, context, convert_result)
            outcome = "ok"
            return result
        except UnexpectedToolError:
            note_crash()  # counted as "failed", not "tool error", in the usage
            outcome = "error"
            raise
        except ToolError as exc:
            # The caller's arguments, not a ValidationError from the tool's own body: pydantic titles
            # the error with the model that failed, here the SDK's model of the arguments.
            cause = exc.__cause__
            if isinstance(cause, ValidationError) and cause.title == self.fn_metadata.arg_model.__name__:
                outcome = "invalid_arguments"
                raise ToolError(f"Invalid arguments for tool {self.name}: {describe(cause)}") from None
            outcome = "error"
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            metrics.observe_tool_call(self.name, outcome, time.perf_counter() - started)


def concise(tool: Tool) -> ConciseTool:
    """The same tool, reporting argument errors concisely."""
    if isinstance(tool, ConciseTool):
        return tool
    return ConciseTool(**{field: getattr(tool, field) for field in Tool.model_fields})
