"""Resolving a workspace from a credential, via the public routing indexes.

Service API keys, dataset keys and WebApp site codes are looked up here. Resolution says which
workspace a request belongs to; it authorizes nothing by itself.
"""

from dataclasses import dataclass
from uuid import UUID

from django.db import connection

from apps.workspaces.models import ApiKeyRoute, Membership, SiteRoute, Workspace, hash_secret


@dataclass(frozen=True)
class Route:
    workspace: Workspace
    app_id: UUID | None


def route_for_api_key(raw_key: str, *, kind: str) -> Route | None:
    """`Bearer app-…` or `dataset-…` → workspace (+ app). Keys are compared by their SHA-256."""
    connection.set_schema_to_public()
    row = (
        ApiKeyRoute.objects.select_related("workspace")
        .filter(key_hash=hash_secret(raw_key), kind=kind, workspace__status=Workspace.Status.READY)
        .first()
    )
    return Route(row.workspace, row.app_id) if row else None


def route_for_site(code: str) -> Route | None:
    """A WebApp / widget site code → workspace + app."""
    connection.set_schema_to_public()
    row = (
        SiteRoute.objects.select_related("workspace")
        .filter(code=code, workspace__status=Workspace.Status.READY)
        .first()
    )
    return Route(row.workspace, row.app_id) if row else None


def membership_for(*, slug: str, user_id: int | None) -> Membership | None:
    """The user's membership in the workspace `slug`, or None (also for anonymous users)."""
    if not user_id:
        return None
    connection.set_schema_to_public()
    return (
        Membership.objects.select_related("workspace", "user")
        .filter(workspace__slug=slug, user_id=user_id, workspace__status=Workspace.Status.READY)
        .first()
    )
