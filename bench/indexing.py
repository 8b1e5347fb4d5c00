"""Knowledge indexing throughput, measured on this machine in one run.

    .venv/bin/python bench/indexing.py [--segments 2000] [--local 600]

Prints segments per second through the whole pipeline (stored file → extract → clean → split →
upsert segments → embed → write vectors and keyword vectors → progress updates → completed):
1. economy (keyword index only, no embedding);
2. high_quality with an instant embedder (unit vectors made in-process, 384 dims): the pipeline's
   own cost, until every document is completed and searchable; target ≥ 2,000 segments/s. The
   vectors are then in the tail (apps/datasets/vectors.py), searched exactly; next lines:
   - merging them into the HNSW graph (what the merge_vectors task does after each document);
   - bare inserts of as many vectors into a table with the same HNSW index: the floor under any
     pipeline that puts each vector in the graph as it writes it;
   - the pipeline again with a merger running beside it (its own connection, as a worker would),
     timed until every vector is in the graph: the sustained rate on this machine.
   Both lines give the CPU time a segment took in the database session and in Python as well:
   a shared machine's load swings the wall time far more than these;
3. high_quality with the built-in local model (all-MiniLM-L6-v2), against that model's raw
   throughput on the same segment texts (embed_sync, same batch size): target ≥ 80 %.
Runs against its own database (bench_knowledge) on the embedded Postgres, migrated on first use.
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ["DEBUG"] = "false"
os.environ["DB_POOL_MAX_SIZE"] = "0"
# Documents are queued into an in-process queue nobody reads: the bench indexes them itself, timed.
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ["CELERY_BROKER_URL"] = "memory://"


def _own_database() -> None:
    """Point Django at bench_knowledge on the embedded server (created if missing)."""
    if os.environ.get("DATABASE_URL"):
        return
    from urllib.parse import quote

    import psycopg

    from apps.core.embedded import embedded_database_settings

    db = embedded_database_settings(ROOT / "var" / "pgdata")
    with psycopg.connect(host=db["HOST"], user=db["USER"], dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'bench_knowledge'").fetchone():
            conn.execute('CREATE DATABASE "bench_knowledge"')
    os.environ["DATABASE_URL"] = f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}/bench_knowledge"


_own_database()

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.datasets import indexing, services  # noqa: E402
from apps.datasets import vectors as pgvectors  # noqa: E402
from apps.datasets.models import Dataset  # noqa: E402
from apps.providers.runtime.local_embedding import LocalEmbeddingModel  # noqa: E402
from apps.workspaces import services as workspaces  # noqa: E402
from apps.workspaces.models import Workspace  # noqa: E402

RULE = {"mode": "custom", "rules": {"pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
                                    "segmentation": {"separator": "###", "max_tokens": 120, "chunk_overlap": 0}}}


class InstantEmbedder:
    """Stands in for a model instance: unit vectors at no cost, so only the pipeline is timed."""

    provider, model = "bench", "instant"

    def __init__(self, dims: int = 384) -> None:
        self.rng = np.random.default_rng(1)
        self.dims = dims

    async def embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
        vectors = self.rng.standard_normal((len(texts), self.dims)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

        class Result:
            pass

        result = Result()
        result.vectors = vectors.tolist()
        return result


def text(segments: int, seed: int) -> str:
    words = ("tessera indexes documents with visible progress retrieval hybrid vector keyword segment "
             "workspace pipeline embedding cosine score threshold rerank model").split()
    rng = np.random.default_rng(seed)
    parts = [" ".join(rng.choice(words, size=30)) + f". Section {seed}-{i}." for i in range(segments)]
    return "###".join(parts)


def workspace_schema() -> str:
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    User = get_user_model()
    user = User.objects.filter(email="bench@tessera.local").first() or workspaces.user_create(
        email="bench@tessera.local", password="bench-password-1")
    workspace = Workspace.objects.filter(slug="bench-knowledge").first() or workspaces.workspace_create(
        name="bench-knowledge", owner=user)
    call_command("migrate_schemas", schema_name=workspace.schema_name, tenant=True, interactive=False, verbosity=0)
    return workspace.schema_name


class Clock:
    """Wall time, and CPU time of this process and of its database session, over a block. On a
    machine shared with other work the wall time swings with the load; CPU time much less, so the
    CPU figures are the ones to compare between runs. The session's CPU is read from /proc, so
    only for a server on this machine (the embedded one); None otherwise."""

    def __enter__(self) -> "Clock":
        self.wall, self.python, self.database = time.perf_counter(), time.process_time(), self._database()
        return self

    def __exit__(self, *exc: object) -> None:
        database = self._database()
        self.database = database - self.database if database is not None and self.database is not None else None
        self.wall, self.python = time.perf_counter() - self.wall, time.process_time() - self.python

    @staticmethod
    def _database() -> float | None:
        connection.ensure_connection()
        try:
            with open(f"/proc/{connection.connection.info.backend_pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def per_item(self, count: int) -> str:
        database = f"database {1000 * self.database / count:.2f} ms, " if self.database is not None else ""
        return f"CPU a segment: {database}Python {1000 * self.python / count:.2f} ms"


class Merger(threading.Thread):
    """Merges the tail into the HNSW graph on its own connection until told to stop and the tail
    is empty, as a worker's merge_vectors tasks would beside the indexing worker."""

    def __init__(self, schema: str) -> None:
        super().__init__(daemon=True)
        self.schema, self.stop, self.merged = schema, threading.Event(), 0

    def run(self) -> None:
        connection.set_schema(self.schema)
        try:
            while True:
                merged = pgvectors.merge_tail(256)
                self.merged += merged
                if not merged:
                    if self.stop.is_set():
                        return
                    time.sleep(0.01)
        finally:
            connections.close_all()


