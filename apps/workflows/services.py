"""Writes for workflow apps: create, sync the draft graph, publish, restore a version."""

import copy
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from apps.applications.models import App, AppVersion
from apps.workflows import variables
from apps.workflows.engine.graph import GraphError, parse_nodes
from apps.workflows.engine.nodes import unsupported_reason
from apps.workflows.engine.nodes.tool import tool_problem
from apps.workflows.engine.nodes.external import knowledge_config_problem
from apps.workflows.models import DRAFT, Workflow

WORKFLOW_MODES = (App.Mode.WORKFLOW, App.Mode.ADVANCED_CHAT)

DEFAULT_FEATURES: dict[str, Any] = {
    "opening_statement": "", "suggested_questions": [], "suggested_questions_after_answer": {"enabled": False},
    "speech_to_text": {"enabled": False}, "text_to_speech": {"enabled": False, "language": "", "voice": ""},
    "retriever_resource": {"enabled": False}, "sensitive_word_avoidance": {"enabled": False, "type": "", "configs": []},
    "file_upload": {"enabled": False, "allowed_file_types": ["image"], "allowed_file_extensions": [],
                    "allowed_file_upload_methods": ["local_file", "remote_url"], "number_limits": 3,
                    "image": {"enabled": False, "number_limits": 3, "transfer_methods": ["local_file", "remote_url"]}},
}


class DraftConflict(Exception):
    """The draft changed since the editor loaded it (another tab or member saved)."""

    def __init__(self, draft: Workflow) -> None:
        super().__init__("draft changed")
        self.draft = draft


def default_graph(mode: str) -> dict[str, Any]:
    """A new app's graph: Start → End (workflow) or Start → LLM → Answer (chatflow)."""
    def node(node_id: str, data: dict[str, Any], x: int) -> dict[str, Any]:
        return {"id": node_id, "type": "custom", "data": data, "position": {"x": x, "y": 280}}

    def edge(source: str, target: str) -> dict[str, Any]:
        return {"id": f"{source}-source-{target}-target", "source": source, "sourceHandle": "source",
                "target": target, "targetHandle": "target", "type": "custom"}

    start = node("start", {"type": "start", "title": _("Start"), "variables": []}, 80)
    if mode == App.Mode.WORKFLOW:
        end = node("end", {"type": "end", "title": _("End"), "outputs": []}, 400)
        return {"nodes": [start, end], "edges": [edge("start", "end")], "viewport": {"x": 0, "y": 0, "zoom": 1}}
    llm = node("llm", {"type": "llm", "title": "LLM", "model": {"provider": "", "name": "", "mode": "chat",
                                                                 "completion_params": {"temperature": 0.7}},
                       "prompt_template": [{"role": "system", "text": ""}],
                       "memory": {"window": {"enabled": False, "size": 10},
                                  "query_prompt_template": "{{#sys.query#}}"},
                       "context": {"enabled": False, "variable_selector": []},
                       "vision": {"enabled": False}}, 400)
    answer = node("answer", {"type": "answer", "title": _("Answer"), "answer": "{{#llm.text#}}"}, 720)
    return {"nodes": [start, llm, answer], "edges": [edge("start", "llm"), edge("llm", "answer")],
            "viewport": {"x": 0, "y": 0, "zoom": 1}}


@transaction.atomic
def workflow_app_create(*, name: str, mode: str, actor_id: int | None = None, description: str = "",
                        icon: str = "🤖", icon_background: str = "#E4EEF9", graph: dict[str, Any] | None = None,
                        features: dict[str, Any] | None = None, environment_variables: Any = None,
                        conversation_variables: Any = None) -> App:
    name = name.strip()
    if not name:
        raise ValidationError(_("An app needs a name."))
    if mode not in WORKFLOW_MODES:
        raise ValidationError(_("Unsupported app mode: %(mode)s") % {"mode": mode})
    app = App.objects.create(name=name[:120], mode=mode, description=description, icon=icon or "🤖",
                             icon_background=icon_background or "#E4EEF9", draft_config={}, created_by_id=actor_id)
    draft_sync(app=app, graph=graph if graph is not None else default_graph(mode), features=features,
               environment_variables=environment_variables, conversation_variables=conversation_variables,
               actor_id=actor_id)
    return app


