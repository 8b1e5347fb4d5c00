"""Operator commands: create_workspace, create_user, add_member, reset_password."""

import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_exists

from apps.workspaces.models import Membership, Workspace
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_create_workspace_prints_the_slug_and_builds_the_schema() -> None:
    slug = _run("create_workspace", "--name", "Ops Team", "--owner", "ops@cmd.test", "--password", PASSWORD)
    workspace = Workspace.objects.get(slug=slug)
    assert slug == "ops-team"
    assert workspace.is_ready and schema_exists(workspace.schema_name)
    assert Membership.objects.get(workspace=workspace).user.email == "ops@cmd.test"
    assert authenticate(email="ops@cmd.test", password=PASSWORD) is not None


def test_create_workspace_slugs_are_unique() -> None:
    first = _run("create_workspace", "--name", "Same", "--owner", "s1@cmd.test", "--password", PASSWORD)
    second = _run("create_workspace", "--name", "Same", "--owner", "s1@cmd.test")
    assert first == "same" and second.startswith("same-") and second != first


def test_create_user_and_add_member() -> None:
    slug = _run("create_workspace", "--name", "Crew", "--owner", "boss@cmd.test", "--password", PASSWORD)
    assert _run("create_user", "--email", "mate@cmd.test", "--password", PASSWORD) == "mate@cmd.test"
    assert _run("add_member", "--workspace", slug, "--email", "mate@cmd.test", "--role", "editor") == (
        f"mate@cmd.test is editor in {slug}"
    )
    assert Membership.objects.get(user__email="mate@cmd.test").role == "editor"


def test_add_member_reports_unknowns() -> None:
    with pytest.raises(CommandError, match="no workspace"):
        _run("add_member", "--workspace", "nope", "--email", "x@cmd.test", "--role", "normal")


def test_create_user_staff_can_use_admin(client) -> None:  # type: ignore[no-untyped-def]
    _run("create_user", "--email", "staff@cmd.test", "--password", PASSWORD, "--staff")
    client.force_login(get_user_model().objects.get(email="staff@cmd.test"))
    assert client.get("/admin/workspaces/workspace/?q=x").status_code == 200
    assert client.get("/admin/workspaces/membership/?role=owner").status_code == 200
    assert client.get("/admin/workspaces/invitation/?status=pending&q=a").status_code == 200
    assert client.get("/admin/accounts/user/?q=staff").status_code == 200


def test_admin_is_for_staff_only(world, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(world.owner.user)
    assert client.get("/admin/workspaces/workspace/").status_code == 302


def test_reset_password_command() -> None:
    _run("create_user", "--email", "forgot@cmd.test", "--password", PASSWORD)
    _run("reset_password", "--email", "forgot@cmd.test", "--password", "Another-Good-One-9")
    assert authenticate(email="forgot@cmd.test", password="Another-Good-One-9") is not None
    with pytest.raises(CommandError):
        _run("reset_password", "--email", "forgot@cmd.test", "--password", "123")
