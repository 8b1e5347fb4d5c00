"""``FakeCohere``: the Cohere API v2 as the ``cohere`` 7.x SDK (``ClientV2``/``AsyncClientV2``) uses it.

- ``POST /v2/chat``: a ``V2ChatResponse`` (``message.content[{type: text}]``, or ``tool_plan`` +
  ``tool_calls``; ``finish_reason`` COMPLETE / MAX_TOKENS / TOOL_CALL; ``usage.billed_units`` and
  ``usage.tokens``), or with ``stream: true`` SSE events (``event: <type>`` + ``data: {json}``):
  ``message-start``, ``content-start``, ``content-delta``..., ``content-end``, ``message-end``
  (finish_reason, usage). With tool calls the reply text becomes the tool plan, streamed as
  ``tool-plan-delta`` events, followed by ``tool-call-start`` / ``tool-call-delta``... /
  ``tool-call-end`` per call. A mid-stream ``Fail`` ends the stream with a ``message-end`` whose
  finish_reason is ``ERROR`` (the v2 stream has no error event).
- ``POST /v2/embed``: ``embeddings_by_type`` with ``float`` (default), ``int8``, ``uint8``,
  ``binary``, ``ubinary`` and ``base64``; ``texts`` or ``inputs``; ``output_dimension`` honoured
  (default ``fake.embedding_dims``); ``input_type`` is required, as on the real API.
- ``POST /v2/rerank``: ``results[{index, relevance_score}]`` (word-overlap score) and
  ``meta.billed_units.search_units``.
- ``GET /v1/models`` (``client.models.list()``): the model list (``fake.models``); the natural
  key check, since cohere 7.x's ``check_api_key()`` is a stub that raises ``ValueError``.
- ``POST /v1/check-api-key``: ``{"valid": true, ...}`` for raw HTTP callers.
  A wrong key gets 401 ``invalid api token`` on every endpoint.

SDK set-up: ``cohere.ClientV2(api_key=..., base_url=fake.base_url)`` where ``base_url`` is the
server root ``http://127.0.0.1:PORT`` (the SDK appends ``v2/chat`` etc.).

Errors use Cohere's body ``{"id": ..., "message": ...}``; the SDK maps 400/401/404/429/500/503...
to ``cohere.errors.*`` exceptions.

Not covered: API v1 chat/generate/classify/summarize, citations and ``documents`` grounding
(documents are accepted and ignored), thinking content, logprobs, embed jobs, datasets, connectors,
fine-tuning and image inputs (image parts of ``inputs`` are ignored).
"""

from __future__ import annotations

import uuid
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
    document_text,
    error_fields,
    fake_embedding,
    floats_to_base64,
    invalid,
    out_of_range,
    rank_documents,
    split_chars,
    typed_event,
)

_ERRORS: ErrorDefaults = {
    (400, None): ("", "invalid request: the fake was scripted to reject it.", None),
    (401, None): ("", "invalid api token", None),
    (402, None): (
        "",
        "Please add or update your payment method at https://dashboard.cohere.com/billing",
        None,
    ),
    (404, None): (
        "",
        "model '{model}' not found, make sure the correct model ID was used "
        "and that you have access to the model.",
        None,
    ),
    (429, None): ("", "You are past the per minute request limit, please wait and try again later.", None),
    (498, None): ("", "invalid api token", None),
    (500, None): ("", "internal server error, this has been reported to our developers", None),
    (503, None): ("", "service unavailable", None),
}

_API_VERSION = {"version": "2"}


def _check_messages(messages: Any) -> Fail | None:
    """Roles, and tool messages answering the tool calls of the assistant message before them."""
    if not isinstance(messages, list) or not messages:
        return invalid("invalid request: messages must not be empty")
    open_calls: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("system", "user", "assistant", "tool"):
            return invalid(f"invalid request: messages[{index}].role must be one of system, user, assistant, tool")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_calls:
                return invalid(f"invalid request: messages[{index}]: tool message with tool_call_id {call_id!r} "
                               "does not follow an assistant message with that tool call")
            open_calls.remove(call_id)
            continue
        if open_calls:
            return invalid(f"invalid request: messages[{index}]: tool calls {', '.join(open_calls)} of the "
                           "previous assistant message have no tool result")
        if role == "assistant":
            calls = message.get("tool_calls") or []
            if not calls and not message.get("content"):
                return invalid(f"invalid request: messages[{index}]: assistant message must have content or "
                               "tool calls")
            open_calls = [str(c.get("id")) for c in calls if isinstance(c, dict)]
    if open_calls:
        return invalid(f"invalid request: tool calls {', '.join(open_calls)} have no tool result")
    return None


