"""The Service API under /v1 (service-api.md)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from apps.applications.api import streaming


def welcome(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"welcome": "Tessera Service API", "api_version": "v1", "server_version": "1.0.0"})


urlpatterns = [
    path("", welcome),
    path("chat-messages", streaming.chat_messages),
    path("chat-messages/<str:task_id>/stop", streaming.stop),
    path("completion-messages", streaming.completion_messages),
    path("completion-messages/<str:task_id>/stop", streaming.stop),
]
