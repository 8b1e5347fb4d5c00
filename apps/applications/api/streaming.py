"""The Service API's generation endpoints: async views that stream SSE (or answer in one JSON).

They stay async end to end: the ORM is reached in one hop per turn through run_hot (a fixed set of
threads that keep their connections), and the generation itself runs in its own task
(apps.applications.generation), so a client that goes away does not lose its message.
"""

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.applications import generation, message_files
from apps.applications.api.auth import AppCaller, caller_end_user, resolve_caller, user_arg
from apps.applications.api.common import parse_json_object
from apps.applications.models import App
from apps.core.errors import ServiceError, error_response, invalid_param, method_not_allowed
from apps.providers.runtime.errors import RuntimeModelError
from apps.workspaces.sync import run_hot, use_schema


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
    config = app.live_config
    images = message_files.parse_files(app, config, body.get("files"))  # checked before anything is stored
    prepared = generation.prepare(tenant=caller.workspace, app=app, query=query, inputs=body["inputs"],
                                  end_user=end_user, source=caller.source,
                                  conversation_id=(body.get("conversation_id") or None) if chat else None,
                                  auto_generate_name=chat and auto_generate_name, config=config)
    message_files.add_to_turn(prepared, images, config)
    return prepared


def begin_turn(caller: AppCaller, body: dict[str, Any], *, chat: bool) -> generation.Prepared:
    """Take a concurrency slot and prepare the turn (sync, in the app's schema)."""
    use_schema(caller.workspace.schema_name)
    if chat and caller.app.mode == App.Mode.ADVANCED_CHAT:  # chatflows run the workflow engine
        from apps.workflows.api import begin_chat

        return begin_chat(caller, body)
    return generation.prepare_in_slot(caller.workspace.schema_name, caller.app,
                                      lambda: _prepare(caller, body, chat=chat))


def _authenticate_and_begin(header: str | None, raw_body: bytes, *, chat: bool) -> tuple[generation.Prepared, bool]:
    """The Service API's whole pre-stream database work, in one thread hop: key → app (usually
    from this process's cache), then the body, the slot and the prepared turn. Returns the turn
    and whether the client asked for streaming."""
    caller = resolve_caller(header)
    body = parse_json_object(raw_body)
    return begin_turn(caller, body, chat=chat), body.get("response_mode") == "streaming"


async def generate_for_key(header: str | None, raw_body: bytes, *, chat: bool) -> HttpResponse:
    """POST /v1/chat-messages or /v1/completion-messages with this Authorization header and body.
    Served by apps.applications.api.asgi; the Django views below serve the same for the URLconf."""
    try:
        prepared, streaming = await run_hot(None, _authenticate_and_begin, header, raw_body, chat=chat)
    except (ServiceError, RuntimeModelError) as exc:
        return error_response(exc)
    return await respond(prepared, streaming=streaming)


async def generate(caller: AppCaller, body: dict[str, Any], *, chat: bool) -> HttpResponse:
    """One chat or completion turn for an authenticated caller (Service API or WebApp): SSE when
    response_mode is "streaming", else one JSON body once the answer is complete."""
    try:
        prepared = await run_hot(caller.workspace, begin_turn, caller, body, chat=chat)
    except (ServiceError, RuntimeModelError) as exc:
        return error_response(exc)
    return await respond(prepared, streaming=body.get("response_mode") == "streaming")


async def respond(prepared: generation.Prepared, *, streaming: bool) -> HttpResponse:
    if not isinstance(prepared, generation.Prepared):  # a chatflow turn (apps.workflows.api.begin_chat)
        from apps.workflows.api import respond

        return await respond(prepared, streaming=streaming)
    return await run_response(generation.Generation(prepared, autoplay=streaming).start(), streaming=streaming)


async def run_response(run: Any, *, streaming: bool) -> HttpResponse:
    """The response for a started run (a chat/completion Generation or a workflow run): its SSE
    stream, or its blocking body once it is done."""
    if streaming:
        response = StreamingHttpResponse(run.sse(), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
    await run.done.wait()
    if run.error is not None:
        return error_response(run.error)
    return JsonResponse(run.blocking_body(), json_dumps_params={"ensure_ascii": False})


def post_only(view: Callable[..., Awaitable[HttpResponse]]) -> Callable[..., Awaitable[HttpResponse]]:
    """POST or the API's 405 body (Django's require_POST answers with an empty HTML page)."""

    @csrf_exempt
    @functools.wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return error_response(method_not_allowed())
        return await view(request, *args, **kwargs)

    return wrapper


@post_only
async def chat_messages(request: HttpRequest) -> HttpResponse:
    return await generate_for_key(request.headers.get("Authorization"), request.body, chat=True)


@post_only
async def completion_messages(request: HttpRequest) -> HttpResponse:
    return await generate_for_key(request.headers.get("Authorization"), request.body, chat=False)


@post_only
async def stop(request: HttpRequest, task_id: str) -> HttpResponse:
    """Always "success", even for an unknown task; only the task's own end user can stop it."""
    try:
        await run_hot(None, _stop, request.headers.get("Authorization"), request.body, task_id)
    except ServiceError as exc:
        return error_response(exc)
    return JsonResponse({"result": "success"})


def _stop(header: str | None, raw_body: bytes, task_id: str) -> None:
    caller = resolve_caller(header)
    user = user_arg(parse_json_object(raw_body), required=True)
    use_schema(caller.workspace.schema_name)
    generation.request_stop(task_id, str(generation.end_user_for(caller.app, user).pk))
