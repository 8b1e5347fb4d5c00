"""Reads of the per-workspace logs. Callers run in the workspace's schema."""

from django.db.models import QuerySet

from apps.logs.models import ActivityEvent


def activity_recent(*, limit: int = 20) -> QuerySet[ActivityEvent]:
    return ActivityEvent.objects.order_by("-created_at", "-id")[:limit]
