"""Knowledge retrieval latency and HNSW recall, measured on this machine in one run.

    .venv/bin/python bench/retrieval.py [--segments 100000] [--queries 200]

Loads SEGMENTS segments (unit vectors of 384 dims gathered around CLUSTERS topics, as embeddings
are, plus text for the keyword index) into one dataset, builds its HNSW index, then prints for
QUERIES queries:
1. p50/p95 of the raw nearest-neighbour SQL (the query retrieval writes, run bare);
2. p50/p95 of vector retrieval and of hybrid (weighted) retrieval through apps.datasets.retrieval,
   with the query already embedded, and their ratio to the raw SQL; target vector p50 ≤ 10 ms;
3. recall@10 of the HNSW search against exact search; target ≥ 0.95;
4. the same vector retrieval while TAIL of the segments wait in the tail, outside the HNSW graph
   (as right after a large upload, before merge_vectors has added them; apps/datasets/vectors.py).
Runs against the bench_knowledge database (see bench/indexing.py).
"""

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import indexing  # noqa: E402  (first: it sets Django up on the bench_knowledge database)

clear, workspace_schema = indexing.clear, indexing.workspace_schema

import numpy as np  # noqa: E402
from django.db import connection  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.datasets import retrieval, services, vectors  # noqa: E402
from apps.datasets.models import Document  # noqa: E402

DIMS = 384
WORDS = ("invoice refund shipping warranty password login billing plan upgrade export import report "
         "dashboard webhook api key token limit quota region storage backup restore latency error").split()


