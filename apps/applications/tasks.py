"""Celery tasks of the applications app."""

import logging

from celery import shared_task
from tenant_schemas_celery.task import TenantTask

from apps.applications import assist
from apps.logs.models import Conversation

logger = logging.getLogger(__name__)


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


@shared_task(base=TenantTask, name="apps.applications.tasks.generate_conversation_names")
def generate_conversation_names(conversation_ids: list[str]) -> list[str | None]:
    """Name several new conversations of one workspace (queued together by naming.TitleQueue);
    one failing title does not stop the others."""
    names: list[str | None] = []
    for conversation_id in conversation_ids:
        try:
            names.append(generate_conversation_name(conversation_id))
        except Exception:  # noqa: BLE001 - logged; a title is cosmetic, the rest still get theirs
            logger.exception("Naming conversation %s failed", conversation_id)
            names.append(None)
    return names


@shared_task(base=TenantTask, name="apps.applications.tasks.run_completion_batch")
def run_completion_batch(batch_id: str) -> int:
    """Run a text-generation WebApp batch (WEB-09) on the default queue; see webapp/batch.py."""
    from apps.applications.webapp import batch

    return batch.run_batch(batch_id)
