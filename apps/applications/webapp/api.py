"""The WebApp's JSON and SSE endpoints under /webapp/<code>/api/ (no API key: the site code and the
browser's end-user cookie stand in for it).

They run the Service API's own handlers (apps/applications/api/*) with a caller whose source is
"webapp" and whose end user comes from the cookie, so messages land in the app's Logs and the rules
(validation, errors, ownership) are the Service API's. Only what the Service API lacks lives here:
site info, pinning, and the pinned filter of the conversation list.

CSRF: these endpoints skip Django's token (an embed in another site's iframe has no token cookie)
and require the custom header X-Tessera-WebApp on every write instead. Browsers do not send custom
headers cross-origin without a CORS preflight, which nothing here answers, so another site cannot
forge a write with the end user's cookie.
"""

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import schema_context

from apps.applications.api import audio, conversations, files, messages, meta, streaming
from apps.applications.api.auth import AppCaller
from apps.applications.api.common import NOT_CHAT_APP, int_arg, json_body
from apps.applications.generation import request_stop
from apps.applications.models import App
from apps.applications.webapp import identity
from apps.applications.webapp.ratelimit import acheck_rate_limit, check_rate_limit, client_ip
from apps.core.errors import ServiceError, error_response, invalid_param, not_found
from apps.logs import selectors, services
from apps.logs.models import Source
from apps.providers.runtime.errors import RuntimeModelError
from apps.workspaces.sync import run_hot, run_in_public, use_schema

WRITE_HEADER = "X-Tessera-WebApp"


def method_not_allowed() -> ServiceError:
    return ServiceError("method_not_allowed", "The method is not allowed for the requested URL.", 405)

View = Callable[..., HttpResponse]


def require_write_header(request: HttpRequest) -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS") and not request.headers.get(WRITE_HEADER):
        raise ServiceError("forbidden", f"The {WRITE_HEADER} header is required.", 403)


def _caller(ctx: identity.WebAppContext, end_user: Any) -> AppCaller:
    return AppCaller(ctx.workspace, ctx.app, source=Source.WEBAPP, end_user=end_user)


def webapp_view(*methods: str, chat_only: bool = False, limited: bool = False) -> Callable[[View], View]:
    """A sync WebApp endpoint: `fn(request, caller, **kwargs)` runs in the site's workspace schema
    with the browser's end user; `limited` counts it against the site's rate limits."""

    def wrap(fn: View) -> View:
        @csrf_exempt
        @functools.wraps(fn)
        def view(request: HttpRequest, code: str, **kwargs: Any) -> HttpResponse:
            token = None
            try:
                if request.method not in methods:
                    raise method_not_allowed()
                require_write_header(request)
                ctx = identity.resolve_site(code)
                with schema_context(ctx.workspace.schema_name):
                    end_user, token = identity.end_user_for_request(ctx, request)
                    if chat_only and not ctx.app.is_chat:
                        raise ServiceError(*NOT_CHAT_APP)
                    if limited:
                        check_rate_limit(site=ctx.site, end_user_id=str(end_user.pk),
                                         ip=client_ip(request.META))
                    response = fn(request, _caller(ctx, end_user), **kwargs)
            except (ServiceError, RuntimeModelError) as exc:
                response = error_response(exc)
            if token:
                identity.set_cookie(response, request, ctx.app, token)
            return response

        return view

    return wrap


def from_service_api(v1_view: View, *, limited: bool = False) -> View:
    """The WebApp twin of a /v1 endpoint: same handler, methods and mode rule."""
    return webapp_view(*v1_view.methods, chat_only=v1_view.chat_only,  # type: ignore[attr-defined]
                       limited=limited)(v1_view.handler)  # type: ignore[attr-defined]


# --- What the Service API does not have -------------------------------------------------------------

