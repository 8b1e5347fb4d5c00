"""An app's configuration: the DSL's `model_config` dict (dsl.md §4), with defaults filled in."""

import copy
from typing import Any

DEFAULT_CONFIG: dict[str, Any] = {
    "model": {"provider": "", "name": "", "mode": "chat",
              "completion_params": {"temperature": 0.7, "top_p": 1, "presence_penalty": 0, "frequency_penalty": 0,
                                    "max_tokens": 512, "stop": []}},
    "prompt_type": "simple",
    "pre_prompt": "",
    "chat_prompt_config": {},
    "completion_prompt_config": {},
    "user_input_form": [],
    "dataset_query_variable": "",
    "opening_statement": "",
    "suggested_questions": [],
    "suggested_questions_after_answer": {"enabled": False},
    "speech_to_text": {"enabled": False},
    "text_to_speech": {"enabled": False, "voice": "", "language": "", "autoPlay": "disabled"},
    "retriever_resource": {"enabled": False},
    "annotation_reply": {"enabled": False},
    "more_like_this": {"enabled": False},
    "sensitive_word_avoidance": {"enabled": False, "type": "", "configs": []},
    "external_data_tools": [],
    "file_upload": {"image": {"enabled": False, "number_limits": 3, "detail": "high",
                              "transfer_methods": ["remote_url", "local_file"]}},
    "dataset_configs": {"retrieval_model": "multiple", "top_k": 4, "datasets": {"datasets": []}},
    "agent_mode": {"enabled": False, "strategy": "function_call", "max_iteration": 5, "tools": []},
}

FORM_TYPES = ("text-input", "paragraph", "select", "number", "checkbox", "external_data_tool")


def with_defaults(config: dict[str, Any] | None) -> dict[str, Any]:
    """A complete config: missing keys (and missing keys of nested dicts) take the defaults."""
    merged = copy.deepcopy(DEFAULT_CONFIG)
    for key, value in (config or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def form_variables(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """user_input_form as (type, spec) pairs: each entry is a dict with one key, the variable type."""
    variables = []
    for entry in config.get("user_input_form") or []:
        if isinstance(entry, dict) and len(entry) == 1:
            kind, spec = next(iter(entry.items()))
            if isinstance(spec, dict) and spec.get("variable"):
                variables.append((kind, spec))
    return variables
