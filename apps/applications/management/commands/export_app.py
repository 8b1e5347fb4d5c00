"""Print an app's DSL: manage.py export_app APP_ID [--workspace SLUG] [--include-secrets]."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import schema_context

from apps.applications import dsl
from apps.applications.management.commands._app import app_and_workspace


class Command(BaseCommand):
    help = "Export an app as Dify-compatible DSL YAML to stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app_id", help="the app's id")
        parser.add_argument("--workspace", help="the workspace slug (found by searching when left out)")
        parser.add_argument("--include-secrets", action="store_true", help="keep tool credential references")

    def handle(self, *args: Any, app_id: str, workspace: str | None, include_secrets: bool,
               **options: Any) -> None:
        app, found = app_and_workspace(app_id, workspace)
        # A workflow app's draft lives in its workspace's schema: read it there.
        with schema_context(found.schema_name):
            text = dsl.export_app(app, include_secrets=include_secrets)
        self.stdout.write(text, ending="")
