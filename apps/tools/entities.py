"""The tool runtime's vocabulary: parameters, credentials fields, messages and errors.

A tool declares its parameters once (ToolParameter); `form` parameters are set by whoever adds
the tool to an app or node, `llm` parameters are filled by the model at call time (TL-06). A
provider declares its credentials once (CredentialField); `secret-input` fields are encrypted and
shown masked (TL-05). A call returns ToolMessages (TL-08).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

ParameterType = Literal["string", "number", "boolean", "select", "file", "secret-input"]
MessageType = Literal["text", "json", "link", "image", "blob"]


class ToolInvokeError(Exception):
    """A tool call failed; the message is for the user (and, in an agent, for the model)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ToolUnavailable(Exception):
    """A tool named in an app or node cannot be used here: unknown, deleted or not authorised."""


class CredentialsInvalid(Exception):
    """Credentials failed validation (a missing field, or the provider refused a real call)."""


@dataclasses.dataclass(frozen=True)
class Option:
    value: str
    label: str = ""


@dataclasses.dataclass(frozen=True)
class ToolParameter:
    """One parameter of a tool. `llm_description` is what the model reads; `label`/`help` the console."""

    name: str
    type: ParameterType = "string"
    form: Literal["llm", "form"] = "llm"
    required: bool = False
    label: str = ""
    help: str = ""
    llm_description: str = ""
    default: Any = None
    options: tuple[Option, ...] = ()

    def json_schema(self) -> dict[str, Any]:
        """This parameter as a JSON Schema property (for the model's function declaration)."""
        kind = {"string": "string", "secret-input": "string", "select": "string", "number": "number",
                "boolean": "boolean", "file": "string"}[self.type]
        description = self.llm_description or str(self.help or self.label)
        schema: dict[str, Any] = {"type": kind, "description": description}
        if self.options:
            schema["enum"] = [o.value for o in self.options]
        return schema

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "form": self.form, "required": self.required,
                "label": str(self.label or self.name), "help": str(self.help),
                "llm_description": self.llm_description,
                "default": self.default, "options": [{"value": o.value, "label": str(o.label or o.value)}
                                                     for o in self.options]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolParameter:
        return cls(name=str(data["name"]), type=data.get("type") or "string", form=data.get("form") or "llm",
                   required=bool(data.get("required")), label=str(data.get("label") or ""),
                   help=str(data.get("help") or ""), llm_description=str(data.get("llm_description") or ""),
                   default=data.get("default"),
                   options=tuple(Option(str(o.get("value")), str(o.get("label") or ""))
                                 for o in data.get("options") or [] if isinstance(o, dict)))


@dataclasses.dataclass(frozen=True)
class CredentialField:
    """One field of a provider's credentials form."""

    name: str
    type: Literal["secret-input", "text-input", "select"] = "secret-input"
    required: bool = True
    label: str = ""
    help: str = ""
    placeholder: str = ""
    default: str = ""
    options: tuple[Option, ...] = ()

    @property
    def secret(self) -> bool:
        return self.type == "secret-input"


@dataclasses.dataclass
class ToolMessage:
    """One piece of a tool's result.

    - text: payload is a str;
    - json: payload is a dict or list;
    - link: payload is a URL (str);
    - image / blob: payload is the URL the user can open: a signed URL of the stored file when the
      call had an app to keep it under (meta has upload_file_id, mime_type, filename, size), else a
      data: URL (console test calls), or a remote URL the tool returned.
    """

    type: MessageType
    payload: Any
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_text(self) -> str:
        """How the model sees this message in an observation."""
        import json

        if self.type == "text":
            return str(self.payload)
        if self.type == "json":
            return json.dumps(self.payload, ensure_ascii=False)
        if self.type == "link":
            return f"result link: {self.payload}. please tell user to check it."
        kind = "image" if self.type == "image" else "file"
        return f"{kind} has been created and sent to the user already: {self.meta.get('filename') or kind}"

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "payload": self.payload, "meta": self.meta}


@dataclasses.dataclass(frozen=True)
class ToolContext:
    """Who calls a tool: files are kept under `app_id` (none: returned inline); `user_id` is the end
    user's id, passed to tools that want it (workflow tools run as that user)."""

    app_id: str | None = None
    user_id: str | None = None
    conversation_id: str | None = None


@dataclasses.dataclass
class RawFile:
    """A file a tool produced, before it is stored: see apps.tools.files.store."""

    content: bytes
    mime_type: str
    filename: str = ""
    kind: Literal["image", "blob"] = "blob"
