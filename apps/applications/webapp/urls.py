"""Public WebApp URLs, mounted at the root by config/urls_public.py: the pages and /webapp/<code>/api/."""

from django.urls import path

from apps.applications.webapp import api, completion_api, embedding, views

app_name = "webapp"

api_patterns = [
    path("site", api.site_info, name="site"),
    path("parameters", api.parameters),
    path("chat-messages", api.chat_messages, name="chat_messages"),
    path("chat-messages/<str:task_id>/stop", api.stop),
    path("completion-messages", api.completion_messages, name="completion_messages"),
    path("completion-messages/<str:task_id>/stop", api.stop),
    path("workflows/run", api.workflow_run, name="workflow_run"),
    path("workflows/tasks/<str:task_id>/stop", api.stop),
    path("messages", api.message_list),
    path("messages/<str:message_id>/feedbacks", api.message_feedback),
    path("messages/<str:message_id>/suggested", api.suggested_questions),
    path("conversations", api.conversation_list),
    path("conversations/<str:conversation_id>", api.conversation_delete),
    path("conversations/<str:conversation_id>/name", api.conversation_rename),
    path("conversations/<str:conversation_id>/pin", api.conversation_pin),
    path("conversations/<str:conversation_id>/unpin", api.conversation_unpin),
    path("files/upload", api.file_upload),
    path("audio-to-text", api.audio_to_text),
    path("text-to-audio", api.text_to_audio),
    # The text-generation and workflow WebApps (completion_api.py).
    path("messages/<str:message_id>/more-like-this", completion_api.more_like_this),
    path("saved-messages", completion_api.saved_messages),
    path("saved-messages/<str:message_id>", completion_api.saved_message_delete),
    path("completion-batches", completion_api.batch_list),
    path("completion-batches/template", completion_api.batch_template, name="batch_template"),
    path("completion-batches/<str:batch_id>", completion_api.batch_detail),
    path("completion-batches/<str:batch_id>/export", completion_api.batch_export),
]

urlpatterns = [
    path("chat/<str:code>", views.chat, name="chat"),
    path("completion/<str:code>", views.completion, name="completion"),
    path("workflow/<str:code>", views.workflow, name="workflow"),
    path("webapp/embed.js", embedding.embed_script, name="embed_js"),
    *[path(f"webapp/<str:code>/api/{p.pattern}", p.callback, name=p.name) for p in api_patterns],
]
