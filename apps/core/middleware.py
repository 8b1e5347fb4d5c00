"""Every response under /v1/ is JSON in the API's error format {code, message, status}, whatever
the settings (DEBUG on or off), and every request there passes the validation layer
(apps.core.inputs) before its view runs.

ServiceAPIMiddleware is the only middleware of config.asgi's ServiceAPIHandler (production's /v1/)
and the first of settings.MIDDLEWARE (Django's test client and any other handler), where it leaves
every other path alone. It is sync and async capable, so the async views stay on the event loop.
"""

import logging
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from apps.core import inputs
from apps.core.errors import error_for_exception, error_response, for_status, internal_error

logger = logging.getLogger("apps.core.api")

API_PREFIX = "/v1/"


def refusal(request: HttpRequest) -> HttpResponse | None:
    """The error response for a request the layer refuses before its view, else None: a path
    that cannot name a resource (404), a body over its limit (413), a bad query string (400)."""
    try:
        if inputs.bad_character(request.path):
            raise for_status(404)
        limit = inputs.body_limit(request.content_type or "")
        length = request.META.get("CONTENT_LENGTH") or "0"
        if limit is not None and length.isdigit() and int(length) > limit:
            raise inputs.request_too_large(limit)
        for name, values in request.GET.lists():
            inputs.check_text(name, name)
            for value in values:
                inputs.check_text(value, name)
    except Exception as exc:
        return exception_response(exc)
    return None


def exception_response(exc: BaseException) -> HttpResponse:
    """The API's response for an exception from a /v1 view: its mapped error, else a logged 500."""
    error = error_for_exception(exc)
    if error is None:
        logger.error("Unhandled error in a /v1 view", exc_info=exc)
        error = internal_error()
    return error_response(error)


def as_api_error(response: HttpResponse) -> HttpResponse:
    """An error response that is not JSON (Django's own 404, 405 or 500 pages, a bare
    HttpResponseNotAllowed, DEBUG's technical pages) replaced by the error body of its status."""
    if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
        return response
    replaced = error_response(for_status(response.status_code))
    if response.has_header("Allow"):
        replaced["Allow"] = response["Allow"]
    return replaced


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


class ServiceAPIMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        if not is_api(request):
            return self.get_response(request)
        return refusal(request) or as_api_error(self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        if not is_api(request):
            return await self.get_response(request)
        return refusal(request) or as_api_error(await self.get_response(request))

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Before Django's own handling, which renders DEBUG's traceback page.
        return exception_response(exception) if is_api(request) else None

