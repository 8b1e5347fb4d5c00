"""What the canvas island (frontend/workflow-editor, built to static/js/workflow-editor.js) is given
by the page: the draft, the node types from the registry, its strings in the user's language and
the URLs it calls. The island holds no node definitions and no translations of its own."""

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

from apps.applications.models import App
from apps.datasets.selectors import datasets_visible_to
from apps.providers.selectors import available_models
from apps.workflows import services, variables
from apps.workflows.engine.nodes import registry, unsupported_reason
from apps.workflows.models import Workflow
from apps.workspaces.urlutils import ws_reverse


def node_types(mode: str) -> list[dict[str, Any]]:
    """The registry as the editor reads it: every type it may draw, and which of them the palette
    offers in this app mode (only types the engine can run here)."""
    described = []
    for item in registry.TYPES.values():
        offered = item.palette and mode in item.modes and unsupported_reason(item.type) is None
        described.append({"type": item.type, "group": item.group, "label": str(item.label),
                          "description": str(item.description), "palette": offered,
                          "container": item.container, "only_in_container": item.only_in_container,
                          "error_handling": item.error_handling, "data": item.new_data(),
                          "form": [f.describe() for f in item.form if mode in f.modes],
                          "outputs": [list(o) for o in item.outputs]})
    return described


def strings() -> dict[str, str]:
    """Every string the island shows, translated here so Django's catalogues are the one source."""
    return {
        "toolbar": _("Workflow editor tools"), "add_node": _("Add node"), "add_note": _("Note"),
        "undo": _("Undo"), "redo": _("Redo"), "tidy": _("Tidy up"), "fit": _("Fit"),
        "shortcuts": _("Keyboard shortcuts"), "saved": _("All changes saved"), "saving": _("Saving…"),
        "unsaved": _("Unsaved changes"), "save_failed": _("The draft could not be saved."),
        "conflict": _("Someone else saved this draft after you opened it. Your last change was not saved; "
                      "reload to get their version."),
        "conflict_short": _("Not saved: the draft changed elsewhere"), "reload": _("Reload"),
        "checklist": _("Checklist"), "no_problems": _("No problems found."),
        "publish": _("Publish"), "publish_blocked": _("Fix these problems before publishing."),
        "palette": _("Node types"), "search_nodes": _("Search nodes"), "close": _("Close"),
        "insert_on_edge": _("Insert a node here"), "minimap": _("Mini map"),
        "a11y_nodes": _("Press Enter or Space to select a node; arrow keys move it, Delete removes it."),
        "inspector": _("Node settings"), "title": _("Title"), "description": _("Description"),
        "description_placeholder": _("What this step is for"), "cases": _("Cases"),
        "conditions_n": _("%(n)s conditions"), "remove": _("Remove"), "classes": _("Classes"),
        "class_n": _("Class %(n)s"), "add_class": _("Add class"), "error_handling": _("Error handling"),
        "on_error": _("When the node fails"), "on_error_stop": _("Stop the run"),
        "on_error_default": _("Go on with default values"), "on_error_branch": _("Follow the fail branch"),
        "retry": _("Retry on failure"), "max_retries": _("Attempts"), "retry_interval": _("Interval (ms)"),
        "fields": _("Settings (JSON)"),
        "fields_hint": _("Every other field of this node, as in the DSL file. Changes apply when you "
                         "leave the box."),
        "invalid_json": _("That is not a JSON object; the change was not applied."),
        "success": _("Success"), "fail_branch": _("Fail branch"), "has_problems": _("This node has problems"),
        "note": _("Note"), "note_placeholder": _("Write a note…"),
        "theme_yellow": _("Yellow"), "theme_blue": _("Blue"), "theme_green": _("Green"),
        "theme_pink": _("Pink"), "theme_violet": _("Violet"), "iteration_hint": _("Runs once per item"),
        "loop_hint": _("Repeats until the condition holds"),
        "status_running": _("Running"), "status_succeeded": _("Succeeded"), "status_failed": _("Failed"),
        "status_exception": _("Exception"), "status_stopped": _("Stopped"), "status_idle": _("Not run"),
        "stop": _("Stop"), "stopping": _("Stopping…"), "step_test": _("Test this node"),
        "step_hint": _("Runs this node alone on the saved draft, with the values you give for what it "
                       "reads."),
        "step_none": _("This node reads no variables."), "step_run": _("Run this node"),
        "step_running": _("Running…"), "step_failed": _("The node could not be run."),
        "preview": _("Preview"),
        "preview_hint": _("Chat with the draft. Preview conversations stay out of the logs."),
        "message": _("Message"), "send": _("Send"), "new_conversation": _("New conversation"),
        "conversation_variables": _("Conversation variables"), "no_conversation_variables": _(
            "This chatflow has no conversation variables."), "you": _("You"), "bot": _("Answer"),
        "inputs": _("Inputs"), "run_failed": _("The run failed."),
    }


