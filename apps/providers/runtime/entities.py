"""The data that goes in and out of the model runtime. Provider adapters translate to and from these."""

import enum
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, field_serializer


class ModelType(enum.StrEnum):
    LLM = "llm"
    TEXT_EMBEDDING = "text-embedding"
    RERANK = "rerank"
    MODERATION = "moderation"
    SPEECH2TEXT = "speech2text"
    TTS = "tts"


class ModelMode(enum.StrEnum):
    CHAT = "chat"
    COMPLETION = "completion"


Role = Literal["system", "user", "assistant", "tool"]


@dataclass
class ImagePart:
    """An image for a vision model: a URL or a data: URL with base64 content."""

    url: str
    detail: Literal["low", "high", "auto"] = "auto"


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass
class PromptMessage:
    role: Role
    content: str | list[str | ImagePart] = ""
    name: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)  # assistant messages that called tools
    tool_call_id: str | None = None  # tool messages answering a call

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part for part in self.content if isinstance(part, str))


@dataclass
class ToolDefinition:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments


@dataclass
class ToolCallDelta:
    """A piece of a streamed tool call; `index` ties the pieces together."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


PRICE_QUANTUM = Decimal("0.0000001")
SUMMED = ("prompt_tokens", "completion_tokens", "total_tokens", "prompt_price", "completion_price", "total_price")


def _price(tokens: int, unit_price: Decimal, price_unit: Decimal) -> Decimal:
    return (Decimal(tokens) * unit_price * price_unit).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP)


class Usage(BaseModel):
    """Token usage and cost of one call, shaped like the Service API's usage object (§3.4)."""

    prompt_tokens: int = 0
    prompt_unit_price: Decimal = Decimal("0")
    prompt_price_unit: Decimal = Decimal("0")
    prompt_price: Decimal = Decimal("0")
    completion_tokens: int = 0
    completion_unit_price: Decimal = Decimal("0")
    completion_price_unit: Decimal = Decimal("0")
    completion_price: Decimal = Decimal("0")
    total_tokens: int = 0
    total_price: Decimal = Decimal("0")
    currency: str = "USD"
    latency: float = 0.0
    time_to_first_token: float | None = None
    time_to_generate: float | None = None

    @field_serializer(
        "prompt_unit_price", "prompt_price_unit", "prompt_price", "completion_unit_price",
        "completion_price_unit", "completion_price", "total_price",
    )
    def _decimal_as_string(self, value: Decimal) -> str:
        return str(value)

    def plus(self, other: "Usage") -> "Usage":
        """This usage with another call of the same turn added: tokens and prices summed, unit
        prices and timings kept (the reference sums an agent turn's or a workflow's calls so)."""
        return self.model_copy(update={name: getattr(self, name) + getattr(other, name) for name in SUMMED})

    @classmethod
    def priced(
        cls,
        *,
        prompt_tokens: int,
        completion_tokens: int,
        input_price: Decimal,
        output_price: Decimal,
        price_unit: Decimal,
        currency: str,
        latency: float,
        time_to_first_token: float | None = None,
        time_to_generate: float | None = None,
    ) -> "Usage":
        """price = tokens × unit_price × price_unit, quantised to 7 decimal places."""
        prompt_price = _price(prompt_tokens, input_price, price_unit)
        completion_price = _price(completion_tokens, output_price, price_unit)
        return cls(
            prompt_tokens=prompt_tokens,
            prompt_unit_price=input_price,
            prompt_price_unit=price_unit,
            prompt_price=prompt_price,
            completion_tokens=completion_tokens,
            completion_unit_price=output_price,
            completion_price_unit=price_unit,
            completion_price=completion_price,
            total_tokens=prompt_tokens + completion_tokens,
            total_price=(prompt_price + completion_price).quantize(PRICE_QUANTUM),
            currency=currency,
            latency=round(latency, 3),
            time_to_first_token=None if time_to_first_token is None else round(time_to_first_token, 3),
            time_to_generate=None if time_to_generate is None else round(time_to_generate, 3),
        )


@dataclass
class LLMChunk:
    """One streamed event: a text delta, tool-call pieces, and at the end finish_reason and usage."""

    delta: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass
class LLMResult:
    model: str
    text: str
    tool_calls: list[ToolCall]
    finish_reason: str | None
    usage: Usage


@dataclass
class EmbeddingResult:
    model: str
    vectors: list[list[float]]
    usage: Usage


@dataclass
class RerankHit:
    index: int  # position in the documents given
    score: float  # 0..1, higher is more relevant
    text: str


@dataclass
class RerankResult:
    model: str
    hits: list[RerankHit]  # best first, after top_n and score_threshold
    usage: Usage


@dataclass
class ModerationResult:
    model: str
    flagged: bool
    categories: dict[str, bool]
    scores: dict[str, float]


@dataclass
class TranscriptionResult:
    model: str
    text: str


@dataclass
class SpeechResult:
    model: str
    audio: bytes
    content_type: str
