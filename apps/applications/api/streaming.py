"""The Service API's generation endpoints: async views that stream SSE (or answer in one JSON).

They stay async end to end: the ORM is reached only through run_in_tenant / sync_to_async, and the
generation itself runs in its own task (apps.applications.generation), so a client that goes
away does not lose its message.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.applications import generation
from apps.applications.api.auth import AppCaller, authenticate_app, caller_end_user, user_arg
from apps.applications.api.common import json_body as _json_body
from apps.applications.models import App
from apps.core.errors import ServiceError, error_response, invalid_param
from apps.providers.runtime.errors import RuntimeModelError
from apps.workspaces.sync import run_in_public, run_in_tenant


def _prepare(caller: AppCaller, body: dict[str, Any], *, chat: bool) -> generation.Prepared:
    app = caller.app
    if chat and not app.is_chat:
        raise ServiceError("not_chat_app", "Please check if your app mode matches the right API route.")
    if not chat and app.mode != App.Mode.COMPLETION:
        raise ServiceError("app_unavailable", "App unavailable, please check your app configurations.")
    query = body.get("query", "")
    if not isinstance(query, str):
        raise invalid_param("query must be a string")
    if chat and not query.strip():
        raise invalid_param("query is required")
    if "inputs" not in body or not isinstance(body.get("inputs"), dict):
        raise invalid_param("inputs is required and must be an object")
    auto_generate_name = body.get("auto_generate_name", True)
    if not isinstance(auto_generate_name, bool):
        raise invalid_param("auto_generate_name must be a boolean")
    end_user = caller_end_user(caller, body, required=True)
    return generation.prepare(tenant=caller.workspace, app=app, query=query, inputs=body["inputs"],
                              end_user=end_user, source=caller.source,
                              conversation_id=(body.get("conversation_id") or None) if chat else None,
                              auto_generate_name=chat and auto_generate_name)


async def _generate(request: HttpRequest, *, chat: bool) -> HttpResponse:
    try:
        caller = await run_in_public(authenticate_app, request.headers.get("Authorization"))
        body = _json_body(request)
    except ServiceError as exc:
        return error_response(exc)
    return await generate(caller, body, chat=chat)


async def generate(caller: AppCaller, body: dict[str, Any], *, chat: bool) -> HttpResponse:
    """One chat or completion turn for an authenticated caller (Service API or WebApp): SSE when
    response_mode is "streaming", else one JSON body once the answer is complete."""
    try:
        slot = await generation.acquire_slot(caller.workspace.schema_name, caller.app)
        try:
            prepared = await run_in_tenant(caller.workspace, _prepare, caller, body, chat=chat)
        except BaseException:
            if slot:
                await generation._release(slot)
            raise
        prepared.active_key = slot
    except (ServiceError, RuntimeModelError) as exc:
        return error_response(exc)
    run = generation.Generation(prepared).start()
    if body.get("response_mode") == "streaming":
        response = StreamingHttpResponse(run.sse(), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
    await run.done.wait()
    if run.error is not None:
        return error_response(run.error)
    return JsonResponse(run.blocking_body(), json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_POST
async def chat_messages(request: HttpRequest) -> HttpResponse:
    return await _generate(request, chat=True)


@csrf_exempt
@require_POST
async def completion_messages(request: HttpRequest) -> HttpResponse:
    return await _generate(request, chat=False)


@csrf_exempt
@require_POST
async def stop(request: HttpRequest, task_id: str) -> HttpResponse:
    """Always "success", even for an unknown task; only the task's own end user can stop it."""
    try:
        caller = await run_in_public(authenticate_app, request.headers.get("Authorization"))
        user = user_arg(_json_body(request), required=True)
        end_user = await run_in_tenant(caller.workspace, generation.end_user_for, caller.app, user)
    except ServiceError as exc:
        return error_response(exc)
    generation.request_stop(task_id, str(end_user.pk))
    return JsonResponse({"result": "success"})
