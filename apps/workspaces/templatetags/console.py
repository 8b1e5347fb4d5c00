"""Template helpers for the console."""

from typing import Any

from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def wsurl(context: template.Context, name: str, **kwargs: Any) -> str:
    """{% wsurl "console:members" %}: a console URL in the current workspace."""
    return reverse(name, kwargs={"ws": context["request"].tenant.slug, **kwargs})


@register.filter
def initials(value: str) -> str:
    parts = [p for p in str(value).replace("@", " ").replace(".", " ").split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


@register.simple_tag(takes_context=True)
def signup_open(context: template.Context) -> bool:
    """{% signup_open as open %}: whether the sign-up page accepts new accounts (login page link)."""
    from allauth.account.adapter import get_adapter

    request = context["request"]
    return bool(get_adapter(request).is_open_for_signup(request))
