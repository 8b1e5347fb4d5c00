"""Platform-level views: health check and error pages."""

import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader

from apps.core.errors import error_response, internal_error, not_found_url
from apps.core.middleware import is_api


def _check(fn: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = fn()
    except Exception as exc:  # a health check reports every failure, whatever it is
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    if detail:
        result["detail"] = detail
    return result


def _database() -> str:
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("pgvector extension missing")
    return f"pgvector {row[0]}"


def _broker() -> str:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_name


def _channel_layer() -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "health.ping"})
    message = async_to_sync(layer.receive)(channel)
    if message.get("type") != "health.ping":
        raise RuntimeError("channel layer echoed the wrong message")
    return type(layer).__name__


def healthz(request: HttpRequest) -> JsonResponse:
    """State of the database, broker and channel layer: 200 when all are up, else 503."""
    checks = {"database": _check(_database), "broker": _check(_broker), "channel_layer": _check(_channel_layer)}
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ok" if ok else "degraded", "checks": checks,
                         "embedded_database": settings.EMBEDDED_DATABASE}, status=200 if ok else 503)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):  # API clients get the API error format, not a page
        return error_response(not_found_url())
    return render(request, "errors/404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return error_response(internal_error())
    # No request context: whatever failed (often the database) must not break the error page too.
    return HttpResponse(loader.render_to_string("errors/500.html"), status=500)
