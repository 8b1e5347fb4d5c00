"""Writes to the per-workspace logs."""

from typing import TYPE_CHECKING, Any

from django_tenants.utils import schema_context

from apps.logs.models import ActivityEvent, Conversation, EndUser, Message, MessageAgentThought, MessageFeedback

if TYPE_CHECKING:
    from apps.workspaces.models import Workspace


def record(*, workspace: "Workspace", actor: Any, verb: str, target: str = "") -> ActivityEvent:
    """Append an event to the workspace's activity trail, whatever schema is active now."""
    with schema_context(workspace.schema_name):
        return ActivityEvent.objects.create(
            actor_id=getattr(actor, "pk", None),
            actor_email=getattr(actor, "email", "") or "",
            verb=verb,
            target=target[:255],
        )


def feedback_set(*, message: Message, end_user: EndUser, rating: str | None, content: str = "") -> None:
    """The end user's like/dislike on an answer; rating None revokes it (an error if there is none)."""
    existing = MessageFeedback.objects.filter(message=message, from_source=MessageFeedback.From.USER).first()
    if rating is None:
        if existing is None:
            raise ValueError("rating cannot be None when feedback not exists")
        existing.delete()
        return
    if existing is None:
        MessageFeedback.objects.create(app_id=message.app_id, message=message, rating=rating, content=content,
                                       from_source=MessageFeedback.From.USER, end_user=end_user)
    else:
        existing.rating, existing.content = rating, content
        existing.save(update_fields=["rating", "content", "updated_at"])


def conversation_delete(*, conversation: Conversation) -> None:
    """Soft delete: the conversation and its messages stay for the operator's logs."""
    conversation.is_deleted = True
    conversation.save(update_fields=["is_deleted", "updated_at"])


def conversation_rename(*, conversation: Conversation, name: str) -> Conversation:
    conversation.name = name[:255]
    conversation.save(update_fields=["name", "updated_at"])
    return conversation


def conversation_pin(*, conversation: Conversation, pinned: bool) -> Conversation:
    """Pin or unpin a WebApp conversation: pinned ones are listed on top for their end user."""
    conversation.pinned = pinned
    # updated_at stays: pinning is not activity, and the list's order must not jump.
    Conversation.objects.filter(pk=conversation.pk).update(pinned=pinned)
    return conversation


def saved_message_add(*, message: Message, end_user: EndUser) -> None:
    """Keep a result in the end user's Saved tab (WEB-08); saving twice keeps one entry."""
    from apps.logs.models import SavedMessage

    SavedMessage.objects.get_or_create(app_id=message.app_id, end_user=end_user, message=message)


def saved_message_remove(*, app: Any, end_user: EndUser, message_id: str) -> bool:
    """Forget a saved result; False when this end user had not saved it."""
    from apps.logs.models import SavedMessage

    deleted, _ = SavedMessage.objects.filter(app=app, end_user=end_user, message_id=message_id).delete()
    return bool(deleted)


def agent_thoughts_save(*, message_id: Any, thoughts: list[Any]) -> None:
    """Store agent steps as they stand (apps.applications.agent.runner.Thought), created or updated
    in one statement."""
    fields = ["position", "thought", "tool", "tool_labels", "tool_input", "observation", "files", "tokens",
              "total_price"]
    MessageAgentThought.objects.bulk_create(
        [MessageAgentThought(id=t.id, message_id=message_id, position=t.position, thought=t.thought, tool=t.tool,
                             tool_labels=t.tool_labels, tool_input=t.tool_input, observation=t.observation,
                             files=list(t.files), tokens=t.tokens, total_price=t.price or 0) for t in thoughts],
        update_conflicts=True, unique_fields=["id"], update_fields=fields)
