"""What every console page needs: the workspace, the member's role and permissions, the switcher."""

from typing import Any

from django.http import HttpRequest

from apps.workspaces import roles
from apps.workspaces.models import Membership


def console(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context: dict[str, Any] = {
        "my_memberships": Membership.objects.filter(user=user)
        .select_related("workspace")
        .order_by("workspace__name"),
    }
    if membership is not None:
        context.update(
            workspace=membership.workspace,
            membership=membership,
            ws_perms={perm for perm in roles.Perm.values if roles.has_perm(membership.role, perm)},
        )
    return context
