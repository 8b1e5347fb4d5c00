"""The text-generation WebApp's own endpoints under /webapp/<code>/api/ (WEB-07…WEB-10): saved
results, more like this, and batch runs. Run once, stop and feedback are the shared ones in api.py.

Every lookup is by the site's app and the browser's end user, so another browser's saved results
and batches answer 404 just like unknown ids, and a code of another workspace never reaches this
one's rows (its schema is the only one active). Writes need the X-Tessera-WebApp header (api.py).
"""

import uuid
from typing import Any

from django.conf import settings
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt

from apps.applications import generation
from apps.applications.api import messages, streaming
from apps.applications.api.auth import AppCaller
from apps.applications.api.common import int_arg, json_body
from apps.applications.config import with_defaults
from apps.applications.models import App
from apps.applications.orchestrate import MORE_LIKE_THIS_TEMPERATURE
from apps.applications.webapp import batch as batches
from apps.applications.webapp import identity
from apps.applications.webapp.api import _caller, site_post, webapp_view
from apps.applications.webapp.views import page_language
from apps.core.errors import ServiceError, invalid_param, not_found
from apps.logs import selectors, services
from apps.logs.models import CompletionBatch, Message, Source
from apps.workspaces.sync import run_hot, use_schema

WRONG_MODE = ("not_completion_app", "Please check if your app mode matches the right API route.")


def _completion_only(caller: AppCaller) -> None:
    if caller.app.mode != App.Mode.COMPLETION:
        raise ServiceError(*WRONG_MODE)


def _batch_app(caller: AppCaller) -> None:
    """Batches run for text-generation and workflow apps."""
    if caller.app.mode not in batches.BATCH_MODES:
        raise ServiceError(*WRONG_MODE)


def _own_message(caller: AppCaller, message_id: str) -> Message:
    message = selectors.api_message_get(
        app=caller.app, end_user=caller.end_user, message_id=message_id, source=Source.WEBAPP
    )
    if message is None:
        raise not_found("Message Not Exists.")
    return message


# --- Saved results (WEB-08) -------------------------------------------------------------------------


