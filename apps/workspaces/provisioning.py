"""Creating a workspace's Postgres schema.

A new schema is a copy of the `tenant_template` schema (django-tenants' clone_schema), which
`migrate_schemas` keeps up to date like any tenant. Cloning copies the tables in one SQL call and
fakes the migration records, which is much faster than replaying every tenant migration.
"""

import logging
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_exists

from apps.workspaces.models import Workspace

logger = logging.getLogger(__name__)


def ensure_template_schema() -> None:
    """Create and migrate the template schema that new workspaces are cloned from."""
    from django.core.management import call_command

    name = settings.TENANT_BASE_SCHEMA
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{name}"')
    call_command("migrate_schemas", schema_name=name, tenant=True, interactive=False, verbosity=0)


_expected_migrations: set[tuple[str, str]] | None = None


def template_is_current() -> bool:
    """Whether the template has every migration this code knows. Cloning fakes all migration
    records, so a clone of a template that missed a new migration would lack its tables forever
    (a workspace created between deploying new code and running migrate)."""
    global _expected_migrations
    if _expected_migrations is None:
        from django.db.migrations.loader import MigrationLoader

        _expected_migrations = set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{settings.TENANT_BASE_SCHEMA}".django_migrations')
        applied = set(cursor.fetchall())
    return _expected_migrations <= applied


def provision_schema(*, workspace: Workspace) -> Workspace:
    """Create (or finish creating) the workspace's schema and mark it ready. Idempotent."""
    if workspace.is_ready and schema_exists(workspace.schema_name):
        return workspace
    started = time.perf_counter()
    if not schema_exists(settings.TENANT_BASE_SCHEMA) or not template_is_current():
        ensure_template_schema()
    connection.set_schema_to_public()
    if schema_exists(workspace.schema_name):
        # Left by an interrupted attempt (or a dropped row): bring it up to date instead.
        from django.core.management import call_command

        call_command("migrate_schemas", schema_name=workspace.schema_name, tenant=True, interactive=False,
                     verbosity=0)
    else:
        workspace.create_schema(verbosity=0)
    elapsed = time.perf_counter() - started
    Workspace.objects.filter(pk=workspace.pk).update(
        status=Workspace.Status.READY, provisioned_at=timezone.now(), provisioning_seconds=elapsed
    )
    workspace.refresh_from_db()
    logger.info("workspace %s provisioned in %.3fs", workspace.slug, elapsed)
    return workspace
