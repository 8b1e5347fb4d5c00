"""Retrieval: semantic, full-text, hybrid (weighted and rerank), top_k, the score threshold's one
meaning, metadata filters inside SQL, CJK full-text, several datasets, and the HNSW index in the
query plan."""

import random
import uuid

import pytest
from django.db import connection

from apps.core.errors import ServiceError
from apps.datasets import indexing, retrieval, services, vectors
from apps.datasets.models import Segment
from apps.providers import services as providers
from tests.datasets.conftest import add_text, make_dataset

pytestmark = pytest.mark.django_db

FACTS = ("Cats are small domestic felines that purr.\n\n"
         "The Eiffel Tower stands in Paris, France.\n\n"
         "Photosynthesis turns sunlight into chemical energy in plants.\n\n"
         "Order number TX-99812 shipped on Monday.")
SEMANTIC = {"search_method": "semantic_search", "top_k": 4}


@pytest.fixture
def facts(alpha):  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha)
    rule = {"mode": "custom", "rules": {"pre_processing_rules": [],
                                        "segmentation": {"separator": "\n\n", "max_tokens": 100}}}
    add_text(alpha, dataset, FACTS, process_rule=rule)
    return dataset


def _contents(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.segment.content for h in hits]


def test_semantic_orders_by_cosine_similarity(facts) -> None:  # type: ignore[no-untyped-def]
    hits = retrieval.retrieve(datasets=facts, query="kitten pets that purr", retrieval_model=SEMANTIC)
    assert hits[0].segment.content.startswith("Cats")
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    # The score is 1 - cosine distance of the two embeddings, computed independently here.
    model = indexing.embedding_model(facts)
    q, d = indexing.embed(model, ["kitten pets that purr", hits[0].segment.content])
    assert hits[0].score == pytest.approx(sum(a * b for a, b in zip(q, d)), abs=1e-3)


WEIGHTED = {"reranking_mode": "weighted_score",
            "weights": {"vector_setting": {"vector_weight": 0.7}, "keyword_setting": {"keyword_weight": 0.3}}}


def test_threshold_drops_low_scores_in_every_mode(facts) -> None:  # type: ignore[no-untyped-def]
    for method in ("semantic_search", "full_text_search", "hybrid_search"):
        step = WEIGHTED if method == "hybrid_search" else {}
        everything = retrieval.retrieve(datasets=facts, query="cats purr paris",
                                        retrieval_model={"search_method": method, "top_k": 10, **step})
        assert len(everything) >= 2, method
        cut = (everything[0].score + everything[-1].score) / 2
        kept = retrieval.retrieve(datasets=facts, query="cats purr paris", retrieval_model={
            "search_method": method, "top_k": 10, "score_threshold_enabled": True, "score_threshold": cut, **step})
        assert kept == [h for h in everything if h.score >= cut][:10] or \
            [h.segment.pk for h in kept] == [h.segment.pk for h in everything if h.score >= cut], method
        assert 0 < len(kept) < len(everything) and all(h.score >= cut for h in kept), method
        disabled = retrieval.retrieve(datasets=facts, query="cats purr paris", retrieval_model={
            "search_method": method, "top_k": 10, "score_threshold_enabled": False, "score_threshold": 0.99, **step})
        assert len(disabled) == len(everything), method


def test_top_k_caps_and_is_validated(facts) -> None:  # type: ignore[no-untyped-def]
    assert len(retrieval.retrieve(datasets=facts, query="energy", retrieval_model={**SEMANTIC, "top_k": 1})) == 1
    for bad in (0, 11, "x"):
        with pytest.raises(ServiceError) as caught:
            retrieval.retrieve(datasets=facts, query="energy", retrieval_model={**SEMANTIC, "top_k": bad})
        assert caught.value.code == "invalid_param"
    with pytest.raises(ServiceError, match="at most 250"):
        retrieval.retrieve(datasets=facts, query="q" * 251)


def test_full_text_ranks_an_exact_id_first(facts) -> None:  # type: ignore[no-untyped-def]
    hits = retrieval.retrieve(datasets=facts, query="TX-99812", retrieval_model={"search_method": "full_text_search"})
    assert hits[0].segment.content.startswith("Order number TX-99812")
    assert all(0 < h.score < 1 for h in hits)
    assert retrieval.retrieve(datasets=facts, query="zeppelin", retrieval_model={"search_method":
                                                                                  "full_text_search"}) == []


