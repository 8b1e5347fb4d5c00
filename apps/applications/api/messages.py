"""/v1/messages, feedbacks and suggested questions (service-api.md §2.12–§2.15)."""

import uuid
from typing import Any

from django.db.models import prefetch_related_objects
from django.http import HttpRequest, JsonResponse

from apps.applications import assist
from apps.applications.api.auth import AppCaller, caller_end_user
from apps.applications.api.common import api_view, int_arg, json_body, str_arg, timestamp
from apps.applications.config import with_defaults
from apps.applications.message_files import message_files_body
from apps.core.errors import ServiceError, invalid_param, not_found
from apps.logs import selectors, services
from apps.logs.models import Message, MessageAgentThought, MessageFeedback


def message_body(message: Message, workspace_id: Any) -> dict[str, Any]:
    """One message of /v1/messages; its files (prefetched) with freshly signed URLs."""
    feedback = selectors.user_feedback(message)
    return {
        "id": str(message.pk), "conversation_id": str(message.conversation_id), "parent_message_id": None,
        "inputs": message.inputs, "query": message.query, "answer": message.answer,
        "message_files": message_files_body(workspace_id, list(message.files.all())),
        "feedback": {"rating": feedback.rating} if feedback else None,
        "retriever_resources": message.retriever_resources, "created_at": timestamp(message.created_at),
        "agent_thoughts": [thought_body(t) for t in message.agent_thoughts.all()],
        "status": message.status, "error": message.error or None,
    }


def thought_body(thought: MessageAgentThought) -> dict[str, Any]:
    """One of a message's agent_thoughts (§2.12)."""
    return {
        "id": str(thought.pk), "chain_id": None, "message_id": str(thought.message_id), "position": thought.position,
        "thought": thought.thought, "tool": thought.tool, "tool_labels": thought.tool_labels,
        "tool_input": thought.tool_input, "created_at": timestamp(thought.created_at),
        "observation": thought.observation, "files": thought.files,
    }


# What message_body reads of each message besides its own row (prefetch it for a page).
MESSAGE_RELATIONS = ("files__upload_file", "agent_thoughts")


@api_view("GET", chat_only=True)
def message_list(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    """A conversation's history: the newest `limit` messages (before `first_id`), oldest first."""
    args = request.GET
    limit = int_arg(args, "limit", default=20, low=1, high=100)
    conversation_id = args.get("conversation_id")
    if conversation_id is None:
        raise invalid_param("conversation_id is required")
    if conversation_id == "":
        return JsonResponse({"limit": limit, "has_more": False, "data": []})
    try:
        uuid.UUID(conversation_id)
    except ValueError:
        raise invalid_param("conversation_id must be a valid UUID") from None
    end_user = caller_end_user(caller, args, required=False)
    conversation = selectors.api_conversation_get(app=caller.app, end_user=end_user, source=caller.source,
                                                  conversation_id=conversation_id)
    if conversation is None:
        raise not_found("Conversation Not Exists.")
    page = selectors.api_message_page(conversation=conversation, first_id=args.get("first_id") or None,
                                      limit=limit)
    if page is None:
        raise not_found("First Message Not Exists.")
    messages, has_more = page
    prefetch_related_objects(messages, *MESSAGE_RELATIONS)
    data = [message_body(m, caller.workspace.pk) for m in messages]
    return JsonResponse({"limit": limit, "has_more": has_more, "data": data},
                        json_dumps_params={"ensure_ascii": False})


@api_view("POST")
def message_feedback(request: HttpRequest, caller: AppCaller, message_id: str) -> JsonResponse:
    """Like, dislike or (rating null) revoke; any app mode."""
    body = json_body(request)
    rating = body.get("rating")
    if rating is not None and rating not in MessageFeedback.Rating.values:
        raise invalid_param("rating must be one of 'like', 'dislike' or null")
    content = str_arg(body, "content") or ""
    end_user = caller_end_user(caller, body, required=True)
    message = selectors.api_message_get(app=caller.app, end_user=end_user, message_id=message_id,
                                        source=caller.source)
    if message is None:
        raise not_found("Message Not Exists.")
    try:
        services.feedback_set(message=message, end_user=end_user, rating=rating, content=content)
    except ValueError as exc:
        raise invalid_param(str(exc)) from None
    return JsonResponse({"result": "success"})


def _iso(value: Any) -> str:
    return value.replace(tzinfo=None, microsecond=0).isoformat()


@api_view("GET")
def app_feedbacks(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    """All feedback on the app's messages, newest first (ISO timestamps, unlike the rest of the API)."""
    page = int_arg(request.GET, "page", default=1, low=1, high=2**31 - 1)
    limit = int_arg(request.GET, "limit", default=20, low=1, high=101)
    data = [{
        "id": str(f.pk), "app_id": str(f.app_id), "conversation_id": str(f.message.conversation_id),
        "message_id": str(f.message_id), "rating": f.rating, "content": f.content or None,
        "from_source": f.from_source, "from_end_user_id": str(f.end_user_id) if f.end_user_id else None,
        "from_account_id": str(f.from_account_id) if f.from_account_id else None,
        "created_at": _iso(f.created_at), "updated_at": _iso(f.updated_at),
    } for f in selectors.app_feedbacks(app=caller.app, page=page, limit=limit)]
    return JsonResponse({"data": data}, json_dumps_params={"ensure_ascii": False})


@api_view("GET", chat_only=True)
def suggested_questions(request: HttpRequest, caller: AppCaller, message_id: str) -> JsonResponse:
    """Three follow-up questions from the workspace default LLM, when the feature is on."""
    end_user = caller_end_user(caller, request.GET, required=True)
    message = selectors.api_message_get(app=caller.app, end_user=end_user, message_id=message_id,
                                        source=caller.source)
    if message is None:
        raise not_found("Message Not Exists.")
    if not with_defaults(caller.app.live_config)["suggested_questions_after_answer"].get("enabled"):
        raise ServiceError("bad_request", "Suggested Questions Is Disabled.")
    history = selectors.conversation_history(conversation=message.conversation, until=message)
    return JsonResponse({"result": "success", "data": assist.suggested_questions(history)},
                        json_dumps_params={"ensure_ascii": False})
