"""The Service API's workflow endpoints (service-api.md §2.5–§2.9) and the chatflow turn behind
/v1/chat-messages. Runs are prepared in one thread hop (the hot path) and run detached
(apps.workflows.runner); a failed workflow is a 200 with status "failed", never an HTTP error."""

import json
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime

from apps.applications import generation
from apps.applications.api.auth import AppCaller, caller_end_user, resolve_caller, user_arg
from apps.applications.api.common import api_view, int_arg, parse_json_object, timestamp
from apps.applications.api.streaming import post_only, run_response
from apps.applications.models import App
from apps.core.errors import ServiceError, error_response, invalid_param
from apps.logs.models import Source
from apps.providers.runtime.errors import RuntimeModelError
from apps.workflows import runner, selectors
from apps.workflows.models import WorkflowRun
from apps.workspaces.sync import run_hot, use_schema

NOT_WORKFLOW_APP = ("not_workflow_app", "Please check if your app mode matches the right API route.")


def begin_run(caller: AppCaller, body: dict[str, Any], workflow_id: str | None = None) -> runner.Prepared:
    """A workflow run from /v1/workflows/run (sync, in the app's schema)."""
    app = caller.app
    if app.mode != App.Mode.WORKFLOW:
        raise ServiceError(*NOT_WORKFLOW_APP)
    if not isinstance(body.get("inputs"), dict):
        raise invalid_param("inputs is required and must be an object")
    end_user = caller_end_user(caller, body, required=True)
    workflow = selectors.workflow_for_run(app, workflow_id)
    return generation.prepare_in_slot(caller.workspace.schema_name, caller.app, lambda: runner.prepare(
        tenant=caller.workspace, app=app, workflow=workflow, inputs=body["inputs"], end_user=end_user,
        raw_files=body.get("files"), source=Source.WEBAPP if caller.end_user is not None else Source.API))


def begin_chat(caller: AppCaller, body: dict[str, Any]) -> runner.Prepared:
    """A chatflow turn from /v1/chat-messages (sync, in the app's schema)."""
    app = caller.app
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise invalid_param("query is required")
    if not isinstance(body.get("inputs"), dict):
        raise invalid_param("inputs is required and must be an object")
    auto_generate_name = body.get("auto_generate_name", True)
    if not isinstance(auto_generate_name, bool):
        raise invalid_param("auto_generate_name must be a boolean")
    end_user = caller_end_user(caller, body, required=True)
    workflow = selectors.workflow_for_run(app, body.get("workflow_id") or None)
    return generation.prepare_in_slot(caller.workspace.schema_name, caller.app, lambda: runner.prepare(
        tenant=caller.workspace, app=app, workflow=workflow, inputs=body["inputs"], end_user=end_user,
        query=query, raw_files=body.get("files"), conversation_id=body.get("conversation_id") or None,
        source=Source.WEBAPP if caller.end_user is not None else Source.API, auto_generate_name=auto_generate_name))


async def respond(prepared: runner.Prepared, *, streaming: bool) -> HttpResponse:
    return await run_response(runner.WorkflowGeneration(prepared).start(), streaming=streaming)


def _authenticate_and_begin(header: str | None, raw: bytes, workflow_id: str | None) -> tuple[runner.Prepared, bool]:
    caller = resolve_caller(header)
    body = parse_json_object(raw)
    use_schema(caller.workspace.schema_name)
    return begin_run(caller, body, workflow_id), body.get("response_mode") == "streaming"


async def _run(request: HttpRequest, workflow_id: str | None) -> HttpResponse:
    try:
        prepared, streaming = await run_hot(None, _authenticate_and_begin, request.headers.get("Authorization"),
                                            request.body, workflow_id)
    except (ServiceError, RuntimeModelError) as exc:
        return error_response(exc)
    return await respond(prepared, streaming=streaming)


@post_only
async def workflows_run(request: HttpRequest) -> HttpResponse:
    return await _run(request, None)


@post_only
async def workflow_version_run(request: HttpRequest, workflow_id: str) -> HttpResponse:
    return await _run(request, workflow_id)


def _stop(header: str | None, raw: bytes, task_id: str) -> None:
    caller = resolve_caller(header)
    use_schema(caller.workspace.schema_name)
    if caller.app.mode != App.Mode.WORKFLOW:
        raise ServiceError(*NOT_WORKFLOW_APP)
    body = parse_json_object(raw)
    user_arg(body, required=True)
    # The stop flag names the run's end user: a task of another app or user is left alone.
    generation.request_stop(task_id, str(caller_end_user(caller, body, required=True).pk))


@post_only
async def task_stop(request: HttpRequest, task_id: str) -> HttpResponse:
    """Always "success", even for an unknown task (§2.8)."""
    try:
        await run_hot(None, _stop, request.headers.get("Authorization"), request.body, task_id)
    except ServiceError as exc:
        return error_response(exc)
    return JsonResponse({"result": "success"})


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


RUN_FIELDS = ("id", "workflow_id", "status", "inputs", "outputs", "error", "total_steps", "total_tokens",
              "created_at", "finished_at", "elapsed_time")


