from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WorkspacesConfig(AppConfig):
    name = "apps.workspaces"
    label = "workspaces"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        # Framework plumbing, not a business flow: keep the clone template in step with the
        # tenant migrations whenever the public schema is migrated.
        post_migrate.connect(_refresh_template_schema, sender=self, dispatch_uid="tessera.template_schema")
        from apps.core.hotcache import clear_on_change
        from apps.workspaces import models

        # Key routes and workspaces feed the Service API's per-process cache.
        clear_on_change(models.Workspace, models.ApiKeyRoute)


_refreshing = False


def _refresh_template_schema(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    global _refreshing
    from django.db import connections
    from django_tenants.utils import get_public_schema_name

    if _refreshing or connections[using].schema_name != get_public_schema_name():
        return
    from apps.workspaces.provisioning import ensure_template_schema

    _refreshing = True
    try:
        ensure_template_schema()
    finally:
        _refreshing = False
