"""The built-in embedding model (all-MiniLM-L6-v2 on onnxruntime): no key, no network."""

from functools import lru_cache

from apps.providers.runtime.resolved import ResolvedModel


@lru_cache(maxsize=1)
def _model():  # type: ignore[no-untyped-def]
    from apps.providers.runtime.local_embedding import LocalEmbeddingModel

    return LocalEmbeddingModel()


async def embed(m: ResolvedModel, texts: list[str], input_type: str = "") -> tuple[list[list[float]], int]:
    model = _model()
    return await model.embed(texts), model.count_tokens(texts)


async def validate(m: ResolvedModel) -> None:
    await embed(m, ["ping"])
