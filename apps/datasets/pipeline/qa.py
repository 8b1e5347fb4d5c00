"""Q&A mode: the workspace's default LLM turns each chunk into question–answer pairs, written in
the document's language. Questions are what gets embedded ("Q to Q": a user's question is matched
against generated questions); the answer is returned with them."""

import re

from apps.providers.runtime.entities import PromptMessage

PROMPT = (
    "You turn a passage into question-answer pairs for a FAQ.\n"
    "Write every question and answer in {language}.\n"
    "Cover the passage's facts; each answer must be supported by the passage.\n"
    "Use exactly this format and nothing else:\n"
    "Q1: <question>\nA1: <answer>\nQ2: <question>\nA2: <answer>"
)
_PAIR = re.compile(r"Q\d+\s*[:：]\s*(.*?)\s*\n\s*A\d+\s*[:：]\s*(.*?)\s*(?=\n\s*Q\d+\s*[:：]|\Z)", re.DOTALL)


def messages(chunk: str, language: str) -> list[PromptMessage]:
    return [PromptMessage("system", PROMPT.format(language=language or "English")),
            PromptMessage("user", chunk)]


def parse(text: str) -> list[tuple[str, str]]:
    """(question, answer) pairs from the model's answer; malformed parts are skipped."""
    return [(q.strip(), a.strip()) for q, a in _PAIR.findall(text.strip()) if q.strip() and a.strip()]