def picker_strings() -> dict[str, str]:
    return {
        "choose_variable": _("Choose a variable…"), "insert_variable": _("Insert a variable…"),
        "dangling": _("Refers to a variable that is not upstream of this node (or a node that no "
                      "longer exists)."),
        "system_vars": _("System"), "env_vars": _("Environment"), "conversation_vars": _("Conversation"),
        "add": _("Add"), "variable_name": _("Name"), "label": _("Label"), "type": _("Type"),
        "required": _("Required"), "options_csv": _("Options, comma-separated"), "role": _("Role"),
        "add_message": _("Add message"), "choose_model": _("Choose a model…"),
        "temperature": _("Temperature"),
        "max_tokens": _("Max tokens"), "no_models": _("No model is configured in this workspace yet."),
        "search_datasets": _("Search knowledge bases"),
        "no_datasets": _("This workspace has no knowledge base yet."),
        "add_condition": _("Add condition"), "and": _("and"), "or": _("or"), "value": _("Value"),
        "more_settings": _("More settings (JSON)"), "case_n": _("Case %(n)s"),
        "settings": _("Variables and features"), "env_short": _("Environment variables"),
        "tab_env": _("Environment"), "tab_conversation": _("Conversation"), "tab_features": _("Features"),
        "env_hint": _("Constants for every run, read as env.NAME. Secret values are stored encrypted and "
                      "never shown again."),
        "conversation_hint": _("Values kept for each conversation, read as conversation.NAME and written "
                               "by Variable Assigner nodes."),
        "opener": _("Opening statement"), "suggested_questions": _("Suggested questions"),
        "follow_ups": _("Suggest follow-up questions after each answer"), "file_upload": _("File upload"),
        "citations": _("Citations"), "speech_to_text": _("Speech to text"),
        "text_to_speech": _("Text to speech"),
        "moderation": _("Moderation"),
        "last_run": _("Last run"), "run_inputs": _("Inputs"), "run_process": _("Process data"),
        "run_outputs": _("Outputs"), "tokens_n": _("%(n)s tokens"),
    }


def shortcuts() -> list[tuple[str, str]]:
    return [("Shift+A", _("Add node")), ("Shift+N", _("Add a note")), ("Ctrl+Z", _("Undo")),
            ("Ctrl+Shift+Z / Ctrl+Y", _("Redo")), ("Ctrl+C", _("Copy")), ("Ctrl+V", _("Paste")),
            ("Ctrl+D", _("Duplicate")), ("Ctrl+A", _("Select all")), ("Delete / Backspace", _("Delete")),
            ("Shift+drag", _("Select an area")), ("Ctrl+click", _("Add to the selection")),
            ("Ctrl+Shift+L", _("Tidy up")), ("Shift+1", _("Fit to screen")), ("?", _("Show these shortcuts"))]


