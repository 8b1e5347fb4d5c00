"""create_workspace --name NAME --owner EMAIL [--password PW]: prints the new workspace's slug."""

import secrets
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.workspaces import services


class Command(BaseCommand):
    help = "Create a workspace (and its owner if the email is new); prints the slug."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="owner's email; created if unknown")
        parser.add_argument("--password", help="password for a new owner (random and printed if omitted)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            self._create(opts)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc

    def _create(self, opts: dict[str, Any]) -> None:
        User = get_user_model()
        owner = User.objects.filter(email__iexact=opts["owner"]).first()
        if owner is None:
            password = opts["password"] or secrets.token_urlsafe(12)
            owner = services.user_create(email=opts["owner"], password=password)
            if not opts["password"]:
                self.stderr.write(f"created user {owner.email} with password {password}")
        elif opts["password"]:
            raise CommandError(f"{owner.email} already exists; --password applies only to new users")
        started = time.perf_counter()
        workspace = services.workspace_create(name=opts["name"], owner=owner, provision="now")
        self.stderr.write(f"workspace ready in {time.perf_counter() - started:.2f}s")
        self.stdout.write(workspace.slug)
