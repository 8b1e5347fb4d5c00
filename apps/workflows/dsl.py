"""The DSL's `workflow` section (dsl.md §2) for workflow and advanced-chat apps: normalising an
imported graph (legacy shapes, provider ids, knowledge references) with notes on what changed,
and the section as exported. apps.applications.dsl calls these for the two workflow modes and
keeps the version rules and the rest of the file."""

import copy
import uuid
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from apps.applications.dsl import plugin_id
from apps.providers.catalog import PROVIDERS, provider_id_of
from apps.providers.models import ProviderCredential
from apps.workflows import variables
from apps.workflows.engine.graph import GraphError, parse_nodes
from apps.workflows.engine.nodes import unsupported_reason
from apps.workflows.engine.nodes.tool import tool_problem
from apps.workflows.models import Workflow

MODEL_NODES = ("llm", "question-classifier", "parameter-extractor", "knowledge-retrieval", "agent")


class WorkflowImportError(ValueError):
    pass


def _dataset_exists(dataset_id: str) -> bool:
    try:
        from apps.datasets.models import Dataset
    except ImportError:  # knowledge not installed: nothing can be found
        return False
    return Dataset.objects.filter(pk=dataset_id).exists()


def normalise(section: Any, *, mode: str) -> tuple[dict[str, Any], list[str]]:
    """{graph, features, environment_variables, conversation_variables} ready for draft_sync, and
    notes for the import report. Raises WorkflowImportError for what cannot be imported at all."""
    if not isinstance(section, dict):
        raise WorkflowImportError(_("Missing workflow data for this %(mode)s app.") % {"mode": mode})
    graph = copy.deepcopy(section.get("graph") or {})
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes", []), list):
        raise WorkflowImportError(_("The workflow graph must be a mapping with a list of nodes."))
    graph.setdefault("nodes", [])
    graph.setdefault("edges", [])
    try:
        nodes = parse_nodes(graph)
    except GraphError as exc:
        raise WorkflowImportError(str(exc)) from None
    notes: list[str] = []
    by_id = {str(raw.get("id")): raw for raw in graph["nodes"] if isinstance(raw, dict)}
    providers_seen: set[str] = set()
    for node in nodes.values():
        data = by_id[node.id]["data"]
        reason = unsupported_reason(node.type)
        if reason:
            notes.append(_("Node %(title)s: %(reason)s") % {"title": node.title, "reason": reason})
        model = data.get("model") if node.type in MODEL_NODES else None
        if isinstance(model, dict) and isinstance(model.get("provider"), str) and model["provider"]:
            model["provider"] = provider_id_of(model["provider"])
            providers_seen.add(model["provider"])
        agent_model = ((data.get("agent_parameters") or {}).get("model") or {}) if node.type == "agent" else {}
        if isinstance(agent_model, dict) and isinstance(agent_model.get("value"), dict):
            # The Agent node's model sits in its strategy parameters (dsl.md §3.19).
            provider = agent_model["value"].get("provider")
            if isinstance(provider, str) and provider:
                agent_model["value"]["provider"] = provider_id_of(provider)
                providers_seen.add(agent_model["value"]["provider"])
        if node.type == "tool":
            data.pop("credential_id", None)
            if problem := tool_problem(data):
                notes.append(_("Node %(title)s: %(reason)s") % {"title": node.title, "reason": problem})
        if node.type == "knowledge-retrieval":
            kept = [d for d in data.get("dataset_ids") or [] if _is_uuid(d) and _dataset_exists(str(d))]
            if len(kept) != len(data.get("dataset_ids") or []):
                notes.append(_("Node %(title)s: knowledge bases that do not exist in this workspace were removed.")
                             % {"title": node.title})
            data["dataset_ids"] = kept
    for provider in sorted(providers_seen):
        spec = PROVIDERS.get(provider)
        if spec is None:
            notes.append(_("The model provider %(provider)s is not available in Tessera; choose another model.")
                         % {"provider": provider})
        elif spec.needs_credentials and not ProviderCredential.objects.filter(provider=provider).exists():
            notes.append(_("%(provider)s is not set up in this workspace yet; add it under Model providers.")
                         % {"provider": spec.label})
    try:
        env = variables.normalise(section.get("environment_variables") or [], kind="env")
        conversation = variables.normalise(section.get("conversation_variables") or [], kind="conversation")
    except variables.VariableDefinitionError as exc:
        raise WorkflowImportError(str(exc)) from None
    if any(v["value_type"] == "secret" and v["value"] == "" for v in env):
        notes.append(_("Secret environment variables were exported without their values; fill them in."))
    features = section.get("features") if isinstance(section.get("features"), dict) else {}
    return {"graph": graph, "features": features, "environment_variables": env,
            "conversation_variables": conversation if mode == "advanced-chat" else []}, notes


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def export_section(workflow: Workflow, *, include_secrets: bool) -> dict[str, Any]:
    graph = copy.deepcopy(workflow.graph)
    for raw in graph.get("nodes") or []:
        data = raw.get("data") if isinstance(raw, dict) else None
        if isinstance(data, dict) and data.get("type") in ("tool", "agent"):
            data.pop("credential_id", None)
    return {
        "graph": graph,
        "features": copy.deepcopy(workflow.features),
        "environment_variables": variables.exported(connection.schema_name, workflow.environment_variables,
                                                    include_secrets=include_secrets),
        "conversation_variables": copy.deepcopy(workflow.conversation_variables),
        "rag_pipeline_variables": [],
    }


def graph_dependencies(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """Marketplace dependencies of a graph: model providers of model nodes and builtin/plugin tools."""
    found: list[str] = []
    try:
        nodes = parse_nodes(graph or {})
    except GraphError:
        return []
    for node in nodes.values():
        model = node.data.get("model") if node.type in MODEL_NODES else None
        if isinstance(model, dict) and model.get("provider") and model.get("provider") != "local":
            found.append(str(model["provider"]))
        if node.type == "tool" and node.data.get("provider_type") in ("builtin", "plugin") and node.data.get(
                "provider_id"):
            found.append(str(node.data["provider_id"]))
    plugins = dict.fromkeys(plugin_id(p) for p in found)
    return [{"type": "marketplace", "value": {"marketplace_plugin_unique_identifier": plugin, "version": None},
             "current_identifier": None} for plugin in plugins]
