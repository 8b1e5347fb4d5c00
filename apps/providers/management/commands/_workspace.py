"""Shared by the providers' commands: find a workspace by slug."""

from django.core.management.base import CommandError

from apps.workspaces.models import Workspace


def workspace_by_slug(slug: str) -> Workspace:
    workspace = Workspace.objects.filter(slug=slug, status=Workspace.Status.READY).first()
    if workspace is None:
        raise CommandError(f"no ready workspace with slug {slug!r}")
    return workspace
