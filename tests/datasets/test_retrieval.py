"""Retrieval: semantic, full-text, hybrid (weighted and rerank), top_k, the score threshold's one
meaning, metadata filters inside SQL, CJK full-text, several datasets, and the HNSW index in the
query plan."""

import random
import uuid

import pytest
from django.db import connection
from django_tenants.utils import schema_context

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
        retrieval.retrieve(datasets=facts, query="x", retrieval_model={**model, "reranking_model": {},
                                                                       "reranking_enable": True})
    # Without reranking_enable and without a model (as the reference's clients send it): the default
    # weighted score orders both searches' hits, and no rerank call is made.
    plain = retrieval.retrieve(datasets=facts, query="Eiffel Tower Paris",
                               retrieval_model={**model, "reranking_model": {}})
    assert plain and plain[0].segment.content.startswith("The Eiffel Tower")
    assert len([r for r in fake_cohere.requests if r.endpoint == "rerank"]) == 1


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


def _random_segments(alpha, count: int, indexed: bool, name: str = "Handbook", seed: int = 7):  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, name=name)
    document = add_text(alpha, dataset, "seed", index=False)
    rng = random.Random(seed)
    rows = []
    for position in range(2, count + 2):  # after the seed text's own segment, where it was indexed
        vector = [rng.uniform(-1, 1) for _ in range(384)]
        rows.append(Segment(id=uuid.uuid4(), dataset=dataset, document=document, position=position,
                            content=f"s{position}", status="completed", embedding=vector, embedding_dim=384,
                            vector_indexed=indexed))
    Segment.objects.bulk_create(rows, batch_size=500)
    document.indexing_status = "completed"
    document.save()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE datasets_segment")
        cursor.execute("ANALYZE datasets_document")
    return dataset, rows, rng


def _plan(dataset, rng) -> str:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        sql, args = retrieval.semantic_query([dataset.pk], 384, [rng.uniform(-1, 1) for _ in range(384)], 10)
        cursor.execute("EXPLAIN " + sql, args)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_query_plan_uses_the_hnsw_index(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset, rows, rng = _random_segments(alpha, 1000, indexed=True)
    plan = _plan(dataset, rng)
    assert f"Index Scan using {vectors.index_name(384)}" in plan, plan
    # The tail's side of the query looks in the tail's own small index, not at every segment.
    assert "segment_vector_tail" in plan, plan
    hits = retrieval.semantic_search([dataset.pk], 384, list(rows[42].embedding), 3)
    assert hits[0][0] == rows[42].id and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s",
                       [vectors.index_name(384)])
        assert cursor.fetchone()[0].endswith("WHERE ((embedding_dim = 384) AND vector_indexed)")


def test_tail_vectors_are_searched_exactly_until_merged_into_the_graph(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset, rows, rng = _random_segments(alpha, 300, indexed=False)
    assert vectors.tail_size() == 300
    query = [rng.uniform(-1, 1) for _ in range(384)]
    # Exact nearest neighbours, computed here in Python.
    norm = sum(x * x for x in query) ** 0.5

    def cosine(vector) -> float:  # type: ignore[no-untyped-def]
        return sum(a * b for a, b in zip(query, vector, strict=True)) / norm / sum(x * x for x in vector) ** 0.5

    exact = sorted(rows, key=lambda r: -cosine(list(r.embedding)))[:10]
    in_tail = retrieval.semantic_search([dataset.pk], 384, query, 10)
    assert [sid for sid, _ in in_tail] == [r.id for r in exact]
    assert [score for _, score in in_tail] == pytest.approx([max(0.0, cosine(list(r.embedding))) for r in exact],
                                                            abs=1e-4)
    assert vectors.merge_tail(200, batch=64) == 200  # bounded: 100 stay behind
    assert vectors.tail_size() == 100
    # Half in the graph, half in the tail: one search still sees both.
    assert [sid for sid, _ in retrieval.semantic_search([dataset.pk], 384, query, 10)] == [r.id for r in exact]
    assert vectors.merge_tail(10_000) == 100 and vectors.tail_size() == 0
    assert Segment.objects.filter(dataset=dataset, vector_indexed=True).count() == 300
    merged = retrieval.semantic_search([dataset.pk], 384, query, 10)
    assert [sid for sid, _ in merged] == [r.id for r in exact]  # 300 vectors: the graph search is exact too


def test_a_small_dataset_among_large_ones_still_gets_its_nearest_segments(alpha, settings) -> None:  # type: ignore[no-untyped-def]
    # The graph holds the big dataset's 1,000 vectors too. When the index is used (forced here: the
    # planner avoids it on a dataset this small when its statistics are fresh), the index scan's 40
    # nearest are mostly theirs and the dataset condition drops them. The exact fallback finds all three.
    _random_segments(alpha, 1000, indexed=True)
    small, rows, _ = _random_segments(alpha, 3, indexed=True, name="Small", seed=8)
    with connection.cursor() as cursor:
        cursor.execute("SET hnsw.ef_search = 40")
        cursor.execute("SET enable_sort = off")
    try:
        query = list(rows[0].embedding)
        sql, args = retrieval.semantic_query([small.pk], 384, query, 3)
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            assert len(cursor.fetchall()) < 3  # what the index scan alone returns
        hits = retrieval.semantic_search([small.pk], 384, query, 3)
        assert {sid for sid, _ in hits} == {r.id for r in rows} and hits[0][0] == rows[0].id
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"SET hnsw.ef_search = {settings.DATASET_HNSW_EF_SEARCH}")
            cursor.execute("RESET enable_sort")


def _page_faults(connection_) -> int:  # type: ignore[no-untyped-def]
    """Minor page faults of the connection's Postgres process so far (the server runs on this machine)."""
    with open(f"/proc/{connection_.connection.info.backend_pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[7])


def test_merging_from_a_fresh_connection_does_not_fault_memory_in_for_every_vector(world_tx) -> None:  # type: ignore[no-untyped-def]
    from django.db import connections

    with schema_context(world_tx.alpha.schema_name):
        _random_segments(world_tx, 200, indexed=False)  # committed: the other connection sees them
        ids = list(Segment.objects.filter(vector_indexed=False, embedding_dim=384).values_list("id", flat=True))
    assert len(ids) == 200
    other = connections.create_connection("default")  # what a worker's new connection is
    try:
        other.ensure_connection()
        other.set_schema(world_tx.alpha.schema_name)

        def merge(chunk) -> int:  # type: ignore[no-untyped-def]
            before = _page_faults(other)
            with other.cursor() as cursor:
                cursor.execute("UPDATE datasets_segment SET vector_indexed = true WHERE id = ANY(%s)", [chunk])
                assert cursor.rowcount == len(chunk)
            return _page_faults(other) - before

        cold = merge(ids[:100])
        # What ready_for_inserts does on its connection: one large value, allocated and freed.
        with other.cursor() as cursor:
            cursor.execute("SELECT length(repeat('x', %s))", [vectors.MALLOC_WARMUP_BYTES])
        warm = merge(ids[100:])
        assert warm * 5 < cold, (cold, warm)
    finally:
        other.close()


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