def test_hybrid_weighted_merges_both_searches(facts) -> None:  # type: ignore[no-untyped-def]
    model = {"search_method": "hybrid_search", "reranking_mode": "weighted_score", "top_k": 4,
             "weights": {"vector_setting": {"vector_weight": 0.5}, "keyword_setting": {"keyword_weight": 0.5}}}
    hits = retrieval.retrieve(datasets=facts, query="TX-99812 felines", retrieval_model=model)
    top_two = {h.segment.content.split()[0] for h in hits[:2]}
    assert top_two == {"Order", "Cats"}
    semantic = {h.segment.pk: h.score for h in retrieval.retrieve(datasets=facts, query="TX-99812 felines",
                                                                  retrieval_model=SEMANTIC)}
    text = {h.segment.pk: h.score for h in retrieval.retrieve(
        datasets=facts, query="TX-99812 felines", retrieval_model={"search_method": "full_text_search", "top_k": 4})}
    for hit in hits:
        expected = 0.5 * semantic.get(hit.segment.pk, 0) + 0.5 * text.get(hit.segment.pk, 0)
        assert hit.score == pytest.approx(expected, abs=1e-4)
    with pytest.raises(ServiceError, match="add up to 1"):
        retrieval.retrieve(datasets=facts, query="x", retrieval_model={
            **model, "weights": {"vector_setting": {"vector_weight": 0.9}, "keyword_setting": {"keyword_weight": 0.9}}})


def test_rerank_with_cohere_reorders_and_caps(facts, fake_cohere) -> None:  # type: ignore[no-untyped-def]
    providers.credential_save(provider_id="cohere", data={"api_key": "k", "base_url": fake_cohere.base_url},
                              validate=False)
    model = {"search_method": "hybrid_search", "reranking_mode": "reranking_model", "top_k": 2,
             "reranking_model": {"reranking_provider_name": "cohere", "reranking_model_name": "rerank-v3.5"}}
    hits = retrieval.retrieve(datasets=facts, query="Eiffel Tower Paris", retrieval_model=model)
    assert len(hits) == 2 and hits[0].segment.content.startswith("The Eiffel Tower")
    rerank_calls = [r for r in fake_cohere.requests if r.endpoint == "rerank"]
    assert len(rerank_calls) == 1 and rerank_calls[0].json["query"] == "Eiffel Tower Paris"
    with pytest.raises(ServiceError, match="rerank model is required"):
        retrieval.retrieve(datasets=facts, query="x", retrieval_model={**model, "reranking_model": {}})


