"""One module per provider family. Each exposes the same async functions (stream_llm, embed,
rerank, moderate, transcribe, speak, validate) over a ResolvedModel; `adapter_for` picks one."""

from types import ModuleType


def adapter_for(provider: str) -> ModuleType:
    if provider in ("openai", "azure_openai", "openai_api_compatible"):
        from apps.providers.runtime.adapters import openai_family

        return openai_family
    if provider == "anthropic":
        from apps.providers.runtime.adapters import anthropic_family

        return anthropic_family
    if provider == "cohere":
        from apps.providers.runtime.adapters import cohere_family

        return cohere_family
    if provider == "local":
        from apps.providers.runtime.adapters import local_family

        return local_family
    raise KeyError(f"no adapter for provider {provider!r}")
