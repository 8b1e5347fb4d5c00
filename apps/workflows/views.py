"""Console → workflow app → Workflow: the graph (read-only SVG view; the draft is also a JSON API
an editor can drive), the checklist, a run panel that streams node results live, run history
with per-node detail, publish with version history and restore (WF-22…WF-28).

Debug runs use the draft, are stored with triggered_from="debugging" and stay out of the logs.
"""

import json
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.applications.models import App
from apps.core.errors import ServiceError, error_response, invalid_param
from apps.providers.runtime.errors import RuntimeModelError
from apps.workflows import editor, runner, selectors, services, variables
from apps.workflows import status as status_labels
from apps.workflows.engine.graph import parse_nodes
from apps.workflows.models import Workflow, WorkflowRun
from apps.workspaces import roles
from apps.workspaces.decorators import require_perm
from apps.workspaces.roles import Perm
from apps.workspaces.sync import run_in_tenant
from apps.workspaces.urlutils import ws_reverse

PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def _app(app_id: Any) -> App:
    """A workflow or chatflow app of this workspace; anything else is a 404."""
    return get_object_or_404(App, pk=app_id, mode__in=services.WORKFLOW_MODES)


def _draft(app: App) -> Workflow:
    draft = selectors.draft(app)
    if draft is None:
        draft = services.draft_sync(app=app, graph=services.default_graph(app.mode))
    return draft


@require_perm(Perm.WORKSPACE_VIEW)
def workflow_page(request: HttpRequest, app_id: Any) -> HttpResponse:
    """The canvas. Members who may not edit apps see it read-only, with the reason."""
    app = _app(app_id)
    role = request.membership.role
    can_edit = roles.has_perm(role, Perm.APPS_EDIT)
    draft = selectors.draft(app) if not can_edit else _draft(app)
    if draft is None:  # nothing saved yet and this member may not create the draft
        draft = Workflow(app=app, graph=services.default_graph(app.mode))
        draft.updated_at = app.updated_at
    published = selectors.published(app)
    readonly = "" if can_edit else editor.readonly_reason(str(roles.Role(role).label))
    context: dict[str, Any] = {
        "app": app, "tab": "orchestrate", "can_edit": can_edit,
        "can_logs": roles.has_perm(role, Perm.APPS_LOGS), "draft": draft, "published": published,
        "editor": editor.config(request, app, draft, readonly=readonly),
        "unpublished": (published is None or published.graph != draft.graph
                        or published.features != draft.features),
    }
    if can_edit:
        context.update({
            "versions": selectors.versions(app)[:20],
            "runs": selectors.runs(app, triggered_from=WorkflowRun.TriggeredFrom.DEBUGGING, limit=20),
            "panel": {
                "inputs": runner.start_variables(draft.graph), "chat": app.mode == App.Mode.ADVANCED_CHAT,
                "statuses": status_labels.labels(), "badges": status_labels.BADGES,
                "urls": {"run": ws_reverse(request, "console:app_workflow_run", app_id=app.pk),
                         "stop": ws_reverse(request, "console:app_workflow_stop", app_id=app.pk,
                                            task_id=PLACEHOLDER),
                         "detail": ws_reverse(request, "console:app_workflow_run_detail", app_id=app.pk,
                                              run_id=PLACEHOLDER)},
            },
        })
    return render(request, "workflows/workflow.html", context)


@require_perm(Perm.APPS_EDIT)
def version_page(request: HttpRequest, app_id: Any, workflow_id: Any) -> HttpResponse:
    """A published version on the canvas, read-only, with the button that restores it to the draft."""
    app = _app(app_id)
    version = get_object_or_404(Workflow.objects.exclude(version="draft"), pk=workflow_id, app=app)
    reason = _("You are looking at the version published %(date)s. Restore it to the draft to change it.") % {
        "date": date_format(localtime(version.created_at), "SHORT_DATETIME_FORMAT")}
    return render(request, "workflows/workflow.html", {
        "app": app, "tab": "orchestrate", "can_edit": True,
        "can_logs": roles.has_perm(request.membership.role, Perm.APPS_LOGS), "viewing": version,
        "published": selectors.published(app), "editor": editor.config(request, app, version, readonly=reason)})