class FakeCohere(FakeServer):
    """Cohere v2 fake. ``base_url`` -> ``http://127.0.0.1:PORT``."""

    endpoints: ClassVar[dict[str, bool]] = {
        "chat": True,
        "embed": False,
        "rerank": False,
        "check_api_key": False,
        "models": False,
    }
    main_endpoint: ClassVar[str] = "chat"
    default_models: ClassVar[tuple[str, ...]] = (
        "command-a-03-2025",
        "command-r-plus-08-2024",
        "command-r-08-2024",
        "command-r7b-12-2024",
        "embed-v4.0",
        "embed-english-v3.0",
        "embed-multilingual-v3.0",
        "rerank-v3.5",
        "rerank-english-v3.0",
        "rerank-multilingual-v3.0",
    )
    request_id_header: ClassVar[str] = "x-trace-id"
    finish_reasons: ClassVar[dict[str, str]] = {
        "stop": "COMPLETE",
        "length": "MAX_TOKENS",
        "tool_calls": "TOOL_CALL",
    }

    def _routes(self, app: web.Application) -> None:
        self.add_route(app, "POST", "/v2/chat", "chat", self._chat)
        self.add_route(app, "POST", "/v2/embed", "embed", self._embed)
        self.add_route(app, "POST", "/v2/rerank", "rerank", self._rerank)
        self.add_route(app, "POST", "/v1/check-api-key", "check_api_key", self._check_api_key)
        self.add_route(app, "GET", "/v1/models", "models", self._models)

    # -- provider hooks --------------------------------------------------------------------------

    def declared_tools(self, body: Any) -> set[str]:
        return {str((t.get("function") or {}).get("name")) for t in body.get("tools") or [] if isinstance(t, dict)}

    def validate(self, request: RecordedRequest) -> Fail | None:
        if request.endpoint != "chat" or not isinstance(request.json, dict):
            return None
        body = request.json
        for name, low, high in (("temperature", 0, 1), ("p", 0.01, 0.99), ("k", 0, 500), ("max_tokens", 1, None),
                                ("presence_penalty", 0, 1), ("frequency_penalty", 0, 1)):
            if bad := out_of_range(body, name, low, high):
                return invalid(f"invalid request: {name} must be {'at least' if bad[0] == 'below' else 'at most'} "
                               f"{bad[1]:g}, received {body[name]:g}")
        return _check_messages(body.get("messages"))

    def error_body(self, fail: Fail, request: RecordedRequest) -> Any:
        _, message, _ = error_fields(_ERRORS, fail, request)
        return {"id": str(uuid.uuid4()), "message": message}

    def stream_error_frames(self, fail: Fail, request: RecordedRequest) -> list[Frame]:
        _, message, _ = error_fields(_ERRORS, fail, request)
        return [typed_event("message-end", delta={"error": message, "finish_reason": "ERROR"})]

    def tool_call_id(self, call: FakeToolCall) -> str:
        return f"{call.name}_{uuid.uuid4().hex[:12]}"

    # -- chat ------------------------------------------------------------------------------------

    @staticmethod
    def _usage(gen: Generation) -> dict[str, Any]:
        counts = {"input_tokens": gen.prompt_tokens, "output_tokens": gen.completion_tokens}
        return {"billed_units": dict(counts), "tokens": dict(counts), "cached_tokens": 0}

    @staticmethod
    def _tool_call(tc: FakeToolCall, arguments: str) -> dict[str, Any]:
        return {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": arguments}}

    async def _chat(self, call: Call) -> web.StreamResponse:
        gen = self.generation(call, "max_tokens")
        message_id = str(uuid.uuid4())
        if call.body.get("stream"):
            return await self.stream(call, self._chat_frames(gen, message_id))
        message: dict[str, Any] = {"role": "assistant"}
        if gen.tool_calls:
            message["tool_plan"] = gen.text
            message["tool_calls"] = [self._tool_call(tc, tc.arguments_json) for tc in gen.tool_calls]
        else:
            message["content"] = [{"type": "text", "text": gen.text}]
        body = {
            "id": message_id,
            "message": message,
            "finish_reason": self.finish_reason(gen),
            "usage": self._usage(gen),
        }
        return await self.respond_json(call, body, chunks=len(gen.chunks))

    def _chat_frames(self, gen: Generation, message_id: str) -> list[Frame]:
        def delta(message: dict[str, Any]) -> dict[str, Any]:
            return {"message": message}

        start = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
        frames = [typed_event("message-start", id=message_id, delta=delta(start))]
        if gen.tool_calls:
            frames.extend(
                typed_event("tool-plan-delta", delta=delta({"tool_plan": piece})) for piece in gen.chunks
            )
            for index, tc in enumerate(gen.tool_calls):
                frames.append(
                    typed_event(
                        "tool-call-start", index=index, delta=delta({"tool_calls": self._tool_call(tc, "")})
                    )
                )
                frames.extend(
                    typed_event(
                        "tool-call-delta",
                        index=index,
                        delta=delta({"tool_calls": {"function": {"arguments": piece}}}),
                    )
                    for piece in split_chars(tc.arguments_json)
                )
                frames.append(typed_event("tool-call-end", index=index))
        else:
            frames.append(
                typed_event("content-start", index=0, delta=delta({"content": {"type": "text", "text": ""}}))
            )
            frames.extend(
                typed_event("content-delta", index=0, delta=delta({"content": {"text": piece}}))
                for piece in gen.chunks
            )
            frames.append(typed_event("content-end", index=0))
        end = {"finish_reason": self.finish_reason(gen), "usage": self._usage(gen)}
        frames.append(typed_event("message-end", delta=end))
        return frames

    # -- embed, rerank, key check, models --------------------------------------------------------

    async def _embed(self, call: Call) -> web.StreamResponse:
        body = call.body
        if not body.get("input_type"):
            fail = Fail(
                400, message="invalid request: input_type is required for embed models v3 and higher."
            )
            return self.error_response(fail, call.request)
        texts: list[str] = list(body.get("texts") or [])
        for item in body.get("inputs") or []:
            parts = item.get("content", []) if isinstance(item, dict) else []
            texts.append(" ".join(p.get("text", "") for p in parts if isinstance(p, dict)))
        dims = int(body.get("output_dimension") or self.embedding_dims)
        vectors = [fake_embedding(text, dims) for text in texts]
        embeddings = {
            kind: [_encode(v, kind) for v in vectors] for kind in body.get("embedding_types") or ["float"]
        }
        tokens = sum(len(text.split()) for text in texts)
        result = {
            "id": str(uuid.uuid4()),
            "embeddings": embeddings,
            "texts": texts,
            "meta": {"api_version": _API_VERSION, "billed_units": {"input_tokens": tokens}},
            "response_type": "embeddings_by_type",
        }
        return await self.respond_json(call, result)

    async def _rerank(self, call: Call) -> web.StreamResponse:
        documents = [document_text(d) for d in call.body.get("documents") or []]
        ranked = rank_documents(str(call.body.get("query", "")), documents, call.body.get("top_n"))
        body = {
            "id": str(uuid.uuid4()),
            "results": [{"index": index, "relevance_score": score} for index, score in ranked],
            "meta": {"api_version": _API_VERSION, "billed_units": {"search_units": 1}},
        }
        return await self.respond_json(call, body)

    async def _check_api_key(self, call: Call) -> web.StreamResponse:
        return await self.respond_json(
            call, {"valid": True, "organization_id": "org-fake", "owner_id": "owner-fake"}
        )

    async def _models(self, call: Call) -> web.StreamResponse:
        def kind(name: str) -> str:
            return "embed" if name.startswith("embed") else "rerank" if name.startswith("rerank") else "chat"

        models = [
            {
                "name": name,
                "endpoints": [kind(name)],
                "default_endpoints": [kind(name)],
                "finetuned": False,
                "context_length": 128000,
                "features": ["tools"] if kind(name) == "chat" else [],
            }
            for name in self.models
        ]
        return await self.respond_json(call, {"models": models, "next_page_token": None})


def _encode(vector: list[float], kind: str) -> Any:
    """One embedding in the requested Cohere ``embedding_types`` representation."""
    if kind == "float":
        return vector
    if kind == "base64":
        return floats_to_base64(vector)
    if kind == "int8":
        return [max(-128, min(127, round(v * 127))) for v in vector]
    if kind == "uint8":
        return [max(0, min(255, round((v + 1) * 127.5))) for v in vector]
    bits = [1 if v > 0 else 0 for v in vector]
    packed = [int("".join(map(str, bits[i : i + 8])).ljust(8, "0"), 2) for i in range(0, len(bits), 8)]
    return packed if kind == "ubinary" else [b - 128 for b in packed]
