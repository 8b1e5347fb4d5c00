"""Per-workspace logs. For now: the workspace activity trail shown on the console home."""

from django.db import models


class ActivityEvent(models.Model):
    """One thing someone did in a workspace (invited a member, renamed the workspace, ...)."""

    # A plain id, not a foreign key: users live in the public schema, and a cross-schema FK would
    # make deleting a user (or flushing the public tables) depend on every workspace schema.
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.EmailField(blank=True)
    verb = models.CharField(max_length=64)
    target = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_email} {self.verb} {self.target}"
