"""The Service API's part of the /v1 OpenAPI document (apps.core.openapi merges it): every route of
apps/applications/api/urls.py, including the generation endpoints that the lean ASGI app serves
(apps/applications/api/asgi.py) and the workflow routes of apps/workflows/api.py. Field names,
types and enums follow service-api.md §2–§4; where Tessera answers differently the description
says so (e.g. 429 `too_many_requests` for the per-app concurrency limit)."""

import functools
from typing import Any

from apps.core import openapi
from apps.core.openapi import (
    ANY,
    BOOLEAN,
    INTEGER,
    NUMBER,
    OBJECT,
    STRING,
    TIMESTAMP,
    Schema,
    add,
    array,
    enum,
    event_schema_name,
    event_stream,
    json_body,
    merge_errors,
    multipart_body,
    nullable,
    obj,
    ok,
    path_param,
    query_param,
    ref,
)

SECURITY = [{"AppKey": []}]

# Errors every app-key endpoint can answer (service-api.md §0).
AUTH = {401: ["unauthorized"], 403: ["forbidden"]}
BAD_JSON = {400: ["invalid_param"]}
CHAT_ONLY = {400: ["not_chat_app"]}
MODEL = {
    400: [
        "provider_not_initialize",
        "provider_quota_exceeded",
        "model_currently_not_support",
        "completion_request_error",
    ],
    429: ["rate_limit_error"],
}
BUSY = {429: ["too_many_requests"]}

USER = {"type": "string", "description": "The end user's identifier, chosen by the client."}
MODES = ("chat", "agent-chat", "advanced-chat", "completion", "workflow")

# --- Shared objects ---------------------------------------------------------------------------------

SCHEMAS: dict[str, Schema] = {
    "Usage": obj(
        {
            "prompt_tokens": INTEGER,
            "prompt_unit_price": STRING,
            "prompt_price_unit": STRING,
            "prompt_price": STRING,
            "completion_tokens": INTEGER,
            "completion_unit_price": STRING,
            "completion_price_unit": STRING,
            "completion_price": STRING,
            "total_tokens": INTEGER,
            "total_price": STRING,
            "currency": STRING,
            "latency": NUMBER,
            "time_to_first_token": nullable(NUMBER),
            "time_to_generate": nullable(NUMBER),
        },
        description="Tokens and price of a turn (§3.4); decimals are strings.",
    ),
    "RetrieverResource": obj(
        {
            "position": INTEGER,
            "dataset_id": STRING,
            "dataset_name": STRING,
            "document_id": STRING,
            "document_name": STRING,
            "data_source_type": nullable(STRING),
            "segment_id": STRING,
            "retriever_from": STRING,
            "score": nullable(NUMBER),
            "hit_count": nullable(INTEGER),
            "word_count": nullable(INTEGER),
            "segment_position": nullable(INTEGER),
            "index_node_hash": nullable(STRING),
            "content": STRING,
            "page": nullable(INTEGER),
            "doc_metadata": nullable(OBJECT),
            "title": nullable(STRING),
            "files": nullable(array(OBJECT)),
            "summary": nullable(STRING),
        },
        required=[
            "position",
            "dataset_id",
            "dataset_name",
            "document_id",
            "document_name",
            "segment_id",
            "content",
        ],
        description="A citation (§3.5), when the app shows its sources.",
    ),
    "MessageMetadata": obj(
        {
            "annotation_reply": nullable(OBJECT),
            "retriever_resources": array(ref("RetrieverResource")),
            "usage": nullable(ref("Usage")),
        }
    ),
    "FileInput": obj(
        {
            "type": enum("image", "document", "audio", "video", "custom"),
            "transfer_method": enum("remote_url", "local_file"),
            "url": {"type": "string", "description": "With transfer_method remote_url."},
            "upload_file_id": {
                "type": "string",
                "description": "With transfer_method local_file: an id from POST /files/upload.",
            },
        },
        required=["type", "transfer_method"],
        description="A file sent with a turn (§2.21).",
    ),
    "StopRequest": obj({"user": USER}),
}

INPUTS = {
    "type": "object",
    "description": "Values for the app's input form (GET /parameters); re-sent on every turn.",
    "additionalProperties": True,
}
RESPONSE_MODE = {
    **enum("blocking", "streaming"),
    "description": "`streaming` answers text/event-stream; anything else (or nothing) blocks.",
}

