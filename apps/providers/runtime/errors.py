"""Runtime errors. Every provider failure becomes one of these, each carrying the Service API's
error code (service-api.md §1.1), its HTTP status, and the provider's own message."""

from typing import ClassVar


class RuntimeModelError(Exception):
    code: ClassVar[str] = "completion_request_error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, provider: str = "", model: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model

    def as_body(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "status": self.status}


class ProviderNotInitialized(RuntimeModelError):
    """No usable credentials: none configured, or the provider refused them (401/403)."""

    code = "provider_not_initialize"


class ProviderQuotaExceeded(RuntimeModelError):
    """The account behind the credentials has no quota left."""

    code = "provider_quota_exceeded"


class ModelNotSupported(RuntimeModelError):
    """The provider does not offer this model (or not for this model type)."""

    code = "model_currently_not_support"


class CompletionRequestError(RuntimeModelError):
    """The provider rejected the request, failed, timed out or could not be reached."""

    code = "completion_request_error"


class RateLimited(RuntimeModelError):
    """The provider is rate limiting us (HTTP 429 that is not a quota problem)."""

    code = "rate_limit_error"
    status = 429


def timed_out(timeout: float, **kw: str) -> CompletionRequestError:
    """The one wording for a provider that did not answer within PROVIDER_TIMEOUT."""
    return CompletionRequestError(f"The model provider did not answer in time ({timeout:.0f}s).", **kw)


def unreachable(detail: object, **kw: str) -> CompletionRequestError:
    """The one wording for a provider that could not be reached at all.

    An SDK wraps the SSRF guard's refusal in its own "Connection error."; the refusal says what
    was refused and which setting allows it, so it is shown instead.
    """
    from apps.core.outbound import OutboundBlocked

    cause = detail
    while isinstance(cause, BaseException) and not isinstance(cause, OutboundBlocked):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OutboundBlocked):
        detail = cause
    return CompletionRequestError(f"Cannot reach the model provider: {detail}", **kw)
