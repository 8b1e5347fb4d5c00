"""The vector tail (apps/datasets/vectors.py): `vector_indexed`, the tail's partial index, and the
HNSW indexes rebuilt with the `AND vector_indexed` condition. Vectors stored before this migration are
already in their graphs, so they are marked indexed; the old indexes are dropped first, so that
marking them does not add every vector to the graph a second time, and each index is then built in
bulk."""

import re

from django.db import migrations, models

OLD_INDEX = re.compile(r"^segment_hnsw_(\d+)$")


def create_index_sql(dim: int) -> str:
    return (f"CREATE INDEX IF NOT EXISTS segment_hnsw_{dim} ON datasets_segment USING hnsw "
            f"((embedding::vector({dim})) vector_cosine_ops) WHERE embedding_dim = {dim} AND vector_indexed")


def drop_index_sql(dim: int) -> str:
    return f"DROP INDEX IF EXISTS segment_hnsw_{dim}"


def _existing_dims(schema_editor) -> list[int]:  # type: ignore[no-untyped-def]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                       "AND tablename = 'datasets_segment'")
        return sorted(int(m.group(1)) for (name,) in cursor.fetchall() if (m := OLD_INDEX.match(name)))


def rebuild(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    dims = _existing_dims(schema_editor)
    with schema_editor.connection.cursor() as cursor:
        for dim in dims:
            cursor.execute(drop_index_sql(dim))
        cursor.execute("UPDATE datasets_segment SET vector_indexed = true WHERE embedding_dim IS NOT NULL")
        for dim in dims:
            cursor.execute(create_index_sql(dim))


def restore(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    with schema_editor.connection.cursor() as cursor:
        for dim in _existing_dims(schema_editor):
            cursor.execute(drop_index_sql(dim))
            cursor.execute(f"CREATE INDEX segment_hnsw_{dim} ON datasets_segment USING hnsw "
                           f"((embedding::vector({dim})) vector_cosine_ops) WHERE embedding_dim = {dim}")


class Migration(migrations.Migration):

    dependencies = [
        ("datasets", "0004_notion"),
    ]

    operations = [
        migrations.AddField(
            model_name="segment",
            name="vector_indexed",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(rebuild, restore),
        migrations.AddIndex(
            model_name="segment",
            index=models.Index(condition=models.Q(("embedding_dim__isnull", False), ("vector_indexed", False)),
                               fields=["dataset"], name="segment_vector_tail"),
        ),
    ]
