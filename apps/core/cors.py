"""CORS for the Service and Knowledge APIs under /v1/ (DEP-07): any origin may call them, as the
reference server allows, so browser-based API clients keep working. The APIs authenticate by a
bearer key and never by cookie, so allowing every origin (without credentials) lets a page do
nothing it could not do with the key anyway. Requests without an Origin header (servers, curl)
pass through untouched. The console and WebApps are not covered: they are same-origin.
"""

from typing import Any

ALLOW_ORIGIN = (b"access-control-allow-origin", b"*")
PREFLIGHT_HEADERS = [
    ALLOW_ORIGIN,
    (b"access-control-allow-methods", b"GET, PUT, POST, DELETE, OPTIONS, PATCH"),
    (b"access-control-allow-headers", b"Content-Type, Authorization, X-App-Code"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


async def open_cors(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve ``scope`` with ``app``, answering preflights and marking responses to browser requests."""
    headers = scope["headers"]
    if not any(name == b"origin" for name, _ in headers):
        await app(scope, receive, send)
        return
    if scope["method"] == "OPTIONS" and any(name == b"access-control-request-method" for name, _ in headers):
        await send({"type": "http.response.start", "status": 200, "headers": PREFLIGHT_HEADERS})
        await send({"type": "http.response.body", "body": b""})
        return

    async def send_allowed(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), ALLOW_ORIGIN]}
        await send(message)

    await app(scope, receive, send_allowed)
