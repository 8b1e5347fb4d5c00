"""Shared by the apps' commands: find an app and its workspace."""

import uuid

from django.core.management.base import CommandError
from django_tenants.utils import schema_context

from apps.applications.models import App
from apps.providers.management.commands._workspace import workspace_by_slug
from apps.workspaces.models import Workspace


def app_and_workspace(app_id: str, slug: str | None) -> tuple[App, Workspace]:
    """The app with this id, in the workspace `slug` or, without one, in whichever ready workspace has it."""
    try:
        pk = uuid.UUID(app_id)
    except ValueError:
        raise CommandError(f"{app_id!r} is not an app id (a UUID)") from None
    candidates = ([workspace_by_slug(slug)] if slug else
                  list(Workspace.objects.filter(status=Workspace.Status.READY).order_by("slug")))
    for workspace in candidates:
        with schema_context(workspace.schema_name):
            app = App.objects.filter(pk=pk).first()
        if app is not None:
            return app, workspace
    where = f"workspace {slug!r}" if slug else "any ready workspace"
    raise CommandError(f"no app {app_id} in {where}")
