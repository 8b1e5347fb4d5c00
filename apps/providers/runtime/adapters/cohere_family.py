"""Cohere (API v2): chat, embeddings and rerank through the official `cohere` SDK."""

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import cohere
import httpx
from cohere.core.api_error import ApiError

from apps.providers.runtime import clients, errors
from apps.providers.runtime.adapters.base import ProviderChunk
from apps.providers.runtime.entities import ImagePart, PromptMessage, RerankHit, ToolCallDelta, ToolDefinition
from apps.providers.runtime.resolved import ResolvedModel

FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls",
          "ERROR": "error", "TIMEOUT": "error"}


def _message(exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(body or f"HTTP {exc.status_code}")


@contextmanager
def translate_errors(m: ResolvedModel) -> Iterator[None]:
    kw = {"provider": m.provider, "model": m.model}
    try:
        yield
    except ApiError as exc:
        status, message = exc.status_code or 0, _message(exc)
        if status in (401, 403):
            raise errors.ProviderNotInitialized(message, **kw) from exc
        if status == 429:
            raise errors.RateLimited(message, **kw) from exc
        if status == 402:
            raise errors.ProviderQuotaExceeded(message, **kw) from exc
        if status == 404:
            raise errors.ModelNotSupported(message, **kw) from exc
        raise errors.CompletionRequestError(message, **kw) from exc
    except httpx.TimeoutException as exc:
        raise errors.timed_out(m.timeout, **kw) from exc
    except httpx.HTTPError as exc:
        raise errors.unreachable(exc, **kw) from exc


def _new_client(m: ResolvedModel) -> cohere.AsyncClientV2:
    # The base URL is set by workspace members: every connection goes through the SSRF guard.
    return cohere.AsyncClientV2(api_key=m.config.get("api_key"), base_url=m.config.get("base_url") or None,
                                timeout=m.timeout, max_retries=m.max_retries, httpx_client=clients.guarded_httpx())


def client(m: ResolvedModel) -> cohere.AsyncClientV2:
    return clients.pooled(m, _new_client)


def _content(message: PromptMessage) -> Any:
    if isinstance(message.content, str):
        return message.content
    return [{"type": "image_url", "image_url": {"url": p.url}} if isinstance(p, ImagePart)
            else {"type": "text", "text": p} for p in message.content]


def to_cohere(messages: list[PromptMessage]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": _content(message)}
        if message.tool_calls:
            # Cohere's assistant turn that calls tools carries its text as the tool plan.
            item = {"role": "assistant", "tool_plan": message.text or "",
                    "tool_calls": [{"id": c.id, "type": "function",
                                    "function": {"name": c.name, "arguments": c.arguments}} for c in message.tool_calls]}
        if message.role == "tool":
            item["tool_call_id"] = message.tool_call_id
        out.append(item)
    return out


def _tokens(usage: Any) -> tuple[int, int] | None:
    if usage is None:
        return None
    units = usage.tokens or usage.billed_units
    if units is None:
        return None
    return int(units.input_tokens or 0), int(units.output_tokens or 0)


async def stream_llm(
    m: ResolvedModel, messages: list[PromptMessage], params: dict[str, Any], tools: list[ToolDefinition] | None,
    stop: list[str] | None, user: str | None,
) -> AsyncIterator[ProviderChunk]:
    kwargs: dict[str, Any] = {"model": m.api_model, "messages": to_cohere(messages)}
    renames = {"temperature": "temperature", "max_tokens": "max_tokens", "top_p": "p", "top_k": "k",
               "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty", "seed": "seed"}
    kwargs.update({renames[k]: v for k, v in params.items() if k in renames and v is not None})
    if stop:
        kwargs["stop_sequences"] = stop
    if tools:
        kwargs["tools"] = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                             "parameters": t.parameters}} for t in tools]
    tool_index = -1
    with translate_errors(m):
        async for event in client(m).chat_stream(**kwargs):
            kind = getattr(event, "type", None)
            if kind == "content-delta":
                text = event.delta.message.content.text if event.delta and event.delta.message else None
                if text:
                    yield ProviderChunk(delta=text)
            elif kind == "tool-plan-delta":  # what the model says before it calls tools
                plan = event.delta.message.tool_plan if event.delta and event.delta.message else None
                if plan:
                    yield ProviderChunk(delta=plan)
            elif kind == "tool-call-start":
                tool_index += 1
                call = event.delta.message.tool_calls
                yield ProviderChunk(tool_calls=[ToolCallDelta(
                    tool_index, call.id, call.function.name if call.function else None,
                    (call.function.arguments or "") if call.function else "")])
            elif kind == "tool-call-delta":
                call = event.delta.message.tool_calls
                pieces = (call.function.arguments or "") if call and call.function else ""
                if pieces:
                    yield ProviderChunk(tool_calls=[ToolCallDelta(tool_index, arguments=pieces)])
            elif kind == "message-end":
                delta = event.delta
                if delta and delta.error:
                    raise errors.CompletionRequestError(str(delta.error), provider=m.provider, model=m.model)
                reason = FINISH.get(str(delta.finish_reason), "stop") if delta else "stop"
                yield ProviderChunk(finish_reason=reason, tokens=_tokens(delta.usage if delta else None))


async def embed(m: ResolvedModel, texts: list[str], input_type: str = "search_document") -> tuple[list[list[float]], int]:
    with translate_errors(m):
        response = await client(m).embed(model=m.api_model, texts=texts, input_type=input_type,
                                         embedding_types=["float"])
    vectors = [list(v) for v in (response.embeddings.float_ or [])]
    billed = response.meta.billed_units if response.meta else None
    return vectors, int(getattr(billed, "input_tokens", 0) or 0)


async def rerank(m: ResolvedModel, query: str, documents: list[str], top_n: int) -> tuple[list[RerankHit], int]:
    with translate_errors(m):
        response = await client(m).rerank(model=m.api_model, query=query, documents=documents, top_n=top_n)
    hits = [RerankHit(index=r.index, score=float(r.relevance_score), text=documents[r.index]) for r in response.results]
    billed = response.meta.billed_units if response.meta else None
    return hits, int(getattr(billed, "search_units", 0) or 0)


async def validate(m: ResolvedModel) -> None:
    from apps.providers.runtime.entities import ModelType

    if m.model_type == ModelType.TEXT_EMBEDDING:
        await embed(m, ["ping"])
    elif m.model_type == ModelType.RERANK:
        await rerank(m, "ping", ["ping"], 1)
    else:
        async for _ in stream_llm(m, [PromptMessage("user", "ping")], {"max_tokens": 1}, None, None, None):
            pass
