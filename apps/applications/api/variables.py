"""/v1/conversations/{id}/variables (service-api.md §2.19, §2.20) for chat apps.

Conversation variables belong to advanced-chat (Chatflow) apps; chat and agent-chat apps have
none, so Dify answers their conversations with an empty page and a 404 for any variable. The
argument checks and the conversation scoping are the same as for every conversation endpoint.
"""

import re

from django.http import HttpRequest, JsonResponse

from apps.applications.api.auth import AppCaller, caller_end_user
from apps.applications.api.common import api_view, int_arg, json_body
from apps.applications.api.conversations import _own
from apps.core.errors import invalid_param, not_found

VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_.\-]*$")


@api_view("GET", chat_only=True)
def variable_list(request: HttpRequest, caller: AppCaller, conversation_id: str) -> JsonResponse:
    args = request.GET
    limit = int_arg(args, "limit", default=20, low=1, high=100)
    name = args.get("variable_name") or ""
    if not VARIABLE_NAME.match(name):
        raise invalid_param("variable_name may only contain letters, digits, '_', '.' and '-'")
    conversation = _own(caller, caller_end_user(caller, args, required=False), conversation_id)
    if conversation.mode == "advanced-chat":  # chatflows keep their variables in apps.workflows
        from apps.workflows.api import conversation_variables_page

        return JsonResponse(conversation_variables_page(conversation, name=name, last_id=args.get("last_id"),
                                                        limit=limit), json_dumps_params={"ensure_ascii": False})
    if args.get("last_id"):
        # Dify's ConversationVariableNotExistsError escapes as a ValueError: 400 with no message.
        raise invalid_param("")
    return JsonResponse({"limit": limit, "has_more": False, "data": []})


@api_view("PUT", chat_only=True)
def variable_update(request: HttpRequest, caller: AppCaller, conversation_id: str, variable_id: str) -> JsonResponse:
    body = json_body(request)
    conversation = _own(caller, caller_end_user(caller, body, required=False), conversation_id)
    if conversation.mode == "advanced-chat":
        from apps.workflows.api import conversation_variable_update

        return JsonResponse(conversation_variable_update(conversation, variable_id, body.get("value")),
                            json_dumps_params={"ensure_ascii": False})
    raise not_found("Conversation Variable Not Exists.")
