"""First-run /install (once only) and sign-up, which creates a workspace with its own schema."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_exists

from apps.workspaces.models import Membership, Workspace
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()

INSTALL = {"email": "root@example.test", "name": "Root", "password1": PASSWORD, "password2": PASSWORD,
           "workspace_name": "First Team"}


def test_install_creates_the_admin_and_workspace_once(client) -> None:  # type: ignore[no-untyped-def]
    assert not User.objects.exists()
    assert b"<form" in client.get("/install").content
    response = client.post("/install", INSTALL)
    workspace = Workspace.objects.get(name="First Team")
    assert response["Location"] == f"/console/{workspace.slug}/"
    admin = User.objects.get(email="root@example.test")
    assert admin.is_staff and admin.is_superuser
    assert Membership.objects.get(workspace=workspace, user=admin).role == "owner"
    assert schema_exists(workspace.schema_name)
    # The admin can sign in with email and password.
    client.logout()
    assert client.post("/accounts/login/", {"login": "root@example.test", "password": PASSWORD}).status_code == 302
    # Never again: the form is gone and a second POST creates nothing.
    second = client.post("/install", {**INSTALL, "email": "evil@example.test", "workspace_name": "Evil"})
    assert second.status_code == 200
    assert b"<form" not in second.content or b"already" in second.content
    assert not User.objects.filter(email="evil@example.test").exists()
    assert not Workspace.objects.filter(name="Evil").exists()


def test_install_is_closed_once_any_user_exists(world, client) -> None:  # type: ignore[no-untyped-def]
    client.post("/install", INSTALL)
    assert not User.objects.filter(email="root@example.test").exists()


def test_install_validates_passwords(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/install", {**INSTALL, "password2": "different-1234"})
    assert response.status_code == 200
    assert not User.objects.exists()


def test_signup_creates_a_workspace_schema(world, client, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/signup/", {
            "name": "Sam", "email": "sam@signup.test", "workspace_name": "Sam's Studio",
            "password1": PASSWORD, "password2": PASSWORD,
        })
    assert response.status_code == 302
    user = User.objects.get(email="sam@signup.test")
    workspace = Membership.objects.get(user=user, role="owner").workspace
    assert workspace.name == "Sam's Studio"
    assert workspace.status == Workspace.Status.READY
    assert workspace.provisioning_seconds is not None
    assert schema_exists(workspace.schema_name)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [workspace.schema_name, "logs_activityevent"],
        )
        assert cursor.fetchone()[0] == 1
    follow = client.get(response["Location"], follow=True)
    assert follow.status_code == 200
    assert "Sam&#x27;s Studio" in follow.content.decode() or "Sam's Studio" in follow.content.decode()


def test_signup_can_be_closed(world, client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SIGNUP_ENABLED = False
    client.post("/accounts/signup/", {"email": "x@signup.test", "workspace_name": "X",
                                      "password1": PASSWORD, "password2": PASSWORD})
    assert not User.objects.filter(email="x@signup.test").exists()
