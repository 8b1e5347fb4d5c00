"""Anthropic's Messages API through the official `anthropic` SDK."""

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anthropic
import httpx

from apps.providers.runtime import clients, errors
from apps.providers.runtime.adapters.base import ProviderChunk
from apps.providers.runtime.entities import ImagePart, PromptMessage, ToolCallDelta, ToolDefinition
from apps.providers.runtime.resolved import ResolvedModel

STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                "refusal": "content_filter"}
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens on every call


def _message(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = body.get("error") if isinstance(body, dict) else None
    return str(detail.get("message")) if isinstance(detail, dict) and detail.get("message") else str(exc.message)


@contextmanager
def translate_errors(m: ResolvedModel) -> Iterator[None]:
    kw = {"provider": m.provider, "model": m.model}
    try:
        yield
    except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
        raise errors.ProviderNotInitialized(_message(exc), **kw) from exc
    except anthropic.RateLimitError as exc:
        raise errors.RateLimited(_message(exc), **kw) from exc
    except anthropic.NotFoundError as exc:
        raise errors.ModelNotSupported(_message(exc), **kw) from exc
    except anthropic.APIStatusError as exc:
        if exc.status_code == 402:
            raise errors.ProviderQuotaExceeded(_message(exc), **kw) from exc
        raise errors.CompletionRequestError(_message(exc), **kw) from exc
    except anthropic.APITimeoutError as exc:
        raise errors.timed_out(m.timeout, **kw) from exc
    except anthropic.APIConnectionError as exc:
        raise errors.unreachable(exc, **kw) from exc
    except httpx.HTTPError as exc:
        raise errors.CompletionRequestError(f"Model provider request failed: {exc}", **kw) from exc


def _new_client(m: ResolvedModel) -> anthropic.AsyncAnthropic:
    # The base URL is set by workspace members: every connection goes through the SSRF guard.
    http = anthropic.DefaultAsyncHttpxClient(timeout=m.timeout, transport=clients.guarded_transport())
    return anthropic.AsyncAnthropic(api_key=m.config.get("api_key"), base_url=m.config.get("base_url") or None,
                                    timeout=m.timeout, max_retries=m.max_retries, http_client=http)


def _image(part: ImagePart) -> dict[str, Any]:
    if part.url.startswith("data:"):
        media_type, _, data = part.url[5:].partition(";base64,")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": part.url}}


def _blocks(message: PromptMessage) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    else:
        blocks = [_image(p) if isinstance(p, ImagePart) else {"type": "text", "text": p} for p in message.content]
    for call in message.tool_calls:
        from apps.providers.runtime.tools import parse_arguments

        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": parse_arguments(call.arguments)})
    return blocks


def to_anthropic(messages: list[PromptMessage]) -> tuple[str, list[dict[str, Any]]]:
    """System messages become the `system` text; tool results become user tool_result blocks."""
    system = "\n\n".join(m.text for m in messages if m.role == "system")
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.text}
            if out and out[-1]["role"] == "user":
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
            continue
        out.append({"role": message.role, "content": _blocks(message)})
    return system, out


async def stream_llm(
    m: ResolvedModel, messages: list[PromptMessage], params: dict[str, Any], tools: list[ToolDefinition] | None,
    stop: list[str] | None, user: str | None,
) -> AsyncIterator[ProviderChunk]:
    system, converted = to_anthropic(messages)
    kwargs: dict[str, Any] = {"model": m.api_model, "messages": converted,
                              "max_tokens": int(params.get("max_tokens") or m.spec.max_tokens or DEFAULT_MAX_TOKENS)}
    if system:
        kwargs["system"] = system
    # anthropic 2.x dropped the sampling parameters from create()'s signature (the API still takes
    # them): they go in the body directly.
    sampling = {name: params[name] for name in ("temperature", "top_p", "top_k") if params.get(name) is not None}
    if sampling:
        kwargs["extra_body"] = sampling
    if stop:
        kwargs["stop_sequences"] = stop
    if tools:
        kwargs["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]
    if user:
        kwargs["metadata"] = {"user_id": user}
    api = clients.pooled(m, _new_client)
    prompt_tokens = 0
    tool_index = -1
    with translate_errors(m):
        stream = await api.messages.create(stream=True, **kwargs)
        async for event in stream:
            kind = event.type
            if kind == "message_start":
                prompt_tokens = int(event.message.usage.input_tokens or 0)
            elif kind == "content_block_start" and event.content_block.type == "tool_use":
                tool_index += 1
                block = event.content_block
                yield ProviderChunk(tool_calls=[ToolCallDelta(tool_index, block.id, block.name, "")])
            elif kind == "content_block_delta":
                if event.delta.type == "text_delta":
                    yield ProviderChunk(delta=event.delta.text)
                elif event.delta.type == "input_json_delta":
                    yield ProviderChunk(tool_calls=[ToolCallDelta(tool_index, arguments=event.delta.partial_json)])
            elif kind == "message_delta":
                reason = STOP_REASONS.get(event.delta.stop_reason or "", event.delta.stop_reason)
                output = int(getattr(event.usage, "output_tokens", 0) or 0)
                yield ProviderChunk(finish_reason=reason, tokens=(prompt_tokens, output))


async def validate(m: ResolvedModel) -> None:
    async for _ in stream_llm(m, [PromptMessage("user", "ping")], {"max_tokens": 1}, None, None, None):
        pass
