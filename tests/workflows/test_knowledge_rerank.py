"""The Knowledge Retrieval node's multi-path rerank step (KN-13/14, dsl.md §3.5) is checked like
the Knowledge settings: reranking enabled without a rerank model, an unknown mode or bad weights
fail the node with a clear error and show in the checklist; the weighted score (hybrid search)
and a rerank model on the fake OpenAI-compatible server work; multi-path without a rerank step and
N-to-1 without a model are flagged as incomplete (WF-14)."""

import asyncio

import pytest
from django_tenants.utils import schema_context

from apps.workflows import services
from tests.datasets.conftest import fake_models
from tests.workflows.helpers import chain, graph, node
from tests.workflows.test_nodes_external import START, _knowledge, alpha, end, one  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

WEIGHTS = {"vector_setting": {"vector_weight": 0.5}, "keyword_setting": {"keyword_weight": 0.5}}


def _node(ids: list[str], **config):  # type: ignore[no-untyped-def]
    return node("kr", "knowledge-retrieval", query_variable_selector=["start", "q"], dataset_ids=ids,
                retrieval_mode="multiple", multiple_retrieval_config={"top_k": 2, **config})


def _checklist(data: dict) -> list[str]:
    raw = graph([START, data, end(r=["kr", "result"])], chain("start", "kr", "end"))
    with schema_context("ws_alpha"):
        return services.checklist(raw, "workflow")


async def test_invalid_rerank_steps_fail_the_node_and_show_in_the_checklist(alpha, fake_openai, world_tx) -> None:
    ids = list(await asyncio.to_thread(_knowledge, world_tx))
    cases = [
        ({"reranking_enable": True, "reranking_mode": "reranking_model"}, "rerank model is required"),
        ({"reranking_enable": True, "reranking_mode": "reranking_model",
          "reranking_model": {"provider": "langgenius/cohere/cohere", "model": "rerank-english-v2.0"}},
         "cohere/rerank-english-v2.0 is not available"),
        ({"reranking_enable": True, "reranking_mode": "rrf"}, "reranking_mode must be"),
        ({"reranking_enable": True, "reranking_mode": "weighted_score",
          "weights": {"vector_setting": {"vector_weight": 0.8}, "keyword_setting": {"keyword_weight": 0.8}}},
         "add up to 1"),
    ]
    for config, reason in cases:
        data = _node(ids, **config)
        result = await one(alpha, data, {"q": "cats sleep"}, outputs={"r": ["kr", "result"]})
        assert result.status == "failed" and reason in result.error, (config, result.error)
        problems = await asyncio.to_thread(_checklist, data)
        assert any(p.startswith("kr") and reason in p for p in problems), problems
    assert fake_openai.requests_to("rerank") == []
    # The weighted score without weights (the reference runs it too) takes the default 0.7 / 0.3.
    default = _node(ids, reranking_enable=True, reranking_mode="weighted_score")
    assert await asyncio.to_thread(_checklist, default) == []
    result = await one(alpha, default, {"q": "how long do cats sleep"}, outputs={"r": ["kr", "result"]})
    assert result.status == "succeeded" and "sixteen hours" in result.outputs["r"][0]["content"]


async def test_weighted_score_and_rerank_model_steps_run(alpha, fake_openai, world_tx) -> None:
    ids = list(await asyncio.to_thread(_knowledge, world_tx))
    weighted = _node(ids, reranking_enable=True, reranking_mode="weighted_score", weights=WEIGHTS)
    assert await asyncio.to_thread(_checklist, weighted) == []
    result = await one(alpha, weighted, {"q": "how long do cats sleep"}, outputs={"r": ["kr", "result"]})
    assert result.status == "succeeded", result.error
    assert "sixteen hours" in result.outputs["r"][0]["content"] and len(result.outputs["r"]) <= 2

    def rerank() -> None:
        with schema_context("ws_alpha"):
            fake_models(fake_openai, embedding=False, rerank=True)

    await asyncio.to_thread(rerank)
    reranked = _node(ids, reranking_enable=True, reranking_mode="reranking_model",
                     reranking_model={"provider": "openai_api_compatible", "model": "fake-rerank"})
    assert await asyncio.to_thread(_checklist, reranked) == []
    result = await one(alpha, reranked, {"q": "tyre pressure checked"}, outputs={"r": ["kr", "result"]})
    assert result.status == "succeeded", result.error
    assert "Tyre pressure" in result.outputs["r"][0]["content"]
    assert len(fake_openai.requests_to("rerank")) == 1
    # Reranking switched off: a leftover mode is no rerank step. The checklist flags the node as
    # incomplete (WF-14/KN-19); it still runs (an imported file), ordering the merged hits by score.
    off = _node(ids, reranking_enable=False, reranking_mode="reranking_model")
    assert await asyncio.to_thread(_checklist, off) == [
        "kr: Multi-path retrieval needs a rerank step: enable reranking with a rerank model or the weighted score."]
    result = await one(alpha, off, {"q": "tyre pressure checked"}, outputs={"r": ["kr", "result"]})
    assert result.status == "succeeded" and "Tyre pressure" in result.outputs["r"][0]["content"]
    assert len(fake_openai.requests_to("rerank")) == 1  # no rerank call for it


async def test_n_to_1_without_a_model_is_flagged(alpha, world_tx) -> None:
    ids = list(await asyncio.to_thread(_knowledge, world_tx))
    data = node("kr", "knowledge-retrieval", query_variable_selector=["start", "q"], dataset_ids=ids,
                retrieval_mode="single", single_retrieval_config={})
    assert await asyncio.to_thread(_checklist, data) == [
        "kr: N-to-1 retrieval needs a model to choose the knowledge base."]
