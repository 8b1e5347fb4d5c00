"""View decorators for console permissions (the matrix itself is apps/workspaces/roles.py)."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from apps.workspaces import roles


def require_perm(perm: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Refuse with 403 unless the member's role grants `perm` in the current workspace."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = getattr(request, "membership", None)
            if membership is None or not roles.has_perm(membership.role, perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_perm = perm  # type: ignore[attr-defined]
        return wrapped

    return decorator


def allow_provisioning(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a console view that may run while the workspace's schema is still being built."""
    view.allow_provisioning = True  # type: ignore[attr-defined]
    return view
