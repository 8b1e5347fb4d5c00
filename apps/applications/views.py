"""The Studio: the workspace's apps (list, create from scratch or a template, edit, duplicate,
delete), and each app's Overview, API access and Logs pages.

Views run in the workspace's schema (the middleware set it), so `App.objects` only ever holds this
workspace's apps: an app id from another workspace is simply not found (404). Browsing needs
Perm.WORKSPACE_VIEW, changing anything Perm.APPS_EDIT, the logs Perm.APPS_LOGS.
"""

import datetime
import json
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.applications import services
from apps.applications.config import form_variables
from apps.applications.forms import (
    BACKGROUNDS,
    BLANK,
    CREATE_MODES,
    ICONS,
    MODE_HELP,
    AccessForm,
    AppCreateForm,
    AppForm,
    FeedbackForm,
)
from apps.applications.models import ApiKey, App
from apps.applications.templates_catalog import BY_ID, TEMPLATES
from apps.applications.webapp.views import share_url
from apps.logs.models import Conversation, Message, MessageFeedback, Source
from apps.workspaces import roles
from apps.workspaces.decorators import require_perm
from apps.workspaces.roles import Perm
from apps.workspaces.urlutils import ws_reverse

LOG_SOURCES = (Source.API, Source.WEBAPP)
LOG_PERIODS: dict[str, tuple[Any, int | None]] = {
    "7d": (gettext_lazy("Last 7 days"), 7),
    "4w": (gettext_lazy("Last 4 weeks"), 28),
    "3m": (gettext_lazy("Last 3 months"), 91),
    "all": (gettext_lazy("All time"), None),
}
LOG_RATINGS: dict[str, Any] = {
    "": gettext_lazy("Any rating"),
    "like": gettext_lazy("Liked"),
    "dislike": gettext_lazy("Disliked"),
    "none": gettext_lazy("Not rated"),
}
LOGS_PER_PAGE = 20


def _can(request: HttpRequest, perm: str) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and roles.has_perm(membership.role, perm)


def _app_or_404(app_id: Any) -> App:
    return get_object_or_404(App.objects.select_related("published"), pk=app_id)


def _is_htmx(request: HttpRequest) -> bool:
    return bool(request.headers.get("HX-Request"))


# --- Studio: the list of apps -------------------------------------------------------------------


def _filtered_apps(request: HttpRequest) -> tuple[QuerySet[App], str, str]:
    query = request.GET.get("q", "").strip()
    mode = request.GET.get("mode", "")
    apps = App.objects.select_related("published")
    if query:
        apps = apps.filter(name__icontains=query)
    if mode in {m.value for m in CREATE_MODES}:
        apps = apps.filter(mode=mode)
    else:
        mode = ""
    return apps, query, mode


@require_perm(Perm.WORKSPACE_VIEW)
def apps(request: HttpRequest) -> HttpResponse:
    found, query, mode = _filtered_apps(request)
    context = {
        "apps": list(found),
        "query": query,
        "mode": mode,
        "modes": [(m.value, m.label) for m in CREATE_MODES],
        "total": App.objects.count(),
        "can_edit": _can(request, Perm.APPS_EDIT),
    }
    template = "applications/_app_grid.html" if _is_htmx(request) else "applications/studio.html"
    return render(request, template, context)


def _create_context(form: AppCreateForm) -> dict[str, Any]:
    return {
        "form": form,
        "icons": ICONS,
        "backgrounds": BACKGROUNDS,
        "modes": [(m.value, m.label, MODE_HELP[m]) for m in CREATE_MODES],
        "templates": TEMPLATES,
        "templates_json": {t["id"]: {"mode": t["mode"], "name": str(t["name"]), "icon": t["icon"],
                                     "icon_background": t["icon_background"],
                                     "description": str(t["description"])} for t in TEMPLATES},
    }


