"""DRF glue shared by every API: errors in the Service API's format {code, message, status}."""

import re
from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class APIError(exceptions.APIException):
    """An error with an explicit wire `code` (service-api.md §1)."""

    def __init__(self, code: str, message: str, http_status: int = status.HTTP_400_BAD_REQUEST) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = http_status
        self.wire_code = code


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_DRF_CODES = {
    exceptions.NotAuthenticated: "unauthorized",
    exceptions.AuthenticationFailed: "unauthorized",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.ParseError: "invalid_param",
    exceptions.ValidationError: "invalid_param",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "too_many_requests",
}


def _message(detail: Any) -> tuple[str, str | None]:
    """A readable message and, for field errors, the first offending field."""
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        text, _ = _message(value)
        return text, str(field)
    if isinstance(detail, list):
        return (_message(detail[0])[0] if detail else ""), None
    return str(detail), None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, APIError):
        code = exc.wire_code
    else:
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), _snake(type(exc).__name__))
    message, field = _message(getattr(exc, "detail", str(exc)))
    if isinstance(exc, exceptions.ParseError):
        message = "Invalid JSON payload received or JSON payload is empty."
    body: dict[str, Any] = {"code": code, "message": message, "status": response.status_code}
    if field and field != "non_field_errors":
        body["params"] = field
    response.data = body
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
