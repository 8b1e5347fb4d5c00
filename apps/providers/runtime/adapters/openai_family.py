"""OpenAI, Azure OpenAI and OpenAI-API-compatible servers, through the official `openai` SDK."""

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import httpx2  # the transport the openai SDK is built on
import openai
import orjson

from apps.providers.runtime import clients, errors
from apps.providers.runtime.adapters.base import ProviderChunk
from apps.providers.runtime.entities import (
    ImagePart,
    ModerationResult,
    PromptMessage,
    RerankHit,
    SpeechResult,
    ToolCallDelta,
    ToolDefinition,
    TranscriptionResult,
)
from apps.providers.runtime.resolved import ResolvedModel


def _body_message(exc: openai.APIStatusError) -> tuple[str, str | None]:
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = body.get("error", body) if isinstance(body, dict) else {}
    if isinstance(detail, dict):
        return str(detail.get("message") or exc.message), detail.get("code")
    return str(exc.message), None


@contextmanager
def translate_errors(m: ResolvedModel) -> Iterator[None]:
    """Map the SDK's exceptions to the runtime's, keeping the provider's own message."""
    kw = {"provider": m.provider, "model": m.model}
    try:
        yield
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise errors.ProviderNotInitialized(_body_message(exc)[0], **kw) from exc
    except openai.RateLimitError as exc:
        message, code = _body_message(exc)
        if code == "insufficient_quota":
            raise errors.ProviderQuotaExceeded(message, **kw) from exc
        raise errors.RateLimited(message, **kw) from exc
    except openai.NotFoundError as exc:
        raise errors.ModelNotSupported(_body_message(exc)[0], **kw) from exc
    except openai.APIStatusError as exc:
        raise errors.CompletionRequestError(_body_message(exc)[0], **kw) from exc
    except openai.APITimeoutError as exc:
        raise errors.timed_out(m.timeout, **kw) from exc
    except openai.APIConnectionError as exc:
        raise errors.unreachable(exc, **kw) from exc
    except (httpx.TimeoutException, httpx2.TimeoutException) as exc:  # mid-stream, reading a raw response
        raise errors.timed_out(m.timeout, **kw) from exc
    except (httpx.HTTPError, httpx2.HTTPError) as exc:
        raise errors.CompletionRequestError(f"Model provider request failed: {exc}", **kw) from exc


def _new_client(m: ResolvedModel) -> openai.AsyncOpenAI:
    from django.conf import settings

    # Every connection goes through the SSRF guard (base URLs and Azure endpoints are set by workspace
    # members). In the server's own event loop pooled clients use the SDK's aiohttp transport, which
    # spends about a third less CPU per streamed answer than httpx (bench/providers.py measures both);
    # short-lived loops (Celery tasks, tests, validation probes) keep httpx, whose pools need no closing.
    transport = clients.guarded_transport(aiohttp=bool(m.credential_version) and clients.in_server_loop())
    common: dict[str, Any] = {"timeout": m.timeout, "max_retries": m.max_retries,
                              "http_client": openai.DefaultAsyncHttpxClient(timeout=m.timeout, transport=transport)}
    if m.provider == "azure_openai":
        return openai.AsyncAzureOpenAI(
            azure_endpoint=m.config["endpoint"], api_key=m.config.get("api_key"),
            api_version=m.config.get("api_version") or "2024-10-21", **common,
        )
    base_url = m.config.get("base_url") or (settings.OPENAI_API_BASE if m.provider == "openai" else None)
    return openai.AsyncOpenAI(
        # Local OpenAI-compatible servers often take no key; the SDK insists on one.
        api_key=m.config.get("api_key") or "not-needed",
        organization=m.config.get("organization") or None,
        base_url=base_url or None,
        **common,
    )


def client(m: ResolvedModel) -> openai.AsyncOpenAI:
    return clients.pooled(m, _new_client)


def _content(message: PromptMessage) -> Any:
    if isinstance(message.content, str):
        return message.content
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, ImagePart):
            parts.append({"type": "image_url", "image_url": {"url": part.url, "detail": part.detail}})
        else:
            parts.append({"type": "text", "text": part})
    return parts


