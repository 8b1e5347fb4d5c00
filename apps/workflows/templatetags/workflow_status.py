"""{% run_status status %}: a run's or node's status as a translated badge (apps/workflows/status.py)."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.workflows import status as statuses

register = template.Library()


@register.simple_tag
def run_status(status: str, testid: str = "") -> SafeString:
    if testid:
        return format_html('<span class="badge {}" data-status="{}" data-testid="{}">{}</span>',
                           statuses.badge(status), status, testid, statuses.label(status))
    return format_html('<span class="badge {}" data-status="{}">{}</span>', statuses.badge(status), status,
                       statuses.label(status))
