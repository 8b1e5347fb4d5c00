"""Print a new Service API key for an app: manage.py create_api_key --app APP_ID [--workspace SLUG]."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.applications import services
from apps.applications.management.commands._app import app_and_workspace


class Command(BaseCommand):
    help = "Create a Service API key for an app and print it (it is never shown again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--app", required=True, dest="app_id", help="the app's id")
        parser.add_argument("--workspace", help="the workspace slug (found by searching when left out)")

    def handle(self, *args: Any, app_id: str, workspace: str | None, **options: Any) -> None:
        app, found = app_and_workspace(app_id, workspace)
        with schema_context(found.schema_name):
            try:
                _key, raw = services.api_key_create(app=app)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(raw)
