"""The permission matrix and the member-management rules."""

import re
from pathlib import Path

import pytest

from apps.workspaces import roles
from apps.workspaces.roles import Perm, Role


def test_owner_has_every_permission_and_normal_only_viewing() -> None:
    assert all(roles.has_perm(Role.OWNER, p) for p in Perm.values)
    assert {p for p in Perm.values if roles.has_perm(Role.NORMAL, p)} == {Perm.WORKSPACE_VIEW, Perm.MEMBERS_VIEW}


def test_admin_lacks_only_billing() -> None:
    assert {p for p in Perm.values if not roles.has_perm(Role.ADMIN, p)} == {Perm.BILLING_MANAGE}


def test_editor_builds_but_does_not_manage() -> None:
    assert roles.has_perm(Role.EDITOR, Perm.APPS_EDIT)
    assert not roles.has_perm(Role.EDITOR, Perm.MEMBERS_MANAGE)
    assert not roles.has_perm(Role.EDITOR, Perm.PROVIDERS_MANAGE)
    assert not roles.has_perm(Role.EDITOR, Perm.WORKSPACE_SETTINGS)


def test_non_members_and_unknown_roles_get_nothing() -> None:
    assert not roles.has_perm(None, Perm.WORKSPACE_VIEW)
    assert not roles.has_perm("superhero", Perm.WORKSPACE_VIEW)


@pytest.mark.parametrize(
    ("actor", "target", "new", "allowed"),
    [
        (Role.OWNER, Role.ADMIN, Role.EDITOR, True),
        (Role.OWNER, Role.NORMAL, Role.ADMIN, True),
        (Role.OWNER, Role.ADMIN, Role.OWNER, False),  # the owner role is never handed out here
        (Role.ADMIN, Role.EDITOR, Role.NORMAL, True),
        (Role.ADMIN, Role.NORMAL, Role.EDITOR, True),
        (Role.ADMIN, Role.NORMAL, Role.ADMIN, False),  # not up to one's own rank
        (Role.ADMIN, Role.ADMIN, Role.NORMAL, False),  # not one's peers
        (Role.ADMIN, Role.OWNER, Role.NORMAL, False),
        (Role.EDITOR, Role.NORMAL, Role.NORMAL, False),
        (Role.NORMAL, Role.NORMAL, Role.NORMAL, False),
    ],
)
def test_can_assign(actor: str, target: str, new: str, allowed: bool) -> None:
    assert roles.can_assign(actor, target, new) is allowed


def test_can_remove_only_lower_ranks() -> None:
    assert roles.can_remove(Role.OWNER, Role.ADMIN)
    assert roles.can_remove(Role.ADMIN, Role.EDITOR)
    assert not roles.can_remove(Role.ADMIN, Role.ADMIN)
    assert not roles.can_remove(Role.ADMIN, Role.OWNER)
    assert not roles.can_remove(Role.EDITOR, Role.NORMAL)


def test_assignable_roles() -> None:
    assert roles.assignable_roles(Role.OWNER) == [Role.ADMIN, Role.EDITOR, Role.NORMAL]
    assert roles.assignable_roles(Role.ADMIN) == [Role.EDITOR, Role.NORMAL]
    assert roles.assignable_roles(Role.EDITOR) == []


def test_readme_matrix_matches_the_code() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for perm in Perm:
        row = next((line for line in readme.splitlines() if f"`{perm.value}`" in line and "|" in line), None)
        assert row is not None, f"README's roles table has no row for {perm.value}"
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        marks = [c for c in cells if re.fullmatch(r"✓|—", c)]
        assert marks == ["✓" if roles.has_perm(r, perm) else "—" for r in Role], perm.value