def to_openai_messages(messages: list[PromptMessage]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": _content(message)}
        if message.name:
            item["name"] = message.name
        if message.tool_calls:
            item["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]
        if message.tool_call_id:
            item["tool_call_id"] = message.tool_call_id
        out.append(item)
    return out


def _tools(tools: list[ToolDefinition] | None) -> list[dict[str, Any]] | openai.NotGiven:
    if not tools:
        return openai.NOT_GIVEN
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.parameters}} for t in tools]


def _completion_prompt(messages: list[PromptMessage]) -> str:
    """Completion-mode models take one text: the messages' texts, in order."""
    return "\n\n".join(m.text for m in messages if m.text)


PARAMS = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "max_tokens", "seed", "response_format")


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k in PARAMS and v is not None}


async def _sse(api: openai.AsyncOpenAI, m: ResolvedModel, path: str, body: dict[str, Any]) -> AsyncIterator[dict]:
    """POST a streaming request through the SDK and yield the JSON objects of its SSE stream.

    The hot path asks the SDK for the raw response and parses each chunk with orjson: building
    the request from typed params and a pydantic object per token took a third of all CPU per
    streamed answer. The SDK still adds auth, base URL (and Azure's deployment routing), retries,
    timeouts, and raises its typed errors for failed statuses."""
    response = await api.post(path, cast_to=httpx.Response, body=body, stream=True)
    try:
        async for data in _data_fields(response):
            if data.startswith(b"[DONE]"):
                break
            chunk = orjson.loads(data)
            if isinstance(chunk, dict) and chunk.get("error"):
                error = chunk["error"]
                message = error.get("message") if isinstance(error, dict) else None
                raise errors.CompletionRequestError(str(message or "An error occurred during streaming"),
                                                    provider=m.provider, model=m.model)
            yield chunk
    finally:
        await response.aclose()


async def _data_fields(response: httpx.Response) -> AsyncIterator[bytes]:
    """The ``data:`` field of each SSE line, as bytes. Splits the (content-decoded) bytes itself:
    httpx's text and line decoders cost a tenth of the CPU of a streamed token."""
    pending = b""
    async for piece in response.aiter_bytes():
        lines = (pending + piece).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].strip()
    if pending.startswith(b"data:"):
        yield pending[5:].strip()


def _usage_chunk(chunk: dict[str, Any]) -> ProviderChunk | None:
    usage = chunk.get("usage")
    if not usage:
        return None
    return ProviderChunk(tokens=(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)))


def _tool_call_deltas(delta: dict[str, Any]) -> list[ToolCallDelta]:
    calls = []
    for c in delta.get("tool_calls") or []:
        function = c.get("function") or {}
        calls.append(ToolCallDelta(int(c.get("index") or 0), c.get("id"), function.get("name"),
                                   function.get("arguments") or ""))
    return calls


async def stream_llm(
    m: ResolvedModel, messages: list[PromptMessage], params: dict[str, Any], tools: list[ToolDefinition] | None,
    stop: list[str] | None, user: str | None,
) -> AsyncIterator[ProviderChunk]:
    api = client(m)
    extra: dict[str, Any] = _params(params)
    if stop:
        extra["stop"] = stop
    if user:
        extra["user"] = user
    with translate_errors(m):
        if m.is_completion_mode:
            body = {"model": m.api_model, "prompt": _completion_prompt(messages), "stream": True,
                    "stream_options": {"include_usage": True}, **extra}
            async for chunk in _sse(api, m, "/completions", body):
                if choices := chunk.get("choices"):
                    yield ProviderChunk(delta=choices[0].get("text") or "", finish_reason=choices[0].get("finish_reason"))
                if usage := _usage_chunk(chunk):
                    yield usage
            return
        if not m.spec.streaming:
            response = await api.chat.completions.create(
                model=m.api_model, messages=to_openai_messages(messages), tools=_tools(tools), **extra)
            choice = response.choices[0]
            calls = [ToolCallDelta(i, c.id, c.function.name, c.function.arguments)
                     for i, c in enumerate(choice.message.tool_calls or [])]
            yield ProviderChunk(delta=choice.message.content or "", tool_calls=calls, finish_reason=choice.finish_reason,
                           tokens=_tokens(response.usage) if response.usage else None)
            return
        body = {"model": m.api_model, "messages": to_openai_messages(messages), "stream": True,
                "stream_options": {"include_usage": True}, **extra}
        if tools:
            body["tools"] = _tools(tools)
        async for chunk in _sse(api, m, "/chat/completions", body):
            if choices := chunk.get("choices"):
                choice = choices[0]
                delta = choice.get("delta") or {}
                calls = _tool_call_deltas(delta)
                text = delta.get("content") or ""
                if text or calls or choice.get("finish_reason"):
                    yield ProviderChunk(delta=text, tool_calls=calls, finish_reason=choice.get("finish_reason"))
            if usage := _usage_chunk(chunk):
                yield usage


