"""The agent settings of the orchestrate page (AG-05..AG-07): which tools can be added, and the
posted agent_mode checked against them."""

from typing import Any

from django.utils.translation import gettext as _

from apps.applications.agent.runner import DEFAULT_MAX_ITERATION, FUNCTION_CALL, MAX_ITERATION, REACT
from apps.tools.builtin import PROVIDERS
from apps.tools.entities import ToolParameter
from apps.tools.models import ApiToolProvider, BuiltinCredential, McpServer, WorkflowToolProvider

MAX_TOOLS = 20
MAX_VALUE = 2000


def _choice(kind: str, provider_id: Any, provider_name: str, tool_name: str, *, provider_label: str, label: str,
            icon: str, description: str, authorized: bool = True, params: Any = ()) -> dict[str, Any]:
    return {"key": f"{kind}:{provider_id}:{tool_name}", "provider_type": kind, "provider_id": str(provider_id),
            "provider_name": provider_name, "tool_name": tool_name, "provider_label": provider_label,
            "label": label, "icon": icon, "description": description, "authorized": authorized,
            "params": [p.as_dict() for p in params if p.form == "form"]}


def tool_choices() -> list[dict[str, Any]]:
    """The tools the picker offers (in the workspace schema): built-in ones, with whether their
    provider is authorised here, then the workspace's custom (OpenAPI) tools, MCP servers' tools
    and workflow tools; each with the form parameters the app fills."""
    authorised = set(BuiltinCredential.objects.values_list("provider", flat=True))
    choices = []
    for provider in PROVIDERS.values():
        ready = not provider.needs_credentials or provider.name in authorised
        choices += [_choice("builtin", provider.name, provider.name, tool.name, provider_label=str(provider.label),
                            label=str(tool.label), icon=provider.icon, description=str(tool.description),
                            authorized=ready, params=tool.parameters) for tool in provider.tools]
    for api in ApiToolProvider.objects.all():
        choices += [_choice("api", api.pk, api.name, str(t["operation_id"]), provider_label=api.name,
                            label=str(t["operation_id"]), icon=api.icon, description=str(t.get("description") or ""),
                            params=[ToolParameter.from_dict(p) for p in t.get("parameters") or []])
                    for t in api.tools if isinstance(t, dict) and t.get("operation_id")]
    for server in McpServer.objects.all():
        choices += [_choice("mcp", server.pk, server.name, str(t["name"]), provider_label=server.name,
                            label=str(t["name"]), icon="🔌", description=str(t.get("description") or ""))
                    for t in server.tools if isinstance(t, dict) and t.get("name")]
    for flow in WorkflowToolProvider.objects.all():
        choices.append(_choice("workflow", flow.pk, flow.name, flow.name, provider_label=flow.label or flow.name,
                               label=flow.label or flow.name, icon="🔀", description=flow.description))
    return choices


def clean_agent_mode(submitted: Any, current: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    """agent_mode from the page: strategy, iteration limit, and tools the workspace offers with
    their form values. Entries the picker does not know (imported tools of other types) are kept."""
    agent = dict(current.get("agent_mode") or {})
    agent["enabled"] = True
    if not isinstance(submitted, dict):
        return agent
    agent["strategy"] = submitted.get("strategy") if submitted.get("strategy") in (FUNCTION_CALL, REACT) else (
        agent.get("strategy") or FUNCTION_CALL)
    try:
        iterations = int(submitted.get("max_iteration", agent.get("max_iteration", DEFAULT_MAX_ITERATION)))
    except (TypeError, ValueError):
        iterations = DEFAULT_MAX_ITERATION
        errors.append(_("The maximum number of iterations must be a whole number."))
    agent["max_iteration"] = max(1, min(MAX_ITERATION, iterations))
    known = {c["key"]: c for c in tool_choices()}
    tools: list[dict[str, Any]] = []
    for entry in (submitted.get("tools") if isinstance(submitted.get("tools"), list) else [])[:MAX_TOOLS]:
        if not isinstance(entry, dict):
            continue
        key = f"{entry.get('provider_type')}:{entry.get('provider_id')}:{entry.get('tool_name')}"
        choice = known.get(key)
        if choice is None:
            previous = next((t for t in agent.get("tools") or [] if isinstance(t, dict)
                             and f"{t.get('provider_type')}:{t.get('provider_id')}:{t.get('tool_name')}" == key), None)
            if previous is not None:
                tools.append({**previous, "enabled": bool(entry.get("enabled", True))})
            continue
        given = entry.get("tool_parameters") if isinstance(entry.get("tool_parameters"), dict) else {}
        values = {}
        for param in choice["params"]:
            value = given.get(param["name"], param["default"])
            values[param["name"]] = "" if value is None else str(value)[:MAX_VALUE]
            options = [o["value"] for o in param["options"]]
            if options and values[param["name"]] and values[param["name"]] not in options:
                errors.append(_("%(tool)s: %(value)s is not an option of %(param)s.")
                              % {"tool": choice["label"], "value": values[param["name"]], "param": param["label"]})
        tools.append({"enabled": bool(entry.get("enabled", True)), "isDeleted": False, "notAuthor": False,
                      "provider_type": choice["provider_type"], "provider_id": choice["provider_id"],
                      "provider_name": choice["provider_name"], "tool_name": choice["tool_name"],
                      "tool_label": choice["label"], "tool_parameters": values})
    agent["tools"] = tools
    return agent
