"""Writes to the per-workspace logs."""

from typing import TYPE_CHECKING, Any

from django_tenants.utils import schema_context

from apps.logs.models import ActivityEvent

if TYPE_CHECKING:
    from apps.workspaces.models import Workspace


def record(*, workspace: "Workspace", actor: Any, verb: str, target: str = "") -> ActivityEvent:
    """Append an event to the workspace's activity trail, whatever schema is active now."""
    with schema_context(workspace.schema_name):
        return ActivityEvent.objects.create(
            actor_id=getattr(actor, "pk", None),
            actor_email=getattr(actor, "email", "") or "",
            verb=verb,
            target=target[:255],
        )
