"""The tool runtime: turn an app's or a node's tool entries into callable handles.

    handles = available_tools(workspace, config["agent_mode"]["tools"])
    handle.name, handle.description, handle.parameters_schema()   # for the model
    messages = await handle.invoke({"query": "..."}, context=ToolContext(app_id=...))

A spec is the reference's tool entry (dsl.md §3.13, §4): provider_type builtin|plugin|api|workflow|mcp,
provider_id (a bare name `time`, a plugin id `langgenius/time/time`, or a uuid for api/workflow/mcp),
provider_name, tool_name, and the form values in tool_parameters / tool_configurations.

Resolving reads the database (sync, in the workspace's schema) and decrypts the credentials once;
invoking is async and touches the database only to keep produced files. Every outbound call goes
through apps.core.outbound, and each call is bounded by TOOL_CALL_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from apps.tools.entities import (
    RawFile,
    ToolContext,
    ToolInvokeError,
    ToolMessage,
    ToolParameter,
    ToolUnavailable,
)

logger = logging.getLogger(__name__)

Runner = Callable[[dict[str, Any], ToolContext], Awaitable[Sequence[ToolMessage | RawFile]]]
PROVIDER_TYPES = ("builtin", "api", "workflow", "mcp")

__all__ = ["ToolHandle", "ToolInvokeError", "ToolMessage", "ToolContext", "ToolUnavailable",
           "available_tools", "resolve_tool", "normalise_spec"]


@dataclasses.dataclass
class ToolHandle:
    """A resolved tool, ready to call. `form_values` were set by the app; the model fills the rest."""

    provider_type: str
    provider_id: str
    provider_name: str
    name: str
    label: str
    description: str
    parameters: tuple[ToolParameter, ...]
    form_values: dict[str, Any]
    workspace_schema: str
    workspace_id: Any
    run: Runner = dataclasses.field(repr=False)
    # The tool's own JSON Schema when it has one richer than the parameters (MCP tools).
    input_schema: dict[str, Any] | None = None

    def llm_parameters(self) -> list[ToolParameter]:
        return [p for p in self.parameters if p.form == "llm" and p.type != "file"]

    def parameters_schema(self) -> dict[str, Any]:
        """JSON Schema of the parameters the model fills (function calling's `parameters`)."""
        if self.input_schema:
            fixed = set(self.form_values)
            given = self.input_schema.get("properties") or {}
            properties = {k: v for k, v in given.items() if k not in fixed}
            return {"type": "object", "properties": properties,
                    "required": [r for r in self.input_schema.get("required") or [] if r in properties]}
        params = self.llm_parameters()
        return {"type": "object", "properties": {p.name: p.json_schema() for p in params},
                "required": [p.name for p in params if p.required]}

    def prepare_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Defaults, then the app's form values, then the model's arguments; coerced and checked."""
        if not isinstance(arguments, dict):
            raise ToolInvokeError("The tool arguments must be a JSON object.")
        values: dict[str, Any] = {}
        for param in self.parameters:
            if param.form == "form" and param.name in self.form_values:
                value = self.form_values[param.name]
            elif param.name in arguments:
                value = arguments[param.name]
            elif param.name in self.form_values:
                value = self.form_values[param.name]
            else:
                value = param.default
            if value is None or value == "":
                if param.required:
                    raise ToolInvokeError(f"Missing required parameter: {param.name}.")
                if value is None:
                    continue
            values[param.name] = coerce(param, value)
        known = {p.name for p in self.parameters}
        # Tools that declare no schema for some inputs (MCP, workflow tools) still receive them.
        values.update({k: v for k, v in arguments.items() if k not in known and not self.parameters})
        return values

    async def invoke(self, arguments: dict[str, Any], *, context: Any = None) -> list[ToolMessage]:
        """Call the tool; failures (bad arguments, the service's errors, timeouts) raise ToolInvokeError."""
        context = as_context(context)
        values = self.prepare_arguments(arguments or {})
        timeout = float(getattr(settings, "TOOL_CALL_TIMEOUT", 60))
        try:
            produced = await asyncio.wait_for(self.run(values, context), timeout)
        except ToolInvokeError:
            raise
        except TimeoutError:
            raise ToolInvokeError(
                f"The tool {self.name} did not answer within {timeout:g} seconds.") from None
        except Exception as exc:  # a tool's own bug must not break the turn that called it
            logger.exception("tool %s/%s failed", self.provider_name, self.name)
            raise ToolInvokeError(f"The tool {self.name} failed: {exc}") from None
        messages: list[ToolMessage] = []
        for item in produced:
            if isinstance(item, RawFile):
                messages.append(await _store(self, item, context.app_id))
            else:
                messages.append(item)
        return messages


def coerce(param: ToolParameter, value: Any) -> Any:
    """A parameter value as its declared type (models and forms often send numbers as strings)."""
    if param.type == "number":
        if isinstance(value, bool):
            raise ToolInvokeError(f"{param.name} must be a number.")
        if isinstance(value, (int, float)):
            return value
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ToolInvokeError(f"{param.name} must be a number, not {value!r}.") from None
        return int(number) if number.is_integer() and "." not in str(value) else number
    if param.type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off", ""):
            return False
        raise ToolInvokeError(f"{param.name} must be true or false, not {value!r}.")
    if param.type == "select":
        text = str(value)
        if param.options and text not in {o.value for o in param.options}:
            allowed = ", ".join(o.value for o in param.options)
            raise ToolInvokeError(f"{param.name} must be one of: {allowed}.")
        return text
    if param.type == "file":
        return value
    return value if isinstance(value, str) else (value if isinstance(value, (dict, list)) else str(value))


def as_context(context: Any) -> ToolContext:
    """A ToolContext from one, or from any object with app_id/user_id (a workflow run's context)."""
    if isinstance(context, ToolContext):
        return context
    if context is None:
        return ToolContext()
    user = getattr(context, "user_id", None)
    conversation = getattr(context, "conversation_id", None)
    app = getattr(context, "app_id", None)
    return ToolContext(app_id=str(app) if app else None, user_id=str(user) if user else None,
                       conversation_id=str(conversation) if conversation else None)


async def _store(handle: ToolHandle, raw: RawFile, app_id: str | None) -> ToolMessage:
    from channels.db import database_sync_to_async

    from apps.tools import files

    if not app_id:
        return files.inline(raw)

    def call() -> ToolMessage:  # as apps.workspaces.sync.run_in_tenant, with the handle's schema
        with schema_context(handle.workspace_schema):
            return files.store(raw, app_id, handle.workspace_id)

    return await database_sync_to_async(call)()


# --- Specs ----------------------------------------------------------------------------------------


def normalise_spec(spec: dict[str, Any]) -> tuple[str, str, str]:
    """(provider_type, provider_id, tool_name) of a reference tool entry: plugin ids and `plugin`
    providers become the bare built-in name (`langgenius/time/time` → `time`)."""
    kind = str(spec.get("provider_type") or "builtin")
    provider_id = str(spec.get("provider_id") or spec.get("provider_name") or "")
    if kind == "plugin":
        kind = "builtin"
    if kind == "builtin" and "/" in provider_id:
        provider_id = provider_id.rstrip("/").rsplit("/", 1)[-1]
    return kind, provider_id, str(spec.get("tool_name") or "")


def form_values(spec: dict[str, Any]) -> dict[str, Any]:
    """The app's values for form parameters: tool_parameters (agent apps) and tool_configurations
    (Tool nodes), with the node's `{type: constant, value}` wrapping taken off."""
    values: dict[str, Any] = {}
    for key in ("tool_parameters", "tool_configurations"):
        for name, value in (spec.get(key) or {}).items() if isinstance(spec.get(key), dict) else ():
            wrapped = isinstance(value, dict) and "value" in value
            if wrapped and value.get("type") in ("constant", "mixed", None):
                value = value["value"]
            elif isinstance(value, dict) and value.get("type") == "variable":
                continue  # resolved by the caller (a workflow node) at run time
            values[str(name)] = value
    return values


def _workspace(workspace: Any) -> Any:
    """The given workspace, else the one whose schema is active (schema_context leaves a stand-in
    without an id on the connection, so the row is looked up then)."""
    if workspace is not None:
        return workspace
    current = getattr(connection, "tenant", None)
    if getattr(current, "pk", None) is not None:
        return current
    from apps.workspaces.models import Workspace

    schema = connection.schema_name
    with schema_context(get_public_schema_name()):
        return Workspace.objects.get(schema_name=schema)


def resolve_tool(workspace: Any, spec: dict[str, Any]) -> ToolHandle:
    """The handle of one tool entry; ToolUnavailable (with the reason) if it cannot be used.
    Sync: call it in a worker thread from async code."""
    from apps.tools import loaders

    kind, provider_id, tool_name = normalise_spec(spec)
    if kind not in PROVIDER_TYPES:
        raise ToolUnavailable(f"Tools of type {kind!r} are not supported.")
    if not tool_name:
        raise ToolUnavailable("The tool entry names no tool.")
    workspace = _workspace(workspace)
    with tenant_context(workspace):
        return loaders.LOADERS[kind](workspace, provider_id, str(spec.get("provider_name") or ""),
                                     tool_name, form_values(spec))


def unavailable_reason(spec: dict[str, Any]) -> str | None:
    """Why a tool entry cannot be used in the current workspace schema (None: it can). For import
    reports and the workflow checklist."""
    try:
        resolve_tool(None, spec)
    except ToolUnavailable as exc:
        return str(exc)
    return None


def available_tools(workspace: Any, specs: Iterable[dict[str, Any]]) -> list[ToolHandle]:
    """Handles for the usable entries of `specs`; disabled, deleted, unknown or unauthorised tools
    (and legacy dataset entries) are left out and logged. `workspace` None: the current schema."""
    handles = []
    for spec in specs or []:
        if not isinstance(spec, dict) or spec.get("enabled") is False or spec.get("isDeleted"):
            continue
        if "dataset" in spec and "tool_name" not in spec:
            continue  # a legacy knowledge entry: the agent runtime handles datasets itself
        try:
            handles.append(resolve_tool(workspace, spec))
        except ToolUnavailable as exc:
            logger.info("tool %s/%s left out: %s", spec.get("provider_id"), spec.get("tool_name"), exc)
    return handles
