"""create_user --email EMAIL [--password PW] [--name NAME] [--staff]"""

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.workspaces import services


class Command(BaseCommand):
    help = "Create a console user; --staff also grants Django admin access."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", help="random and printed if omitted")
        parser.add_argument("--name", default="")
        parser.add_argument("--staff", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        password = opts["password"] or secrets.token_urlsafe(12)
        try:
            user = services.user_create(
                email=opts["email"], password=password, name=opts["name"], is_staff=opts["staff"]
            )
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        self.stdout.write(user.email if opts["password"] else f"{user.email} {password}")
