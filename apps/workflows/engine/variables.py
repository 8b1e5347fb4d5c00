"""The variable pool: every value a run has produced, addressed by `[node_id, name, ...path]`.

Reserved node ids are `sys` (query, files, user_id, …), `env` (environment variables) and
`conversation` (chatflow conversation variables). Templates use `{{#node_id.name.path#}}`; a
non-string value renders as JSON text, as Dify does.
"""

import json
import re
from collections.abc import Sequence
from typing import Any

TEMPLATE_RE = re.compile(r"\{\{#([a-zA-Z0-9_]{1,50}(?:\.[a-zA-Z_][a-zA-Z0-9_]{0,29}){1,10})#\}\}")
FILE_ATTRS = ("type", "size", "name", "mime_type", "transfer_method", "url", "extension", "related_id")
MISSING = object()


class VariableNotFound(Exception):
    def __init__(self, selector: Sequence[str]) -> None:
        super().__init__(f"Variable {list(selector)} not found")
        self.selector = list(selector)


def to_text(value: Any) -> str:
    """How a value appears inside a template."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict) and value.get("dify_model_identity") == "__dify__file__":
        return value.get("url") or value.get("remote_url") or value.get("filename") or ""
    return json.dumps(value, ensure_ascii=False)


class VariablePool:
    """Values by node id. Reading copies nothing: nodes must not mutate what they read."""

    def __init__(self, values: dict[str, dict[str, Any]] | None = None) -> None:
        self.values: dict[str, dict[str, Any]] = values if values is not None else {}

    def add(self, node_id: str, name: str, value: Any) -> None:
        self.values.setdefault(node_id, {})[name] = value

    def add_many(self, node_id: str, outputs: dict[str, Any]) -> None:
        self.values.setdefault(node_id, {}).update(outputs)

    def child(self) -> "VariablePool":
        """A pool for one iteration or loop round: sees everything, writes stay local (shallow),
        except conversation variables: they belong to the conversation, so an assigner inside a
        container writes the run's own (shared) dict."""
        return VariablePool({key: value if key == "conversation" else dict(value)
                             for key, value in self.values.items()})

    def get(self, selector: Sequence[Any], default: Any = MISSING) -> Any:
        if not selector or len(selector) < 2:
            if default is not MISSING:
                return default
            raise VariableNotFound(selector or [])
        node = self.values.get(str(selector[0]))
        value: Any = MISSING if node is None else node.get(str(selector[1]), MISSING)
        for part in selector[2:]:
            if value is MISSING:
                break
            value = _index(value, part)
        if value is MISSING:
            if default is not MISSING:
                return default
            raise VariableNotFound(selector)
        return value

    def has(self, selector: Sequence[Any]) -> bool:
        return self.get(selector, MISSING_DEFAULT) is not MISSING_DEFAULT

    def render(self, template: str | None, extra: dict[str, Any] | None = None) -> str:
        """`{{#node.var#}}` → the value as text; unknown references render empty (as in Dify)."""
        if not template:
            return ""

        def sub(match: re.Match[str]) -> str:
            parts = match.group(1).split(".")
            if extra is not None and parts[0] in extra and len(parts) == 1:
                return to_text(extra[parts[0]])
            return to_text(self.get(parts, None))

        text = TEMPLATE_RE.sub(sub, template)
        if extra:
            for key, value in extra.items():
                text = text.replace("{{#" + key + "#}}", to_text(value))
        return text

    def segments(self, template: str) -> list[str | list[str]]:
        """A template as constant text and selectors, in order (answer streaming)."""
        parts: list[str | list[str]] = []
        position = 0
        for match in TEMPLATE_RE.finditer(template or ""):
            if match.start() > position:
                parts.append(template[position:match.start()])
            parts.append(match.group(1).split("."))
            position = match.end()
        if position < len(template or ""):
            parts.append(template[position:])
        return parts


MISSING_DEFAULT = object()


def _index(value: Any, part: Any) -> Any:
    if isinstance(value, dict):
        if part in value:
            return value[part]
        if part == "url" and "remote_url" in value:
            return value["remote_url"]
        if part == "name" and "filename" in value:  # file objects: `name` is the file name
            return value["filename"]
        return MISSING
    if isinstance(value, list):
        try:
            return value[int(part)]
        except (ValueError, IndexError):
            return MISSING
    return getattr(value, str(part), MISSING) if str(part) in FILE_ATTRS else MISSING


def selectors_in(template: str | None) -> list[list[str]]:
    return [m.group(1).split(".") for m in TEMPLATE_RE.finditer(template or "")]