SCHEMAS |= {
    "ChatRequest": obj(
        {
            "query": {"type": "string", "minLength": 1, "description": "The user's message."},
            "inputs": INPUTS,
            "response_mode": RESPONSE_MODE,
            "user": USER,
            "conversation_id": {
                "type": "string",
                "description": "A conversation to continue (a UUID); empty or missing starts a new one.",
            },
            "files": array(ref("FileInput")),
            "auto_generate_name": {
                "type": "boolean",
                "default": True,
                "description": "Title a new conversation with the default model.",
            },
            "workflow_id": {"type": "string", "description": "Chatflow apps: run this published version."},
            "retriever_from": {"type": "string", "default": "dev"},
        },
        required=["query", "inputs", "user"],
    ),
    "CompletionRequest": obj(
        {
            "inputs": INPUTS,
            "query": {"type": "string", "default": ""},
            "response_mode": RESPONSE_MODE,
            "user": USER,
            "files": array(ref("FileInput")),
            "retriever_from": {"type": "string", "default": "dev"},
        },
        required=["inputs", "user"],
    ),
    "WorkflowRunRequest": obj(
        {
            "inputs": {
                **INPUTS,
                "description": "Values for the Start node's variables; file variables take "
                "a FileInput (or a list of them).",
            },
            "response_mode": RESPONSE_MODE,
            "user": USER,
            "files": {**array(ref("FileInput")), "description": "Becomes sys.files."},
        },
        required=["inputs", "user"],
    ),
    "ChatMessageResponse": obj(
        {
            "event": enum("message"),
            "task_id": STRING,
            "id": STRING,
            "message_id": STRING,
            "conversation_id": STRING,
            "mode": enum("chat", "agent-chat", "advanced-chat"),
            "answer": STRING,
            "metadata": ref("MessageMetadata"),
            "created_at": TIMESTAMP,
        },
        description="A blocking chat answer (§3.2).",
    ),
    "CompletionMessageResponse": obj(
        {
            "event": enum("message"),
            "task_id": STRING,
            "id": STRING,
            "message_id": STRING,
            "mode": enum("completion"),
            "answer": STRING,
            "metadata": ref("MessageMetadata"),
            "created_at": TIMESTAMP,
        },
        description="A blocking completion (§3.1).",
    ),
    "WorkflowRunResult": obj(
        {
            "id": STRING,
            "workflow_id": nullable(STRING),
            "status": enum("succeeded", "failed", "stopped", "partial-succeeded"),
            "outputs": nullable(OBJECT),
            "error": nullable(STRING),
            "elapsed_time": NUMBER,
            "total_tokens": INTEGER,
            "total_steps": INTEGER,
            "created_at": TIMESTAMP,
            "finished_at": nullable(TIMESTAMP),
        }
    ),
    "WorkflowRunResponse": obj(
        {
            "task_id": STRING,
            "workflow_run_id": STRING,
            "data": ref("WorkflowRunResult"),
        },
        description="A blocking workflow run (§3.3). A failed run is not an HTTP error: "
        "`data.status` is `failed` and `data.error` says why.",
    ),
}

# --- Stream events (§4) ----------------------------------------------------------------------------

ENVELOPE = {
    "task_id": STRING,
    "message_id": STRING,
    "conversation_id": STRING,
    "created_at": TIMESTAMP,
    "workflow_run_id": STRING,
}
ENVELOPE_DOC = (
    "Besides `event` and `task_id`, chat and completion events carry `message_id` and "
    "`created_at`, chat events `conversation_id`, workflow events `workflow_run_id` (§4.2)."
)


def _event(event: str, fields: dict[str, Schema], required: list[str], description: str) -> Schema:
    return obj(
        {"event": enum(event), **ENVELOPE, **fields},
        required=["event", "task_id", *required],
        description=f"{description} {ENVELOPE_DOC}",
    )


NODE_BASE = {
    "id": STRING,
    "node_id": STRING,
    "node_type": STRING,
    "title": STRING,
    "index": INTEGER,
    "predecessor_node_id": nullable(STRING),
    "created_at": TIMESTAMP,
    "iteration_id": nullable(STRING),
    "loop_id": nullable(STRING),
}
NODE_FINISHED = {
    **NODE_BASE,
    "inputs": nullable(OBJECT),
    "inputs_truncated": BOOLEAN,
    "process_data": nullable(OBJECT),
    "process_data_truncated": BOOLEAN,
    "outputs": nullable(OBJECT),
    "outputs_truncated": BOOLEAN,
    "status": enum("succeeded", "failed", "exception", "stopped"),
    "error": nullable(STRING),
    "elapsed_time": NUMBER,
    "execution_metadata": nullable(OBJECT),
    "finished_at": TIMESTAMP,
    "files": array(OBJECT),
}
CONTAINER = {
    "id": STRING,
    "node_id": STRING,
    "node_type": STRING,
    "title": STRING,
    "created_at": TIMESTAMP,
    "extras": OBJECT,
}
CONTAINER_REQUIRED = list(CONTAINER)


def _data(properties: dict[str, Schema], required: list[str] | None = None) -> dict[str, Schema]:
    return {"data": obj(properties, required=required)}


CONTAINER_STARTED = {**CONTAINER, "metadata": OBJECT, "inputs": OBJECT, "inputs_truncated": BOOLEAN}
CONTAINER_COMPLETED = {
    **CONTAINER,
    "outputs": nullable(OBJECT),
    "outputs_truncated": BOOLEAN,
    "inputs": OBJECT,
    "inputs_truncated": BOOLEAN,
    "status": STRING,
    "error": nullable(STRING),
    "elapsed_time": NUMBER,
    "total_tokens": INTEGER,
    "execution_metadata": nullable(OBJECT),
    "finished_at": TIMESTAMP,
    "steps": INTEGER,
}


def _container_events(kind: str, label: str, next_fields: dict[str, Schema]) -> dict[str, Schema]:
    """An Iteration's or a Loop's started, next and completed events (the same shapes, §4.3)."""
    shapes = {
        "started": (CONTAINER_STARTED, f"{label} node began."),
        "next": ({**CONTAINER, "index": INTEGER, **next_fields}, f"{label}'s next round."),
        "completed": (CONTAINER_COMPLETED, f"{label} node ended."),
    }
    return {
        f"{kind}_{step}": _event(
            f"{kind}_{step}", _data(fields, CONTAINER_REQUIRED), ["workflow_run_id", "data"], text
        )
        for step, (fields, text) in shapes.items()
    }