@webapp_view("GET", "POST")
def saved_messages(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    """GET: the browser's saved results, newest first (last_id, limit). POST {message_id}: save one
    of its own results."""
    _completion_only(caller)
    if request.method == "POST":
        message_id = json_body(request).get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise invalid_param("message_id is required")
        services.saved_message_add(message=_own_message(caller, message_id), end_user=caller.end_user)
        return JsonResponse({"result": "success"})
    limit = int_arg(request.GET, "limit", default=20, low=1, high=100)
    page = selectors.saved_message_page(
        app=caller.app, end_user=caller.end_user, last_id=request.GET.get("last_id") or None, limit=limit
    )
    if page is None:
        raise not_found("Last Message Not Exists.")
    rows, has_more = page
    prefetch_related_objects(rows, *messages.MESSAGE_RELATIONS)
    data = []
    for m in rows:
        body = messages.message_body(m, caller.workspace.pk)
        data.append(
            {
                key: body[key]
                for key in ("id", "inputs", "query", "answer", "message_files", "feedback", "created_at")
            }
        )
    return JsonResponse(
        {"limit": limit, "has_more": has_more, "data": data}, json_dumps_params={"ensure_ascii": False}
    )


@webapp_view("DELETE")
def saved_message_delete(request: HttpRequest, caller: AppCaller, message_id: str) -> HttpResponse:
    _completion_only(caller)
    try:
        uuid.UUID(message_id)
    except ValueError:
        raise not_found("Message Not Exists.") from None
    if not services.saved_message_remove(app=caller.app, end_user=caller.end_user, message_id=message_id):
        raise not_found("Message Not Exists.")
    return HttpResponse(status=204)


# --- More like this (WEB-10) ------------------------------------------------------------------------


def _begin_more_like_this(caller: AppCaller, message_id: str) -> generation.Prepared:
    """Another take on one of the browser's results: same inputs, a higher temperature (as the
    console's debugger does), stored as a new WebApp message."""
    use_schema(caller.workspace.schema_name)
    message = _own_message(caller, message_id)
    config = with_defaults(caller.app.live_config)
    if not config["more_like_this"].get("enabled"):
        raise ServiceError(
            "app_more_like_this_disabled",
            "The 'More like this' feature is disabled. Please refresh your page.",
            403,
        )
    config["model"] = {**config.get("model", {})}
    config["model"]["completion_params"] = {
        **(config["model"].get("completion_params") or {}),
        "temperature": MORE_LIKE_THIS_TEMPERATURE,
    }
    slot = generation.take_slot(caller.workspace.schema_name, caller.app)
    try:
        prepared = generation.prepare(
            tenant=caller.workspace,
            app=caller.app,
            query=message.query,
            inputs=message.inputs,
            end_user=caller.end_user,
            source=Source.WEBAPP,
            config=config,
        )
    except BaseException:
        generation.release_slot(slot)
        raise
    prepared.active_key = slot
    return prepared


@csrf_exempt
async def more_like_this(request: HttpRequest, code: str, message_id: str) -> HttpResponse:
    """POST: stream a new result for the inputs of one of the browser's results (SSE, the events
    of completion-messages)."""
    async def start(ctx: identity.WebAppContext, end_user: Any) -> HttpResponse:
        prepared = await run_hot(ctx.workspace, _begin_more_like_this, _caller(ctx, end_user), message_id)
        return await streaming.respond(prepared, streaming=True)

    return await site_post(request, code, (App.Mode.COMPLETION,), start)


# --- Batch runs (WEB-09; workflow apps too, WEB-16) --------------------------------------------


def _csv_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@webapp_view("GET")
def batch_template(request: HttpRequest, caller: AppCaller) -> HttpResponse:
    _batch_app(caller)
    return _csv_response(batches.template_csv(caller.app), "template.csv")


def _batch_summary(batch: CompletionBatch) -> dict[str, Any]:
    body = batches.batch_body(batch)
    body.pop("rows")
    return body


@webapp_view("GET", "POST", limited=True)
def batch_list(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    """GET: the browser's latest batches. POST (multipart, `file`): start a batch from a CSV."""
    _batch_app(caller)
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            raise invalid_param("file is required")
        if upload.size and upload.size > settings.WEBAPP_BATCH_MAX_BYTES:
            raise ServiceError("file_too_large", "The CSV file is too large.", 413)
        # Refusals (bad CSV) are read by the end user: in the page's language.
        with translation.override(page_language(request, caller.app.site)):
            batch = batches.batch_create(
                app=caller.app,
                end_user=caller.end_user,
                file_name=upload.name or "",
                raw=upload.read(settings.WEBAPP_BATCH_MAX_BYTES + 1),
            )
        batch.refresh_from_db()
        return JsonResponse(batches.batch_body(batch), status=201, json_dumps_params={"ensure_ascii": False})
    rows = CompletionBatch.objects.filter(app=caller.app, end_user=caller.end_user).prefetch_related("rows")[
        :10
    ]
    return JsonResponse(
        {"data": [_batch_summary(b) for b in rows]}, json_dumps_params={"ensure_ascii": False}
    )


def _own_batch(caller: AppCaller, batch_id: str) -> CompletionBatch:
    try:
        uuid.UUID(batch_id)
    except ValueError:
        raise not_found("Batch Not Exists.") from None
    batch = CompletionBatch.objects.filter(pk=batch_id, app=caller.app, end_user=caller.end_user).first()
    if batch is None:
        raise not_found("Batch Not Exists.")
    return batch


@webapp_view("GET")
def batch_detail(request: HttpRequest, caller: AppCaller, batch_id: str) -> JsonResponse:
    """The batch and every row's status, answer or error: the page polls it while it runs."""
    _batch_app(caller)
    return JsonResponse(
        batches.batch_body(_own_batch(caller, batch_id)), json_dumps_params={"ensure_ascii": False}
    )


@webapp_view("GET")
def batch_export(request: HttpRequest, caller: AppCaller, batch_id: str) -> HttpResponse:
    _batch_app(caller)
    batch = _own_batch(caller, batch_id)
    with translation.override(page_language(request, caller.app.site)):  # the column titles
        content = batches.export_csv(caller.app, batch)
    return _csv_response(content, f"results-{str(batch.pk)[:8]}.csv")
