"""Service API authentication: `Authorization: Bearer app-…` → the workspace and the app (§0)."""

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from apps.applications.models import ApiKey, App
from apps.core.errors import ServiceError
from apps.core.hotcache import HotCache
from apps.core.inputs import text_arg
from apps.logs.models import EndUser, Source
from apps.workspaces.models import Workspace, hash_secret
from apps.workspaces.routing import route_for_api_key
from apps.workspaces.sync import use_schema

TOUCH_EVERY = 60.0

_callers = HotCache("app-callers")  # key hash → AppCaller (workspace + app)


@dataclass(frozen=True)
class AppCaller:
    """Who calls an app endpoint. The Service API names its end user with the `user` argument;
    the WebApp (source "webapp") has already resolved the browser's end user from its cookie."""

    workspace: Workspace
    app: App
    source: str = Source.API
    end_user: EndUser | None = None


def _unauthorized(message: str) -> ServiceError:
    return ServiceError("unauthorized", message, 401)


def bearer_token(header: str | None) -> str:
    if not header or " " not in header:
        raise _unauthorized("Authorization header must be provided and start with 'Bearer'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise _unauthorized("Authorization scheme must be 'Bearer'")
    return token.strip()


def _load_caller(token: str) -> AppCaller | None:
    route = route_for_api_key(token, kind="app")
    if route is None:
        return None
    use_schema(route.workspace.schema_name)
    app = App.objects.filter(pk=route.app_id).select_related("published").first()
    if app is None:
        raise ServiceError("forbidden", "The app no longer exists.", 403)
    return AppCaller(route.workspace, app)


def resolve_caller(header: str | None) -> AppCaller:
    """Resolve and check an app key; the hot path's form: the route and the app come from this
    process's cache (apps/core/hotcache.py) and the connection may be left in the app's schema."""
    token = bearer_token(header)
    key_hash = hash_secret(token)
    caller = _callers.get_or_load(key_hash, lambda: _load_caller(token))
    if caller is None:
        raise _unauthorized("Access token is invalid")
    app = caller.app
    if app.status != "normal":
        raise ServiceError("forbidden", "The app's status is abnormal.", 403)
    if not app.enable_api:
        raise ServiceError("forbidden", "The app's API service has been disabled.", 403)
    _touch(caller.workspace, key_hash)
    return caller


def authenticate_app(header: str | None) -> AppCaller:
    """Resolve and check an app key, leaving the connection in the public schema (sync: call
    through sync_to_async from async views)."""
    try:
        return resolve_caller(header)
    finally:
        connection.set_schema_to_public()


_touched: dict[str, float] = {}  # key hash → when this process last wrote last_used_at


def _touch(workspace: Workspace, key_hash: str) -> None:
    """last_used_at, written at most once a minute per key (and checked in-process first, so the
    hot path usually costs nothing here)."""
    now = time.monotonic()
    if now - _touched.get(key_hash, -TOUCH_EVERY) < TOUCH_EVERY:
        return
    _touched[key_hash] = now
    if len(_touched) > 10_000:
        _touched.clear()
    if cache.add(f"tessera:key-used:{key_hash}", 1, timeout=TOUCH_EVERY):
        use_schema(workspace.schema_name)
        ApiKey.objects.filter(key_hash=key_hash).update(last_used_at=timezone.now())


def user_arg(source: dict[str, Any], *, required: bool) -> str | None:
    """The `user` argument: an end user's session id, so no longer than its column."""
    user = text_arg(source, "user", column=(EndUser, "session_id"))
    if required and not user:
        raise ServiceError("invalid_param", "Arg user must be provided.")
    return user or None


def caller_end_user(caller: AppCaller, source: dict[str, Any], *, required: bool) -> EndUser:
    """The end user of a request: the WebApp's own, or the Service API's `user` argument."""
    if caller.end_user is not None:
        return caller.end_user
    from apps.applications.generation import end_user_for

    return end_user_for(caller.app, user_arg(source, required=required))
