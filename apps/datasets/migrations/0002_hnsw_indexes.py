"""HNSW indexes for the common embedding dimensions (apps/datasets/vectors.py explains the design)."""

from django.db import migrations

PRESET_DIMS = (384, 768, 1024, 1536)


def create_index_sql(dim: int) -> str:
    """The index as it was first made (0005 adds the `vector_indexed` condition)."""
    return (f"CREATE INDEX IF NOT EXISTS segment_hnsw_{dim} ON datasets_segment USING hnsw "
            f"((embedding::vector({dim})) vector_cosine_ops) WHERE embedding_dim = {dim}")


def drop_index_sql(dim: int) -> str:
    return f"DROP INDEX IF EXISTS segment_hnsw_{dim}"


class Migration(migrations.Migration):
    dependencies = [("datasets", "0001_initial")]

    operations = [
        migrations.RunSQL(create_index_sql(dim), reverse_sql=drop_index_sql(dim)) for dim in PRESET_DIMS
    ]
