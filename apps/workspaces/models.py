"""Workspaces (tenants), their members and invitations, and the public routing indexes.

Everything here lives in the public schema. Each workspace's own data lives in its Postgres schema.
"""

import hashlib
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from apps.workspaces.roles import Role


class Workspace(TenantMixin):
    """A team's workspace: the tenant and billing boundary, one Postgres schema."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", _("Preparing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=63, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROVISIONING)
    created_at = models.DateTimeField(auto_now_add=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)
    provisioning_seconds = models.FloatField(null=True, blank=True)

    # Schemas are created by apps.workspaces.provisioning, never implicitly on save().
    auto_create_schema = False
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY


class Domain(DomainMixin):
    """Host name of a workspace, as django-tenants needs it. The console itself is routed by path."""


class Membership(models.Model):
    """A user's role in one workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.NORMAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="uniq_membership")]
        ordering = ["workspace", "created_at"]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


def _default_invite_expiry() -> "timezone.datetime":
    return timezone.now() + timedelta(hours=settings.INVITE_EXPIRY_HOURS)


class Invitation(models.Model):
    """An email invitation into a workspace; its link is a signed token of the row's id."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.NORMAL)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_default_invite_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "status"])]

    def __str__(self) -> str:
        return f"{self.email} → {self.workspace}"

    @property
    def is_expired(self) -> bool:
        return self.status == self.Status.EXPIRED or (
            self.status == self.Status.PENDING and timezone.now() >= self.expires_at
        )

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.PENDING and not self.is_expired


def hash_secret(raw: str) -> str:
    """SHA-256 hex digest: keys are stored and looked up by hash, never in clear."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyRoute(models.Model):
    """Routing index: the hash of an API key → its workspace (and app). Filled by the apps issues."""

    class Kind(models.TextChoices):
        APP = "app", "app"
        DATASET = "dataset", "dataset"
        MCP = "mcp", "mcp"  # an app's MCP server key (apps/tools/mcp_server.py)

    key_hash = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_key_routes")
    app_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} key of {self.workspace}"


class SiteRoute(models.Model):
    """Routing index: a WebApp / widget site code → its workspace and app."""

    code = models.CharField(max_length=32, unique=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="site_routes")
    app_id = models.UUIDField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"site {self.code} of {self.workspace}"
