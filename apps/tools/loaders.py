"""From a provider reference to a ToolHandle, one loader per provider type (sync, in the schema).

api, workflow and mcp providers are found by id and, failing that, by name: an imported app keeps
the ids of the workspace it was exported from, while the name is what the user recognises.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from apps.tools.entities import ToolUnavailable
from apps.tools.runtime import ToolHandle

Loader = Callable[[Any, str, str, str, dict[str, Any]], ToolHandle]


def by_id_or_name(model: Any, provider_id: str, provider_name: str) -> Any:
    """A workspace's provider row by uuid, else by name (the current schema)."""
    row = None
    try:
        row = model.objects.filter(pk=uuid.UUID(provider_id)).first()
    except ValueError:
        pass
    for name in (provider_name, provider_id):
        if row is None and name:
            row = model.objects.filter(name=name).first()
    return row


def load_builtin(workspace: Any, provider_id: str, provider_name: str, tool_name: str,
                 values: dict[str, Any]) -> ToolHandle:
    from apps.tools import services
    from apps.tools.builtin import PROVIDERS
    from apps.tools.builtin.base import Call

    provider = PROVIDERS.get(provider_id) or PROVIDERS.get(provider_name)
    if provider is None:
        raise ToolUnavailable(f"There is no built-in tool provider {provider_id!r}.")
    tool = provider.tool(tool_name)
    if tool is None:
        raise ToolUnavailable(f"The provider {provider.name} has no tool {tool_name!r}.")
    credentials = services.builtin_credentials(provider.name)
    if provider.fallback is not None and (fallback := provider.fallback()):
        credentials = {**fallback, **{k: v for k, v in (credentials or {}).items() if v}}
    if credentials is None and provider.needs_credentials:
        raise ToolUnavailable(f"The provider {provider.name} is not authorised in this workspace.")

    async def run(params: dict[str, Any], context: Any) -> Any:
        return await tool.run(params, Call(credentials=credentials or {}, context=context))

    return ToolHandle("builtin", provider.name, provider.name, tool.name, str(tool.label),
                      tool.llm_description, tool.parameters, values, workspace.schema_name, workspace.pk, run)


def load_api(workspace: Any, provider_id: str, provider_name: str, tool_name: str,
             values: dict[str, Any]) -> ToolHandle:
    from apps.tools import api_call, services
    from apps.tools.entities import ToolParameter
    from apps.tools.models import ApiToolProvider

    provider = by_id_or_name(ApiToolProvider, provider_id, provider_name)
    if provider is None:
        raise ToolUnavailable(f"There is no custom tool provider {provider_name or provider_id!r}.")
    tool = next((t for t in provider.tools if t["operation_id"] == tool_name), None)
    if tool is None:
        raise ToolUnavailable(f"The custom tool provider {provider.name} has no operation {tool_name!r}.")
    endpoint = services.api_endpoint(provider)

    async def run(params: dict[str, Any], context: Any) -> Any:
        return await api_call.call(endpoint, tool, params)

    parameters = tuple(ToolParameter.from_dict(p) for p in tool.get("parameters") or [])
    return ToolHandle("api", str(provider.pk), provider.name, tool["operation_id"], tool["operation_id"],
                      tool.get("description") or tool["operation_id"], parameters, values,
                      workspace.schema_name, workspace.pk, run)


def load_mcp(workspace: Any, provider_id: str, provider_name: str, tool_name: str,
             values: dict[str, Any]) -> ToolHandle:
    from apps.tools import mcp_client, services
    from apps.tools.models import McpServer

    server = by_id_or_name(McpServer, provider_id, provider_name)
    if server is None:
        raise ToolUnavailable(f"There is no MCP server {provider_name or provider_id!r}.")
    tool = next((t for t in server.tools if t.get("name") == tool_name), None)
    if tool is None:
        raise ToolUnavailable(f"The MCP server {server.name} has no tool {tool_name!r} (refresh its tools?).")
    url, transport, headers = server.server_url, server.transport, services.mcp_headers(server)

    async def run(params: dict[str, Any], context: Any) -> Any:
        return await mcp_client.call_tool(url, transport, headers, tool_name, params)

    schema = tool.get("input_schema") or {}
    description = tool.get("description") or tool_name
    return ToolHandle("mcp", str(server.pk), server.name, tool_name, tool_name, description,
                      mcp_client.parameters(schema), values, workspace.schema_name, workspace.pk, run,
                      input_schema={"type": "object", **schema})


def load_workflow(workspace: Any, provider_id: str, provider_name: str, tool_name: str,
                  values: dict[str, Any]) -> ToolHandle:
    from apps.tools import workflow_tool
    from apps.tools.models import WorkflowToolProvider
    from apps.workflows import runner, selectors

    provider = by_id_or_name(WorkflowToolProvider, provider_id, provider_name or tool_name)
    if provider is None:
        raise ToolUnavailable(f"There is no workflow tool {provider_name or tool_name!r}.")
    workflow = selectors.published(provider.app)
    if workflow is None:
        raise ToolUnavailable(f"The workflow of the tool {provider.name} is not published.")
    parameters = workflow_tool.parameters(runner.start_variables(workflow.graph), provider.parameters)
    app_id = str(provider.app_id)

    async def run(params: dict[str, Any], context: Any) -> Any:
        return await workflow_tool.run(workspace, app_id, params)

    return ToolHandle("workflow", str(provider.pk), provider.name, provider.name, provider.label,
                      provider.description or provider.label, parameters, values, workspace.schema_name,
                      workspace.pk, run)


LOADERS: dict[str, Loader] = {
    "builtin": load_builtin,
    "api": load_api,
    "workflow": load_workflow,
    "mcp": load_mcp,
}
