"""add_member --workspace SLUG --email EMAIL --role ROLE"""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.workspaces import services
from apps.workspaces.models import Workspace
from apps.workspaces.roles import Role


class Command(BaseCommand):
    help = "Add an existing user to a workspace with a role (or change their role)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)

    def handle(self, *args: Any, **opts: Any) -> None:
        workspace = Workspace.objects.filter(slug=opts["workspace"]).first()
        if workspace is None:
            raise CommandError(f"no workspace with slug {opts['workspace']!r}")
        user = get_user_model().objects.filter(email__iexact=opts["email"]).first()
        if user is None:
            raise CommandError(f"no user {opts['email']!r}; create it with create_user first")
        try:
            membership = services.member_add(workspace=workspace, user=user, role=opts["role"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"{user.email} is {membership.role} in {workspace.slug}")
