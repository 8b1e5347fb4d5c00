"""HNSW indexes for the common embedding dimensions (apps/datasets/vectors.py explains the design)."""

from django.db import migrations

from apps.datasets.vectors import PRESET_DIMS, create_index_sql, drop_index_sql


class Migration(migrations.Migration):
    dependencies = [("datasets", "0001_initial")]

    operations = [
        migrations.RunSQL(create_index_sql(dim), reverse_sql=drop_index_sql(dim)) for dim in PRESET_DIMS
    ]
