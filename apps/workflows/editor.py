"""What the canvas island (frontend/workflow-editor, built to static/js/workflow-editor.js) is given
by the page: the draft, the node types from the registry, its strings in the user's language and
the URLs it calls. The island holds no node definitions and no translations of its own."""

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

from apps.applications.models import App
from apps.workflows import services
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
                          "error_handling": item.error_handling, "data": item.new_data()})
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
        "i18n": strings(), "shortcuts": shortcuts(), "publish_form": "" if readonly else "wf-publish-form",
        "urls": {"draft": ws_reverse(request, "console:app_workflow_draft", app_id=app.pk)},
    }
