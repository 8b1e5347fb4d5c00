"""The Service API under /v1 (service-api.md)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from apps.applications.api import audio, conversations, files, messages, meta, streaming, variables
from apps.core.errors import error_response, method_not_allowed
from apps.workflows import api as workflows


def welcome(request: HttpRequest) -> JsonResponse:
    if request.method != "GET":  # the other methods are not part of the described API
        return error_response(method_not_allowed())
    return JsonResponse({"welcome": "Tessera Service API", "api_version": "v1", "server_version": "1.0.0"})


urlpatterns = [
    path("", welcome),
    path("chat-messages", streaming.chat_messages),
    path("chat-messages/<str:task_id>/stop", streaming.stop),
    path("completion-messages", streaming.completion_messages),
    path("completion-messages/<str:task_id>/stop", streaming.stop),
    path("messages", messages.message_list),
    path("messages/<str:message_id>/feedbacks", messages.message_feedback),
    path("messages/<str:message_id>/suggested", messages.suggested_questions),
    path("app/feedbacks", messages.app_feedbacks),
    path("conversations", conversations.conversation_list),
    path("conversations/<str:conversation_id>", conversations.conversation_delete),
    path("conversations/<str:conversation_id>/name", conversations.conversation_rename),
    path("conversations/<str:conversation_id>/variables", variables.variable_list),
    path("conversations/<str:conversation_id>/variables/<str:variable_id>", variables.variable_update),
    path("parameters", meta.parameters),
    path("meta", meta.meta),
    path("info", meta.info),
    path("site", meta.site),
    path("files/upload", files.upload),
    path("files/<str:file_id>/preview", files.preview),
    path("files/<str:file_id>/file-preview", files.signed_file),
    path("workflows/run", workflows.workflows_run),
    path("workflows/run/<str:run_id>", workflows.run_detail),
    path("workflows/tasks/<str:task_id>/stop", workflows.task_stop),
    path("workflows/logs", workflows.logs),
    path("workflows/<str:workflow_id>/run", workflows.workflow_version_run),
    path("audio-to-text", audio.audio_to_text),
    path("text-to-audio", audio.text_to_audio),
]