EVENTS: dict[str, Schema] = {
    "message": _event(
        "message",
        {
            "id": STRING,
            "answer": {"type": "string", "description": "The next piece of the answer."},
            "from_variable_selector": nullable(array(STRING)),
        },
        ["id", "answer"],
        "A piece of the answer.",
    ),
    "agent_message": _event(
        "agent_message",
        {"id": STRING, "answer": STRING},
        ["id", "answer"],
        "A piece of an agent app's answer.",
    ),
    "agent_thought": _event(
        "agent_thought",
        {
            "id": STRING,
            "position": INTEGER,
            "thought": STRING,
            "observation": STRING,
            "tool": STRING,
            "tool_labels": OBJECT,
            "tool_input": STRING,
            "message_files": array(STRING),
        },
        ["id", "position"],
        "An agent's reasoning step or tool call; the same id repeats as it grows.",
    ),
    "message_file": _event(
        "message_file",
        {
            "id": STRING,
            "type": STRING,
            "belongs_to": enum("user", "assistant"),
            "url": STRING,
        },
        ["id", "type", "url"],
        "A file the assistant produced.",
    ),
    "message_replace": _event(
        "message_replace",
        {
            "answer": STRING,
            "reason": STRING,
        },
        ["answer"],
        "Replaces the whole answer (output moderation).",
    ),
    "message_end": _event(
        "message_end",
        {
            "id": STRING,
            "metadata": ref("MessageMetadata"),
            "files": nullable(array(OBJECT)),
        },
        ["id", "metadata"],
        "The answer is complete and stored; usage and citations.",
    ),
    "tts_message": _event(
        "tts_message",
        {"audio": {"type": "string", "contentEncoding": "base64", "description": "A piece of MP3 audio."}},
        ["audio"],
        "The answer read aloud, when the app's autoPlay is on.",
    ),
    "tts_message_end": _event("tts_message_end", {"audio": enum("")}, ["audio"], "The end of the audio."),
    "error": _event(
        "error",
        {"code": STRING, "message": STRING, "status": INTEGER},
        ["code", "message", "status"],
        "The turn failed after the stream began; the stream ends here (§4.4).",
    ),
    "workflow_started": _event(
        "workflow_started",
        _data(
            {
                "id": STRING,
                "workflow_id": nullable(STRING),
                "inputs": OBJECT,
                "created_at": TIMESTAMP,
            }
        ),
        ["workflow_run_id", "data"],
        "The run began.",
    ),
    "node_started": _event(
        "node_started",
        _data(
            {
                **NODE_BASE,
                "inputs": nullable(OBJECT),
                "inputs_truncated": BOOLEAN,
                "extras": OBJECT,
                "agent_strategy": nullable(OBJECT),
            }
        ),
        ["workflow_run_id", "data"],
        "A node began.",
    ),
    "node_finished": _event(
        "node_finished", _data(NODE_FINISHED), ["workflow_run_id", "data"], "A node ended."
    ),
    "node_retry": _event(
        "node_retry",
        _data({**NODE_FINISHED, "retry_index": INTEGER}),
        ["workflow_run_id", "data"],
        "A failed node is tried again.",
    ),
    "text_chunk": _event(
        "text_chunk",
        _data({"text": STRING, "from_variable_selector": nullable(array(STRING))}, ["text"]),
        ["workflow_run_id", "data"],
        "Workflow apps: a piece of the End node's text output.",
    ),
    "text_replace": _event(
        "text_replace", _data({"text": STRING}), ["workflow_run_id", "data"], "Replaces the streamed text."
    ),
    "agent_log": _event(
        "agent_log",
        _data(
            {
                "node_execution_id": STRING,
                "id": STRING,
                "label": STRING,
                "parent_id": nullable(STRING),
                "error": nullable(STRING),
                "status": STRING,
                "data": OBJECT,
                "metadata": OBJECT,
                "node_id": STRING,
            },
            ["node_execution_id", "id", "node_id"],
        ),
        ["workflow_run_id", "data"],
        "An Agent node's log line.",
    ),
    "workflow_finished": _event(
        "workflow_finished",
        _data(
            {
                "id": STRING,
                "workflow_id": nullable(STRING),
                "status": enum("succeeded", "failed", "stopped", "partial-succeeded"),
                "outputs": nullable(OBJECT),
                "error": nullable(STRING),
                "elapsed_time": NUMBER,
                "total_tokens": INTEGER,
                "total_steps": INTEGER,
                "created_by": OBJECT,
                "created_at": TIMESTAMP,
                "finished_at": TIMESTAMP,
                "exceptions_count": INTEGER,
                "files": array(OBJECT),
            }
        ),
        ["workflow_run_id", "data"],
        "The run ended (also when it failed or was stopped).",
    ),
}
EVENTS |= _container_events("iteration", "An Iteration", {}) | _container_events(
    "loop", "A Loop", {"pre_loop_output": ANY}
)
SCHEMAS |= {event_schema_name(name): schema for name, schema in EVENTS.items()}

