"""What adapters yield while streaming; the model instance turns it into LLMChunk with priced usage."""

from dataclasses import dataclass, field

from apps.providers.runtime.entities import ToolCallDelta


@dataclass
class ProviderChunk:
    delta: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None  # normalised: stop | length | tool_calls | content_filter
    tokens: tuple[int, int] | None = None  # (prompt, completion) as the provider reported them
