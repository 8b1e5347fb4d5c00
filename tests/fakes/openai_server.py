"""``FakeOpenAI``: an OpenAI-compatible HTTP server (plus Azure OpenAI paths) for tests.

Speaks the OpenAI REST protocol as the ``openai`` SDK (3.x) uses it:

- ``POST /v1/chat/completions``: ``chat.completion`` objects, or with ``stream: true`` SSE
  ``data: {chat.completion.chunk}`` events ended by ``data: [DONE]``: a role delta, content
  deltas, tool-call deltas (id + name first, then the arguments in pieces), a final delta with
  ``finish_reason``, and with ``stream_options.include_usage`` a last ``choices: []`` usage chunk.
- ``POST /v1/completions``: legacy ``text_completion`` (stream and not).
- ``POST /v1/embeddings``: deterministic L2-normalised vectors (``dimensions`` honoured, default
  ``fake.embedding_dims`` = 16); ``encoding_format`` ``float`` or ``base64`` (little-endian
  float32, which the SDK asks for when the caller does not choose).
- ``POST /v1/moderations``: flags texts containing a word of ``fake.moderation_triggers``
  (word -> category, default ``{"kill": "violence"}``).
- ``POST /v1/audio/transcriptions`` (multipart; ``Reply(text=...)`` scripts the transcript;
  ``response_format`` json/text/srt/vtt/verbose_json) and ``POST /v1/audio/speech`` (bytes,
  ``audio/mpeg`` for mp3: an ID3 header followed by the UTF-8 input text).
- ``POST /v1/rerank`` and ``POST /rerank``: the Jina/vLLM/Xinference-style rerank API that
  "OpenAI-compatible" servers expose, scored by word overlap.
- ``GET /v1/models``: the model list (``fake.models``), used for credential checks.
- Azure OpenAI: ``/openai/deployments/{deployment}/(chat/completions|completions|embeddings|
  audio/transcriptions|audio/speech)`` and ``GET /openai/models``, requiring the ``api-version``
  query parameter (404 "Resource not found" without it, like Azure) and an ``api-key`` header (or an
  Entra ID bearer token); errors in Azure's ``{"error": {"code", "message"}}`` shape. Azure
  streams start with a ``choices: []`` ``prompt_filter_results`` chunk, as the real service does
  (``fake.azure_filter_chunk = False`` turns it off).

SDK set-up: ``OpenAI(base_url=fake.base_url, api_key=...)`` (``base_url`` ends in ``/v1``);
``AzureOpenAI(azure_endpoint=fake.azure_endpoint, api_version="2024-10-21", api_key=...)``.

Auth: any non-empty bearer key, or only ``fake.valid_keys`` when set; otherwise 401
``invalid_api_key`` with the real error body.

Not covered: the Responses, Assistants, Files, Batches, Images, Realtime and fine-tuning APIs;
``n > 1``; logprobs; audio/speech streaming (``stream_format="sse"``); structured-output
validation.
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
    Frame,
    Generation,
    RecordedRequest,
    document_text,
    error_fields,
    fake_embedding,
    floats_to_base64,
    invalid,
    new_id,
    now,
    out_of_range,
    rank_documents,
    split_chars,
)

_ERRORS: ErrorDefaults = {
    (400, None): ("invalid_request_error", "Invalid request (scripted by the fake).", None),
    (401, None): (
        "invalid_request_error",
        "Incorrect API key provided: {key}. "
        "You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_api_key",
    ),
    (403, None): ("invalid_request_error", "You are not allowed to sample from this model.", None),
    (404, None): (
        "invalid_request_error",
        "The model `{model}` does not exist or you do not have access to it.",
        "model_not_found",
    ),
    (429, None): (
        "requests",
        "Rate limit reached for {model} in organization org-fake on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in 20s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
        "rate_limit_exceeded",
    ),
    (429, "insufficient_quota"): (
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "insufficient_quota",
    ),
    (500, None): (
        "server_error",
        "The server had an error while processing your request. Sorry about that!",
        None,
    ),
    (503, None): ("server_error", "The engine is currently overloaded, please try again later.", None),
}

_AZURE_MESSAGES = {
    401: "Access denied due to invalid subscription key or wrong API endpoint. "
    "Make sure to provide a valid key for an active subscription "
    "and use a correct regional API endpoint for your resource.",
    404: "The API deployment for this resource does not exist. If you created the deployment within the last "
    "5 minutes, please wait a moment and try again.",
    429: "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version have exceeded "
    "token rate limit of your current pricing tier. Please retry after 20 seconds.",
}

MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)

_AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}

_NO_FILTER = {
    name: {"filtered": False, "severity": "safe"} for name in ("hate", "self_harm", "sexual", "violence")
}


_RANGES = (("temperature", 0, 2), ("top_p", 0, 1), ("presence_penalty", -2, 2), ("frequency_penalty", -2, 2),
           ("max_tokens", 1, None), ("max_completion_tokens", 1, None))
_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _check_tools(body: dict[str, Any]) -> Fail | None:
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        return invalid("Invalid type for 'tools': expected an array, but got an object instead.",
                       code="invalid_type", param="tools")
    if body.get("tool_choice") is not None and not tools:
        return invalid("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                       param="tool_choice")
    for index, tool in enumerate(tools or []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type") != "function":
            return invalid(f"Missing required parameter: 'tools[{index}].function'.",
                           code="missing_required_parameter", param=f"tools[{index}].function")
        if not _TOOL_NAME.match(str(function.get("name") or "")):
            return invalid(f"Invalid 'tools[{index}].function.name': string does not match pattern. "
                           "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                           code="invalid_value", param=f"tools[{index}].function.name")
    return None


def _check_messages(messages: Any) -> Fail | None:
    """Roles, and the pairing of an assistant's tool_calls with the tool messages answering them."""
    if not isinstance(messages, list) or not messages:
        return invalid("Invalid 'messages': empty array. Expected an array with minimum length 1, "
                       "but got an empty array instead.", code="empty_array", param="messages")
    open_calls: list[str] = []  # ids of the last assistant message's tool_calls not yet answered
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            return invalid(f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                           "'function', 'tool', and 'developer'.", code="invalid_value",
                           param=f"messages[{index}].role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_calls:
                return invalid("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                               "message with 'tool_calls'.", param=f"messages.[{index}].role")
            open_calls.remove(call_id)
            continue
        if open_calls:
            return invalid("An assistant message with 'tool_calls' must be followed by tool messages responding "
                           "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                           + ", ".join(open_calls), param=f"messages.[{index}].role")
        if role == "assistant":
            calls = message.get("tool_calls") or []
            if message.get("content") is None and not calls:
                return invalid(f"Invalid value for 'content': expected a string, got null.",
                               param=f"messages.[{index}].content")
            open_calls = [str(c.get("id")) for c in calls if isinstance(c, dict)]
    if open_calls:
        return invalid("An assistant message with 'tool_calls' must be followed by tool messages responding to "
                       "each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                       + ", ".join(open_calls), param="messages")
    return None


class FakeOpenAI(FakeServer):
    """OpenAI-compatible fake. ``base_url`` -> ``http://127.0.0.1:PORT/v1``."""

    endpoints: ClassVar[dict[str, bool]] = {
        "chat": True,
        "completions": True,
        "embeddings": False,
        "moderations": False,
        "transcriptions": True,
        "speech": False,
        "rerank": False,
        "models": False,
    }
    main_endpoint: ClassVar[str] = "chat"
    default_models: ClassVar[tuple[str, ...]] = (  # OpenAI's models (an OpenAI-compatible server: serve())
        "gpt-4o-mini",
        "gpt-4o",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "o3-mini",
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-instruct",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        "omni-moderation-latest",
        "text-moderation-latest",
        "whisper-1",
        "gpt-4o-mini-transcribe",
        "tts-1",
        "gpt-4o-mini-tts",
        "rerank-fake",
        # What the suite's OpenAI-compatible server has loaded (its shared fixtures use these);
        # a test that needs another model loads it with serve().
        "fake-chat",
        "fake-vision",
        "fake-complete",
        "fake-embed",
        "fake-rerank",
        "llama3:8b",
    )
    finish_reasons: ClassVar[dict[str, str]] = {}  # OpenAI's own vocabulary is the generic one

    def _configure(self) -> None:
        super()._configure()
        self.moderation_triggers: dict[str, str] = {"kill": "violence"}
        self.azure_filter_chunk = True

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def azure_endpoint(self) -> str:
        """``azure_endpoint`` for ``AzureOpenAI``/``AsyncAzureOpenAI``."""
        return self.root_url

    # -- routes ----------------------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        generation = {
            "chat/completions": ("chat", self._chat),
            "completions": ("completions", self._completions),
            "embeddings": ("embeddings", self._embeddings),
            "audio/transcriptions": ("transcriptions", self._transcriptions),
            "audio/speech": ("speech", self._speech),
        }
        for suffix, (endpoint, handler) in generation.items():
            self.add_route(app, "POST", f"/v1/{suffix}", endpoint, handler)
            self.add_route(app, "POST", f"/openai/deployments/{{deployment}}/{suffix}", endpoint, handler)
        self.add_route(app, "POST", "/v1/moderations", "moderations", self._moderations)
        self.add_route(app, "POST", "/v1/rerank", "rerank", self._rerank)
        self.add_route(app, "POST", "/rerank", "rerank", self._rerank)
        self.add_route(app, "GET", "/v1/models", "models", self._models)
        self.add_route(app, "GET", "/openai/models", "models", self._models)

    # -- provider hooks --------------------------------------------------------------------------

    @staticmethod
    def _is_azure(request: RecordedRequest) -> bool:
        return request.path.startswith("/openai/")

    def authenticate(self, request: RecordedRequest) -> Fail | None:
        if self._is_azure(request) and "api-version" not in request.query:
            return Fail(404, message="Resource not found", code="404")
        return super().authenticate(request)

    def error_body(self, fail: Fail, request: RecordedRequest) -> Any:
        kind, message, code = error_fields(_ERRORS, fail, request)
        if self._is_azure(request):
            message = fail.message or _AZURE_MESSAGES.get(fail.status, message)
            return {"error": {"code": fail.code or str(fail.status), "message": message}}
        return {"error": {"message": message, "type": kind, "param": fail.param, "code": code}}

    def declared_tools(self, body: Any) -> set[str]:
        return {str((t.get("function") or {}).get("name")) for t in body.get("tools") or [] if isinstance(t, dict)}

    def validate(self, request: RecordedRequest) -> Fail | None:
        if request.endpoint not in ("chat", "completions") or not isinstance(request.json, dict):
            return None
        body = request.json
        for name, low, high in _RANGES:
            if bad := out_of_range(body, name, low, high):
                side, bound = bad
                kind = "integer" if isinstance(body[name], int) and name.startswith("max") else "decimal"
                relation = ">=" if side == "below" else "<="
                return invalid(f"Invalid '{name}': {kind} {side} {'minimum' if side == 'below' else 'maximum'} "
                               f"value. Expected a value {relation} {bound:g}, but got {body[name]:g} instead.",
                               code=f"{kind}_{side}_{'min' if side == 'below' else 'max'}_value", param=name)
        if request.endpoint == "chat":
            return _check_tools(body) or _check_messages(body.get("messages"))
        return None

    def stream_error_frames(self, fail: Fail, request: RecordedRequest) -> list[Frame]:
        return [(None, self.error_body(fail, request))]

    # -- chat ------------------------------------------------------------------------------------

    @staticmethod
    def _usage(gen: Generation) -> dict[str, Any]:
        return {
            "prompt_tokens": gen.prompt_tokens,
            "completion_tokens": gen.completion_tokens,
            "total_tokens": gen.total_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }

    def _generation(self, call: Call) -> Generation:
        return self.generation(call, "max_completion_tokens", "max_tokens")

    async def _chat(self, call: Call) -> web.StreamResponse:
        gen = self._generation(call)
        completion_id = new_id("chatcmpl-")
        if call.body.get("stream"):
            return await self.stream(call, self._chat_frames(call, gen, completion_id))
        message: dict[str, Any] = {
            "role": "assistant",
            "content": gen.text if gen.text or not gen.tool_calls else None,
            "refusal": None,
            "annotations": [],
        }
        if gen.tool_calls:
            message["tool_calls"] = [
                {
                    "id": tc.id,
                    "type": "function",
                    "function": {"name": tc.name, "arguments": tc.arguments_json},
                }
                for tc in gen.tool_calls
            ]
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": now(),
            "model": gen.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason(gen)}
            ],
            "usage": self._usage(gen),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        if self._is_azure(call.request):
            body["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": _NO_FILTER}]
            body["choices"][0]["content_filter_results"] = _NO_FILTER
        return await self.respond_json(call, body, chunks=len(gen.chunks))

    def _chat_frames(self, call: Call, gen: Generation, completion_id: str) -> list[Frame]:
        include_usage = bool((call.body.get("stream_options") or {}).get("include_usage"))
        created = now()

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> Frame:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": gen.model,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                data["usage"] = None
            return (None, data)

        frames: list[Frame] = []
        if self._is_azure(call.request) and self.azure_filter_chunk:
            frames.append(
                (
                    None,
                    {
                        "choices": [],
                        "created": 0,
                        "id": "",
                        "model": "",
                        "object": "",
                        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _NO_FILTER}],
                    },
                )
            )
        frames.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        frames.extend(chunk({"content": piece}) for piece in gen.chunks)
        for index, tc in enumerate(gen.tool_calls):
            first = {
                "index": index,
                "id": tc.id,
                "type": "function",
                "function": {"name": tc.name, "arguments": ""},
            }
            frames.append(chunk({"tool_calls": [first]}))
            frames.extend(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                for piece in split_chars(tc.arguments_json)
            )
        frames.append(chunk({}, self.finish_reason(gen)))
        if include_usage:
            frames.append(
                (
                    None,
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": gen.model,
                        "system_fingerprint": "fp_fake",
                        "choices": [],
                        "usage": self._usage(gen),
                    },
                )
            )
        frames.append((None, "[DONE]"))
        return frames

    # -- legacy completions ----------------------------------------------------------------------

    async def _completions(self, call: Call) -> web.StreamResponse:
        gen = self._generation(call)
        completion_id = new_id("cmpl-")
        created = now()

        def body(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> dict[str, Any]:
            data = {"id": completion_id, "object": "text_completion", "created": created, "model": gen.model}
            return {**data, "choices": choices, **({"usage": usage} if usage else {})}

        def choice(text: str, finish_reason: str | None) -> list[dict[str, Any]]:
            return [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}]

        usage = {k: v for k, v in self._usage(gen).items() if not k.endswith("_details")}
        if not call.body.get("stream"):
            whole = body(choice(gen.text, self.finish_reason(gen)), usage)
            return await self.respond_json(call, whole, chunks=len(gen.chunks))
        frames: list[Frame] = [(None, body(choice(piece, None))) for piece in gen.chunks]
        frames.append((None, body(choice("", self.finish_reason(gen)))))
        if (call.body.get("stream_options") or {}).get("include_usage"):
            frames.append((None, body([], usage)))  # like chat: a last chunk without choices
        frames.append((None, "[DONE]"))
        return await self.stream(call, frames)

    # -- embeddings, moderation, rerank, models -------------------------------------------------

    async def _embeddings(self, call: Call) -> web.StreamResponse:
        raw = call.body.get("input", "")
        inputs: list[Any] = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else list(raw)
        texts = [item if isinstance(item, str) else " ".join(map(str, item)) for item in inputs]
        dims = int(call.body.get("dimensions") or self.embedding_dims)
        as_base64 = call.body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = fake_embedding(text, dims)
            data.append(
                {
                    "object": "embedding",
                    "index": index,
                    "embedding": floats_to_base64(vector) if as_base64 else vector,
                }
            )
        tokens = sum(len(text.split()) for text in texts)
        model = call.body.get("model", "text-embedding-3-small")
        body = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return await self.respond_json(call, body)

    def _moderation_result(self, text: str) -> dict[str, Any]:
        words = set(text.lower().replace("/", " ").split())
        hits = {category for word, category in self.moderation_triggers.items() if word.lower() in words}
        return {
            "flagged": bool(hits),
            "categories": {name: name in hits for name in MODERATION_CATEGORIES},
            "category_scores": {name: 0.97 if name in hits else 0.0001 for name in MODERATION_CATEGORIES},
            "category_applied_input_types": {name: ["text"] for name in MODERATION_CATEGORIES},
        }

    async def _moderations(self, call: Call) -> web.StreamResponse:
        raw = call.body.get("input", "")
        if isinstance(raw, str):
            texts = [raw]
        elif raw and all(isinstance(part, dict) for part in raw):  # multimodal: one input of several parts
            texts = [" ".join(part.get("text", "") for part in raw)]
        else:
            texts = [str(item) for item in raw]
        body = {
            "id": new_id("modr-"),
            "model": call.body.get("model") or "omni-moderation-latest",
            "results": [self._moderation_result(text) for text in texts],
        }
        return await self.respond_json(call, body)

    async def _rerank(self, call: Call) -> web.StreamResponse:
        query = str(call.body.get("query", ""))
        documents = [document_text(d) for d in call.body.get("documents") or []]
        with_documents = call.body.get("return_documents", True) is not False
        results = []
        for index, score in rank_documents(query, documents, call.body.get("top_n")):
            result: dict[str, Any] = {"index": index, "relevance_score": score}
            if with_documents:
                result["document"] = {"text": documents[index]}
            results.append(result)
        tokens = len(query.split()) + sum(len(d.split()) for d in documents)
        body = {
            "id": new_id("rerank-"),
            "model": call.body.get("model", "rerank-fake"),
            "results": results,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return await self.respond_json(call, body)

    async def _models(self, call: Call) -> web.StreamResponse:
        data = [
            {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "openai"}
            for model in self.models
        ]
        return await self.respond_json(call, {"object": "list", "data": data})

    # -- audio -----------------------------------------------------------------------------------

    async def _transcriptions(self, call: Call) -> web.StreamResponse:
        form = call.request.form or {}
        text = call.reply.text
        response_format = form.get("response_format", "json")
        if response_format in ("text", "srt", "vtt"):
            return await self.respond(call, web.Response(text=text, content_type="text/plain"))
        body: dict[str, Any] = {"text": text}
        if response_format == "verbose_json":
            duration = max(1.0, len(text.split()) * 0.4)
            body = {
                "task": "transcribe",
                "language": form.get("language", "english"),
                "duration": duration,
                "text": text,
                "segments": [{"id": 0, "start": 0.0, "end": duration, "text": text}],
            }
        else:
            body["usage"] = {
                "type": "tokens",
                "input_tokens": 10,
                "output_tokens": len(text.split()),
                "total_tokens": 10 + len(text.split()),
            }
        return await self.respond_json(call, body)

    async def _speech(self, call: Call) -> web.StreamResponse:
        audio_format = str(call.body.get("response_format") or "mp3")
        audio = b"ID3\x04\x00\x00\x00\x00\x00\x00" + str(call.body.get("input", "")).encode()
        response = web.Response(
            body=audio, content_type=_AUDIO_TYPES.get(audio_format, "application/octet-stream")
        )
        return await self.respond(call, response)