def _definitions(raw: Any, kind: str) -> list[dict[str, Any]]:
    try:
        return variables.normalise(raw, kind=kind)
    except variables.VariableDefinitionError as exc:
        raise ValidationError(str(exc)) from None


@transaction.atomic
def draft_sync(*, app: App, graph: dict[str, Any], features: dict[str, Any] | None = None,
               environment_variables: Any = None, conversation_variables: Any = None,
               actor_id: int | None = None, base_updated_at: str | None = None) -> Workflow:
    """Replace the draft (the JSON an editor saves). Secret env values stay encrypted; a masked
    secret keeps its stored value. With `base_updated_at` (the draft's updated_at the editor
    loaded), a save based on an older draft raises DraftConflict instead of overwriting the newer one."""
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes", []), list) or not isinstance(
            graph.get("edges", []), list):
        raise ValidationError(_("The graph must be a mapping with lists of nodes and edges."))
    try:
        parse_nodes(graph)
    except GraphError as exc:
        raise ValidationError(str(exc)) from None
    draft = Workflow.objects.select_for_update().filter(app=app, version=DRAFT).first()
    # The row lock above makes the comparison and the write one step: of two editors saving on
    # the same base, the second sees the first one's updated_at and is refused.
    if base_updated_at is not None and draft is not None and draft.updated_at.isoformat() != base_updated_at:
        raise DraftConflict(draft)
    env = _definitions(environment_variables, "env")
    conversation = _definitions(conversation_variables, "conversation") if app.mode == App.Mode.ADVANCED_CHAT else []
    env = variables.seal(connection.schema_name, env, draft.environment_variables if draft else None)
    merged_features = {**copy.deepcopy(DEFAULT_FEATURES), **(features or {})}
    if draft is None:
        draft = Workflow(app=app, version=DRAFT, created_by_id=actor_id)
    draft.graph, draft.features = graph, merged_features
    draft.environment_variables, draft.conversation_variables = env, conversation
    draft.save()
    App.objects.filter(pk=app.pk).update(updated_at=draft.updated_at)
    return draft


@transaction.atomic
def publish(*, app: App, actor_id: int | None = None, name: str = "") -> Workflow:
    """Copy the draft into a new published version; the API runs it from now on (WF-27)."""
    draft = Workflow.objects.select_for_update().filter(app=app, version=DRAFT).first()
    if draft is None:
        raise ValidationError(_("There is no draft to publish."))
    version = str(datetime.now(tz=UTC).replace(tzinfo=None))
    workflow = Workflow.objects.create(app=app, version=version, graph=copy.deepcopy(draft.graph),
                                       features=copy.deepcopy(draft.features),
                                       environment_variables=copy.deepcopy(draft.environment_variables),
                                       conversation_variables=copy.deepcopy(draft.conversation_variables),
                                       marked_name=name[:255], created_by_id=actor_id)
    # The Studio's version numbers and "published" badge follow apps' AppVersion rows; for a
    # workflow app the row holds the published features (so code that reads app.live_config, like
    # suggested questions and speech, sees them) and points at the published graph.
    locked = App.objects.select_for_update().get(pk=app.pk)
    number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    locked.published = AppVersion.objects.create(
        app=locked, number=number, config={**copy.deepcopy(workflow.features), "workflow_id": str(workflow.pk),
                                            "workflow_version": version},
        note=name[:255], created_by_id=actor_id)
    locked.save(update_fields=["published", "updated_at"])
    app.published = locked.published
    return workflow


@transaction.atomic
def restore(*, app: App, workflow: Workflow) -> Workflow:
    """Overwrite the draft with a published version (WF-28)."""
    if workflow.app_id != app.pk:
        raise ValidationError(_("That version belongs to another app."))
    draft = Workflow.objects.select_for_update().get(app=app, version=DRAFT)
    draft.graph, draft.features = copy.deepcopy(workflow.graph), copy.deepcopy(workflow.features)
    draft.environment_variables = copy.deepcopy(workflow.environment_variables)
    draft.conversation_variables = copy.deepcopy(workflow.conversation_variables)
    draft.save()
    return draft


def checklist(graph: dict[str, Any], mode: str) -> list[str]:
    """Problems to fix before running or publishing (WF-25), as sentences."""
    return [item["message"] for item in checklist_items(graph, mode)]


