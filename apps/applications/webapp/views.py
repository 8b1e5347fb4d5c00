"""The public WebApp pages. Anyone with the share link may open them (WEB-01); an unknown or
regenerated code, a switched-off WebApp or an app of the other kind answers the same 404 page.

The page is server-rendered with the site's look and the app's live parameters; the conversation
itself runs in static/js/webapp-chat.js (webapp-completion.js, webapp-workflow.js) against
/webapp/<code>/api/.
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from apps.applications.api.meta import parameters_body, site_body
from apps.applications.models import App, Site
from apps.applications.webapp import embedding, identity
from apps.core.errors import ServiceError

SUPPORTED = {code for code, _name in settings.LANGUAGES}


def share_url(request: HttpRequest, app: App, code: str) -> str:
    """The absolute share link of an app's site: /chat/<code>, /completion/<code> or /workflow/<code>."""
    if app.mode == App.Mode.WORKFLOW:
        name = "webapp:workflow"
    else:
        name = "webapp:chat" if app.is_chat else "webapp:completion"
    return request.build_absolute_uri(reverse(name, kwargs={"code": code}))


def page_language(request: HttpRequest, site: Site) -> str:
    """The visitor's own choice (the language cookie of /i18n/setlang/) wins; otherwise the site's
    default language, whatever the browser's Accept-Language says."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen and chosen.lower() in SUPPORTED:
        return chosen.lower()
    return site.default_language.lower()


def ui_strings() -> dict[str, str]:
    """Texts the page's script shows, in the page's language (the script has no catalogue)."""
    return {
        "required": _("Please fill in “%(label)s”."),
        "newChat": _("New conversation"),
        "error": _("Something went wrong. Please try again."),
        "stopped": _("Stopped."),
        "renamePrompt": _("New name for this conversation"),
        "deleteConfirm": _("Delete this conversation? It cannot be undone."),
        "micDenied": _("The microphone is not available."),
        "uploadFailed": _("The image could not be uploaded."),
        "copied": _("Copied"),
    }


def unavailable(request: HttpRequest) -> HttpResponse:
    return render(request, "webapp/unavailable.html", status=404)


def _page(request: HttpRequest, code: str, modes: Iterable[str], template: str) -> HttpResponse:
    try:
        ctx = identity.resolve_site(code, modes=modes)
        with schema_context(ctx.workspace.schema_name):
            parameters = parameters_body(ctx.app)
            end_user, token = identity.end_user_for_request(ctx, request)
    except ServiceError:
        return unavailable(request)
    language = page_language(request, ctx.site)
    translation.activate(language)
    request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
    api_base = reverse("webapp:site", kwargs={"code": code}).rsplit("/", 1)[0]
    prompt = (ctx.app.live_config.get("pre_prompt") or "") if ctx.site.show_prompt else ""
    context: dict[str, Any] = {
        "site": ctx.site, "app": ctx.app, "code": code, "parameters": parameters, "prompt": prompt,
        "boot": {"code": code, "api": api_base, "mode": ctx.app.mode, "site": site_body(ctx.site),
                 "parameters": parameters, "language": language, "strings": ui_strings()},
    }
    response = render(request, template, context)
    response["Content-Language"] = language
    response["Cache-Control"] = "no-store"
    embedding.allow_framing(response, ctx.site)  # the iframe embed, for the allowed origins only
    if token:
        identity.set_cookie(response, request, ctx.app, token)
    return response


def chat(request: HttpRequest, code: str) -> HttpResponse:
    return _page(request, code, App.CHAT_MODES, "webapp/chat.html")


def completion(request: HttpRequest, code: str) -> HttpResponse:
    return _page(request, code, (App.Mode.COMPLETION,), "webapp/completion.html")


def workflow(request: HttpRequest, code: str) -> HttpResponse:
    """The workflow WebApp (WEB-16): the Start node's form, a run with live progress, batches."""
    return _page(request, code, (App.Mode.WORKFLOW,), "webapp/workflow.html")