MESSAGE_EVENTS = [
    "message",
    "agent_message",
    "agent_thought",
    "message_file",
    "message_replace",
    "message_end",
    "tts_message",
    "tts_message_end",
    "error",
]
WORKFLOW_EVENTS = [
    "workflow_started",
    "node_started",
    "node_finished",
    "node_retry",
    "iteration_started",
    "iteration_next",
    "iteration_completed",
    "loop_started",
    "loop_next",
    "loop_completed",
    "agent_log",
    "workflow_finished",
]
WORKFLOW_RUN_EVENTS = [*WORKFLOW_EVENTS, "text_chunk", "text_replace"]  # workflow apps (not chatflows)
PING = "While idle, `event: ping` comes with no data line (a keep-alive)."


def _streamed(blocking: Schema, events: list[str], order: str) -> dict[str, Any]:
    content = {"application/json": {"schema": blocking}}
    content |= event_stream(events)
    return {
        "description": "The answer: JSON when blocking; when streaming, server-sent events, one "
        f"`data: <JSON>` line each. {order} {PING}",
        "content": content,
    }


operation = functools.partial(openapi.operation, security=SECURITY)


def _user_query(required: bool = False) -> dict[str, Any]:
    return query_param("user", STRING, "The end user's identifier.", required=required)


LIMIT_100 = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}

# --- Resource objects -------------------------------------------------------------------------------

