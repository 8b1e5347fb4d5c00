"""HNSW indexes over a vector column of mixed dimensions.

pgvector's HNSW index needs a fixed dimension, while datasets of one workspace may use different
embedding models. Each dimension therefore gets a partial expression index:

    CREATE INDEX segment_hnsw_384 ON datasets_segment USING hnsw ((embedding::vector(384))
        vector_cosine_ops) WHERE embedding_dim = 384 AND vector_indexed

and nearest-neighbour queries repeat both the expression and the predicate (retrieval.semantic_query),
which is what lets the planner pick the index. Common dimensions are created by the migration; any
other dimension up to pgvector's HNSW limit (2,000) is created the first time a dataset uses it.
Larger vectors (e.g. 3,072) are searched exactly, without an index.

The tail. Adding a vector to an HNSW graph is the dearest step of indexing by far: ~1.5 ms of
Postgres CPU for 384 dimensions (pgvector 0.6.2, m 16, ef_construction 64), several times what the
rest of the pipeline spends on a segment (bench/indexing.py). So the pipeline writes vectors with
`vector_indexed` false: outside the graph, in a tail that a partial b-tree index (segment_vector_tail)
finds per dataset, and that searches scan exactly, next to the graph's approximate search, merging
both (retrieval.semantic_query). A document is complete and searchable as soon as its segments are
written. `merge_tail` then adds tail vectors to the graph in small transactions (the Celery task
merge_vectors, queued when a document completes and by the periodic recovery), so the tail stays
short and searches go back to the graph alone. Exact search over the tail finds the true nearest
neighbours, so recall only improves while vectors wait there. Segments written one at a time
(edits, added segments, re-embedding) join the graph at once.
"""

import struct
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from django.conf import settings
from django.db import connection, transaction
from psycopg.adapt import Dumper
from psycopg.pq import Format

HNSW_MAX_DIM = 2000
PRESET_DIMS = (384, 768, 1024, 1536)
# The candidate list HNSW keeps while searching. pgvector's default of 40 loses recall, the more so
# when other filters (dataset, enabled, metadata) drop rows after the index scan; bench/retrieval.py
# reports recall per value: on 100,000 clustered 384-dim vectors, recall@10 was 0.84 at 200, 0.96 at
# 400 and 1.00 at 800.
EF_SEARCH = settings.DATASET_HNSW_EF_SEARCH


def index_name(dim: int) -> str:
    return f"segment_hnsw_{int(dim)}"


def create_index_sql(dim: int) -> str:
    dim = int(dim)
    return (f"CREATE INDEX IF NOT EXISTS {index_name(dim)} ON datasets_segment USING hnsw "
            f"((embedding::vector({dim})) vector_cosine_ops) WHERE embedding_dim = {dim} AND vector_indexed")


def drop_index_sql(dim: int) -> str:
    return f"DROP INDEX IF EXISTS {index_name(int(dim))}"


def ensure_index(dim: int) -> bool:
    """Create the HNSW index for `dim` in the current schema if it is missing; False when the
    dimension is too large for HNSW (searched exactly instead)."""
    if dim > HNSW_MAX_DIM:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s",
                       [index_name(dim)])
        if cursor.fetchone() is None:
            # Inside a transaction with deferred foreign-key checks pending (segments just written),
            # Postgres refuses DDL on the table until they have run.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(create_index_sql(dim))
    return True


def vector_literal(vector: list[float]) -> str:
    """pgvector's text form, passed as a parameter and cast in SQL."""
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


class BinaryVector(bytes):
    """A vector in pgvector's binary wire format (`vector_recv`: int16 dimensions, int16 unused,
    big-endian float4s), sent as a binary parameter by `execute_binary`."""


class _BinaryVectorDumper(Dumper):
    """Sends a BinaryVector as it is, binary, with no type OID: the statement casts the parameter
    (`%s::vector`), which is how Postgres types it, so no per-connection lookup of pgvector's OID."""

    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return bytes(obj)


def binary(vector: Sequence[float] | np.ndarray) -> BinaryVector:
    """A vector for `execute_binary`. Writing 384 floats this way costs ~1/40 of formatting the
    text literal in Python, and the server skips parsing ~8 kB of decimal text per vector: on the
    indexing path that was ~15 % of the time per segment (bench/indexing.py)."""
    values = np.asarray(vector, dtype=">f4")
    return BinaryVector(struct.pack(">HH", len(values), 0) + values.tobytes())


def execute_binary(sql: str, params: Sequence[Any]) -> int:
    """Run one statement with server-side parameters (psycopg's plain Cursor, not Django's
    client-side one), so BinaryVector parameters travel binary instead of being quoted into the
    SQL text; returns the row count. Goes through a Django cursor first so that django-tenants has
    set the workspace's search_path on the connection, and runs in whatever transaction is open;
    errors come out as Django's database exceptions, as from any other query."""
    with connection.cursor() as wrapper, psycopg.Cursor(wrapper.cursor.connection) as cursor:
        cursor.adapters.register_dumper(BinaryVector, _BinaryVectorDumper)
        with connection.wrap_database_errors:
            cursor.execute(sql, params, prepare=False)
        return cursor.rowcount


def distance_sql(dim: int) -> str:
    """The cosine distance to a `%s` query vector, written the way the index is."""
    dim = int(dim)
    return f"(s.embedding::vector({dim}) <=> %s::vector({dim}))"


# Raw connections whose server process has had its malloc threshold raised (see ready_for_inserts).
_READY: "weakref.WeakSet[Any]" = weakref.WeakSet()
MALLOC_WARMUP_BYTES = 16 << 20


def ready_for_inserts() -> None:
    """Let this connection's Postgres process add vectors to HNSW graphs at full speed.

    Each graph insert builds a memory context whose blocks grow past glibc's initial mmap threshold
    (128 kB); freeing it unmaps them and the next insert maps and faults them in again: ~870 page
    faults a vector (bench/indexing.py measured 1.7 million for 2,000 vectors), which made inserts
    from a fresh connection 2.5x slower than from one that had already handled a large value. glibc
    raises the threshold for good once the process frees a larger mapped block, so one 16 MB value
    (palloc'd and freed by a single SELECT) per connection is enough; the result is remembered per
    connection."""
    connection.ensure_connection()
    raw = connection.connection
    if raw in _READY:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT length(repeat('x', %s))", [MALLOC_WARMUP_BYTES])
    _READY.add(raw)


def tail_size() -> int:
    """Vectors of the current workspace still waiting outside the HNSW graphs."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM datasets_segment WHERE embedding_dim IS NOT NULL AND NOT vector_indexed")
        return int(cursor.fetchone()[0])


def merge_tail(limit: int, batch: int = 256) -> int:
    """Add up to `limit` tail vectors to their HNSW graphs, `batch` rows a transaction; returns how
    many were added. Rows another session holds (a merge running beside this one, a document being
    rewritten) are skipped, not waited for. A transaction commits with synchronous_commit off: a
    database crash can only put its rows back in the tail, which the next merge takes again."""
    ready_for_inserts()
    merged = 0
    while merged < limit:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute(
                "UPDATE datasets_segment SET vector_indexed = true WHERE id IN (SELECT id FROM datasets_segment "
                "WHERE embedding_dim IS NOT NULL AND NOT vector_indexed LIMIT %s FOR UPDATE SKIP LOCKED)",
                [min(batch, limit - merged)])
            count = cursor.rowcount
        merged += count
        if count == 0:
            break
    return merged
