"""Helpers for tool calls shared by every adapter and by the callers."""

import json
from typing import Any

from apps.providers.runtime.entities import ToolCall, ToolCallDelta


def parse_arguments(arguments: str) -> dict[str, Any]:
    """A tool call's arguments as a dict; models sometimes write invalid JSON, which yields {}."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class ToolCallAssembler:
    """Joins streamed ToolCallDelta pieces into complete ToolCalls, in index order."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, str]] = {}

    def add(self, delta: ToolCallDelta) -> None:
        call = self._calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
        if delta.id:
            call["id"] = delta.id
        if delta.name:
            call["name"] = delta.name
        call["arguments"] += delta.arguments

    def calls(self) -> list[ToolCall]:
        return [ToolCall(c["id"], c["name"], c["arguments"]) for _, c in sorted(self._calls.items())]
