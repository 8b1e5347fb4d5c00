"""Celery tasks of the applications app."""

from celery import shared_task
from tenant_schemas_celery.task import TenantTask

from apps.applications import assist
from apps.logs.models import Conversation


@shared_task(base=TenantTask, name="apps.applications.tasks.generate_conversation_name")
def generate_conversation_name(conversation_id: str) -> str | None:
    """Name a new conversation after its first message with the workspace default LLM.

    Runs in the sender's schema. Without a default LLM (or when it fails) the initial name stays.
    Returns the new name, or None when it was kept.
    """
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return None
    first = conversation.messages.order_by("created_at").first()
    name = assist.conversation_title(first.query) if first is not None else None
    if name:
        # update(), not save(): naming is not activity, so updated_at (the list order) stays.
        Conversation.objects.filter(pk=conversation_id).update(name=name)
    return name


@shared_task(base=TenantTask, name="apps.applications.tasks.run_completion_batch")
def run_completion_batch(batch_id: str) -> int:
    """Run a text-generation WebApp batch (WEB-09) on the default queue; see webapp/batch.py."""
    from apps.applications.webapp import batch

    return batch.run_batch(batch_id)
