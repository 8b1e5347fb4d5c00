"""Browser-facing headers of every page: a Content-Security-Policy and no-store for signed-in users.

The policy allows scripts from this origin and, for an inline script, the request's nonce
(``{{ request.csp_nonce }}``); there is no 'unsafe-inline' and no 'unsafe-eval' for scripts, which
is why Alpine is its CSP build (static/vendor/README.md) and no template uses inline handlers.
Inline styles stay allowed: templates and Alpine's ``:style`` set them, and they cannot run code.

A view may already have set ``Content-Security-Policy``: the WebApps' ``frame-ancestors``
(apps/applications/webapp/embedding.py), which lets the sites an app names frame it. Its directives
are kept and the others added, so every page gets the script policy (a second header would be a
second, separately enforced policy).

django-csp was not used: it leaves a response that already carries the header alone, so the WebApps
would need their per-site frame-ancestors rewritten into its decorators; this middleware is smaller.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

HEADER = "Content-Security-Policy"


def policy(nonce: str) -> dict[str, str]:
    """The directives of a page's policy (CSP_EXTRA_DIRECTIVES adds sources, README)."""
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": "'self' 'unsafe-inline'",
        # Answers may show images from anywhere (Markdown in WebApps); images cannot run code.
        "img-src": "'self' data: blob: https:",
        "media-src": "'self' data: blob:",  # text-to-speech audio
        "font-src": "'self' data:",
        "connect-src": "'self'",  # fetch, SSE and same-origin WebSockets
        "object-src": "'none'",
        "base-uri": "'self'",
        "frame-ancestors": "'none'",  # as X-Frame-Options DENY; the WebApps set their own
    }
    for name, sources in getattr(settings, "CSP_EXTRA_DIRECTIVES", {}).items():
        directives[name] = f"{directives.get(name, '')} {sources}".strip()
    return directives


def _merged(existing: str, directives: dict[str, str]) -> str:
    """``directives`` with the ones a view already set taking precedence."""
    own = {}
    for part in existing.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            own[name.lower()] = value.strip()
    combined = {**directives, **own}
    return "; ".join(f"{name} {value}".strip() for name, value in combined.items())


class SecurityHeadersMiddleware:
    """Sets the headers on the way out; works in sync and async chains alike."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        request.csp_nonce = secrets.token_urlsafe(16)  # type: ignore[attr-defined]
        if iscoroutinefunction(self):
            return self._acall(request)
        return self._headers(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        return self._headers(request, await self.get_response(request))

    @staticmethod
    def _headers(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.get("Content-Type", "").startswith("text/html"):
            response[HEADER] = _merged(response.get(HEADER, ""), policy(request.csp_nonce))  # type: ignore[attr-defined]
        # Signed-in pages must not stay in a shared or back-button cache. The session cookie is
        # the sign (no database read here, so async views stay async); a view's own choice stands.
        if settings.SESSION_COOKIE_NAME in request.COOKIES and "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
        return response