@require_perm(Perm.APPS_EDIT)
def app_new(request: HttpRequest) -> HttpResponse:
    initial_template = request.GET.get("template", BLANK)
    if initial_template not in BY_ID:
        initial_template = BLANK
    form = AppCreateForm(request.POST or None, initial={"template": initial_template})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        template = BY_ID.get(data["template"])
        mode = template["mode"] if template else data["mode"]
        if mode in (App.Mode.WORKFLOW, App.Mode.ADVANCED_CHAT):  # a graph, edited on the Workflow page
            from apps.workflows.services import workflow_app_create

            app = workflow_app_create(name=data["name"], mode=mode, actor_id=request.user.pk,
                                      description=data["description"], icon=data["icon"],
                                      icon_background=data["icon_background"])
            messages.success(request, _("“%(name)s” was created.") % {"name": app.name})
            return redirect(ws_reverse(request, "console:app_workflow", app_id=app.pk))
        try:
            app = services.app_create(
                name=data["name"], mode=mode, actor_id=request.user.pk, description=data["description"],
                icon=data["icon"], icon_background=data["icon_background"],
                config=template["config"] if template else None)
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, _("“%(name)s” was created.") % {"name": app.name})
            return redirect(ws_reverse(request, "console:app_overview", app_id=app.pk))
    return render(request, "applications/app_new.html", _create_context(form))


@require_perm(Perm.APPS_EDIT)
def app_edit(request: HttpRequest, app_id: Any) -> HttpResponse:
    app = _app_or_404(app_id)
    form = AppForm(request.POST or None, initial={"name": app.name, "icon": app.icon,
                                                  "icon_background": app.icon_background,
                                                  "description": app.description})
    if request.method == "POST" and form.is_valid():
        services.app_update(app=app, **form.cleaned_data)
        messages.success(request, _("“%(name)s” was saved.") % {"name": app.name})
        return redirect(ws_reverse(request, "console:app_overview", app_id=app.pk))
    return render(request, "applications/app_edit.html", {
        "app": app, "form": form, "icons": ICONS, "backgrounds": BACKGROUNDS})


@require_POST
@require_perm(Perm.APPS_EDIT)
def app_duplicate(request: HttpRequest, app_id: Any) -> HttpResponse:
    app = _app_or_404(app_id)
    copy = services.app_duplicate(app=app, actor_id=request.user.pk)
    messages.success(request, _("“%(name)s” was created as a copy of “%(source)s”.")
                     % {"name": copy.name, "source": app.name})
    return redirect(ws_reverse(request, "console:apps"))


@require_POST
@require_perm(Perm.APPS_EDIT)
def app_delete(request: HttpRequest, app_id: Any) -> HttpResponse:
    app = _app_or_404(app_id)
    name = app.name
    services.app_delete(app=app)
    messages.success(request, _("“%(name)s” was deleted.") % {"name": name})
    return redirect(ws_reverse(request, "console:apps"))


# --- One app: Overview ----------------------------------------------------------------------------


def _daily(queryset: QuerySet[Any], days: list[datetime.date]) -> list[int]:
    counts = dict(queryset.annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id"))
                  .values_list("day", "n"))
    return [counts.get(day, 0) for day in days]


def _week_stats(app: App) -> dict[str, Any]:
    """Messages and conversations per day over the last 7 days, console debug runs left out."""
    today = timezone.localdate()
    days = [today - datetime.timedelta(days=offset) for offset in range(6, -1, -1)]
    start = timezone.make_aware(datetime.datetime.combine(days[0], datetime.time.min))
    messages_ = _daily(Message.objects.filter(app=app, created_at__gte=start)
                       .exclude(from_source=Source.DEBUGGER), days)
    conversations = _daily(Conversation.objects.filter(app=app, created_at__gte=start)
                           .exclude(from_source=Source.DEBUGGER), days)
    peak = max([*messages_, *conversations, 1])
    rows = [{"day": day, "messages": m, "conversations": c,
             "messages_pct": round(100 * m / peak), "conversations_pct": round(100 * c / peak)}
            for day, m, c in zip(days, messages_, conversations, strict=True)]
    return {"rows": rows, "messages": sum(messages_), "conversations": sum(conversations)}