@require_perm(Perm.APPS_EDIT)
@require_http_methods(["GET", "POST"])
def draft_json(request: HttpRequest, app_id: Any) -> JsonResponse:
    """GET the draft as JSON; POST {graph, features, environment_variables, conversation_variables}
    to replace it. Secret values never leave: they come back masked, and a masked value keeps
    the stored secret. With base_updated_at (the updated_at of the draft the editor started
    from), a save over a newer draft is refused with 409 draft_conflict instead of overwriting it."""
    app = _app(app_id)
    draft = _draft(app)
    if request.method == "POST":
        try:
            body = json.loads(request.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("graph"), dict):
            return JsonResponse({"ok": False, "errors": [_("Send a JSON object with a graph.")]}, status=400)
        try:
            draft = services.draft_sync(
                app=app, graph=body["graph"], features=body.get("features", draft.features),
                environment_variables=body.get("environment_variables", variables.masked(draft.environment_variables)),
                conversation_variables=body.get("conversation_variables", draft.conversation_variables),
                actor_id=request.user.pk, base_updated_at=_base(body))
        except services.DraftConflict as exc:
            return error_response(ServiceError(
                "draft_conflict", _("Someone else saved this draft after you opened it. Reload to get their "
                                    "version, then make your change again."), 409,
                updated_at=exc.draft.updated_at.isoformat()))
        except ValidationError as exc:
            return JsonResponse({"ok": False, "errors": exc.messages}, status=400)
    checklist = services.checklist_items(draft.graph, app.mode)
    return JsonResponse({"ok": True, "id": str(draft.pk), "graph": draft.graph, "features": draft.features,
                         "environment_variables": variables.masked(draft.environment_variables),
                         "conversation_variables": draft.conversation_variables,
                         "checklist": [item["message"] for item in checklist],
                         "checklist_items": checklist,
                         "updated_at": draft.updated_at.isoformat()}, json_dumps_params={"ensure_ascii": False})


def _base(body: dict[str, Any]) -> str | None:
    base = body.get("base_updated_at")
    return base if isinstance(base, str) and base else None


@require_perm(Perm.APPS_EDIT)
@require_POST
def publish(request: HttpRequest, app_id: Any) -> HttpResponse:
    app = _app(app_id)
    problems = services.checklist(_draft(app).graph, app.mode)
    if problems:
        messages.error(request, _("Fix the checklist before publishing: %(problems)s") % {
            "problems": "; ".join(problems)})
    else:
        services.publish(app=app, actor_id=request.user.pk, name=request.POST.get("name", ""))
        messages.success(request, _("Published. The API and the WebApp run this version now."))
    return redirect(ws_reverse(request, "console:app_workflow", app_id=app.pk))


@require_perm(Perm.APPS_EDIT)
@require_POST
def restore(request: HttpRequest, app_id: Any, workflow_id: Any) -> HttpResponse:
    app = _app(app_id)
    version = get_object_or_404(Workflow.objects.exclude(version="draft"), pk=workflow_id, app=app)
    services.restore(app=app, workflow=version)
    messages.success(request, _("The draft now holds the published version %(version)s.") % {
        "version": version.version})
    return redirect(ws_reverse(request, "console:app_workflow", app_id=app.pk))


def _debug_prepare(tenant: Any, app_id: Any, body: dict[str, Any], user: Any) -> runner.Prepared:
    app = _app(app_id)
    if not isinstance(body.get("inputs", {}), dict):
        raise invalid_param("inputs must be an object")
    query = body.get("query") or ""
    if app.mode == App.Mode.ADVANCED_CHAT and (not isinstance(query, str) or not query.strip()):
        raise invalid_param("query is required")
    return runner.prepare(tenant=tenant, app=app, workflow=_draft(app), inputs=body.get("inputs") or {},
                          end_user=None, query=query if isinstance(query, str) else "", account=user,
                          conversation_id=body.get("conversation_id") or None, source="debugger")


async def debug_run(request: HttpRequest, app_id: Any) -> HttpResponse:
    """POST {inputs, query?, conversation_id?}: run the draft, streamed as SSE (the Service API's events)."""
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    membership = getattr(request, "membership", None)
    if membership is None or not roles.has_perm(membership.role, Perm.APPS_EDIT):
        raise PermissionDenied
    exists = App.objects.filter(pk=app_id, mode__in=services.WORKFLOW_MODES).exists
    if not await run_in_tenant(request.tenant, exists):
        raise Http404
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return error_response(invalid_param("Invalid JSON payload received or JSON payload is empty."))
    try:
        prepared = await run_in_tenant(request.tenant, _debug_prepare, request.tenant, app_id, body, request.user)
    except (ServiceError, RuntimeModelError) as exc:
        return error_response(exc)
    from apps.workflows.api import respond

    return await respond(prepared, streaming=True)


debug_run.required_perm = Perm.APPS_EDIT  # type: ignore[attr-defined]


@require_perm(Perm.APPS_EDIT)
@require_POST
def debug_stop(request: HttpRequest, app_id: Any, task_id: Any) -> JsonResponse:
    """Stop the member's own running debug run of this app (the shared stop flag)."""
    from apps.applications import generation

    app = _app(app_id)
    run = WorkflowRun.objects.filter(app=app, task_id=task_id, created_by_account_id=request.user.pk,
                                     triggered_from=WorkflowRun.TriggeredFrom.DEBUGGING).first()
    if run is None:
        raise Http404
    generation.request_stop(str(task_id), None)
    return JsonResponse({"result": "success"})


