"""/v1/conversations: list, delete and rename (service-api.md §2.16–§2.18)."""

from typing import Any

from django.http import HttpRequest, JsonResponse

from apps.applications import assist
from apps.applications.api.auth import AppCaller, caller_end_user
from apps.applications.api.common import api_view, int_arg, json_body, str_arg, timestamp
from apps.core.errors import invalid_param, not_found
from apps.logs import selectors, services
from apps.logs.models import Conversation, EndUser

SORTS = ("created_at", "-created_at", "updated_at", "-updated_at")


def conversation_body(conversation: Conversation) -> dict[str, Any]:
    return {"id": str(conversation.pk), "name": conversation.name, "inputs": conversation.inputs,
            "status": conversation.status, "introduction": "",
            "created_at": timestamp(conversation.created_at),
            "updated_at": timestamp(conversation.updated_at)}


def _own(caller: AppCaller, end_user: EndUser, conversation_id: str) -> Conversation:
    conversation = selectors.api_conversation_get(app=caller.app, end_user=end_user, source=caller.source,
                                                  conversation_id=conversation_id)
    if conversation is None:
        raise not_found("Conversation Not Exists.")
    return conversation


@api_view("GET", chat_only=True)
def conversation_list(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    args = request.GET
    limit = int_arg(args, "limit", default=20, low=1, high=100)
    sort_by = args.get("sort_by") or "-updated_at"
    if sort_by not in SORTS:
        raise invalid_param(f"sort_by must be one of {', '.join(SORTS)}")
    end_user = caller_end_user(caller, args, required=False)
    page = selectors.api_conversation_page(app=caller.app, end_user=end_user, source=caller.source,
                                           last_id=args.get("last_id") or None, limit=limit, sort_by=sort_by)
    if page is None:
        raise not_found("Last Conversation Not Exists.")
    rows, has_more = page
    return JsonResponse({"limit": limit, "has_more": has_more, "data": [conversation_body(c) for c in rows]},
                        json_dumps_params={"ensure_ascii": False})


@api_view("DELETE", chat_only=True)
def conversation_delete(request: HttpRequest, caller: AppCaller, conversation_id: str) -> JsonResponse:
    """Soft delete. Dify answers 204 with a {"result": "success"} body; so do we."""
    # The WebApp's DELETE has no body: its end user comes from the cookie.
    end_user = caller.end_user or caller_end_user(caller, json_body(request), required=False)
    services.conversation_delete(conversation=_own(caller, end_user, conversation_id))
    return JsonResponse({"result": "success"}, status=204)


@api_view("POST", chat_only=True)
def conversation_rename(request: HttpRequest, caller: AppCaller, conversation_id: str) -> JsonResponse:
    """Rename, or (auto_generate) let the workspace default LLM title it from the first message."""
    body = json_body(request)
    name = str_arg(body, "name")
    auto_generate = body.get("auto_generate", False)
    if not isinstance(auto_generate, bool):
        raise invalid_param("auto_generate must be a boolean")
    if not auto_generate and not (name or "").strip():
        raise invalid_param("name is required when auto_generate is false")
    end_user = caller_end_user(caller, body, required=False)
    conversation = _own(caller, end_user, conversation_id)
    if auto_generate:
        first = conversation.messages.order_by("created_at").first()
        if first is None:
            raise not_found("Message Not Exists.")
        name = assist.conversation_title(first.query)
        if not name:  # no default model, or it failed: the name stays, as in Dify
            return JsonResponse(conversation_body(conversation), json_dumps_params={"ensure_ascii": False})
    conversation = services.conversation_rename(conversation=conversation, name=(name or "").strip())
    return JsonResponse(conversation_body(conversation), json_dumps_params={"ensure_ascii": False})
