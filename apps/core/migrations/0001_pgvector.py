"""pgvector lives in the public schema; tenant schemas see it through their search path."""

from django.db import migrations
from django_tenants.utils import get_public_schema_name


def create_extension(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.schema_name == get_public_schema_name():
        from apps.core.checks import ensure_pgvector

        ensure_pgvector()
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public")


class Migration(migrations.Migration):
    dependencies: list = []
    operations = [migrations.RunPython(create_extension, migrations.RunPython.noop)]