def checklist_items(graph: dict[str, Any], mode: str) -> list[dict[str, Any]]:
    """The checklist with the node each problem belongs to ({node_id, message}; node_id is None for
    the whole workflow), so the canvas can mark the nodes: unsupported or misplaced nodes, nodes not
    connected to the start, a missing model, an empty required field."""
    from apps.workflows.engine.graph import Graph

    problems: list[dict[str, Any]] = []

    def add(node_id: str | None, message: str) -> None:
        problems.append({"node_id": node_id, "message": message})

    try:
        nodes = parse_nodes(graph)
        top = Graph.parse(graph)
    except GraphError as exc:
        return [{"node_id": None, "message": str(exc)}]
    if not any(n.type == "start" for n in nodes.values()):
        add(None, _("The workflow has no Start node."))
    for node in nodes.values():
        label = node.title
        reason = unsupported_reason(node.type)
        if reason:
            add(node.id, f"{label}: {reason}")
        if node.parent_id is None and node.id not in top.nodes:
            add(node.id, _("%(node)s is not connected to the Start node.") % {"node": label})
        if mode == App.Mode.WORKFLOW and node.type == "answer":
            add(node.id, _("%(node)s: Answer nodes belong to chatflows.") % {"node": label})
        if mode == App.Mode.ADVANCED_CHAT and node.type == "end":
            add(node.id, _("%(node)s: End nodes belong to workflows.") % {"node": label})
        if node.type in ("llm", "question-classifier", "parameter-extractor"):
            model = node.data.get("model") or {}
            if not model.get("provider") or not model.get("name"):
                add(node.id, _("%(node)s: no model is selected.") % {"node": label})
        if node.type == "http-request" and not node.data.get("url"):
            add(node.id, _("%(node)s: the URL is empty.") % {"node": label})
        if node.type == "knowledge-retrieval" and not node.data.get("dataset_ids"):
            add(node.id, _("%(node)s: no knowledge base is selected.") % {"node": label})
        if node.type == "knowledge-retrieval" and (problem := knowledge_config_problem(node.data)):
            add(node.id, f"{label}: {problem}")
        if node.type == "tool" and (problem := tool_problem(node.data)):
            add(node.id, f"{label}: {problem}")
        if node.type == "code" and not node.data.get("code"):
            add(node.id, _("%(node)s: the code is empty.") % {"node": label})
    terminal = "end" if mode == App.Mode.WORKFLOW else "answer"
    if not any(n.type == terminal for n in nodes.values()):
        add(None, _("The workflow has no %(node)s node.") % {"node": terminal.capitalize()})
    return problems


@transaction.atomic
def workflow_app_duplicate(*, app: App, actor_id: int | None = None, name: str | None = None) -> App:
    """A copy of the app with its draft (secrets stay encrypted: same workspace, same key)."""
    draft = Workflow.objects.filter(app=app, version=DRAFT).first()
    copy_app = App.objects.create(name=(name or _("%(name)s (copy)") % {"name": app.name})[:120], mode=app.mode,
                                  description=app.description, icon=app.icon, icon_background=app.icon_background,
                                  draft_config={}, created_by_id=actor_id)
    if draft is not None:
        Workflow.objects.create(app=copy_app, version=DRAFT, graph=copy.deepcopy(draft.graph),
                                features=copy.deepcopy(draft.features),
                                environment_variables=copy.deepcopy(draft.environment_variables),
                                conversation_variables=copy.deepcopy(draft.conversation_variables),
                                created_by_id=actor_id)
    return copy_app


_TYPE_NAMES = {bool: "boolean", int: "number", float: "number", str: "string", dict: "object", list: "array"}


def conversation_variable_set(row: Any, value: Any) -> Any:
    """A new value for a chatflow conversation variable; raises ValueError on a type mismatch."""
    expected = "number" if row.value_type in ("integer", "float") else row.value_type
    if not variables._fits(expected, value):
        got = _TYPE_NAMES.get(type(value), type(value).__name__)
        raise ValueError(f"Type mismatch: variable expects {expected}, but got {got} type")
    row.value = value
    row.save(update_fields=["value", "updated_at"])
    return row
