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


def method_not_allowed() -> ServiceError:
    return ServiceError("method_not_allowed", "The method is not allowed for the requested URL.", 405)


def error_response(error: Any) -> JsonResponse:
    """A JSON error response for a ServiceError or a model-runtime error (both carry code/status)."""
    response = JsonResponse(error.as_body(), status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
