"""Account-level writes: first-run install and sign-up."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.workspaces import services as workspaces
from apps.workspaces.models import Workspace

User = get_user_model()


def is_installed() -> bool:
    """The first administrator exists once any user does (WS-03)."""
    return User.objects.exists()


@transaction.atomic
def install(*, email: str, password: str, name: str, workspace_name: str) -> Workspace:
    """Create the first administrator (staff, superuser) and their workspace; only once."""
    # Serialise concurrent installs: the advisory lock is held until the transaction ends.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(7351001)")
    if is_installed():
        raise ValidationError(_("Tessera is already set up."))
    user = workspaces.user_create(email=email, password=password, name=name, is_staff=True)
    return workspaces.workspace_create(name=workspace_name, owner=user, provision="now")


def signup_complete(*, user: "User", workspace_name: str) -> Workspace:  # type: ignore[valid-type]
    """A new sign-up gets its own workspace, built in the background (WS-02)."""
    return workspaces.workspace_create(name=workspace_name, owner=user, provision="async")
