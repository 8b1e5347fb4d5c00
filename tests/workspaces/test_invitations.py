"""Invitations: create, mail on the mail queue, accept with a new or existing account, expiry."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.logs.models import ActivityEvent
from apps.workspaces import services, tasks
from apps.workspaces.models import Invitation, Membership
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


def _invite(world, email="new@alpha.test", role="editor", capture=None):  # type: ignore[no-untyped-def]
    return services.invitation_create(actor=world.owner, email=email, role=role)


def test_invite_mails_a_link_after_commit(world, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        result = _invite(world)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@alpha.test"]
    assert "Alpha" in message.subject
    assert result.url in message.body
    assert "72 hours" in message.body
    result.invitation.refresh_from_db()
    assert result.invitation.email_sent_at is not None


def test_default_expiry_is_invite_expiry_hours(world, settings) -> None:  # type: ignore[no-untyped-def]
    invitation = _invite(world).invitation
    assert abs((invitation.expires_at - invitation.created_at) - timedelta(hours=72)) < timedelta(seconds=5)


def test_new_user_accepts_sets_password_and_lands_in_the_workspace(world, client) -> None:  # type: ignore[no-untyped-def]
    result = _invite(world, role="editor")
    page = client.get(result.url)
    assert page.status_code == 200
    assert b"Alpha" in page.content
    response = client.post(result.url, {"name": "Nia", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/console/alpha/"
    membership = Membership.objects.get(workspace=world.alpha, user__email="new@alpha.test")
    assert membership.role == "editor"
    assert client.get("/console/alpha/").status_code == 200
    result.invitation.refresh_from_db()
    assert result.invitation.status == Invitation.Status.ACCEPTED
    # The link works once.
    assert client.post(result.url, {"password1": PASSWORD, "password2": PASSWORD}).status_code == 410


def test_existing_user_is_asked_to_sign_in_then_joins(world) -> None:  # type: ignore[no-untyped-def]
    result = _invite(world, email=world.other.user.email, role="normal")
    anonymous = client_for(world.outsider)
    anonymous.logout()
    response = anonymous.get(result.url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    bruno = client_for(world.other.user)
    assert bruno.post(result.url).status_code == 302
    assert Membership.objects.get(workspace=world.alpha, user=world.other.user).role == "normal"


def test_someone_else_cannot_use_the_link(world) -> None:  # type: ignore[no-untyped-def]
    result = _invite(world, email="someone@alpha.test")
    response = client_for(world.outsider).post(result.url)
    assert response.status_code == 403
    assert not Membership.objects.filter(workspace=world.alpha, user=world.outsider).exists()


def test_expired_link_is_refused(world, client) -> None:  # type: ignore[no-untyped-def]
    result = _invite(world)
    Invitation.objects.filter(pk=result.invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(result.url, {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 410
    assert not Membership.objects.filter(user__email="new@alpha.test").exists()


def test_link_valid_until_just_before_expiry(world, client, settings) -> None:  # type: ignore[no-untyped-def]
    result = _invite(world)
    Invitation.objects.filter(pk=result.invitation.pk).update(expires_at=timezone.now() + timedelta(minutes=1))
    assert client.get(result.url).status_code == 200


def test_beat_task_marks_overdue_invitations_expired(world) -> None:  # type: ignore[no-untyped-def]
    old = _invite(world, email="old@alpha.test").invitation
    fresh = _invite(world, email="fresh@alpha.test").invitation
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    assert tasks.expire_invitations.delay().get() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == (Invitation.Status.EXPIRED, Invitation.Status.PENDING)


def test_tampered_or_unknown_token_is_404(world, client) -> None:  # type: ignore[no-untyped-def]
    result = _invite(world)
    assert client.get(result.url[:-3] + "xyz/").status_code == 404
    assert client.get("/invite/not-a-token/").status_code == 404


def test_revoked_invitation_cannot_be_used(world, client) -> None:  # type: ignore[no-untyped-def]
    result = _invite(world)
    services.invitation_revoke(actor=world.admin, invitation=result.invitation)
    assert client.get(result.url).status_code == 410


def test_reinviting_replaces_the_pending_invitation(world) -> None:  # type: ignore[no-untyped-def]
    first = _invite(world).invitation
    second = _invite(world).invitation
    first.refresh_from_db()
    assert first.status == Invitation.Status.REVOKED
    assert second.status == Invitation.Status.PENDING


def test_invite_is_recorded_in_the_workspace_activity(world) -> None:  # type: ignore[no-untyped-def]
    _invite(world, email="trail@alpha.test")
    from django_tenants.utils import schema_context

    with schema_context(world.alpha.schema_name):
        assert ActivityEvent.objects.filter(verb="member.invited", target__startswith="trail@alpha.test").exists()
    with schema_context(world.beta.schema_name):
        assert not ActivityEvent.objects.filter(target__startswith="trail@alpha.test").exists()
