"""Knowledge fixtures: the alpha workspace's schema active, datasets built through the services,
documents indexed by calling the indexing service (the worker tests run the real Celery worker)."""

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.datasets import indexing, services
from apps.datasets.models import Dataset, Document
from apps.providers import services as providers

LOCAL = {"embedding_model_provider": "local", "embedding_model": "all-MiniLM-L6-v2"}


@pytest.fixture
def alpha(world) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        yield world


def make_dataset(world, name: str = "Handbook", technique: str = "high_quality", **kwargs: Any) -> Dataset:  # type: ignore[no-untyped-def]
    options = {**(LOCAL if technique == "high_quality" else {}), **kwargs}
    return services.dataset_create(name=name, actor_id=world.owner.user_id, indexing_technique=technique,
                                   **options)


def add_text(world, dataset: Dataset, text: str, name: str = "doc.txt", index: bool = True,  # type: ignore[no-untyped-def]
             **kwargs: Any) -> Document:
    _, document = services.document_create_from_text(dataset=dataset, name=name, text=text,
                                                     actor_id=world.owner.user_id, **kwargs)
    if index:
        indexing.index_document(document_id=document.pk)
        document.refresh_from_db()
    return document


def fake_models(fake_openai: Any, *, embedding: bool = True, llm: bool = False, rerank: bool = False) -> None:
    """OpenAI-compatible models on the fake server, registered in the current workspace."""
    if embedding:
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake_openai.base_url, "model": "fake-embed", "model_type": "text-embedding"})
    if llm:
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake_openai.base_url, "model": "fake-chat", "model_type": "llm"})
        providers.default_model_set(model_type="llm", provider_id="openai_api_compatible", model="fake-chat")
    if rerank:
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake_openai.base_url, "model": "fake-rerank", "model_type": "rerank"})


FAKE_EMBED = {"embedding_model_provider": "openai_api_compatible", "embedding_model": "fake-embed"}
