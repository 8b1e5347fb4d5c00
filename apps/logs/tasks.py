"""Celery tasks of the logs app."""

from celery import shared_task
from django.db import connection
from tenant_schemas_celery.task import TenantTask

from apps.logs.models import ActivityEvent


@shared_task(base=TenantTask, name="apps.logs.tasks.record_activity")
def record_activity(verb: str, target: str = "", actor_email: str = "") -> dict[str, str | int]:
    """Append an activity event in the schema the task was sent from; returns where it landed."""
    event = ActivityEvent.objects.create(verb=verb, target=target[:255], actor_email=actor_email)
    return {"schema": connection.schema_name, "event_id": event.pk}