def run(technique: str, segments: int, model=None, docs: int = 4, cleared: bool = False) -> tuple[Clock, int, list[str]]:  # type: ignore[no-untyped-def]
    """(timings, segments indexed, their texts) for `docs` documents indexed one after another."""
    if not cleared:
        clear()
    kwargs = {"embedding_model_provider": "local", "embedding_model": "all-MiniLM-L6-v2"} \
        if technique == "high_quality" else {}
    dataset = services.dataset_create(name=f"bench {technique}", actor_id=None, indexing_technique=technique,
                                      **kwargs)
    documents = []
    for seed in range(docs):
        _, document = services.document_create_from_text(dataset=dataset, name=f"d{seed}.txt", actor_id=None,
                                                         text=text(segments // docs, seed), process_rule=RULE)
        documents.append(document)
    with Clock() as clock:
        for document in documents:
            status = "indexing"
            while status == "indexing":  # a document larger than DATASET_INDEXING_SLICE takes several runs
                status = indexing.index_document(document_id=document.pk, model=model, requeue=False)
            assert status == "completed", (status, document.pk)
        assert dataset.segments.count() == segments, "each part should be one segment"
    contents = list(dataset.segments.order_by("document_id", "position").values_list("content", flat=True))
    return clock, len(contents), contents


def clear() -> None:
    """Drop earlier bench datasets and vacuum, so dead vectors do not slow the HNSW inserts."""
    Dataset.objects.filter(name__startswith="bench").delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM datasets_segment")


def raw_hnsw_inserts(count: int, dims: int = 384, batch: int = 64) -> Clock:
    """Timings of inserting `count` unit vectors into a bare table with the same HNSW index: the
    floor under any pgvector pipeline on this machine. Sent binary, as the pipeline sends them."""
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((count, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    literals = [pgvectors.binary(v) for v in vectors]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_vectors")
        cursor.execute("CREATE TABLE bench_raw_vectors (id int, embedding vector, embedding_dim int)")
        cursor.execute(f"CREATE INDEX ON bench_raw_vectors USING hnsw ((embedding::vector({dims})) "
                       f"vector_cosine_ops) WHERE embedding_dim = {dims}")
        pgvectors.ready_for_inserts()
        with Clock() as clock:
            for start in range(0, count, batch):
                rows = literals[start:start + batch]
                pgvectors.execute_binary("INSERT INTO bench_raw_vectors VALUES "
                                         + ", ".join(["(%s, %s::vector, %s)"] * len(rows)),
                                         [x for i, lit in enumerate(rows) for x in (start + i, lit, dims)])
        cursor.execute("DROP TABLE bench_raw_vectors")
    return clock


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument("--local", type=int, default=256, help="segments for the local-model comparison")
    args = parser.parse_args()
    schema = workspace_schema()
    with schema_context(schema):
        run("economy", 200)  # warm-up: imports, first queries, the HNSW index
        clock, count, _ = run("economy", args.segments)
        print(f"economy (no embedding):          {count / clock.wall:8.0f} segments/s  ({count} in {clock.wall:.2f}s;"
              f" {clock.per_item(count)})")
        clock, count, _ = run("high_quality", args.segments, InstantEmbedder())
        print(f"high_quality, instant embedder:  {count / clock.wall:8.0f} segments/s  ({count} in {clock.wall:.2f}s;"
              f" {clock.per_item(count)})   target >= 2000; completed and searchable")
        tail = pgvectors.tail_size()
        with Clock() as merge:
            merged = pgvectors.merge_tail(tail)
        print(f"  then merged into the HNSW graph: {merged / merge.wall:6.0f} vectors/s   ({merged} of {tail} in "
              f"{merge.wall:.2f}s; {merge.per_item(merged)})")
        clear()
        raw = raw_hnsw_inserts(count)
        print(f"bare HNSW inserts, same vectors: {count / raw.wall:8.0f} vectors/s   ({raw.per_item(count)})")
        merger = Merger(schema)
        clear()
        with Clock() as both:
            merger.start()
            _, count, _ = run("high_quality", args.segments, InstantEmbedder(), cleared=True)
            searchable = time.perf_counter() - both.wall
            merger.stop.set()
            merger.join()
        print(f"pipeline with a merger beside it: {count / searchable:7.0f} segments/s searchable, "
              f"{count / both.wall:.0f}/s all in the graph ({merger.merged} merged; {both.wall:.2f}s)")
        local = LocalEmbeddingModel()
        local.embed_sync(["warm up"] * 8)
        clock, count, contents = run("high_quality", args.local)
        seconds = clock.wall
        started = time.perf_counter()
        local.embed_sync(contents, batch_size=64)
        raw = time.perf_counter() - started
        print(f"high_quality, local model:       {count / seconds:8.0f} segments/s  ({count} in {seconds:.2f}s)")
        print(f"local model alone (embed_sync):  {count / raw:8.0f} segments/s  ratio {raw / seconds:.0%}"
              "   target >= 80%")
        clear()
        indexing.refresh_vector_usage()


if __name__ == "__main__":
    main()
