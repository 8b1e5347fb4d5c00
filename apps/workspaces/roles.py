"""Workspace roles and the permission matrix. Every role check in Tessera goes through this module.

The matrix is mirrored in the README ("Roles"); tests/workspaces/test_roles.py checks both agree.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    EDITOR = "editor", _("Editor")
    NORMAL = "normal", _("Member")


RANK = {Role.OWNER: 4, Role.ADMIN: 3, Role.EDITOR: 2, Role.NORMAL: 1}


class Perm(models.TextChoices):
    """What a member may do. Names are stable: views, consumers and APIs refer to them."""

    WORKSPACE_VIEW = "workspace.view", _("Open the workspace and use its published apps")
    APPS_EDIT = "apps.edit", _("Create, edit, publish and delete apps, knowledge and workflows")
    APPS_LOGS = "apps.logs", _("Read logs and annotate them")
    MEMBERS_VIEW = "members.view", _("See the member list")
    MEMBERS_MANAGE = "members.manage", _("Invite, change roles and remove members")
    PROVIDERS_MANAGE = "providers.manage", _("Manage model providers and API extensions")
    WORKSPACE_SETTINGS = "workspace.settings", _("Rename the workspace and change its settings")
    BILLING_MANAGE = "billing.manage", _("Manage the plan and billing")


MATRIX: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(Perm.values),
    Role.ADMIN: frozenset(Perm.values) - {Perm.BILLING_MANAGE},
    Role.EDITOR: frozenset({Perm.WORKSPACE_VIEW, Perm.APPS_EDIT, Perm.APPS_LOGS, Perm.MEMBERS_VIEW}),
    Role.NORMAL: frozenset({Perm.WORKSPACE_VIEW, Perm.MEMBERS_VIEW}),
}


def has_perm(role: str | None, perm: str) -> bool:
    """True when `role` grants `perm`. Unknown roles and non-members grant nothing."""
    return role is not None and perm in MATRIX.get(role, frozenset())


def can_assign(actor_role: str, target_role: str, new_role: str) -> bool:
    """May someone with `actor_role` move a member from `target_role` to `new_role`?

    Only members with MEMBERS_MANAGE manage others, only people ranked strictly below themselves,
    and only into roles strictly below their own. So admins manage editors and members, the owner
    also manages admins, and nobody can hand out or take away the owner role here.
    """
    if not has_perm(actor_role, Perm.MEMBERS_MANAGE) or new_role not in RANK:
        return False
    actor = RANK[Role(actor_role)]
    return RANK[Role(target_role)] < actor and RANK[Role(new_role)] < actor


def can_remove(actor_role: str, target_role: str) -> bool:
    """May `actor_role` remove a member whose role is `target_role`?"""
    return has_perm(actor_role, Perm.MEMBERS_MANAGE) and RANK[Role(target_role)] < RANK[Role(actor_role)]


def assignable_roles(actor_role: str) -> list[Role]:
    """Roles `actor_role` may give when inviting or changing a member, highest first."""
    if not has_perm(actor_role, Perm.MEMBERS_MANAGE):
        return []
    actor = RANK[Role(actor_role)]
    return [role for role in Role if RANK[role] < actor]
