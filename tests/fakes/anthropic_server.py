"""``FakeAnthropic``: the Anthropic Messages API as the ``anthropic`` SDK uses it.

- ``POST /v1/messages``: a ``message`` object (``content`` of ``text`` and ``tool_use`` blocks,
  ``stop_reason`` end_turn / max_tokens / tool_use, ``usage``), or with ``stream: true`` the SSE
  sequence ``message_start``, ``ping``, then per block ``content_block_start`` /
  ``content_block_delta`` (``text_delta`` or ``input_json_delta``)... / ``content_block_stop``,
  then ``message_delta`` (stop_reason, ``usage.output_tokens``) and ``message_stop``. A mid-stream
  ``Fail`` sends Anthropic's ``event: error`` (e.g. ``overloaded_error``), which the SDK raises.
- ``POST /v1/messages/count_tokens``: ``{"input_tokens": N}`` (words, like every fake).
- ``GET /v1/models``: the model list (``fake.models``), handy for key validation.

Auth: ``x-api-key`` or ``Authorization: Bearer`` (anthropic 2.x sends API keys as bearer tokens);
any non-empty key, or only
``fake.valid_keys`` when set. The ``anthropic-version`` header is required, as on the real API.
Errors use ``{"type": "error", "error": {"type", "message"}, "request_id"}``: 400
invalid_request_error, 401 authentication_error, 403 permission_error, 404 not_found_error,
413 request_too_large, 429 rate_limit_error, 500 api_error, 529 overloaded_error.

SDK set-up: ``anthropic.Anthropic(api_key=..., base_url=fake.base_url)``; ``base_url`` is the
server root ``http://127.0.0.1:PORT`` (the SDK appends ``/v1/messages``).

Not covered: thinking / redacted_thinking blocks, server tools, citations, prompt-caching
accounting (cache token counts are always 0), the Batches, Files and beta APIs, ``stop_sequences``
matching (accepted and ignored).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from aiohttp import web

from .base import (
    Call,
    ErrorDefaults,
    Fail,
    FakeServer,
    FakeToolCall,
    Frame,
    Generation,
    RecordedRequest,
    error_fields,
    invalid,
    new_id,
    out_of_range,
    prompt_words,
    split_chars,
    typed_event,
)

_ERRORS: ErrorDefaults = {
    (400, None): ("invalid_request_error", "Invalid request (scripted by the fake).", None),
    (401, None): ("authentication_error", "invalid x-api-key", None),
    (403, None): (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
        None,
    ),
    (404, None): ("not_found_error", "model: {model}", None),
    (413, None): ("request_too_large", "Request exceeds the maximum allowed number of bytes.", None),
    (429, None): (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization (org-fake) "
        "of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
        None,
    ),
    (500, None): ("api_error", "Internal server error", None),
    (529, None): ("overloaded_error", "Overloaded", None),
}


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _uses_tools(messages: Any) -> bool:
    return any(b.get("type") in ("tool_use", "tool_result") for m in messages or [] if isinstance(m, dict)
               for b in _blocks(m))


def _check_messages(messages: Any) -> Fail | None:
    """Roles, non-empty content, and tool_use/tool_result pairing (each tool_use answered by a
    tool_result in the very next message, and no tool_result without its tool_use)."""
    if not isinstance(messages, list) or not messages:
        return invalid("messages: at least one message is required")
    previous_uses: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "system":
            return invalid('messages: Unexpected role "system". The Messages API accepts a top-level `system` '
                           'parameter, not "system" as an input message role.')
        if role not in ("user", "assistant"):
            return invalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        blocks = _blocks(message)
        last = index == len(messages) - 1
        if not blocks and not (last and role == "assistant"):
            return invalid(f"messages.{index}: all messages must have non-empty content except for the optional "
                           "final assistant message")
        for position, block in enumerate(blocks):
            if block.get("type") == "text" and not block.get("text") and not (last and role == "assistant"):
                return invalid(f"messages.{index}.content.{position}.text: text content blocks must be non-empty")
        results = [str(b.get("tool_use_id")) for b in blocks if b.get("type") == "tool_result"]
        if previous_uses:
            missing = [u for u in previous_uses if u not in results]
            if role != "user" or missing:
                return invalid(f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately "
                               f"after: {', '.join(missing or previous_uses)}. Each `tool_use` block must have a "
                               "corresponding `tool_result` block in the next message.")
        for position, result in enumerate(results):
            if result not in previous_uses:
                return invalid(f"messages.{index}.content.{position}: unexpected `tool_use_id` found in "
                               f"`tool_result` blocks: {result}. Each `tool_result` block must have a corresponding "
                               "`tool_use` block in the previous message.")
        previous_uses = [str(b.get("id")) for b in blocks if b.get("type") == "tool_use"] if role == "assistant" else []
    if previous_uses:
        return invalid(f"messages.{len(messages)}: `tool_use` ids were found without `tool_result` blocks "
                       f"immediately after: {', '.join(previous_uses)}. Each `tool_use` block must have a "
                       "corresponding `tool_result` block in the next message.")
    return None


class FakeAnthropic(FakeServer):
    """Anthropic Messages fake. ``base_url`` -> ``http://127.0.0.1:PORT``."""

    endpoints: ClassVar[dict[str, bool]] = {"messages": True, "count_tokens": False, "models": False}
    main_endpoint: ClassVar[str] = "messages"
    default_models: ClassVar[tuple[str, ...]] = (
        "claude-haiku-4-5",
        "claude-sonnet-4-6",
        "claude-opus-4-6",
        "claude-opus-4-5",
        "claude-opus-4-1",
    )
    request_id_header: ClassVar[str] = "request-id"
    finish_reasons: ClassVar[dict[str, str]] = {
        "stop": "end_turn",
        "length": "max_tokens",
        "tool_calls": "tool_use",
    }

    def _routes(self, app: web.Application) -> None:
        self.add_route(app, "POST", "/v1/messages", "messages", self._messages)
        self.add_route(app, "POST", "/v1/messages/count_tokens", "count_tokens", self._count_tokens)
        self.add_route(app, "GET", "/v1/models", "models", self._models)

    # -- provider hooks --------------------------------------------------------------------------

    def authenticate(self, request: RecordedRequest) -> Fail | None:
        if not request.headers.get("anthropic-version"):
            return Fail(400, message="anthropic-version: header is required")
        return super().authenticate(request)

    def declared_tools(self, body: Any) -> set[str]:
        return {str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict)}

    def validate(self, request: RecordedRequest) -> Fail | None:
        if request.endpoint != "messages" or not isinstance(request.json, dict):
            return None
        body = request.json
        if not isinstance(body.get("max_tokens"), int):
            return invalid("max_tokens: Field required")
        for name, low, high in (("temperature", 0, 1), ("top_p", 0, 1), ("max_tokens", 1, None), ("top_k", 0, None)):
            if bad := out_of_range(body, name, low, high):
                side, bound = bad
                word = "greater than or equal to" if side == "below" else "less than or equal to"
                return invalid(f"{name}: Input should be {word} {bound:g}")
        for index, tool in enumerate(body.get("tools") or []):
            if not re.match(r"^[a-zA-Z0-9_-]{1,128}$", str(tool.get("name") or "")):
                return invalid(f"tools.{index}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        if not body.get("tools") and _uses_tools(body.get("messages")):
            return invalid("Requests which include `tool_use` or `tool_result` blocks must define tools.")
        return _check_messages(body.get("messages"))

    def error_body(self, fail: Fail, request: RecordedRequest) -> Any:
        kind, message, _ = error_fields(_ERRORS, fail, request)
        return {"type": "error", "error": {"type": kind, "message": message}, "request_id": new_id("req_011")}

    def stream_error_frames(self, fail: Fail, request: RecordedRequest) -> list[Frame]:
        return [("error", self.error_body(fail, request))]

    def tool_call_id(self, call: FakeToolCall) -> str:
        return new_id("toolu_01", 22)

    # -- messages --------------------------------------------------------------------------------

    @staticmethod
    def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        }

    def _message(
        self, gen: Generation, message_id: str, content: list[Any], stop_reason: str | None
    ) -> dict[str, Any]:
        output_tokens = gen.completion_tokens if stop_reason else 1
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": gen.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": self._usage(gen.prompt_tokens, output_tokens),
        }

    async def _messages(self, call: Call) -> web.StreamResponse:
        gen = self.generation(call, "max_tokens")
        message_id = new_id("msg_01", 22)
        if call.body.get("stream"):
            return await self.stream(call, self._frames(gen, message_id))
        content: list[dict[str, Any]] = []
        if gen.text or not gen.tool_calls:
            content.append({"type": "text", "text": gen.text})
        content.extend(
            {"type": "tool_use", "id": tc.id, "name": tc.name, "input": tc.arguments_dict}
            for tc in gen.tool_calls
        )
        body = self._message(gen, message_id, content, self.finish_reason(gen))
        return await self.respond_json(call, body, chunks=len(gen.chunks))

    def _frames(self, gen: Generation, message_id: str) -> list[Frame]:
        frames = [
            typed_event("message_start", message=self._message(gen, message_id, [], None)),
            typed_event("ping"),
        ]
        blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        if gen.text or not gen.tool_calls:
            blocks.append(
                ({"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in gen.chunks])
            )
        for tc in gen.tool_calls:
            tool_use: dict[str, Any] = {"type": "tool_use", "id": tc.id, "name": tc.name, "input": {}}
            pieces = [{"type": "input_json_delta", "partial_json": p} for p in split_chars(tc.arguments_json)]
            blocks.append((tool_use, pieces))
        for index, (start, deltas) in enumerate(blocks):
            frames.append(typed_event("content_block_start", index=index, content_block=start))
            frames.extend(typed_event("content_block_delta", index=index, delta=delta) for delta in deltas)
            frames.append(typed_event("content_block_stop", index=index))
        frames.append(
            typed_event(
                "message_delta",
                delta={"stop_reason": self.finish_reason(gen), "stop_sequence": None},
                usage={"output_tokens": gen.completion_tokens},
            )
        )
        frames.append(typed_event("message_stop"))
        return frames

    async def _count_tokens(self, call: Call) -> web.StreamResponse:
        return await self.respond_json(call, {"input_tokens": prompt_words(call.body)})

    async def _models(self, call: Call) -> web.StreamResponse:
        data = [
            {
                "type": "model",
                "id": m,
                "display_name": m.replace("-", " ").title(),
                "created_at": "2025-01-01T00:00:00Z",
            }
            for m in self.models
        ]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return await self.respond_json(
            call, {"data": data, "has_more": False, "first_id": first, "last_id": last}
        )
