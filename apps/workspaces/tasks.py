"""Celery tasks for workspaces: provisioning, invitation mail, housekeeping."""

import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation
from tenant_schemas_celery.task import TenantTask

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask, acks_late=True, name="apps.workspaces.tasks.provision_workspace")
def provision_workspace(workspace_id: int, actor_id: int | None = None) -> str:
    """Build a new workspace's schema (idempotent: a second delivery finds it ready)."""
    from apps.logs import services as activity
    from apps.workspaces import provisioning
    from apps.workspaces.models import Workspace

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return "gone"
    was_ready = workspace.is_ready
    try:
        provisioning.provision_schema(workspace=workspace)
    except Exception:
        Workspace.objects.filter(pk=workspace_id).update(status=Workspace.Status.FAILED)
        logger.exception("provisioning workspace %s failed", workspace.slug)
        raise
    if not was_ready:
        actor = get_user_model().objects.filter(pk=actor_id).first()
        activity.record(workspace=workspace, actor=actor, verb="workspace.created", target=workspace.name)
    return workspace.schema_name


@shared_task(base=TenantTask, acks_late=True, name="apps.workspaces.tasks.send_invitation_email")
def send_invitation_email(invitation_id: str) -> bool:
    """Mail an invitation link. Runs on the `mail` queue; a revoked or used invitation sends nothing."""
    from apps.logs import services as activity
    from apps.workspaces import services
    from apps.workspaces.models import Invitation

    invitation = Invitation.objects.select_related("workspace", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or not invitation.is_usable:
        return False
    inviter = invitation.invited_by
    language = (inviter.language if inviter else "") or settings.LANGUAGE_CODE
    context = {
        "invitation": invitation,
        "url": services.invitation_url(invitation),
        "inviter": inviter.display_name if inviter else "Tessera",
        "expiry_hours": settings.INVITE_EXPIRY_HOURS,
    }
    with translation.override(language):
        subject = render_to_string("workspaces/email/invitation_subject.txt", context).strip()
        body = render_to_string("workspaces/email/invitation_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
    Invitation.objects.filter(pk=invitation.pk).update(email_sent_at=timezone.now())
    activity.record(workspace=invitation.workspace, actor=None, verb="invitation.sent", target=invitation.email)
    return True


@shared_task(name="apps.workspaces.tasks.expire_invitations")
def expire_invitations() -> int:
    """Periodic (beat): mark overdue invitations expired."""
    from apps.workspaces import services

    return services.invitations_expire()
