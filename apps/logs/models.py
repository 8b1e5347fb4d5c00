"""Per-workspace logs. For now: the workspace activity trail shown on the console home."""

from django.conf import settings
from django.db import models


class ActivityEvent(models.Model):
    """One thing someone did in a workspace (invited a member, renamed the workspace, ...)."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_email = models.EmailField(blank=True)
    verb = models.CharField(max_length=64)
    target = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_email} {self.verb} {self.target}"