def test_metadata_filters_apply_inside_the_query(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    category = services.metadata_field_create(dataset=dataset, name="category", type="string")
    year = services.metadata_field_create(dataset=dataset, name="year", type="number")
    published = services.metadata_field_create(dataset=dataset, name="published", type="time")
    docs = {}
    for name, cat, yr, when in [("a.txt", "billing", 2021, "2021-03-01T00:00:00"),
                                ("b.txt", "shipping", 2023, "2023-06-01T00:00:00"),
                                ("c.txt", "billing", 2024, "2024-01-01T00:00:00")]:
        doc = add_text(alpha, dataset, f"Refund policy text of {name}.", name=name)
        services.document_metadata_set(document=doc, values={"category": cat, str(year.pk): yr,
                                                             "published": when})
        docs[name] = doc

    def names(conditions, op="and"):  # type: ignore[no-untyped-def]
        hits = retrieval.retrieve(datasets=dataset, query="refund policy", retrieval_model={"top_k": 10},
                                  metadata_filtering_conditions={"logical_operator": op, "conditions": conditions})
        return sorted(h.segment.document.name for h in hits)

    assert names([{"name": "category", "comparison_operator": "is", "value": "billing"}]) == ["a.txt", "c.txt"]
    assert names([{"name": "category", "comparison_operator": "not contains", "value": "bill"}]) == ["b.txt"]
    assert names([{"name": "year", "comparison_operator": "≥", "value": 2023}]) == ["b.txt", "c.txt"]
    assert names([{"name": "published", "comparison_operator": "before", "value": 1672531200}]) == ["a.txt"]
    assert names([{"name": "category", "comparison_operator": "is", "value": "billing"},
                  {"name": "year", "comparison_operator": ">", "value": 2022}]) == ["c.txt"]
    assert names([{"name": "category", "comparison_operator": "is", "value": "shipping"},
                  {"name": "year", "comparison_operator": "<", "value": 2022}], op="or") == ["a.txt", "b.txt"]
    assert names([{"name": "document_name", "comparison_operator": "start with", "value": "b"}]) == ["b.txt"]
    assert names([{"name": "category", "comparison_operator": "in", "value": ["shipping", "x"]}]) == ["b.txt"]
    assert names([{"name": "category", "comparison_operator": "contains", "value": "%"}]) == []
    # top_k 1 with a filter still finds the match: the filter is in SQL, not applied to a cut list.
    hits = retrieval.retrieve(datasets=dataset, query="refund policy", retrieval_model={"top_k": 1},
                              metadata_filtering_conditions={"conditions": [
                                  {"name": "year", "comparison_operator": "=", "value": 2024}]})
    assert [h.segment.document.name for h in hits] == ["c.txt"]
    for bad in ([{"name": "nope", "comparison_operator": "is", "value": "x"}],
                [{"name": "year", "comparison_operator": "contains", "value": "x"}],
                [{"name": "year", "comparison_operator": ">", "value": "many"}]):
        with pytest.raises(ServiceError) as caught:
            names(bad)
        assert caught.value.code == "invalid_metadata"
    with pytest.raises(ServiceError) as caught:
        services.document_metadata_set(document=docs["a.txt"], values={"year": "not a number"})
    assert caught.value.code == "invalid_metadata"
    services.metadata_field_delete(field=category)
    docs["a.txt"].refresh_from_db()
    assert str(category.pk) not in docs["a.txt"].metadata and str(published.pk) in docs["a.txt"].metadata


def test_cjk_full_text(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    add_text(alpha, dataset, "知识库支持全文检索。\n\n今天天气很好。\n\nナレッジベースの検索機能")
    rule_hits = retrieval.retrieve(datasets=dataset, query="全文检索")
    assert rule_hits and "全文检索" in rule_hits[0].segment.content
    dataset2 = make_dataset(alpha, name="CJK 2", technique="economy")
    add_text(alpha, dataset2, "今天天气很好。", name="w.txt")
    add_text(alpha, dataset2, "知识库支持全文检索。", name="k.txt")
    assert [h.segment.document.name for h in retrieval.retrieve(datasets=dataset2, query="天气")] == ["w.txt"]
    assert [h.segment.document.name for h in retrieval.retrieve(datasets=dataset2, query="検索")] == []


def test_several_datasets_are_merged(alpha, facts) -> None:  # type: ignore[no-untyped-def]
    other = make_dataset(alpha, name="Space")
    add_text(alpha, other, "Rockets carry satellites into orbit around the Earth.")
    hits = retrieval.retrieve(datasets=[facts, other], query="satellite launch rocket",
                              retrieval_model={**SEMANTIC, "top_k": 3})
    assert hits[0].dataset_id == other.pk and {h.dataset_id for h in hits} == {facts.pk, other.pk}


def test_hit_test_records_history(alpha, facts) -> None:  # type: ignore[no-untyped-def]
    result = retrieval.hit_test(dataset=facts, query="Paris landmark", actor_id=alpha.owner.user_id)
    assert result.hits[0].segment.content.startswith("The Eiffel")
    assert result.query.content == "Paris landmark" and result.query.result_count == len(result.hits)
    assert Segment.objects.get(pk=result.hits[0].segment.pk).hit_count == 1
    empty = services.dataset_create(name="Empty", actor_id=None)
    with pytest.raises(ServiceError) as caught:
        retrieval.hit_test(dataset=empty, query="x", actor_id=None)
    assert caught.value.code == "dataset_not_initialized"


def test_the_query_plan_uses_the_hnsw_index(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha)
    document = add_text(alpha, dataset, "seed", index=False)
    rng = random.Random(7)
    rows = []
    for position in range(1, 1001):
        vector = [rng.uniform(-1, 1) for _ in range(384)]
        rows.append(Segment(id=uuid.uuid4(), dataset=dataset, document=document, position=position,
                            content=f"s{position}", status="completed", embedding=vector, embedding_dim=384))
    Segment.objects.bulk_create(rows, batch_size=500)
    document.indexing_status = "completed"
    document.save()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE datasets_segment")
        cursor.execute("ANALYZE datasets_document")
        sql, args = retrieval.semantic_query([dataset.pk], 384, [rng.uniform(-1, 1) for _ in range(384)], 10)
        cursor.execute("EXPLAIN " + sql, args)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {vectors.index_name(384)}" in plan, plan
    hits = retrieval.semantic_search([dataset.pk], 384, list(rows[42].embedding), 3)
    assert hits[0][0] == rows[42].id and hits[0][1] == pytest.approx(1.0, abs=1e-5)


def test_connections_open_with_the_configured_hnsw_breadth(alpha, settings) -> None:  # type: ignore[no-untyped-def]
    from django.db import connections

    other = connections.create_connection("default")  # a fresh connection, as a worker or request gets
    try:
        with other.cursor() as cursor:
            cursor.execute("SHOW hnsw.ef_search")
            assert int(cursor.fetchone()[0]) == settings.DATASET_HNSW_EF_SEARCH == vectors.EF_SEARCH
    finally:
        other.close()


def test_rerank_through_an_openai_compatible_server(facts, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.datasets.conftest import fake_models

    fake_models(fake_openai, embedding=False, rerank=True)
    model = {"search_method": "semantic_search", "reranking_enable": True, "top_k": 1,
             "reranking_model": {"reranking_provider_name": "openai_api_compatible",
                                 "reranking_model_name": "fake-rerank"}}
    hits = retrieval.retrieve(datasets=facts, query="Order number TX-99812 shipped", retrieval_model=model)
    assert [h.segment.content.split()[0] for h in hits] == ["Order"]
    assert 0 < hits[0].score <= 1
    calls = [r for r in fake_openai.requests if r.endpoint == "rerank"]
    assert len(calls) == 1 and len(calls[0].json["documents"]) == 4  # every candidate went to the reranker
