"""ModelInstance: the one object features use to call a model.

It is async first (`stream`, `invoke`, `embed`, …); every call returns usage priced from the
workspace's price table, and every provider failure arrives as a runtime error with the Service
API's code. Resolve one with apps.providers.runtime.api.get_model / get_default_model.
"""

import time
from collections.abc import AsyncIterator
from typing import Any

from apps.providers.runtime import errors, tokens
from apps.providers.runtime.adapters import adapter_for
from apps.providers.runtime.entities import (
    EmbeddingResult,
    LLMChunk,
    LLMResult,
    ModelType,
    ModerationResult,
    PromptMessage,
    RerankResult,
    SpeechResult,
    ToolDefinition,
    TranscriptionResult,
    Usage,
)
from apps.providers.runtime.resolved import ResolvedModel
from apps.providers.runtime.tools import ToolCallAssembler

EMBED_BATCH = 64


class ModelInstance:
    def __init__(self, resolved: ResolvedModel) -> None:
        self.resolved = resolved
        self.adapter = adapter_for(resolved.provider)

    def __repr__(self) -> str:
        return f"<ModelInstance {self.resolved.provider}:{self.resolved.model} ({self.resolved.model_type})>"

    @property
    def provider(self) -> str:
        return self.resolved.provider

    @property
    def model(self) -> str:
        return self.resolved.model

    def _require(self, model_type: ModelType, operation: str) -> Any:
        if self.resolved.model_type != model_type or not hasattr(self.adapter, operation):
            raise errors.ModelNotSupported(
                f"{self.provider}:{self.model} is a {self.resolved.model_type} model and cannot {operation}.",
                provider=self.provider, model=self.model)
        return getattr(self.adapter, operation)

    def price(self, prompt_tokens: int, completion_tokens: int, latency: float,
              ttft: float | None = None, ttg: float | None = None) -> Usage:
        p = self.resolved.price
        return Usage.priced(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, input_price=p.input,
                            output_price=p.output, price_unit=p.unit, currency=p.currency, latency=latency,
                            time_to_first_token=ttft, time_to_generate=ttg)

    # --- LLM ----------------------------------------------------------------------------------

    async def stream(
        self,
        messages: list[PromptMessage],
        *,
        params: dict[str, Any] | None = None,
        tools: list[ToolDefinition] | None = None,
        stop: list[str] | None = None,
        user: str | None = None,
    ) -> AsyncIterator[LLMChunk]:
        """Yield text deltas and tool-call pieces; the last chunk has finish_reason and usage."""
        stream_llm = self._require(ModelType.LLM, "stream_llm")
        if tools and not self.resolved.spec.function_calling and self.provider == "openai_api_compatible":
            raise errors.ModelNotSupported(f"{self.model} is not set up for function calling.",
                                           provider=self.provider, model=self.model)
        started = time.perf_counter()
        first: float | None = None
        reported: tuple[int, int] | None = None
        finish: str | None = None
        text: list[str] = []
        async for piece in stream_llm(self.resolved, messages, params or {}, tools, stop, user):
            if piece.tokens is not None:
                reported = piece.tokens
            finish = piece.finish_reason or finish
            if piece.delta or piece.tool_calls:
                if first is None:
                    first = time.perf_counter() - started
                text.append(piece.delta)
                yield LLMChunk(delta=piece.delta, tool_calls=piece.tool_calls)
        latency = time.perf_counter() - started
        if reported is None or reported == (0, 0):  # the server did not say: count ourselves
            reported = (tokens.count_message_tokens(messages, provider=self.provider, model=self.model)[0],
                        tokens.count_tokens("".join(text), provider=self.provider, model=self.model)[0])
        usage = self.price(reported[0], reported[1], latency, first,
                           None if first is None else latency - first)
        yield LLMChunk(finish_reason=finish or "stop", usage=usage)

    async def invoke(self, messages: list[PromptMessage], **kwargs: Any) -> LLMResult:
        """The blocking form, built on the stream."""
        text: list[str] = []
        calls = ToolCallAssembler()
        final = LLMChunk()
        async for chunk in self.stream(messages, **kwargs):
            text.append(chunk.delta)
            for delta in chunk.tool_calls:
                calls.add(delta)
            if chunk.usage is not None:
                final = chunk
        assert final.usage is not None
        return LLMResult(model=self.model, text="".join(text), tool_calls=calls.calls(),
                         finish_reason=final.finish_reason, usage=final.usage)

    # --- Other model types ------------------------------------------------------------------------

    async def embed(self, texts: list[str], *, batch_size: int = EMBED_BATCH, **kwargs: Any) -> EmbeddingResult:
        """Embed any number of texts, `batch_size` per provider request."""
        embed = self._require(ModelType.TEXT_EMBEDDING, "embed")
        started = time.perf_counter()
        vectors: list[list[float]] = []
        used = 0
        for i in range(0, len(texts), batch_size):
            batch, batch_tokens = await embed(self.resolved, texts[i:i + batch_size], **kwargs)
            vectors.extend(batch)
            used += batch_tokens
        if not used and texts:
            used = sum(tokens.count_tokens(t, provider=self.provider, model=self.model)[0] for t in texts)
        return EmbeddingResult(model=self.model, vectors=vectors,
                               usage=self.price(used, 0, time.perf_counter() - started))

    async def rerank(self, query: str, documents: list[str], *, top_n: int | None = None,
                     score_threshold: float | None = None) -> RerankResult:
        """Documents most relevant to `query`, best first; below `score_threshold` are dropped."""
        rerank = self._require(ModelType.RERANK, "rerank")
        started = time.perf_counter()
        if not documents:
            return RerankResult(model=self.model, hits=[], usage=self.price(0, 0, 0.0))
        hits, units = await rerank(self.resolved, query, documents, top_n or len(documents))
        hits = sorted(hits, key=lambda h: h.score, reverse=True)
        if score_threshold is not None:
            hits = [h for h in hits if h.score >= score_threshold]
        return RerankResult(model=self.model, hits=hits[: top_n or len(hits)],
                            usage=self.price(units or 1, 0, time.perf_counter() - started))

    async def moderate(self, text: str) -> ModerationResult:
        return await self._require(ModelType.MODERATION, "moderate")(self.resolved, text)

    async def transcribe(self, audio: bytes, filename: str = "audio.mp3") -> TranscriptionResult:
        return await self._require(ModelType.SPEECH2TEXT, "transcribe")(self.resolved, audio, filename)

    async def speak(self, text: str, voice: str = "alloy") -> SpeechResult:
        return await self._require(ModelType.TTS, "speak")(self.resolved, text, voice)

    def count_tokens(self, messages: list[PromptMessage]) -> tuple[int, bool]:
        """(tokens, exact): exact where the provider's tokenizer is available offline."""
        return tokens.count_message_tokens(messages, provider=self.provider, model=self.model)

    async def validate(self) -> None:
        """Raise a runtime error unless the credentials (and model) work."""
        await self.adapter.validate(self.resolved)