@webapp_view("GET")
def site_info(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    """Everything the page needs to draw itself: the site's look and the app's parameters."""
    site = caller.app.site
    return JsonResponse({
        "app_id": str(caller.app.pk), "mode": caller.app.mode, "site": meta.site_body(site),
        "show_prompt": site.show_prompt, "parameters": meta.parameters_body(caller.app),
        "end_user_id": str(caller.end_user.pk) if caller.end_user else None,
    }, json_dumps_params={"ensure_ascii": False})


def _bool_arg(value: str | None, name: str) -> bool | None:
    if value in (None, ""):
        return None
    if value not in ("true", "false"):
        raise invalid_param(f"{name} must be true or false")
    return value == "true"


@webapp_view("GET", chat_only=True)
def conversation_list(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    """The browser's own conversations, newest activity first; `pinned=true|false` splits them."""
    args = request.GET
    limit = int_arg(args, "limit", default=20, low=1, high=100)
    page = selectors.api_conversation_page(
        app=caller.app, end_user=caller.end_user, source=Source.WEBAPP, last_id=args.get("last_id") or None,
        limit=limit, sort_by="-updated_at", pinned=_bool_arg(args.get("pinned"), "pinned"))
    if page is None:
        raise not_found("Last Conversation Not Exists.")
    rows, has_more = page
    data = [{**conversations.conversation_body(c), "pinned": c.pinned} for c in rows]
    return JsonResponse({"limit": limit, "has_more": has_more, "data": data},
                        json_dumps_params={"ensure_ascii": False})


def _pin(caller: AppCaller, conversation_id: str, pinned: bool) -> JsonResponse:
    conversation = selectors.api_conversation_get(app=caller.app, end_user=caller.end_user,
                                                  conversation_id=conversation_id, source=Source.WEBAPP)
    if conversation is None:
        raise not_found("Conversation Not Exists.")
    services.conversation_pin(conversation=conversation, pinned=pinned)
    return JsonResponse({"result": "success"})


@webapp_view("PATCH", "POST", chat_only=True)
def conversation_pin(request: HttpRequest, caller: AppCaller, conversation_id: str) -> JsonResponse:
    return _pin(caller, conversation_id, True)


@webapp_view("PATCH", "POST", chat_only=True)
def conversation_unpin(request: HttpRequest, caller: AppCaller, conversation_id: str) -> JsonResponse:
    return _pin(caller, conversation_id, False)


# --- Generation (async: the answer streams) -------------------------------------------------------

def _resolve(code: str, request: HttpRequest,
             modes: tuple[str, ...]) -> tuple[identity.WebAppContext, Any, str | None]:
    ctx = identity.resolve_site(code, modes=modes)
    with schema_context(ctx.workspace.schema_name):
        end_user, token = identity.end_user_for_request(ctx, request)
    return ctx, end_user, token


Start = Callable[[identity.WebAppContext, Any], Awaitable[HttpResponse]]


async def site_post(request: HttpRequest, code: str, modes: tuple[str, ...], start: Start) -> HttpResponse:
    """A streamed POST of a site: resolve the site (of one of `modes`) and the browser's end user,
    count the rate limits, then `start(ctx, end_user)` answers. Errors come in the API's format; a
    new end user's cookie is set either way."""
    token, ctx = None, None
    try:
        if request.method != "POST":
            raise method_not_allowed()
        require_write_header(request)
        ctx, end_user, token = await run_in_public(_resolve, code, request, modes)
        await acheck_rate_limit(site=ctx.site, end_user_id=str(end_user.pk), ip=client_ip(request.META))
        response = await start(ctx, end_user)
    except (ServiceError, RuntimeModelError) as exc:
        response = error_response(exc)
    if token and ctx is not None:
        identity.set_cookie(response, request, ctx.app, token)
    return response


async def _generate(request: HttpRequest, code: str, *, chat: bool) -> HttpResponse:
    async def start(ctx: identity.WebAppContext, end_user: Any) -> HttpResponse:
        body = json_body(request)
        body.setdefault("response_mode", "streaming")
        return await streaming.generate(_caller(ctx, end_user), body, chat=chat)

    return await site_post(request, code, tuple(App.CHAT_MODES) if chat else (App.Mode.COMPLETION,), start)


@csrf_exempt
async def chat_messages(request: HttpRequest, code: str) -> HttpResponse:
    return await _generate(request, code, chat=True)


@csrf_exempt
async def completion_messages(request: HttpRequest, code: str) -> HttpResponse:
    return await _generate(request, code, chat=False)


def _begin_workflow(caller: AppCaller, body: dict[str, Any]) -> Any:
    from apps.workflows.api import begin_run

    use_schema(caller.workspace.schema_name)
    return begin_run(caller, body)


@csrf_exempt
async def workflow_run(request: HttpRequest, code: str) -> HttpResponse:
    """POST {inputs, files?}: run the published workflow for the browser's end user; the events of
    /v1/workflows/run stream back (the page draws its progress from them)."""
    from apps.workflows.api import respond

    async def start(ctx: identity.WebAppContext, end_user: Any) -> HttpResponse:
        body = json_body(request)
        prepared = await run_hot(ctx.workspace, _begin_workflow, _caller(ctx, end_user), body)
        return await respond(prepared, streaming=True)

    return await site_post(request, code, (App.Mode.WORKFLOW,), start)


@webapp_view("POST")
def stop(request: HttpRequest, caller: AppCaller, task_id: str) -> JsonResponse:
    """Always "success"; only the browser's own running answer stops (generation.request_stop)."""
    request_stop(task_id, str(caller.end_user.pk))
    return JsonResponse({"result": "success"})


# --- The Service API's handlers, served to the browser ----------------------------------------------

message_list = from_service_api(messages.message_list)
message_feedback = from_service_api(messages.message_feedback)
suggested_questions = from_service_api(messages.suggested_questions, limited=True)
conversation_delete = from_service_api(conversations.conversation_delete)
conversation_rename = from_service_api(conversations.conversation_rename)
parameters = from_service_api(meta.parameters)
file_upload = from_service_api(files.upload, limited=True)
audio_to_text = from_service_api(audio.audio_to_text, limited=True)
text_to_audio = from_service_api(audio.text_to_audio, limited=True)