@api_view("GET")
def run_detail(request: HttpRequest, caller: AppCaller, run_id: str) -> JsonResponse:
    """A run of this app; inputs and outputs as JSON text (§2.7). An unknown run answers every
    field null, as Dify's marshal(None) does."""
    if caller.app.mode not in (App.Mode.WORKFLOW, App.Mode.ADVANCED_CHAT):
        raise ServiceError(*NOT_WORKFLOW_APP)
    run = selectors.run_get(caller.app, run_id)
    if run is None:
        return JsonResponse(dict.fromkeys(RUN_FIELDS))
    return JsonResponse({
        "id": str(run.pk), "workflow_id": str(run.workflow_id) if run.workflow_id else None, "status": run.status,
        "inputs": _json_text(run.inputs), "outputs": _json_text(run.outputs), "error": run.error,
        "total_steps": run.total_steps, "total_tokens": run.total_tokens, "created_at": timestamp(run.created_at),
        "finished_at": timestamp(run.finished_at) if run.finished_at else None, "elapsed_time": run.elapsed_time,
    }, json_dumps_params={"ensure_ascii": False})


def _datetime(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise invalid_param(f"{name} must be an ISO 8601 datetime")
    return parsed


def log_item(run: WorkflowRun) -> dict[str, Any]:
    end_user = run.created_by_end_user
    return {
        "id": str(run.pk),
        "workflow_run": {"id": str(run.pk), "version": run.workflow_version, "status": run.status,
                         "triggered_from": run.triggered_from, "error": run.error, "elapsed_time": run.elapsed_time,
                         "total_tokens": run.total_tokens, "total_steps": run.total_steps,
                         "created_at": timestamp(run.created_at),
                         "finished_at": timestamp(run.finished_at) if run.finished_at else None,
                         "exceptions_count": run.exceptions_count},
        "details": None,
        "created_from": run.created_from,
        "created_by_role": "end_user" if end_user else "account",
        "created_by_account": None,
        "created_by_end_user": {"id": str(end_user.pk), "type": end_user.type, "is_anonymous": end_user.is_anonymous,
                                "session_id": end_user.session_id} if end_user else None,
        "created_at": timestamp(run.created_at),
    }


@api_view("GET")
def logs(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    args = request.GET
    page = int_arg(args, "page", default=1, low=1, high=99999)
    limit = int_arg(args, "limit", default=20, low=1, high=100)
    status = args.get("status") or None
    if status and status not in ("succeeded", "failed", "stopped"):
        raise invalid_param("status must be one of succeeded, failed, stopped")
    filters: dict[str, Any] = {
        "status": status, "keyword": args.get("keyword") or None,
        "before": _datetime(args.get("created_at__before"), "created_at__before"),
        "after": _datetime(args.get("created_at__after"), "created_at__after"),
        "session_id": args.get("created_by_end_user_session_id") or None,
    }
    if args.get("created_by_account"):
        from apps.workflows.selectors import account_ids_by_email

        filters["account_ids"] = account_ids_by_email(args["created_by_account"])
    rows, total = selectors.logs_page(caller.app, filters=filters, page=page, limit=limit)
    return JsonResponse({"page": page, "limit": limit, "total": total, "has_more": page * limit < total,
                         "data": [log_item(r) for r in rows]}, json_dumps_params={"ensure_ascii": False})



def parameters_body(app: App, features: tuple[str, ...], system: dict[str, Any]) -> dict[str, Any]:
    """/v1/parameters of a workflow or chatflow app: the published workflow's features and its
    Start variables (§2.22); app_unavailable until something is published."""
    from apps.workflows.services import DEFAULT_FEATURES

    workflow = selectors.published(app)
    if workflow is None:
        raise ServiceError("app_unavailable", "App unavailable, please check your app configurations.")
    config = {**DEFAULT_FEATURES, "annotation_reply": {"enabled": False}, "more_like_this": {"enabled": False},
              **(workflow.features or {})}
    body: dict[str, Any] = {"opening_statement": config.get("opening_statement") or None,
                            "suggested_questions": config.get("suggested_questions") or []}
    body.update({key: config.get(key, {"enabled": False}) for key in features})
    body["text_to_speech"] = {"enabled": False, "voice": "", "language": "", "autoPlay": "disabled",
                              **(body.get("text_to_speech") or {})}
    body["user_input_form"] = runner.user_input_form(workflow.graph)
    body["system_parameters"] = system
    return body


def _variable_body(row: Any) -> dict[str, Any]:
    """§2.19: `value` is Python's str() of the value (Dify marshals it with fields.String)."""
    value_type = "number" if row.value_type in ("integer", "float") else row.value_type
    return {"id": row.variable_id, "name": row.name, "value_type": value_type,
            "value": None if row.value is None else str(row.value), "description": row.description,
            "created_at": timestamp(row.created_at), "updated_at": timestamp(row.updated_at)}


def conversation_variables_page(conversation: Any, *, name: str, last_id: str | None, limit: int) -> dict[str, Any]:
    """GET /v1/conversations/{id}/variables for a chatflow conversation (in the workspace schema)."""
    rows = list(selectors.conversation_variables(conversation, name=name))
    if last_id:
        ids = [r.variable_id for r in rows]
        if last_id not in ids:
            raise invalid_param("")  # Dify's uncaught ConversationVariableNotExistsError
        rows = rows[ids.index(last_id) + 1:]
    return {"limit": limit, "has_more": len(rows) > limit, "data": [_variable_body(r) for r in rows[:limit]]}


def conversation_variable_update(conversation: Any, variable_id: str, value: Any) -> dict[str, Any]:
    """PUT /v1/conversations/{id}/variables/{variable_id}: the value must fit the variable's type."""
    from apps.workflows import services

    row = selectors.conversation_variables(conversation).filter(variable_id=variable_id).first()
    if row is None:
        raise ServiceError("not_found", "Conversation Variable Not Exists.", 404)
    try:
        row = services.conversation_variable_set(row, value)
    except ValueError as exc:
        raise ServiceError("bad_request", str(exc)) from None
    return _variable_body(row)
