"""Writes for workspaces, members and invitations. Views, commands and tasks call these."""

import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.logs import services as activity
from apps.workspaces import provisioning, roles, tasks
from apps.workspaces.models import Domain, Invitation, Membership, Workspace
from apps.workspaces.roles import Role

User = get_user_model()

INVITE_SALT = "tessera.invitation"
RESERVED_SLUGS = {"public", "new", "admin", "api", "static", "www", "console", "tenant-template"}


def _unique_slug(name: str) -> str:
    base = slugify(name)[:40].strip("-") or "workspace"
    if base in RESERVED_SLUGS:
        base = f"{base}-ws"
    slug = base
    while Workspace.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def _schema_for(slug: str) -> str:
    # Postgres identifiers: lowercase letters, digits and underscores; "ws_" keeps clear of pg_*.
    return "ws_" + re.sub(r"[^a-z0-9_]", "_", slug)


@transaction.atomic
def workspace_create(*, name: str, owner: "User", provision: str = "now") -> Workspace:  # type: ignore[valid-type]
    """Create a workspace owned by `owner`.

    provision="now" builds the schema before returning (commands, /install, tests);
    provision="async" leaves the workspace PROVISIONING and builds it in a Celery task once this
    transaction commits (sign-up and "new workspace", where the request must not wait).
    """
    name = name.strip()
    if not name:
        raise ValidationError(_("A workspace needs a name."))
    slug = _unique_slug(name)
    workspace = Workspace.objects.create(name=name, slug=slug, schema_name=_schema_for(slug))
    Domain.objects.create(domain=f"{slug}.localhost", tenant=workspace, is_primary=True)
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    owner.last_workspace = workspace
    owner.save(update_fields=["last_workspace"])
    if provision == "now":
        provisioning.provision_schema(workspace=workspace)
        activity.record(workspace=workspace, actor=owner, verb="workspace.created", target=name)
    else:
        tasks.provision_workspace.delay_on_commit(workspace_id=workspace.pk, actor_id=owner.pk)
    return workspace


def workspace_rename(*, workspace: Workspace, name: str, actor: "User") -> Workspace:  # type: ignore[valid-type]
    """Rename a workspace; the slug (and so its URLs) stays."""
    name = name.strip()
    if not name:
        raise ValidationError(_("A workspace needs a name."))
    old = workspace.name
    workspace.name = name
    workspace.save(update_fields=["name"])
    activity.record(workspace=workspace, actor=actor, verb="workspace.renamed", target=f"{old} → {name}")
    return workspace


def member_add(*, workspace: Workspace, user: "User", role: str) -> Membership:  # type: ignore[valid-type]
    """Add `user` to the workspace (or change their role if already a member)."""
    if role not in Role.values:
        raise ValidationError(_("Unknown role: %(role)s") % {"role": role})
    membership, created = Membership.objects.get_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def member_change_role(*, actor: Membership, target: Membership, role: str) -> Membership:
    """Change another member's role, within what the actor's own role allows."""
    if actor.pk == target.pk or not roles.can_assign(actor.role, target.role, role):
        raise PermissionDenied(_("You cannot give this member that role."))
    old = target.role
    target.role = role
    target.save(update_fields=["role"])
    activity.record(
        workspace=actor.workspace, actor=actor.user, verb="member.role_changed",
        target=f"{target.user.email}: {old} → {role}",
    )
    return target


def member_remove(*, actor: Membership, target: Membership) -> None:
    """Remove a member ranked below the actor."""
    if actor.pk == target.pk or not roles.can_remove(actor.role, target.role):
        raise PermissionDenied(_("You cannot remove this member."))
    email = target.user.email
    target.delete()
    activity.record(workspace=actor.workspace, actor=actor.user, verb="member.removed", target=email)


# --- Invitations -----------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(str(invitation.pk), salt=INVITE_SALT)


def invitation_url(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("invitation_accept", kwargs={"token": invitation_token(invitation)})


def invitation_from_token(token: str) -> Invitation | None:
    try:
        pk = signing.loads(token, salt=INVITE_SALT)
    except signing.BadSignature:
        return None
    return Invitation.objects.select_related("workspace", "invited_by").filter(pk=pk).first()


@dataclass(frozen=True)
class InviteResult:
    invitation: Invitation
    url: str


@transaction.atomic
def invitation_create(*, actor: Membership, email: str, role: str) -> InviteResult:
    """Invite `email` with `role`; the mail goes out through the `mail` queue after commit."""
    email = email.strip().lower()
    if role not in roles.assignable_roles(actor.role):
        raise PermissionDenied(_("You cannot invite someone with that role."))
    workspace = actor.workspace
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise ValidationError(_("%(email)s is already a member of this workspace.") % {"email": email})
    # A new invitation replaces any pending one for the same address.
    Invitation.objects.filter(workspace=workspace, email__iexact=email, status=Invitation.Status.PENDING).update(
        status=Invitation.Status.REVOKED
    )
    invitation = Invitation.objects.create(workspace=workspace, email=email, role=role, invited_by=actor.user)
    tasks.send_invitation_email.delay_on_commit(invitation_id=str(invitation.pk))
    activity.record(workspace=workspace, actor=actor.user, verb="member.invited", target=f"{email} ({role})")
    return InviteResult(invitation=invitation, url=invitation_url(invitation))


def invitation_revoke(*, actor: Membership, invitation: Invitation) -> None:
    if invitation.workspace_id != actor.workspace_id or not roles.has_perm(actor.role, roles.Perm.MEMBERS_MANAGE):
        raise PermissionDenied(_("You cannot revoke this invitation."))
    invitation.status = Invitation.Status.REVOKED
    invitation.save(update_fields=["status"])


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: "User") -> Membership:  # type: ignore[valid-type]
    """Join the invitation's workspace as `user` (whose email must match the invitation)."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_usable:
        raise ValidationError(_("This invitation has expired or is no longer valid."))
    if user.email.lower() != invitation.email.lower():
        raise PermissionDenied(_("This invitation was sent to another email address."))
    try:
        membership = member_add(workspace=invitation.workspace, user=user, role=invitation.role)
    except IntegrityError:  # joined through another path meanwhile
        membership = Membership.objects.get(workspace=invitation.workspace, user=user)
    invitation.status = Invitation.Status.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["status", "accepted_at"])
    user.last_workspace = invitation.workspace
    user.save(update_fields=["last_workspace"])
    activity.record(workspace=invitation.workspace, actor=user, verb="member.joined", target=user.email)
    return membership


def invitations_expire() -> int:
    """Mark pending invitations past their expiry as expired; returns how many."""
    return Invitation.objects.filter(status=Invitation.Status.PENDING, expires_at__lte=timezone.now()).update(
        status=Invitation.Status.EXPIRED
    )


def user_create(*, email: str, password: str | None, name: str = "", is_staff: bool = False) -> "User":  # type: ignore[valid-type]
    """Create a console user (staff users can open /admin/)."""
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(_("A user with this email already exists."))
    if is_staff:
        return User.objects.create_superuser(email=email, password=password, name=name)
    return User.objects.create_user(email=email, password=password, name=name)