SCHEMAS |= {
    "Conversation": obj(
        {
            "id": STRING,
            "name": STRING,
            "inputs": OBJECT,
            "status": STRING,
            "introduction": STRING,
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        }
    ),
    "ConversationList": obj({"limit": INTEGER, "has_more": BOOLEAN, "data": array(ref("Conversation"))}),
    "ConversationVariable": obj(
        {
            "id": STRING,
            "name": STRING,
            "value_type": {"type": "string", "description": "integer and float are reported as `number`."},
            "value": {
                **nullable(STRING),
                "description": "str() of the value (Python repr for objects, §2.19).",
            },
            "description": nullable(STRING),
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        }
    ),
    "ConversationVariableList": obj(
        {"limit": INTEGER, "has_more": BOOLEAN, "data": array(ref("ConversationVariable"))}
    ),
    "MessageFile": obj(
        {
            "id": STRING,
            "filename": STRING,
            "type": STRING,
            "url": STRING,
            "mime_type": nullable(STRING),
            "size": nullable(INTEGER),
            "transfer_method": STRING,
            "belongs_to": enum("user", "assistant"),
            "upload_file_id": nullable(STRING),
        }
    ),
    "AgentThought": obj(
        {
            "id": STRING,
            "chain_id": nullable(STRING),
            "message_id": STRING,
            "position": INTEGER,
            "thought": STRING,
            "tool": STRING,
            "tool_labels": OBJECT,
            "tool_input": STRING,
            "created_at": TIMESTAMP,
            "observation": STRING,
            "files": array(STRING),
        }
    ),
    "Message": obj(
        {
            "id": STRING,
            "conversation_id": STRING,
            "parent_message_id": nullable(STRING),
            "inputs": OBJECT,
            "query": STRING,
            "answer": STRING,
            "message_files": array(ref("MessageFile")),
            "feedback": nullable(obj({"rating": enum("like", "dislike")})),
            "retriever_resources": array(ref("RetrieverResource")),
            "created_at": TIMESTAMP,
            "agent_thoughts": array(ref("AgentThought")),
            "status": STRING,
            "error": nullable(STRING),
        }
    ),
    "MessageList": obj({"limit": INTEGER, "has_more": BOOLEAN, "data": array(ref("Message"))}),
    "FeedbackRequest": obj(
        {
            "rating": {**nullable(enum("like", "dislike")), "description": "null revokes the feedback."},
            "content": STRING,
            "user": USER,
        },
        required=["user"],
    ),
    "AppFeedback": obj(
        {
            "id": STRING,
            "app_id": STRING,
            "conversation_id": STRING,
            "message_id": STRING,
            "rating": nullable(enum("like", "dislike")),
            "content": nullable(STRING),
            "from_source": enum("user", "admin"),
            "from_end_user_id": nullable(STRING),
            "from_account_id": nullable(STRING),
            "created_at": {"type": "string", "description": "ISO 8601 (unlike the rest of the API)."},
            "updated_at": {"type": "string", "description": "ISO 8601."},
        }
    ),
    "AppFeedbackList": obj({"data": array(ref("AppFeedback"))}),
    "SuggestedQuestions": obj({"result": enum("success"), "data": array(STRING)}),
    "UploadedFile": obj(
        {
            "id": STRING,
            "name": STRING,
            "size": INTEGER,
            "extension": STRING,
            "mime_type": STRING,
            "created_by": STRING,
            "created_at": TIMESTAMP,
            "preview_url": nullable(STRING),
            "source_url": STRING,
            "original_url": nullable(STRING),
            "user_id": nullable(STRING),
            "tenant_id": STRING,
            "conversation_id": nullable(STRING),
            "file_key": nullable(STRING),
        },
        description="An uploaded file (§2.10); `source_url` is a signed, expiring link.",
    ),
    "FeatureToggle": obj({"enabled": BOOLEAN}, required=["enabled"]),
    "Parameters": obj(
        {
            "opening_statement": nullable(STRING),
            "suggested_questions": array(STRING),
            "suggested_questions_after_answer": ref("FeatureToggle"),
            "speech_to_text": ref("FeatureToggle"),
            "text_to_speech": obj(
                {
                    "enabled": BOOLEAN,
                    "voice": STRING,
                    "language": STRING,
                    "autoPlay": enum("enabled", "disabled"),
                }
            ),
            "retriever_resource": ref("FeatureToggle"),
            "annotation_reply": ref("FeatureToggle"),
            "more_like_this": ref("FeatureToggle"),
            "user_input_form": {
                **array(
                    {
                        "type": "object",
                        "minProperties": 1,
                        "maxProperties": 1,
                        "additionalProperties": ref("InputField"),
                    }
                ),
                "description": "One object per variable, keyed by its control: text-input, "
                "paragraph, select, number, file, file-list, checkbox, json_object.",
            },
            "sensitive_word_avoidance": obj(
                {"enabled": BOOLEAN, "type": STRING, "configs": ANY}, required=["enabled"]
            ),
            "file_upload": obj(
                {
                    "image": obj(
                        {
                            "enabled": BOOLEAN,
                            "number_limits": INTEGER,
                            "detail": STRING,
                            "transfer_methods": array(enum("remote_url", "local_file")),
                        },
                        required=[],
                    ),
                    "enabled": BOOLEAN,
                    "allowed_file_types": array(STRING),
                    "allowed_file_extensions": array(STRING),
                    "allowed_file_upload_methods": array(STRING),
                    "number_limits": INTEGER,
                },
                required=[],
            ),
            "system_parameters": obj(
                {
                    "image_file_size_limit": INTEGER,
                    "video_file_size_limit": INTEGER,
                    "audio_file_size_limit": INTEGER,
                    "file_size_limit": INTEGER,
                    "workflow_file_upload_limit": INTEGER,
                }
            ),
        },
        description="The app's input form and features (§2.22).",
    ),
    "InputField": obj(
        {
            "label": STRING,
            "variable": STRING,
            "required": BOOLEAN,
            "default": ANY,
            "max_length": nullable(INTEGER),
            "options": array(STRING),
        },
        required=["variable"],
    ),
    "Meta": obj(
        {
            "tool_icons": {
                "type": "object",
                "additionalProperties": {"anyOf": [STRING, obj({"background": STRING, "content": STRING})]},
            }
        }
    ),
    "Info": obj(
        {
            "name": STRING,
            "description": STRING,
            "tags": array(STRING),
            "mode": enum(*MODES),
            "author_name": STRING,
        }
    ),
    "Site": obj(
        {
            "title": STRING,
            "chat_color_theme": nullable(STRING),
            "chat_color_theme_inverted": BOOLEAN,
            "icon_type": nullable(enum("emoji", "image")),
            "icon": nullable(STRING),
            "icon_background": nullable(STRING),
            "icon_url": nullable(STRING),
            "description": nullable(STRING),
            "copyright": nullable(STRING),
            "privacy_policy": nullable(STRING),
            "custom_disclaimer": nullable(STRING),
            "default_language": STRING,
            "show_workflow_steps": BOOLEAN,
            "use_icon_as_answer_icon": BOOLEAN,
        }
    ),
    "WorkflowRunDetail": obj(
        {
            "id": nullable(STRING),
            "workflow_id": nullable(STRING),
            "status": nullable(
                enum("running", "succeeded", "failed", "stopped", "partial-succeeded", "paused")
            ),
            "inputs": {**nullable(STRING), "description": "JSON text."},
            "outputs": {**nullable(STRING), "description": "JSON text."},
            "error": nullable(STRING),
            "total_steps": nullable(INTEGER),
            "total_tokens": nullable(INTEGER),
            "created_at": nullable(TIMESTAMP),
            "finished_at": nullable(TIMESTAMP),
            "elapsed_time": nullable(NUMBER),
        },
        description="A run (§2.7). An unknown id answers this object with every field null.",
    ),
    "WorkflowLog": obj(
        {
            "id": STRING,
            "workflow_run": obj(
                {
                    "id": STRING,
                    "version": STRING,
                    "status": STRING,
                    "triggered_from": STRING,
                    "error": nullable(STRING),
                    "elapsed_time": NUMBER,
                    "total_tokens": INTEGER,
                    "total_steps": INTEGER,
                    "created_at": TIMESTAMP,
                    "finished_at": nullable(TIMESTAMP),
                    "exceptions_count": INTEGER,
                }
            ),
            "details": nullable(OBJECT),
            "created_from": STRING,
            "created_by_role": enum("end_user", "account"),
            "created_by_account": nullable(OBJECT),
            "created_by_end_user": nullable(
                obj({"id": STRING, "type": STRING, "is_anonymous": BOOLEAN, "session_id": STRING})
            ),
            "created_at": TIMESTAMP,
        }
    ),
    "WorkflowLogList": obj(
        {
            "page": INTEGER,
            "limit": INTEGER,
            "total": INTEGER,
            "has_more": BOOLEAN,
            "data": array(ref("WorkflowLog")),
        }
    ),
    "TextToAudioRequest": obj(
        {
            "message_id": {"type": "string", "description": "Speak this message's answer."},
            "text": {"type": "string", "description": "Speak this text (without message_id)."},
            "voice": STRING,
            "streaming": {"type": "boolean", "description": "Ignored."},
            "user": USER,
        },
        required=[],
    ),
}

