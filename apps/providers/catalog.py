"""The providers Tessera speaks to, their credential forms, and the models they offer out of the box.

Prices are list prices per `price_unit` tokens (per million by default) at the time of writing;
workspace admins override them in Settings → Model providers → Prices.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from apps.providers.runtime.entities import ModelMode, ModelType

PER_MILLION = Decimal("0.000001")
PER_THOUSAND = Decimal("0.001")


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    secret: bool = False
    required: bool = True
    kind: str = "text"  # text | url | number | bool | choice
    choices: tuple[tuple[str, str], ...] = ()
    default: str | int | bool | None = None
    help: str = ""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    model_type: ModelType
    mode: ModelMode = ModelMode.CHAT
    context_length: int = 0
    max_tokens: int = 0
    vision: bool = False
    function_calling: bool = False
    streaming: bool = True
    dimensions: int = 0  # embeddings
    input_price: Decimal = Decimal("0")
    output_price: Decimal = Decimal("0")
    price_unit: Decimal = PER_MILLION
    currency: str = "USD"


@dataclass(frozen=True)
class ProviderSpec:
    id: str
    label: str
    description: str
    fields: tuple[CredentialField, ...]
    models: tuple[ModelSpec, ...] = ()
    per_model: bool = False  # credentials are entered model by model (OpenAI-compatible, Azure)
    needs_credentials: bool = True
    model_types: tuple[ModelType, ...] = field(default=())

    def model(self, name: str, model_type: ModelType | str | None = None) -> ModelSpec | None:
        return next((m for m in self.models if m.name == name and (model_type is None or m.model_type == model_type)),
                    None)


LLM, EMB, RERANK, MOD, STT, TTS = (ModelType.LLM, ModelType.TEXT_EMBEDDING, ModelType.RERANK,
                                   ModelType.MODERATION, ModelType.SPEECH2TEXT, ModelType.TTS)


def _llm(name: str, ctx: int, out: int, inp: str, outp: str, *, vision: bool = True, tools: bool = True,
         mode: ModelMode = ModelMode.CHAT) -> ModelSpec:
    return ModelSpec(name, LLM, mode, ctx, out, vision, tools, input_price=Decimal(inp), output_price=Decimal(outp))


OPENAI_MODELS = (
    _llm("gpt-4.1", 1047576, 32768, "2.00", "8.00"),
    _llm("gpt-4.1-mini", 1047576, 32768, "0.40", "1.60"),
    _llm("gpt-4.1-nano", 1047576, 32768, "0.10", "0.40"),
    _llm("gpt-4o", 128000, 16384, "2.50", "10.00"),
    _llm("gpt-4o-mini", 128000, 16384, "0.15", "0.60"),
    _llm("o3-mini", 200000, 100000, "1.10", "4.40", vision=False),
    _llm("gpt-3.5-turbo", 16385, 4096, "0.50", "1.50", vision=False),
    _llm("gpt-3.5-turbo-instruct", 4096, 4096, "1.50", "2.00", vision=False, tools=False, mode=ModelMode.COMPLETION),
    ModelSpec("text-embedding-3-small", EMB, context_length=8191, dimensions=1536, input_price=Decimal("0.02")),
    ModelSpec("text-embedding-3-large", EMB, context_length=8191, dimensions=3072, input_price=Decimal("0.13")),
    ModelSpec("text-embedding-ada-002", EMB, context_length=8191, dimensions=1536, input_price=Decimal("0.10")),
    ModelSpec("omni-moderation-latest", MOD),
    ModelSpec("text-moderation-latest", MOD),
    ModelSpec("whisper-1", STT),
    ModelSpec("gpt-4o-mini-transcribe", STT),
    ModelSpec("tts-1", TTS),
    ModelSpec("gpt-4o-mini-tts", TTS),
)

_SECRET_KEY = CredentialField("api_key", _("API key"), secret=True)
_BASE_URL = CredentialField("base_url", _("Base URL"), required=False, kind="url",
                            help=_("Leave empty for the provider's own endpoint."))
_MODEL_TYPES = tuple((t.value, t.value) for t in ModelType)

PROVIDERS: dict[str, ProviderSpec] = {
    spec.id: spec
    for spec in (
        ProviderSpec(
            "openai", "OpenAI", _("GPT chat and completion models, embeddings, moderation, Whisper and TTS."),
            (_SECRET_KEY, CredentialField("organization", _("Organization ID"), required=False), _BASE_URL),
            OPENAI_MODELS,
        ),
        ProviderSpec(
            "azure_openai", "Azure OpenAI", _("OpenAI models deployed in your Azure subscription, one deployment at a time."),
            (
                CredentialField("endpoint", _("Endpoint"), kind="url", help="https://<resource>.openai.azure.com"),
                _SECRET_KEY,
                CredentialField("api_version", _("API version"), default="2024-10-21"),
                CredentialField("deployment", _("Deployment name")),
                CredentialField("base_model", _("Base model"), kind="choice",
                                choices=tuple((m.name, m.name) for m in OPENAI_MODELS)),
            ),
            OPENAI_MODELS,
            per_model=True,
        ),
        ProviderSpec(
            "anthropic", "Anthropic", _("Claude models."),
            (_SECRET_KEY, _BASE_URL),
            (
                _llm("claude-sonnet-4-6", 200000, 64000, "3.00", "15.00"),
                _llm("claude-opus-4-6", 200000, 32000, "5.00", "25.00"),
                _llm("claude-haiku-4-5", 200000, 64000, "1.00", "5.00"),
            ),
        ),
        ProviderSpec(
            "cohere", "Cohere", _("Command chat models, embeddings and rerank."),
            (_SECRET_KEY, _BASE_URL),
            (
                _llm("command-a-03-2025", 256000, 8000, "2.50", "10.00", vision=False),
                _llm("command-r-plus-08-2024", 128000, 4000, "2.50", "10.00", vision=False),
                _llm("command-r-08-2024", 128000, 4000, "0.15", "0.60", vision=False),
                ModelSpec("embed-english-v3.0", EMB, context_length=512, dimensions=1024, input_price=Decimal("0.10")),
                ModelSpec("embed-multilingual-v3.0", EMB, context_length=512, dimensions=1024,
                          input_price=Decimal("0.10")),
                ModelSpec("rerank-v3.5", RERANK, context_length=4096, input_price=Decimal("2.00"),
                          price_unit=PER_THOUSAND),
                ModelSpec("rerank-english-v3.0", RERANK, context_length=4096, input_price=Decimal("2.00"),
                          price_unit=PER_THOUSAND),
                ModelSpec("rerank-multilingual-v3.0", RERANK, context_length=4096, input_price=Decimal("2.00"),
                          price_unit=PER_THOUSAND),
            ),
        ),
        ProviderSpec(
            "openai_api_compatible", _("OpenAI-API-compatible"),
            _("Any server that speaks the OpenAI API (Ollama, LocalAI, Xinference, vLLM, OpenLLM…), added model by model."),
            (
                CredentialField("display_name", _("Display name"), required=False),
                CredentialField("base_url", _("Base URL"), kind="url", help="http://host:11434/v1"),
                CredentialField("api_key", _("API key"), secret=True, required=False),
                CredentialField("model", _("Model name")),
                CredentialField("model_type", _("Model type"), kind="choice",
                                choices=((LLM.value, _("LLM")), (EMB.value, _("Text embedding")),
                                         (RERANK.value, _("Rerank")), (STT.value, _("Speech to text")),
                                         (TTS.value, _("Text to speech"))), default=LLM.value),
                CredentialField("mode", _("Completion mode"), kind="choice",
                                choices=((ModelMode.CHAT.value, "chat"), (ModelMode.COMPLETION.value, "completion")),
                                default=ModelMode.CHAT.value),
                CredentialField("context_length", _("Context length"), kind="number", default=4096),
                CredentialField("max_tokens", _("Maximum output tokens"), kind="number", default=4096),
                CredentialField("vision", _("Supports vision"), kind="bool", required=False, default=False),
                CredentialField("function_calling", _("Supports function calling"), kind="bool", required=False,
                                default=False),
                CredentialField("streaming", _("Supports streaming"), kind="bool", required=False, default=True),
            ),
            per_model=True,
        ),
        ProviderSpec(
            "local", _("Built-in embeddings"),
            _("all-MiniLM-L6-v2 running inside Tessera: no key, no network. English text."),
            (),
            (ModelSpec("all-MiniLM-L6-v2", EMB, context_length=256, dimensions=384),),
            needs_credentials=False,
        ),
    )
}


def provider_id_of(provider: str) -> str:
    """`langgenius/openai/openai` (Dify 1.x plugin ids) → `openai` when Tessera knows the provider;
    anything else unchanged. DSL import and the workflow nodes both read model configs this way."""
    parts = provider.split("/")
    if len(parts) == 3 and parts[2] in PROVIDERS:
        return parts[2]
    return provider


def provider(provider_id: str) -> ProviderSpec:
    try:
        return PROVIDERS[provider_id]
    except KeyError:
        raise KeyError(f"unknown provider {provider_id!r}; known: {', '.join(PROVIDERS)}") from None
