"""Small helper calls to the workspace's default LLM: conversation titles and suggested follow-up
questions. Both are best effort, as in Dify: with no default model, or when the model fails, the
caller keeps what it had (the initial name, no suggestions)."""

import json
import logging
import re

from asgiref.sync import async_to_sync

from apps.providers import selectors as providers
from apps.providers.runtime.entities import PromptMessage
from apps.providers.runtime.errors import RuntimeModelError
from apps.providers.runtime.instance import ModelInstance

logger = logging.getLogger(__name__)

TITLE_MAX = 75
TITLE_PROMPT = (
    "You name conversations. Given the user's first message, answer with a short title for the "
    "conversation: at most 10 words, in the language of the message, with no quotes and no final "
    "punctuation. Answer with the title only."
)
SUGGEST_PROMPT = (
    "Given the conversation so far, predict the user's next three questions. Each question is short "
    "(under 20 words) and in the language of the conversation. Answer with a JSON array of three "
    'strings only, e.g. ["question 1", "question 2", "question 3"].'
)


def default_llm() -> ModelInstance | None:
    """The workspace default LLM, or None when none is set or usable (in the workspace schema)."""
    try:
        return providers.resolve_default("llm")
    except RuntimeModelError:
        return None


def _ask(model: ModelInstance, system: str, user: str, max_tokens: int) -> str | None:
    messages = [PromptMessage("system", system), PromptMessage("user", user)]
    try:
        result = async_to_sync(model.invoke)(messages, params={"temperature": 0.2, "max_tokens": max_tokens})
    except RuntimeModelError as exc:
        logger.warning("default model call failed: %s", exc.message)
        return None
    return result.text


def conversation_title(query: str) -> str | None:
    """A short title for a conversation that starts with `query`; None if the model can't give one."""
    model = default_llm()
    if model is None or not query.strip():
        return None
    text = _ask(model, TITLE_PROMPT, query[:2000], 60)
    if not text:
        return None
    title = text.strip().splitlines()[0].strip().strip("\"'“”「」").strip()
    title = title.removeprefix("Title:").strip().rstrip(".。")
    if not title:
        return None
    return title[:TITLE_MAX] + "..." if len(title) > TITLE_MAX else title


def _parse_questions(text: str) -> list[str]:
    found = re.search(r"\[.*\]", text, re.DOTALL)
    if found:
        try:
            items = json.loads(found.group(0))
        except json.JSONDecodeError:
            items = None
        if isinstance(items, list):
            return [str(q).strip() for q in items if str(q).strip()][:3]
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in text.splitlines()]
    return [line for line in lines if line][:3]


def suggested_questions(history: list[tuple[str, str]]) -> list[str]:
    """Three follow-up questions after `history` ((query, answer) turns, oldest first)."""
    model = default_llm()
    if model is None or not history:
        return []
    transcript = "\n".join(f"Human: {q}\nAssistant: {a}" for q, a in history)
    text = _ask(model, SUGGEST_PROMPT, transcript[-6000:], 256)
    return _parse_questions(text) if text else []