def _app_context(request: HttpRequest, app: App, tab: str) -> dict[str, Any]:
    return {"app": app, "tab": tab, "can_edit": _can(request, Perm.APPS_EDIT),
            "can_logs": _can(request, Perm.APPS_LOGS)}


@require_perm(Perm.WORKSPACE_VIEW)
def app_overview(request: HttpRequest, app_id: Any) -> HttpResponse:
    app = _app_or_404(app_id)
    form = AccessForm(initial={"enable_api": app.enable_api, "enable_site": app.enable_site,
                               "max_active_requests": app.max_active_requests})
    site = services.site_get_or_create(app=app)
    return render(request, "applications/app_overview.html", {
        **_app_context(request, app, "overview"),
        "share_url": share_url(request, app, site.code),
        "access_form": form,
        "versions": list(app.versions.all()[:20]),
        "stats": _week_stats(app),
        "api_base": settings.SITE_URL + "/v1",
    })


@require_POST
@require_perm(Perm.APPS_EDIT)
def app_access(request: HttpRequest, app_id: Any) -> HttpResponse:
    app = _app_or_404(app_id)
    form = AccessForm(request.POST)
    if form.is_valid():
        services.app_update(app=app, **form.cleaned_data)
        messages.success(request, _("Access settings saved."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(ws_reverse(request, "console:app_overview", app_id=app.pk) + "#access")


# --- One app: API access -----------------------------------------------------------------------


def _example_value(kind: str, spec: dict[str, Any]) -> Any:
    if spec.get("default") not in (None, ""):
        return spec["default"]
    if kind == "select" and spec.get("options"):
        return spec["options"][0]
    if kind == "number":
        return 1
    if kind == "checkbox":
        return True
    return spec.get("label") or spec["variable"]


def _curl(method: str, url: str, body: dict[str, Any] | None = None, stream: bool = False) -> str:
    lines = [f"curl -X {method} '{url}'" + (" -N" if stream else ""),
             "  -H 'Authorization: Bearer {api_key}'"]
    if body is not None:
        lines.append("  -H 'Content-Type: application/json'")
        payload = json.dumps(body, indent=2, ensure_ascii=False).replace("'", "'\\''")
        lines.append(f"  -d '{payload}'")
    return " \\\n".join(lines)


def _api_examples(app: App, base: str) -> list[dict[str, Any]]:
    inputs = {spec["variable"]: _example_value(kind, spec) for kind, spec in form_variables(app.live_config)}
    if app.is_chat:
        body = {"inputs": inputs, "query": _("What can you do?"), "response_mode": "blocking",
                "conversation_id": "", "user": "abc-123"}
        generate = [
            {"id": "chat-blocking", "method": "POST", "path": "/chat-messages",
             "title": _("Send a chat message (blocking)"),
             "desc": _("Waits for the whole answer and returns it as one JSON object. Pass the returned "
                       "conversation_id to continue the conversation."),
             "curl": _curl("POST", f"{base}/chat-messages", body)},
            {"id": "chat-streaming", "method": "POST", "path": "/chat-messages",
             "title": _("Send a chat message (streaming)"),
             "desc": _("Returns Server-Sent Events: message chunks as they are generated, then message_end."),
             "curl": _curl("POST", f"{base}/chat-messages", {**body, "response_mode": "streaming"},
                           stream=True)},
        ]
    else:
        body = {"inputs": inputs, "response_mode": "blocking", "user": "abc-123"}
        generate = [
            {"id": "completion-blocking", "method": "POST", "path": "/completion-messages",
             "title": _("Generate a text (blocking)"),
             "desc": _("Waits for the whole text and returns it as one JSON object."),
             "curl": _curl("POST", f"{base}/completion-messages", body)},
            {"id": "completion-streaming", "method": "POST", "path": "/completion-messages",
             "title": _("Generate a text (streaming)"),
             "desc": _("Returns Server-Sent Events: text chunks as they are generated, then message_end."),
             "curl": _curl("POST", f"{base}/completion-messages", {**body, "response_mode": "streaming"},
                           stream=True)},
        ]
    reads = [
        {"id": "parameters", "method": "GET", "path": "/parameters", "title": _("Get the app's parameters"),
         "desc": _("The input form, opening statement and suggested questions, to build your own UI."),
         "curl": _curl("GET", f"{base}/parameters")},
    ]
    if app.is_chat:
        reads += [
            {"id": "messages", "method": "GET", "path": "/messages",
             "title": _("List a conversation's messages"),
             "desc": _("The history of one conversation of one user, newest last."),
             "curl": _curl("GET", f"{base}/messages?user=abc-123&conversation_id={{conversation_id}}"
                                  "&limit=20")},
            {"id": "conversations", "method": "GET", "path": "/conversations",
             "title": _("List a user's conversations"),
             "desc": _("The conversations of one user, most recently updated first."),
             "curl": _curl("GET", f"{base}/conversations?user=abc-123&limit=20")},
        ]
    return generate + reads


def _api_page(request: HttpRequest, app: App, raw_key: str = "",
              new_key: ApiKey | None = None) -> HttpResponse:
    base = settings.SITE_URL + "/v1"
    return render(request, "applications/app_api.html", {
        **_app_context(request, app, "api"),
        "keys": list(app.api_keys.all()),
        "max_keys": services.MAX_KEYS_PER_APP,
        "raw_key": raw_key,
        "new_key": new_key,
        "api_base": base,
        "examples": _api_examples(app, base),
    })


@require_perm(Perm.APPS_EDIT)
def app_api(request: HttpRequest, app_id: Any) -> HttpResponse:
    return _api_page(request, _app_or_404(app_id))


@require_POST
@require_perm(Perm.APPS_EDIT)
def app_api_key_create(request: HttpRequest, app_id: Any) -> HttpResponse:
    """Answers with the page itself (no redirect): the raw key exists in this one response only."""
    app = _app_or_404(app_id)
    try:
        key, raw = services.api_key_create(app=app, actor_id=request.user.pk)
    except ValidationError as exc:
        for text in exc.messages:
            messages.error(request, text)
        return redirect(ws_reverse(request, "console:app_api", app_id=app.pk))
    response = _api_page(request, app, raw_key=raw, new_key=key)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@require_perm(Perm.APPS_EDIT)
def app_api_key_revoke(request: HttpRequest, app_id: Any, key_id: Any) -> HttpResponse:
    app = _app_or_404(app_id)
    key = get_object_or_404(ApiKey, pk=key_id, app=app)
    prefix = key.prefix
    services.api_key_revoke(key=key)
    messages.success(request, _("The key %(prefix)s… was revoked; requests using it are now refused.")
                     % {"prefix": prefix})
    return redirect(ws_reverse(request, "console:app_api", app_id=app.pk))


# --- One app: Logs ---------------------------------------------------------------------------------


def _log_filters(request: HttpRequest) -> dict[str, str]:
    period = request.GET.get("period", "7d")
    rating = request.GET.get("rating", "")
    return {"period": period if period in LOG_PERIODS else "7d",
            "q": request.GET.get("q", "").strip()[:200],
            "rating": rating if rating in LOG_RATINGS else ""}


def _conversations(app: App, filters: dict[str, str]) -> QuerySet[Conversation]:
    found = Conversation.objects.filter(app=app, from_source__in=LOG_SOURCES).select_related("end_user")
    days = LOG_PERIODS[filters["period"]][1]
    if days is not None:
        found = found.filter(created_at__gte=timezone.now() - datetime.timedelta(days=days))
    if filters["q"]:
        hits = Message.objects.filter(conversation=OuterRef("pk")).filter(
            Q(query__icontains=filters["q"]) | Q(answer__icontains=filters["q"]))
        found = found.filter(Exists(hits))
    feedback = MessageFeedback.objects.filter(message__conversation=OuterRef("pk"))
    if filters["rating"] in ("like", "dislike"):
        found = found.filter(Exists(feedback.filter(rating=filters["rating"])))
    elif filters["rating"] == "none":
        found = found.exclude(Exists(feedback))
    return found.annotate(
        message_count=Count("messages", distinct=True),
        likes=Count("messages__feedbacks", filter=Q(messages__feedbacks__rating="like"), distinct=True),
        dislikes=Count("messages__feedbacks", filter=Q(messages__feedbacks__rating="dislike"), distinct=True),
    ).order_by("-updated_at")


@require_perm(Perm.APPS_LOGS)
def app_logs(request: HttpRequest, app_id: Any) -> HttpResponse:
    app = _app_or_404(app_id)
    filters = _log_filters(request)
    page = Paginator(_conversations(app, filters), LOGS_PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    firsts = {}
    for message in (Message.objects.filter(conversation__in=[c.pk for c in rows]).order_by("created_at")
                    .only("conversation_id", "query", "answer")):
        firsts.setdefault(message.conversation_id, message)
    for conversation in rows:
        first = firsts.get(conversation.pk)
        conversation.first_query = first.query if first else ""
    params = {k: v for k, v in filters.items() if v and not (k == "period" and v == "7d")}
    context = {
        **_app_context(request, app, "logs"),
        "filters": filters,
        "periods": [(k, label) for k, (label, _days) in LOG_PERIODS.items()],
        "ratings": list(LOG_RATINGS.items()),
        "page": page,
        "rows": rows,
        "query_string": urlencode(params),
    }
    if _is_htmx(request) and request.headers.get("HX-Target") == "log-list":
        return render(request, "applications/_log_list.html", context)
    return render(request, "applications/app_logs.html", context)


def _detail_context(request: HttpRequest, app: App, conversation: Conversation) -> dict[str, Any]:
    turns = []
    for message in conversation.messages.order_by("created_at").prefetch_related("feedbacks"):
        by_source = {f.from_source: f for f in message.feedbacks.all()}
        turns.append({"message": message, "user_feedback": by_source.get(MessageFeedback.From.USER),
                      "admin_feedback": by_source.get(MessageFeedback.From.ADMIN),
                      "tokens": message.message_tokens + message.answer_tokens,
                      "price": f"{message.total_price.normalize():f}" if message.total_price else "0"})
    return {**_app_context(request, app, "logs"), "conversation": conversation, "turns": turns}


@require_perm(Perm.APPS_LOGS)
def app_log_detail(request: HttpRequest, app_id: Any, conversation_id: Any) -> HttpResponse:
    app = _app_or_404(app_id)
    conversation = get_object_or_404(Conversation.objects.select_related("end_user"), pk=conversation_id,
                                     app=app, from_source__in=LOG_SOURCES)
    template = "applications/_log_detail.html" if _is_htmx(request) else "applications/app_log_detail.html"
    return render(request, template, _detail_context(request, app, conversation))


@require_POST
@require_perm(Perm.APPS_LOGS)
def app_log_feedback(request: HttpRequest, app_id: Any, message_id: Any) -> HttpResponse:
    """An operator's mark: the last operator's rating and improved answer win (one admin row per answer)."""
    app = _app_or_404(app_id)
    message = get_object_or_404(Message.objects.select_related("conversation"), pk=message_id, app=app,
                                from_source__in=LOG_SOURCES)
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        raise PermissionDenied  # only a tampered form gets here: both fields are optional
    current = MessageFeedback.objects.filter(message=message, from_source=MessageFeedback.From.ADMIN).first()
    rating = form.cleaned_data["rating"] or (current.rating if current else MessageFeedback.Rating.DISLIKE)
    content = (form.cleaned_data["content"].strip() if form.cleaned_data["save_content"]
               else (current.content if current else ""))
    MessageFeedback.objects.update_or_create(
        message=message, from_source=MessageFeedback.From.ADMIN,
        defaults={"app": app, "rating": rating, "content": content, "from_account_id": request.user.pk})
    if _is_htmx(request):
        return render(request, "applications/_log_detail.html",
                      _detail_context(request, app, message.conversation))
    messages.success(request, _("Your mark was saved."))
    return redirect(ws_reverse(request, "console:app_log_detail", app_id=app.pk,
                               conversation_id=message.conversation_id))
