"""Errors of the public APIs, in the Service API's format: {"code", "message", "status"}."""

from typing import Any

from django.http import JsonResponse


class ServiceError(Exception):
    """Raise anywhere below an API view; the view answers with this code, message and status."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extra = code, message, status, extra

    def as_body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "status": self.status, **self.extra}


def invalid_param(message: str, **extra: Any) -> ServiceError:
    return ServiceError("invalid_param", message, 400, **extra)


def not_found(message: str) -> ServiceError:
    return ServiceError("not_found", message, 404)


def error_response(error: Any) -> JsonResponse:
    """A JSON error response for a ServiceError or a model-runtime error (both carry code/status)."""
    response = JsonResponse(error.as_body(), status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


# Codes of plain HTTP errors: the snake_case of werkzeug's exception class, as the reference
# server answers them (service-api.md §1).
STATUS_CODES = {
    400: ("bad_request", "The browser (or proxy) sent a request that this server could not understand."),
    401: ("unauthorized", "The server could not verify that you are authorized to access the URL requested."),
    403: ("forbidden", "You don't have the permission to access the requested resource."),
    404: ("not_found", "The requested URL was not found on the server. If you entered the URL manually "
                       "please check your spelling and try again."),
    405: ("method_not_allowed", "The method is not allowed for the requested URL."),
    413: ("request_entity_too_large", "The data value transmitted exceeds the capacity limit."),
    415: ("unsupported_media_type", "The server does not support the media type transmitted in the request."),
    429: ("too_many_requests", "Too many requests. Please try again later."),
    500: ("internal_server_error", "The server encountered an internal error and was unable to complete "
                                   "your request."),
}


def for_status(status: int) -> ServiceError:
    """The plain error of an HTTP status (a 4xx without a table entry reads as bad_request)."""
    code, message = STATUS_CODES.get(status) or STATUS_CODES[400 if 400 <= status < 500 else 500]
    return ServiceError(code, message, status)


def not_found_url() -> ServiceError:
    return for_status(404)


def method_not_allowed() -> ServiceError:
    return for_status(405)


def error_for_exception(exc: BaseException) -> Any:
    """The API error (a ServiceError, or a model-runtime error: both carry code, message and
    status) for an exception that escaped a /v1 view, or None for an unexpected one
    (the caller logs it and answers 500). One mapping for the Django views, the DRF views and
    the ASGI handler."""
    from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
    from django.db import DataError
    from django.http import Http404
    from django.http.multipartparser import MultiPartParserError

    if isinstance(exc, ServiceError) or (hasattr(exc, "as_body") and hasattr(exc, "status")):
        return exc  # a ServiceError or a model-runtime error (apps.providers.runtime.errors)
    if isinstance(exc, RequestDataTooBig):
        from django.conf import settings

        return ServiceError("request_entity_too_large", f"The request body is larger than the limit of "
                            f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.", 413)
    if isinstance(exc, MultiPartParserError):
        return ServiceError("bad_request", f"The multipart body could not be read: {exc}", 400)
    if isinstance(exc, (SuspiciousOperation, BadRequest, UnicodeDecodeError)):
        return for_status(400)
    if isinstance(exc, Http404):
        return not_found_url()
    if isinstance(exc, PermissionDenied):
        return for_status(403)
    if isinstance(exc, DataError):
        # A value the column cannot hold that no check caught: the client's input, not a fault of
        # the server. (Known columns are checked before anything is written: inputs.text_arg.)
        return invalid_param("A value is too long or invalid for the field it is stored in.")
    return None


def internal_error() -> ServiceError:
    return for_status(500)
