"""Embedding a WebApp on other sites (WEB-04): who may embed it, the snippets the console hands out,
and the widget script itself.

One list decides both ways in: the site's `allowed_origins` (scheme://host[:port], lower case).
- The iframe: /chat/<code> answers with `Content-Security-Policy: frame-ancestors 'self' <origins>`
  instead of X-Frame-Options DENY, so browsers draw it only inside pages of those origins.
- The widget's WebSocket (/ws/chat/<code>/): the handshake's Origin must be the WebApp's own
  origin or one of the list; anything else is refused before the socket opens.
An empty list means "this server only"; "*" allows every site, and must be written on purpose.
"""

import functools
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.applications.models import Site

ANY_ORIGIN = "*"
DEFAULT_COLOR = "#0e6b63"  # the widget's default accent (static/js/webapp-embed.js), the console's teal
WIDGET_SCRIPT = "js/webapp-embed.js"


def _netloc(scheme: str, host: str | None, port: int | None) -> str:
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    return f"{host}:{port}" if port and port != default else f"{host}"


def origin_allowed(site: Site, origin: str | None, host: str | None) -> bool:
    """May a browser page at `origin` talk to this site's WebApp served at `host` (the Host header)?
    Browsers always send Origin on a WebSocket handshake; a request without one is refused unless
    every origin is allowed (a script can claim any Origin anyway, so this guards browsers only)."""
    allowed = [o.lower() for o in (site.allowed_origins or [])]
    if ANY_ORIGIN in allowed:
        return True
    if not origin or origin == "null":
        return False
    origin = origin.strip().lower().rstrip("/")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if host and _netloc(parts.scheme, parts.hostname, port) == host.strip().lower():
        return True  # the WebApp's own pages
    return origin in allowed


def scope_origin_allowed(site: Site, scope: dict[str, Any]) -> bool:
    """origin_allowed for a Channels WebSocket scope."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1")
               for name, value in scope.get("headers", [])}
    return origin_allowed(site, headers.get("origin"), headers.get("host"))


def frame_ancestors(site: Site) -> str:
    """The CSP directive for the iframe embed of this site."""
    allowed = [o.lower() for o in (site.allowed_origins or [])]
    if ANY_ORIGIN in allowed:
        return "frame-ancestors *"
    return " ".join(["frame-ancestors 'self'", *allowed])


def allow_framing(response: HttpResponse, site: Site) -> HttpResponse:
    """Let the allowed origins frame this response (and only them): CSP frame-ancestors replaces
    the site-wide X-Frame-Options DENY, which cannot name origins."""
    response["Content-Security-Policy"] = frame_ancestors(site)
    response.xframe_options_exempt = True  # type: ignore[attr-defined]
    return response


def widget_strings() -> dict[str, str]:
    """Texts the widget shows, in the active language (the widget has no catalogue)."""
    return {
        "placeholder": _("Type a message…"), "send": _("Send"), "stop": _("Stop"), "start": _("Start chat"),
        "close": _("Close"), "open": _("Open the chat"), "newChat": _("New conversation"),
        "stopped": _("Stopped."), "error": _("Something went wrong. Please try again."),
        "required": _("Please fill in “%(label)s”."),
        "unavailable": _("This chat is not available on this site."),
    }


def snippets(request: HttpRequest, share_url: str, code: str) -> dict[str, str]:
    """The console's Embed dialog: an iframe for a container tag, and a one-line script tag that
    draws the chat bubble (its options are data-attributes, documented in the README)."""
    script_url = request.build_absolute_uri(reverse("webapp:embed_js"))
    return {
        "iframe": (f'<iframe src="{share_url}" title="Chat" style="width: 100%; height: 100%; '
                   f'min-height: 640px; border: 0" allow="microphone"></iframe>'),
        "script": f'<script src="{script_url}" data-code="{code}" defer></script>',
        "script_url": script_url, "default_color": DEFAULT_COLOR,
    }


def _read_widget() -> bytes:
    path = finders.find(WIDGET_SCRIPT)
    with open(path, "rb") as handle:  # type: ignore[arg-type]
        return handle.read()


_cached_widget = functools.cache(_read_widget)


def _widget_source() -> bytes:
    """Read once per process; in development (DEBUG) on every request, so edits show at once."""
    return _read_widget() if settings.DEBUG else _cached_widget()


@require_GET
def embed_script(request: HttpRequest) -> HttpResponse:
    """The widget at a stable URL (/webapp/embed.js), so snippets on other sites never go stale
    when static file names change with a release. Cached for an hour by browsers."""
    response = HttpResponse(_widget_source(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
