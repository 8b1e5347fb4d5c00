"""reset_password --email EMAIL: set a user's password from the command line (WS-05)."""

import getpass
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Set a new password for a console user (asked twice unless --password is given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", help="non-interactive use")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = get_user_model().objects.filter(email__iexact=opts["email"]).first()
        if user is None:
            raise CommandError(f"no user {opts['email']!r}")
        password = opts["password"]
        if not password:
            password = getpass.getpass("New password: ")
            if password != getpass.getpass("New password (again): "):
                raise CommandError("the passwords do not match")
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        user.set_password(password)
        user.save(update_fields=["password"])
        self.stdout.write(f"password changed for {user.email}")
