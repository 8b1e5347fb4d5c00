"""Template helpers for the Studio pages."""

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def wsurl_if(context: template.Context, name: str, **kwargs: Any) -> str:
    """Like {% wsurl %}, but "" when the route is not installed (pages built by other modules)."""
    try:
        return reverse(name, kwargs={"ws": context["request"].tenant.slug, **kwargs})
    except NoReverseMatch:
        return ""
