"""Reads of the per-workspace logs. Callers run in the workspace's schema."""

import uuid
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from apps.logs.models import ActivityEvent, Conversation, EndUser, Message, MessageFeedback, Source

if TYPE_CHECKING:
    from apps.applications.models import App


def activity_recent(*, limit: int = 20) -> QuerySet[ActivityEvent]:
    return ActivityEvent.objects.order_by("-created_at", "-id")[:limit]


# --- The Service API's view of conversations and messages (service-api.md §0): always scoped to
# one app, one end user and one source ("api"; the WebApp passes "webapp"), so a key never sees
# another app's or the WebApp's rows, nor a browser another browser's.

def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def api_conversations_for(*, app: "App", end_user: EndUser,
                          source: str = Source.API) -> QuerySet[Conversation]:
    return Conversation.objects.filter(app=app, end_user=end_user, from_source=source, is_deleted=False)


def api_conversation_get(*, app: "App", end_user: EndUser, conversation_id: str,
                         source: str = Source.API) -> Conversation | None:
    if not _is_uuid(conversation_id):
        return None
    return api_conversations_for(app=app, end_user=end_user, source=source).filter(pk=conversation_id).first()


def api_message_get(*, app: "App", end_user: EndUser, message_id: str,
                    source: str = Source.API) -> Message | None:
    if not _is_uuid(message_id):
        return None
    return (Message.objects.filter(pk=message_id, app=app, end_user=end_user, from_source=source,
                                   conversation__is_deleted=False)
            .select_related("conversation").first())


def api_conversation_page(*, app: "App", end_user: EndUser, last_id: str | None, limit: int,
                          sort_by: str, source: str = Source.API,
                          pinned: bool | None = None) -> tuple[list[Conversation], bool] | None:
    """One page of conversations after `last_id` in `sort_by` order; None if last_id is unknown.
    `pinned` (WebApp) keeps only pinned or only unpinned ones."""
    rows = api_conversations_for(app=app, end_user=end_user, source=source)
    if pinned is not None:
        rows = rows.filter(pinned=pinned)
    field = sort_by.lstrip("-")
    if last_id:
        last = api_conversation_get(app=app, end_user=end_user, conversation_id=last_id, source=source)
        if last is None:
            return None
        value = getattr(last, field)
        after = Q(**{f"{field}__lt" if sort_by.startswith("-") else f"{field}__gt": value})
        # Rows sharing the timestamp are ordered by id, so none is skipped or repeated.
        tie = Q(**{field: value, "id__lt" if sort_by.startswith("-") else "id__gt": last.pk})
        rows = rows.filter(after | tie)
    order = [sort_by, "-id" if sort_by.startswith("-") else "id"]
    page = list(rows.order_by(*order)[:limit + 1])
    return page[:limit], len(page) > limit


def api_message_page(*, conversation: Conversation, first_id: str | None,
                     limit: int) -> tuple[list[Message], bool] | None:
    """The newest `limit` messages older than `first_id`, oldest first; None if first_id is unknown."""
    rows = conversation.messages.all()
    if first_id:
        first = rows.filter(pk=first_id).first() if _is_uuid(first_id) else None
        if first is None:
            return None
        rows = rows.filter(Q(created_at__lt=first.created_at)
                           | Q(created_at=first.created_at, id__lt=first.pk))
    page = list(rows.order_by("-created_at", "-id").prefetch_related("feedbacks")[:limit + 1])
    return list(reversed(page[:limit])), len(page) > limit


def user_feedback(message: Message) -> MessageFeedback | None:
    """The end user's own feedback on a message (from a prefetched `feedbacks`)."""
    return next((f for f in message.feedbacks.all() if f.from_source == MessageFeedback.From.USER), None)


def app_feedbacks(*, app: "App", page: int, limit: int) -> list[MessageFeedback]:
    start = (page - 1) * limit
    return list(MessageFeedback.objects.filter(app=app).order_by("-created_at", "-id")[start:start + limit])


def conversation_history(*, conversation: Conversation, until: Message | None = None,
                         limit: int = 5) -> list[tuple[str, str]]:
    """The last `limit` (query, answer) turns of a conversation, oldest first, up to `until`."""
    rows = conversation.messages.filter(status__in=[Message.Status.NORMAL, Message.Status.STOPPED])
    if until is not None:
        rows = rows.filter(created_at__lte=until.created_at)
    turns = list(rows.order_by("-created_at").values_list("query", "answer")[:limit])
    return list(reversed(turns))


def saved_message_page(*, app: "App", end_user: EndUser, last_id: str | None,
                       limit: int) -> tuple[list[Message], bool] | None:
    """The end user's saved results, newest saved first, after the saved message `last_id`
    (a message id, as the WebApp API pages); None when last_id is not one of them."""
    from apps.logs.models import SavedMessage

    rows = SavedMessage.objects.filter(app=app, end_user=end_user)
    if last_id:
        last = rows.filter(message_id=last_id).first() if _is_uuid(last_id) else None
        if last is None:
            return None
        rows = rows.filter(Q(created_at__lt=last.created_at) | Q(created_at=last.created_at, id__lt=last.pk))
    page = list(rows.order_by("-created_at", "-id")
                .select_related("message").prefetch_related("message__feedbacks")[:limit + 1])
    return [s.message for s in page[:limit]], len(page) > limit
