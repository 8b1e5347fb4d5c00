"""Reversing console URLs, which all carry the workspace slug."""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse


def ws_reverse(request: HttpRequest, name: str, **kwargs: Any) -> str:
    return reverse(name, kwargs={"ws": request.tenant.slug, **kwargs})  # type: ignore[attr-defined]