def load(count: int, rng: np.random.Generator, clusters: int, spread: float) -> tuple[object, np.ndarray]:
    """A dataset with `count` indexed segments; returns it and the vectors."""
    dataset = services.dataset_create(name="bench retrieval", actor_id=None, indexing_technique="high_quality",
                                      embedding_model_provider="local", embedding_model="all-MiniLM-L6-v2")
    document = Document.objects.create(dataset=dataset, name="bench.txt", batch="bench", indexing_status="completed",
                                       total_segments=count, completed_segments=count)
    centroids = rng.standard_normal((clusters, DIMS)).astype(np.float32)
    points = centroids[rng.integers(0, len(centroids), count)] + spread * rng.standard_normal(
        (count, DIMS)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    with connection.cursor() as cursor:
        cursor.execute(vectors.drop_index_sql(DIMS))  # a bulk build is far faster than one insert at a time
        for start in range(0, count, 1000):
            rows, params = [], []
            for i in range(start, min(count, start + 1000)):
                text = " ".join(rng.choice(WORDS, size=12)) + f" item {i}"
                rows.append("(%s, %s, %s, %s, %s, '', '[]'::jsonb, 0, 0, true, 'completed', '', '', 0, %s::vector, "
                            f"{DIMS}, true, to_tsvector('english', %s), now(), now())")
                params += [str(uuid.uuid4()), str(dataset.pk), str(document.pk), i + 1, text,
                           vectors.vector_literal(points[i].tolist()), text]
            cursor.execute("INSERT INTO datasets_segment (id, dataset_id, document_id, position, content, answer, "
                           "keywords, word_count, tokens, enabled, status, index_node_id, index_node_hash, "
                           "hit_count, embedding, embedding_dim, vector_indexed, search_vector, created_at, updated_at) VALUES "
                           + ", ".join(rows), params)
        started = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute(vectors.create_index_sql(DIMS))
        print(f"loaded {count} segments; HNSW index built in {time.perf_counter() - started:.1f}s")
        cursor.execute("ANALYZE datasets_segment")
    dataset.embedding_dim = DIMS
    dataset.save(update_fields=["embedding_dim"])
    return dataset, points


def timed(fn, queries):  # type: ignore[no-untyped-def]
    samples, results = [], []
    for query in queries:
        started = time.perf_counter()
        results.append(fn(query))
        samples.append(time.perf_counter() - started)
    samples.sort()
    return samples[len(samples) // 2] * 1000, samples[int(len(samples) * 0.95)] * 1000, results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--clusters", type=int, default=4096, help="topics the synthetic vectors gather around")
    parser.add_argument("--spread", type=float, default=0.3, help="noise around a topic (per dimension)")
    parser.add_argument("--ef", default="40,100,200,400", help="hnsw.ef_search values to report recall for")
    parser.add_argument("--tail", type=int, default=2048, help="segments left in the tail for the last line")
    args = parser.parse_args()
    rng = np.random.default_rng(5)
    with schema_context(workspace_schema()):
        clear()
        dataset, points = load(args.segments, rng, args.clusters, args.spread)
        picks = rng.integers(0, len(points), args.queries)
        queries = points[picks] + 0.1 * rng.standard_normal((args.queries, DIMS)).astype(np.float32)
        queries = [(q / np.linalg.norm(q)).tolist() for q in queries]
        texts = [" ".join(rng.choice(WORDS, size=4)) for _ in queries]
        ids = [dataset.pk]

        def raw(vector):  # type: ignore[no-untyped-def]
            """The bare pgvector query on the graph (the connection's hnsw.ef_search is set when it
            opens): no document conditions, no tail."""
            distance = vectors.distance_sql(DIMS)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT s.id FROM datasets_segment s WHERE s.embedding_dim = {DIMS} AND s.vector_indexed "
                               f"AND s.dataset_id = %s ORDER BY {distance} LIMIT 10",
                               [dataset.pk, vectors.vector_literal(vector)])
                return [row[0] for row in cursor.fetchall()]

        def exact(vector):  # type: ignore[no-untyped-def]
            with connection.cursor() as cursor:
                cursor.execute(*retrieval.semantic_query(ids, DIMS, vector, 10, exact=True))
                return [row[0] for row in cursor.fetchall()]

        key = (dataset.embedding_model_provider, dataset.embedding_model)
        semantic = retrieval.normalize_retrieval_model({"search_method": "semantic_search", "top_k": 10})
        hybrid = retrieval.normalize_retrieval_model({  # KN-13: hybrid names its rerank step
            "search_method": "hybrid_search", "top_k": 10, "reranking_mode": "weighted_score",
            "weights": {"vector_setting": {"vector_weight": 0.7}, "keyword_setting": {"keyword_weight": 0.3}}})

        def through_service(settings, text_for):  # type: ignore[no-untyped-def]
            def run(index):  # type: ignore[no-untyped-def]
                return retrieval._dataset_candidates(dataset, text_for[index], settings, 10 if settings is semantic
                                                     else 40, "", [], {key: queries[index]})
            return run

        for query in queries:  # warm the index and the caches: every measurement below sees the same state
            raw(query)
        raw_p50, raw_p95, approx = timed(raw, queries)
        vec_p50, vec_p95, _ = timed(through_service(semantic, texts), range(len(queries)))
        hyb_p50, hyb_p95, _ = timed(through_service(hybrid, texts), range(len(queries)))
        _, _, truth = timed(exact, queries)
        recall = statistics.mean(len(set(a) & set(t)) / len(t) for a, t in zip(approx, truth, strict=True) if t)
        print(f"raw nearest-neighbour SQL:  p50 {raw_p50:6.2f} ms  p95 {raw_p95:6.2f} ms")
        print(f"vector retrieval:           p50 {vec_p50:6.2f} ms  p95 {vec_p95:6.2f} ms  "
              f"ratio {vec_p50 / raw_p50:.2f}x   target p50 <= 10 ms")
        print(f"hybrid retrieval (weighted):p50 {hyb_p50:6.2f} ms  p95 {hyb_p95:6.2f} ms  ratio {hyb_p50 / raw_p50:.2f}x")
        print(f"recall@10 of HNSW vs exact: {recall:.3f}   target >= 0.95 (ef_search {vectors.EF_SEARCH})")
        for ef in [int(x) for x in args.ef.split(",") if x]:
            with connection.cursor() as cursor:
                cursor.execute(f"SET hnsw.ef_search = {ef}")
            p50, _, found = timed(raw, queries)
            at = statistics.mean(len(set(a) & set(t)) / len(t) for a, t in zip(found, truth, strict=True) if t)
            print(f"  ef_search {ef:4d}: recall@10 {at:.3f}, raw p50 {p50:6.2f} ms")
        with connection.cursor() as cursor:
            cursor.execute(f"SET hnsw.ef_search = {vectors.EF_SEARCH}")
            # Put the newest segments back in the tail (rewritten rows outside the graph's condition).
            cursor.execute("UPDATE datasets_segment SET vector_indexed = false WHERE dataset_id = %s AND position > %s",
                           [dataset.pk, args.segments - args.tail])
            cursor.execute("ANALYZE datasets_segment")
        tail_p50, tail_p95, found = timed(through_service(semantic, texts), range(len(queries)))
        at = statistics.mean(len(set(a) & set(t)) / len(t) for a, t in zip(found, truth, strict=True) if t)
        print(f"vector retrieval, {args.tail} in the tail: p50 {tail_p50:6.2f} ms  p95 {tail_p95:6.2f} ms  "
              f"ratio {tail_p50 / raw_p50:.2f}x  recall@10 {at:.3f}")
        clear()


if __name__ == "__main__":
    main()