@require_perm(Perm.APPS_LOGS)
def run_detail(request: HttpRequest, app_id: Any, run_id: Any) -> HttpResponse:
    """A run with every node: inputs, process data, outputs, status, timing and tokens (WF-24)."""
    app = _app(app_id)
    run = get_object_or_404(WorkflowRun.objects.select_related("created_by_end_user"), pk=run_id, app=app)
    nodes = [{"row": n, "inputs": _pretty(n.inputs), "process_data": _pretty(n.process_data),
              "outputs": _pretty(n.outputs)} for n in selectors.node_executions(run)]
    return render(request, "workflows/run_detail.html", {
        "app": app, "tab": "orchestrate" if run.triggered_from == WorkflowRun.TriggeredFrom.DEBUGGING else "logs",
        "can_edit": roles.has_perm(request.membership.role, Perm.APPS_EDIT), "can_logs": True, "run": run,
        "nodes": nodes,
        "inputs": _pretty(run.inputs), "outputs": _pretty(run.outputs)})


def _pretty(value: Any) -> str:
    return "" if value in (None, {}, []) else json.dumps(value, ensure_ascii=False, indent=2)


@require_perm(Perm.APPS_EDIT)
@require_http_methods(["GET", "POST"])
def step_run(request: HttpRequest, app_id: Any, node_id: str) -> JsonResponse:
    """WF-23: GET what a draft node reads; POST {"values": {"node.var": value}} runs it alone and
    returns its status, inputs, outputs and metadata (nothing is stored)."""
    import asyncio

    from apps.workflows.engine.single import referenced_selectors, run_node

    app = _app(app_id)
    draft = _draft(app)
    spec = parse_nodes(draft.graph).get(node_id)
    if spec is None:
        raise Http404
    needed = [s for s in referenced_selectors(spec.data) if s[0] != spec.id]
    if request.method == "GET":
        return JsonResponse({"node_id": spec.id, "title": spec.title, "type": spec.type,
                             "variables": [".".join(s) for s in needed]})
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    values = body.get("values") if isinstance(body, dict) else None
    if not isinstance(values, dict):
        return JsonResponse({"code": "invalid_param", "status": 400,
                             "message": _("Send a JSON object with the node's values.")}, status=400)
    result = asyncio.run(run_node(spec, values, mode=app.mode, app_id=str(app.pk), workflow_id=str(draft.pk),
                                  run_id="step", raw_graph=draft.graph, tenant=request.tenant,
                                  user_id=str(request.user.pk)))
    return JsonResponse({"node": result}, json_dumps_params={"ensure_ascii": False, "default": str})



@require_perm(Perm.APPS_EDIT)
def preview_variables(request: HttpRequest, app_id: Any, conversation_id: Any) -> JsonResponse:
    """The conversation variables of the member's own preview conversation (the editor's chat shows
    them after each turn). Another member's, an end user's or another app's conversation is a 404."""
    from apps.logs.models import Conversation, Source
    from apps.workflows.api import conversation_variables_page

    app = _app(app_id)
    conversation = get_object_or_404(Conversation, pk=conversation_id, app=app, from_source=Source.DEBUGGER,
                                     from_account_id=request.user.pk)

    page = conversation_variables_page(conversation, name="", last_id=None, limit=100)
    return JsonResponse({"data": page["data"]}, json_dumps_params={"ensure_ascii": False})

RUNS_PER_PAGE = 50
LOG_STATUSES = ("succeeded", "failed", "stopped", "partial-succeeded")


def _day(value: str | None, *, end: bool) -> datetime | None:
    """A date field's day as the start (or the end) of that day in the workspace's time zone."""
    try:
        day = date.fromisoformat(value or "")
    except ValueError:
        return None
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


@require_perm(Perm.APPS_LOGS)
def run_log(request: HttpRequest, app_id: Any) -> HttpResponse:
    """WF-24/LOG: runs of the published app through the API and the WebApp (test runs are on the
    Workflow page), newest first: paged, filtered by status and days, searched in inputs, outputs
    and errors; each opens its trace. The first page refreshes itself (htmx) as runs arrive."""
    app = _app(app_id)
    args = request.GET
    filters = {"status": args.get("status") if args.get("status") in LOG_STATUSES else "",
               "q": (args.get("q") or "").strip()[:200], "from": args.get("from") or "",
               "to": args.get("to") or ""}
    found = selectors.logs(app, filters={"status": filters["status"], "keyword": filters["q"],
                                         "after": _day(filters["from"], end=False),
                                         "before": _day(filters["to"], end=True)})
    page = Paginator(found, RUNS_PER_PAGE).get_page(args.get("page"))
    return render(request, "workflows/run_log.html", {
        "app": app, "tab": "logs", "can_edit": roles.has_perm(request.membership.role, Perm.APPS_EDIT),
        "can_logs": True, "page": page, "runs": list(page.object_list), "filters": filters,
        "query_string": urlencode({k: v for k, v in filters.items() if v}),
        "statuses": [(value, status_labels.label(value)) for value in LOG_STATUSES]})