def _tokens(usage: Any) -> tuple[int, int]:
    return (int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))


async def embed(m: ResolvedModel, texts: list[str], input_type: str = "") -> tuple[list[list[float]], int]:
    with translate_errors(m):
        response = await client(m).embeddings.create(model=m.api_model, input=texts, encoding_format="float")
    vectors = [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]
    return vectors, int(getattr(response.usage, "prompt_tokens", 0) or 0)


async def moderate(m: ResolvedModel, text: str) -> ModerationResult:
    with translate_errors(m):
        response = await client(m).moderations.create(model=m.api_model, input=text)
    result = response.results[0]
    categories = {k: bool(v) for k, v in result.categories.model_dump(by_alias=True).items() if v is not None}
    scores = {k: float(v) for k, v in result.category_scores.model_dump(by_alias=True).items() if v is not None}
    return ModerationResult(model=m.model, flagged=bool(result.flagged), categories=categories, scores=scores)


async def transcribe(m: ResolvedModel, audio: bytes, filename: str) -> TranscriptionResult:
    with translate_errors(m):
        response = await client(m).audio.transcriptions.create(model=m.api_model, file=(filename, audio))
    return TranscriptionResult(model=m.model, text=response.text)


async def speak(m: ResolvedModel, text: str, voice: str) -> SpeechResult:
    with translate_errors(m):
        response = await client(m).audio.speech.create(model=m.api_model, input=text, voice=voice,
                                                       response_format="mp3")
        audio = await response.aread() if hasattr(response, "aread") else response.content
    return SpeechResult(model=m.model, audio=audio, content_type="audio/mpeg")


async def rerank(m: ResolvedModel, query: str, documents: list[str], top_n: int) -> tuple[list[RerankHit], int]:
    """OpenAI-compatible rerank servers (Xinference, vLLM, LocalAI, Jina-style) answer POST {base}/rerank."""
    api = client(m)
    with translate_errors(m):
        response = await api.post(
            "/rerank", cast_to=httpx.Response,
            body={"model": m.api_model, "query": query, "documents": documents, "top_n": top_n},
        )
        data = response.json()
    hits = [RerankHit(index=int(r["index"]), score=float(r.get("relevance_score", r.get("score", 0.0))),
                      text=documents[int(r["index"])]) for r in data.get("results", [])]
    tokens = int((data.get("usage") or {}).get("total_tokens", 0) or 0)
    return hits, tokens


async def validate(m: ResolvedModel) -> None:
    """A cheap call that proves the credentials work (and, per model, that the model answers)."""
    from apps.providers.runtime.entities import ModelType

    api = client(m)
    with translate_errors(m):
        if m.provider == "openai":
            await api.models.list()
            return
        if m.model_type == ModelType.TEXT_EMBEDDING:
            await embed(m, ["ping"])
        elif m.model_type == ModelType.RERANK:
            await rerank(m, "ping", ["ping"], 1)
        elif m.model_type == ModelType.LLM:
            async for _ in stream_llm(m, [PromptMessage("user", "ping")], {"max_tokens": 1}, None, None, None):
                pass
        else:
            await api.models.list()