def readonly_reason(role_label: str) -> str:
    return _("Read only: your role (%(role)s) may view this workflow but not change it. Ask an owner, "
             "admin or editor of the workspace to give you the Editor role.") % {"role": role_label}


def config(request: HttpRequest, app: App, draft: Workflow, *, readonly: str = "") -> dict[str, Any]:
    """The island's JSON config (rendered with json_script, so it is inert text in the page)."""
    user = request.user
    return {
        "graph": draft.graph, "updated_at": draft.updated_at.isoformat(), "mode": app.mode,
        "types": node_types(app.mode),
        "groups": [{"id": key, "label": str(label)} for key, label in registry.GROUPS],
        "checklist": services.checklist_items(draft.graph, app.mode), "readonly": readonly,
        "user": getattr(user, "name", "") or getattr(user, "email", ""),
        "i18n": {**strings(), **picker_strings()}, "shortcuts": shortcuts(),
        "publish_form": "" if readonly else "wf-publish-form",
        "urls": {"draft": ws_reverse(request, "console:app_workflow_draft", app_id=app.pk),
                 # The step test needs the edit permission, like saving the draft.
                 "step": "" if readonly else ws_reverse(request, "console:app_workflow_step", app_id=app.pk,
                                                         node_id="__node__"),
                 "run": "" if readonly else ws_reverse(request, "console:app_workflow_run", app_id=app.pk),
                 "stop": "" if readonly else ws_reverse(request, "console:app_workflow_stop", app_id=app.pk,
                                                         task_id="00000000-0000-0000-0000-000000000000"),
                 "preview_variables": "" if readonly else ws_reverse(
                     request, "console:app_workflow_preview_variables", app_id=app.pk,
                     conversation_id="00000000-0000-0000-0000-000000000000")},
        "models": models(), "datasets": datasets(request),
        "operators": {kind: list(ops) for kind, ops in registry.OPERATORS.items()},
        "unary_operators": list(registry.UNARY_OPERATORS),
        "variables": global_variables(app.mode, draft),
        # Secret values never reach the page: masked, and a mask saved back keeps the stored secret.
        "environment_variables": variables.masked(draft.environment_variables or []),
        "conversation_variables": draft.conversation_variables or [], "features": draft.features or {},
    }


def models() -> list[dict[str, Any]]:
    """The workspace's configured models the pickers offer, grouped by type."""
    return [{"provider": m.provider, "provider_label": m.provider_label, "name": m.model, "label": m.label,
             "model_type": str(m.spec.model_type), "mode": str(m.spec.mode), "vision": m.spec.vision,
             "max_tokens": m.spec.max_tokens}
            for m in available_models()]


def datasets(request: HttpRequest) -> list[dict[str, Any]]:
    return [{"id": str(d.pk), "name": d.name, "description": d.description}
            for d in datasets_visible_to(getattr(request, "membership", None)).order_by("name")]


SYSTEM = (("files", "array[file]"), ("user_id", "string"), ("app_id", "string"), ("workflow_id", "string"),
          ("workflow_run_id", "string"), ("timestamp", "number"))
CHAT_SYSTEM = (("query", "string"), ("conversation_id", "string"), ("dialogue_count", "number"))


def global_variables(mode: str, draft: Workflow) -> list[dict[str, Any]]:
    """sys.*, env.* and conversation.* variables the picker offers everywhere (secrets by name only)."""
    found = [{"node": "sys", "name": name, "type": kind}
             for name, kind in (CHAT_SYSTEM + SYSTEM if mode == App.Mode.ADVANCED_CHAT else SYSTEM)]
    found += [{"node": "env", "name": v.get("name"), "type": v.get("value_type")}
              for v in draft.environment_variables or [] if isinstance(v, dict)]
    found += [{"node": "conversation", "name": v.get("name"), "type": v.get("value_type")}
              for v in draft.conversation_variables or [] if isinstance(v, dict)]
    return found
