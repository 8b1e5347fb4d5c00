"""HNSW indexes over a vector column of mixed dimensions.

pgvector's HNSW index needs a fixed dimension, while datasets of one workspace may use different
embedding models. Each dimension therefore gets a partial expression index:

    CREATE INDEX segment_hnsw_384 ON datasets_segment
        USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE embedding_dim = 384

and nearest-neighbour queries repeat both the expression and the predicate (`nearest_sql`), which is
what lets the planner pick the index. Common dimensions are created by the migration; any other
dimension up to pgvector's HNSW limit (2,000) is created the first time a dataset uses it. Larger
vectors (e.g. 3,072) are searched exactly, without an index.
"""

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from django.conf import settings
from django.db import connection
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
            f"((embedding::vector({dim})) vector_cosine_ops) WHERE embedding_dim = {dim}")


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