# --- Paths -------------------------------------------------------------------------------------------

GENERATION_DOC = (
    "Served by a lean ASGI app in production (apps/applications/api/asgi.py); the same "
    "contract. Errors before the stream starts are JSON error bodies; after, an `error` event."
)

CONVERSATION_ID = path_param("conversation_id", STRING, "A conversation id (UUID).")
MESSAGE_ID = path_param("message_id", STRING, "A message id (UUID).")
TASK_ID = path_param("task_id", STRING, "The `task_id` of a running generation.")

PATHS: dict[str, dict[str, Any]] = {
    "/v1/": {
        "get": operation(
            "welcome",
            "API version",
            "Service API",
            {"200": ok(obj({"welcome": STRING, "api_version": STRING, "server_version": STRING}))},
            security=[],
        )
    },
    "/v1/chat-messages": {
        "post": operation(
            "sendChatMessage",
            "Send a chat message",
            "Chat",
            {
                "200": _streamed(
                    ref("ChatMessageResponse"),
                    [*MESSAGE_EVENTS, *WORKFLOW_EVENTS],
                    "Chat: message* → message_end → [tts_message* → tts_message_end]. "
                    "Chatflow: workflow_started → node events and message* → workflow_finished → "
                    "message_end (or error).",
                )
            },
            error_table=merge_errors(
                BAD_JSON,
                CHAT_ONLY,
                {400: ["conversation_completed", "app_unavailable", "bad_request"]},
                MODEL,
                AUTH,
                {404: ["not_found"]},
                BUSY,
            ),
            body=json_body(ref("ChatRequest")),
            description=GENERATION_DOC,
        )
    },
    "/v1/chat-messages/{task_id}/stop": {
        "post": operation(
            "stopChatMessage",
            "Stop a chat generation",
            "Chat",
            {"200": ok(ref("Result"))},
            error_table=merge_errors(BAD_JSON, AUTH),
            body=json_body(ref("StopRequest")),
            parameters=[TASK_ID],
            description="Always `success`, even for an unknown task; only the "
            "task's own end user can stop it.",
        )
    },
    "/v1/completion-messages": {
        "post": operation(
            "sendCompletionMessage",
            "Generate a completion",
            "Completion",
            {
                "200": _streamed(
                    ref("CompletionMessageResponse"),
                    MESSAGE_EVENTS,
                    "message* → message_end → [tts_message* → tts_message_end].",
                )
            },
            error_table=merge_errors(BAD_JSON, {400: ["app_unavailable"]}, MODEL, AUTH, BUSY),
            body=json_body(ref("CompletionRequest")),
            description=GENERATION_DOC,
        )
    },
    "/v1/completion-messages/{task_id}/stop": {
        "post": operation(
            "stopCompletionMessage",
            "Stop a completion",
            "Completion",
            {"200": ok(ref("Result"))},
            error_table=merge_errors(BAD_JSON, AUTH),
            body=json_body(ref("StopRequest")),
            parameters=[TASK_ID],
            description="Always `success`, even for an unknown task.",
        )
    },
    "/v1/messages": {
        "get": operation(
            "listMessages",
            "A conversation's messages",
            "Conversations",
            {"200": ok(ref("MessageList"))},
            error_table=merge_errors(BAD_JSON, CHAT_ONLY, AUTH, {404: ["not_found"]}),
            parameters=[
                query_param(
                    "conversation_id",
                    STRING,
                    "The conversation (UUID); empty gives an empty page.",
                    required=True,
                ),
                _user_query(),
                query_param("first_id", STRING, "Messages older than this one."),
                query_param("limit", LIMIT_100),
            ],
            description="The newest `limit` messages (older than `first_id`), oldest first.",
        )
    },
    "/v1/messages/{message_id}/feedbacks": {
        "post": operation(
            "sendFeedback",
            "Rate a message",
            "Conversations",
            {"200": ok(ref("Result"))},
            error_table=merge_errors(BAD_JSON, AUTH, {404: ["not_found"]}),
            body=json_body(ref("FeedbackRequest")),
            parameters=[MESSAGE_ID],
        )
    },
    "/v1/messages/{message_id}/suggested": {
        "get": operation(
            "suggestedQuestions",
            "Suggested follow-up questions",
            "Conversations",
            {"200": ok(ref("SuggestedQuestions"))},
            error_table=merge_errors(
                BAD_JSON, CHAT_ONLY, {400: ["bad_request"]}, MODEL, AUTH, {404: ["not_found"]}
            ),
            parameters=[MESSAGE_ID, _user_query(required=True)],
        )
    },
    "/v1/app/feedbacks": {
        "get": operation(
            "listAppFeedbacks",
            "All feedback on the app's messages",
            "Conversations",
            {"200": ok(ref("AppFeedbackList"))},
            error_table=merge_errors(BAD_JSON, AUTH),
            parameters=[
                query_param("page", {"type": "integer", "minimum": 1, "default": 1}),
                query_param("limit", {"type": "integer", "minimum": 1, "maximum": 101, "default": 20}),
            ],
        )
    },
    "/v1/conversations": {
        "get": operation(
            "listConversations",
            "The end user's conversations",
            "Conversations",
            {"200": ok(ref("ConversationList"))},
            error_table=merge_errors(BAD_JSON, CHAT_ONLY, AUTH, {404: ["not_found"]}),
            parameters=[
                _user_query(),
                query_param("last_id", STRING, "Conversations after this one."),
                query_param("limit", LIMIT_100),
                query_param(
                    "sort_by",
                    {
                        **enum("created_at", "-created_at", "updated_at", "-updated_at"),
                        "default": "-updated_at",
                    },
                ),
            ],
        )
    },
    "/v1/conversations/{conversation_id}": {
        "delete": operation(
            "deleteConversation",
            "Delete a conversation",
            "Conversations",
            {
                "204": {
                    "description": 'Deleted (soft). No body: the reference\'s `{"result": "success"}` '
                    "cannot travel with a 204."
                }
            },
            error_table=merge_errors(BAD_JSON, CHAT_ONLY, AUTH, {404: ["not_found"]}),
            body=json_body(obj({"user": USER}, required=[]), required=False),
            parameters=[CONVERSATION_ID],
        )
    },
    "/v1/conversations/{conversation_id}/name": {
        "post": operation(
            "renameConversation",
            "Rename a conversation",
            "Conversations",
            {"200": ok(ref("Conversation"))},
            error_table=merge_errors(BAD_JSON, CHAT_ONLY, AUTH, {404: ["not_found"]}),
            body=json_body(
                obj(
                    {"name": STRING, "auto_generate": {"type": "boolean", "default": False}, "user": USER},
                    required=[],
                )
            ),
            parameters=[CONVERSATION_ID],
            description="`name` is required unless `auto_generate` is true (the default model titles it).",
        )
    },
    "/v1/conversations/{conversation_id}/variables": {
        "get": operation(
            "listConversationVariables",
            "A conversation's variables",
            "Conversations",
            {"200": ok(ref("ConversationVariableList"))},
            error_table=merge_errors(BAD_JSON, CHAT_ONLY, AUTH, {404: ["not_found"]}),
            parameters=[
                CONVERSATION_ID,
                _user_query(),
                query_param("last_id"),
                query_param("limit", LIMIT_100),
                query_param(
                    "variable_name",
                    {"type": "string", "pattern": "^[A-Za-z0-9_.\\-]*$"},
                    "A case-insensitive substring of the name.",
                ),
            ],
        )
    },
    "/v1/conversations/{conversation_id}/variables/{variable_id}": {
        "put": operation(
            "updateConversationVariable",
            "Set a conversation variable",
            "Conversations",
            {"200": ok(ref("ConversationVariable"))},
            error_table=merge_errors(BAD_JSON, CHAT_ONLY, {400: ["bad_request"]}, AUTH, {404: ["not_found"]}),
            body=json_body(
                obj(
                    {"value": {"description": "Must fit the variable's type."}, "user": USER},
                    required=["value"],
                )
            ),
            parameters=[CONVERSATION_ID, path_param("variable_id")],
        )
    },
    "/v1/parameters": {
        "get": operation(
            "getParameters",
            "The app's input form and features",
            "App",
            {"200": ok(ref("Parameters"))},
            error_table=merge_errors({400: ["app_unavailable"]}, AUTH),
        )
    },
    "/v1/meta": {
        "get": operation(
            "getMeta", "Icons of the app's tools", "App", {"200": ok(ref("Meta"))}, error_table=AUTH
        )
    },
    "/v1/info": {
        "get": operation(
            "getInfo", "The app's name and mode", "App", {"200": ok(ref("Info"))}, error_table=AUTH
        )
    },
    "/v1/site": {
        "get": operation(
            "getSite", "The app's WebApp settings", "App", {"200": ok(ref("Site"))}, error_table=AUTH
        )
    },
    "/v1/files/upload": {
        "post": operation(
            "uploadFile",
            "Upload a file for a turn",
            "Files",
            {"201": ok(ref("UploadedFile"), "Stored.")},
            error_table=merge_errors(
                BAD_JSON,
                {
                    400: ["no_file_uploaded", "too_many_files", "filename_not_exists_error"],
                    413: ["file_too_large"],
                    415: ["unsupported_file_type"],
                },
                AUTH,
            ),
            body=multipart_body(
                obj(
                    {
                        "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                        "user": USER,
                    },
                    required=["file"],
                )
            ),
        )
    },
    "/v1/files/{file_id}/preview": {
        "get": operation(
            "previewFile",
            "A file used in this app's messages",
            "Files",
            {
                "200": {
                    "description": "The file, with its own Content-Type (application/octet-stream "
                    "with as_attachment).",
                    "content": {
                        "*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
                    },
                }
            },
            error_table=merge_errors(BAD_JSON, AUTH, {403: ["file_access_denied"], 404: ["file_not_found"]}),
            parameters=[
                path_param("file_id"),
                _user_query(),
                query_param("as_attachment", BOOLEAN, "Download instead of display."),
            ],
        )
    },
    "/v1/files/{file_id}/file-preview": {
        "get": operation(
            "signedFile",
            "A file by signed URL (the target of `source_url` and `url` fields)",
            "Files",
            {
                "200": {
                    "description": "The file.",
                    "content": {
                        "*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
                    },
                }
            },
            error_table=merge_errors(BAD_JSON, {403: ["file_access_denied"], 404: ["file_not_found"]}),
            parameters=[
                path_param("file_id"),
                *(query_param(name, required=True) for name in ("tenant", "timestamp", "nonce", "sign")),
                query_param("as_attachment", BOOLEAN),
            ],
            security=[],
            description="No API key: the signature (which expires) is the credential.",
        )
    },
    "/v1/workflows/run": {
        "post": operation(
            "runWorkflow",
            "Run the published workflow",
            "Workflows",
            {
                "200": _streamed(
                    ref("WorkflowRunResponse"),
                    WORKFLOW_RUN_EVENTS,
                    "workflow_started → node events and text_chunk* → workflow_finished (also "
                    "for a failed run: there is no error event for workflow apps).",
                )
            },
            error_table=merge_errors(BAD_JSON, {400: ["not_workflow_app"]}, MODEL, AUTH, BUSY),
            body=json_body(ref("WorkflowRunRequest")),
        )
    },
    "/v1/workflows/{workflow_id}/run": {
        "post": operation(
            "runWorkflowVersion",
            "Run a published workflow version",
            "Workflows",
            {
                "200": _streamed(
                    ref("WorkflowRunResponse"),
                    WORKFLOW_RUN_EVENTS,
                    "As POST /workflows/run.",
                )
            },
            error_table=merge_errors(
                BAD_JSON, {400: ["not_workflow_app", "bad_request"]}, MODEL, AUTH, {404: ["not_found"]}, BUSY
            ),
            body=json_body(ref("WorkflowRunRequest")),
            parameters=[path_param("workflow_id")],
            description="An unknown version is 404 `not_found`; a draft or a malformed id 400 `bad_request`.",
        )
    },
    "/v1/workflows/run/{run_id}": {
        "get": operation(
            "getWorkflowRun",
            "A workflow run",
            "Workflows",
            {"200": ok(ref("WorkflowRunDetail"))},
            error_table=merge_errors({400: ["not_workflow_app"]}, AUTH),
            parameters=[path_param("run_id", STRING, "A `workflow_run_id`.")],
        )
    },
    "/v1/workflows/tasks/{task_id}/stop": {
        "post": operation(
            "stopWorkflowTask",
            "Stop a workflow run",
            "Workflows",
            {"200": ok(ref("Result"))},
            error_table=merge_errors(BAD_JSON, {400: ["not_workflow_app"]}, AUTH),
            body=json_body(ref("StopRequest")),
            parameters=[TASK_ID],
        )
    },
    "/v1/workflows/logs": {
        "get": operation(
            "listWorkflowLogs",
            "The app's workflow runs",
            "Workflows",
            {"200": ok(ref("WorkflowLogList"))},
            error_table=merge_errors(BAD_JSON, AUTH),
            parameters=[
                query_param("keyword"),
                query_param("status", enum("succeeded", "failed", "stopped")),
                query_param("created_at__before", {"type": "string", "format": "date-time"}),
                query_param("created_at__after", {"type": "string", "format": "date-time"}),
                query_param("created_by_end_user_session_id", STRING, "An end user's `user` string."),
                query_param("created_by_account", STRING, "A member's email."),
                query_param("page", {"type": "integer", "minimum": 1, "maximum": 99999, "default": 1}),
                query_param("limit", LIMIT_100),
            ],
        )
    },
    "/v1/audio-to-text": {
        "post": operation(
            "audioToText",
            "Speech to text",
            "Audio",
            {"200": ok(obj({"text": STRING}))},
            error_table=merge_errors(
                BAD_JSON,
                {
                    400: ["no_audio_uploaded", "too_many_files", "provider_not_support_speech_to_text"],
                    413: ["audio_too_large"],
                    415: ["unsupported_audio_type"],
                },
                MODEL,
                AUTH,
            ),
            body=multipart_body(
                obj(
                    {
                        "file": {
                            "type": "string",
                            "contentMediaType": "audio/mpeg",
                            "description": "mp3, m4a, wav, amr, mpga, webm; at most 30 MB.",
                        },
                        "user": USER,
                    },
                    required=["file"],
                )
            ),
            description="Needs the app's speech_to_text feature.",
        )
    },
    "/v1/text-to-audio": {
        "post": operation(
            "textToAudio",
            "Text to speech",
            "Audio",
            {
                "200": {
                    "description": "MP3 audio; the JSON `null` when message_id names no message.",
                    "content": {
                        "audio/mpeg": {"schema": {"type": "string", "contentMediaType": "audio/mpeg"}},
                        "application/json": {"schema": {"type": "null"}},
                    },
                }
            },
            error_table=merge_errors(BAD_JSON, MODEL, AUTH),
            body=json_body(ref("TextToAudioRequest")),
            description="Needs the app's text_to_speech feature.",
        )
    },
}

TAGS = {
    "Service API": "An app's API, with its `app-` key.",
    "Chat": "Chat, agent and chatflow apps.",
    "Completion": "Text-generation apps.",
    "Workflows": "Workflow apps.",
    "Conversations": "Conversations, messages and feedback of chat apps.",
    "Files": "Files for turns.",
    "Audio": "Speech to text and text to speech.",
    "App": "The app's settings.",
}


def service_api(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook (SPECTACULAR_SETTINGS): the Service API's paths and objects."""
    return add(result, paths=PATHS, schemas=SCHEMAS, tags=TAGS)
