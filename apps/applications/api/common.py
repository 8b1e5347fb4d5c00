"""What the Service API's plain (non-streaming) views share: authentication, the workspace schema,
the error format, and argument parsing with Dify's messages (service-api.md §0, §1)."""

import functools
from collections.abc import Callable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import schema_context

from apps.applications.api.auth import AppCaller, authenticate_app
from apps.core.errors import ServiceError, error_response, invalid_param, method_not_allowed
from apps.core.inputs import check_form, parse_json_object, text_arg
from apps.providers.runtime.errors import RuntimeModelError

View = Callable[..., HttpResponse]

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
NOT_CHAT_APP = ("not_chat_app", "Please check if your app mode matches the right API route.")


def api_view(*methods: str, chat_only: bool = False) -> Callable[[View], View]:
    """A sync view of the Service API: `fn(request, caller, **kwargs)` runs in the app's workspace
    schema; any ServiceError or runtime model error becomes the {code, message, status} body."""

    def wrap(fn: View) -> View:
        @csrf_exempt
        @functools.wraps(fn)
        def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return error_response(method_not_allowed())
            try:
                if request.content_type in FORM_TYPES:
                    check_form(request.POST)
                caller = authenticate_app(request.headers.get("Authorization"))
                with schema_context(caller.workspace.schema_name):
                    if chat_only and not caller.app.is_chat:
                        raise ServiceError(*NOT_CHAT_APP)
                    return fn(request, caller, *args, **kwargs)
            except (ServiceError, RuntimeModelError) as exc:
                return error_response(exc)

        # The WebApp serves the same handlers with its own authentication (apps/applications/webapp/api.py).
        view.handler, view.methods, view.chat_only = fn, methods, chat_only  # type: ignore[attr-defined]
        return view

    return wrap


def json_body(request: HttpRequest) -> dict[str, Any]:
    return parse_json_object(request.body)


def int_arg(source: Mapping[str, Any], name: str, *, default: int, low: int, high: int) -> int:
    raw = source.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid_param(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise invalid_param(f"{name} must be between {low} and {high}")
    return value


def str_arg(source: Mapping[str, Any], name: str) -> str | None:
    """An optional string argument (checked by the /v1 validation layer, apps.core.inputs)."""
    return text_arg(source, name)


def timestamp(value: Any) -> int:
    return int(value.timestamp())


__all__ = ["AppCaller", "api_view", "int_arg", "json_body", "parse_json_object", "str_arg", "timestamp"]
