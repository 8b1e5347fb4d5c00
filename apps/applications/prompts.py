"""Prompt assembly for chat and completion apps: basic (`simple`) and expert (`advanced`) modes."""

import re
from dataclasses import dataclass
from typing import Any

from apps.providers.runtime.entities import PromptMessage

VARIABLE = re.compile(r"\{\{([a-zA-Z_][a-zA-Z0-9_]{0,63})\}\}")
SPECIAL_BLOCKS = ("{{#context#}}", "{{#histories#}}", "{{#query#}}")
DEFAULT_WINDOW = 10  # conversation turns kept as memory


@dataclass(frozen=True)
class Turn:
    query: str
    answer: str


def render(template: str, inputs: dict[str, Any]) -> str:
    """Replace {{variable}} with the input's value; unknown variables become empty."""
    return VARIABLE.sub(lambda m: "" if inputs.get(m.group(1)) is None else str(inputs[m.group(1)]), template or "")


def _history_text(history: list[Turn], user_prefix: str, assistant_prefix: str) -> str:
    return "\n".join(f"{user_prefix}: {t.query}\n{assistant_prefix}: {t.answer}" for t in history)


def _history_messages(history: list[Turn]) -> list[PromptMessage]:
    out: list[PromptMessage] = []
    for turn in history:
        out += [PromptMessage("user", turn.query), PromptMessage("assistant", turn.answer)]
    return out


def validate_expert_template(config: dict[str, Any], *, chat_app: bool) -> list[str]:
    """Problems in an expert-mode template (shown in the console before saving)."""
    problems: list[str] = []
    if config.get("prompt_type") != "advanced":
        return problems
    if config.get("model", {}).get("mode") == "completion":
        text = (config.get("completion_prompt_config") or {}).get("prompt", {}).get("text", "")
        if chat_app and "{{#histories#}}" not in text:
            problems.append("The completion prompt of a chat app needs the {{#histories#}} block.")
        if chat_app and "{{#query#}}" not in text:
            problems.append("The completion prompt of a chat app needs the {{#query#}} block.")
        texts = [text]
    else:
        texts = [m.get("text", "") for m in (config.get("chat_prompt_config") or {}).get("prompt", [])]
        if any("{{#histories#}}" in t for t in texts):
            problems.append("{{#histories#}} belongs in completion-mode prompts; chat models get the history as messages.")
    for block in SPECIAL_BLOCKS:
        if sum(t.count(block) for t in texts) > 1:
            problems.append(f"{block} may appear only once.")
    return problems


def build(config: dict[str, Any], *, inputs: dict[str, Any], query: str, history: list[Turn],
          context: str = "") -> list[PromptMessage]:
    """The messages sent to the model for one turn."""
    model_mode = (config.get("model") or {}).get("mode", "chat")
    if config.get("prompt_type") == "advanced":
        return _advanced(config, inputs=inputs, query=query, history=history, context=context, model_mode=model_mode)
    system = render(config.get("pre_prompt", ""), inputs)
    if context:
        system = f"{system}\n\nUse the following context as your learned knowledge:\n<context>\n{context}\n</context>".strip()
    messages: list[PromptMessage] = [PromptMessage("system", system)] if system else []
    messages += _history_messages(history)
    if query:
        messages.append(PromptMessage("user", query))
    elif not messages or messages[-1].role != "user":
        # A completion app with only a prompt: the prompt itself is the user's turn.
        messages = [PromptMessage("user", system)] if system else [PromptMessage("user", "")]
    return messages


def _advanced(config: dict[str, Any], *, inputs: dict[str, Any], query: str, history: list[Turn], context: str,
              model_mode: str) -> list[PromptMessage]:
    def fill(text: str, histories: str = "") -> str:
        text = text.replace("{{#context#}}", context).replace("{{#query#}}", query)
        return render(text.replace("{{#histories#}}", histories), inputs)

    if model_mode == "completion":
        prompt_config = config.get("completion_prompt_config") or {}
        roles = prompt_config.get("conversation_histories_role") or {}
        histories = _history_text(history, roles.get("user_prefix") or "Human", roles.get("assistant_prefix") or "Assistant")
        return [PromptMessage("user", fill((prompt_config.get("prompt") or {}).get("text", ""), histories))]
    template = (config.get("chat_prompt_config") or {}).get("prompt") or []
    messages = [PromptMessage(m.get("role", "user"), fill(m.get("text", ""))) for m in template]
    uses_query = any("{{#query#}}" in m.get("text", "") for m in template)
    # Memory goes after the template's leading system messages, before the rest of the turn.
    lead = 0
    while lead < len(messages) and messages[lead].role == "system":
        lead += 1
    messages[lead:lead] = _history_messages(history)
    if query and not uses_query:
        messages.append(PromptMessage("user", query))
    return messages


def as_log(messages: list[PromptMessage]) -> list[dict[str, str]]:
    """The prompt log shown in the console: role and text of every message sent."""
    return [{"role": m.role, "text": m.text} for m in messages]
