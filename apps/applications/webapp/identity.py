"""Who is asking, on a public WebApp or the chat widget: site code → (workspace, app, site), and
the browser → an EndUser of that app.

Each browser is one EndUser (type "browser") per app, named by a random session id. The session id
travels as a signed token: in an HttpOnly cookie for the WebApp pages and their endpoints, or
(for the widget, whose page lives on another site) as the same token handed over explicitly. The
signature is salted with the app id, so a token of one app never names an end user of another.

Nothing here trusts the site code beyond the public SiteRoute index: a regenerated code has no
route any more, so its pages, cookies and sockets stop working at once (WEB-05).
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django_tenants.utils import schema_context

from apps.applications.models import App, Site
from apps.core.errors import ServiceError
from apps.logs.models import EndUser
from apps.workspaces.models import Workspace
from apps.workspaces.routing import route_for_site

COOKIE_PREFIX = "tessera_eu_"
COOKIE_MAX_AGE = 365 * 24 * 3600


class SiteUnavailable(ServiceError):
    """Unknown or regenerated code, WebApp switched off, or an app of another mode: the public
    answer is the same 404 for all of them, so nothing is learnt about which."""

    def __init__(self) -> None:
        super().__init__("site_unavailable", "This WebApp is not available.", 404)


@dataclass(frozen=True)
class WebAppContext:
    """A resolved site: use `workspace.schema_name` for every later database call."""

    workspace: Workspace
    app: App
    site: Site


def resolve_site(code: str, *, modes: Iterable[str] | None = None) -> WebAppContext:
    """Site code → its workspace, app and site, or SiteUnavailable. Sync; it leaves the connection
    in the public schema (async callers: run_in_public)."""
    if not code or len(code) > 32:
        raise SiteUnavailable()
    route = route_for_site(code)
    if route is None:
        raise SiteUnavailable()
    with schema_context(route.workspace.schema_name):
        site = (Site.objects.select_related("app", "app__published")
                .filter(code=code, app_id=route.app_id).first())
    connection.set_schema_to_public()
    if site is None:
        raise SiteUnavailable()
    app = site.app
    if not app.enable_site or app.status != "normal" or (modes is not None and app.mode not in set(modes)):
        raise SiteUnavailable()
    return WebAppContext(route.workspace, app, site)


def _signer(app_id: Any) -> signing.Signer:
    return signing.TimestampSigner(salt=f"tessera.webapp.end-user:{app_id}")


def cookie_name(app: App) -> str:
    """One cookie per app (not per code): regenerating the code must not be a way to forget
    history, and the old code is refused anyway because its route is gone."""
    return COOKIE_PREFIX + app.pk.hex


def issue_token(app: App, session_id: str) -> str:
    return _signer(app.pk).sign(session_id)


def session_from_token(app: App, token: str | None) -> str | None:
    """The session id inside a token of this app, or None (missing, forged, or another app's)."""
    if not token:
        return None
    try:
        return _signer(app.pk).unsign(token, max_age=COOKIE_MAX_AGE)
    except signing.BadSignature:
        return None


def end_user_for_token(app: App, token: str | None) -> tuple[EndUser, str | None]:
    """The end user a token names, or a new one. Returns (end_user, new_token): new_token is set
    when the caller must hand the browser a fresh token (cookie or widget storage). Runs in the
    app's workspace schema."""
    session_id = session_from_token(app, token)
    if session_id:
        end_user = EndUser.objects.filter(app=app, type=EndUser.Type.BROWSER, session_id=session_id).first()
        if end_user is not None:
            return end_user, None
    # A valid token whose end user is gone (app recreated, data wiped) starts afresh too.
    session_id = str(uuid.uuid4())
    end_user = EndUser.objects.create(app=app, type=EndUser.Type.BROWSER, session_id=session_id,
                                      is_anonymous=True)
    return end_user, issue_token(app, session_id)


def end_user_for_request(ctx: WebAppContext, request: HttpRequest) -> tuple[EndUser, str | None]:
    """end_user_for_token with the request's cookie; runs in the workspace schema."""
    return end_user_for_token(ctx.app, request.COOKIES.get(cookie_name(ctx.app)))


def end_user_for_scope(app: App, scope: dict[str, Any],
                       token: str | None = None) -> tuple[EndUser, str | None]:
    """For a Channels consumer: the cookie from the handshake (scope["cookies"], filled by
    channels' CookieMiddleware), else an explicitly given token (the widget's own storage)."""
    cookies = scope.get("cookies") or {}
    return end_user_for_token(app, cookies.get(cookie_name(app)) or token)


def set_cookie(response: HttpResponse, request: HttpRequest, app: App, token: str) -> None:
    """HttpOnly, site-wide path (pages, /webapp/<code>/api/ and /ws/chat/<code>/ share it). Over
    HTTPS SameSite=None, so an iframe embed on another site keeps its end user; over plain HTTP
    (development) browsers refuse that, and Lax is the safe default."""
    secure = request.is_secure()
    response.set_cookie(cookie_name(app), token, max_age=COOKIE_MAX_AGE, httponly=True, secure=secure,
                        samesite="None" if secure else "Lax", path="/")
