"""Create an app from a DSL file: manage.py import_app FILE --workspace SLUG [--publish] [--force]."""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.applications import dsl, services
from apps.providers.management.commands._workspace import workspace_by_slug


class Command(BaseCommand):
    help = "Import a Dify-compatible DSL file as a new app and print the app's id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the YAML file ('-' reads stdin)")
        parser.add_argument("--workspace", required=True, help="the workspace slug")
        parser.add_argument("--name", help="the app's name, instead of the file's")
        parser.add_argument("--publish", action="store_true", help="publish the imported draft")
        parser.add_argument("--force", action="store_true",
                            help="import even when the file's DSL version needs confirming (newer than ours)")

    def handle(self, *args: Any, file: str, workspace: str, name: str | None, publish: bool, force: bool,
               **options: Any) -> None:
        target = workspace_by_slug(workspace)
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        with schema_context(target.schema_name):
            result = dsl.import_app(text, name=name, confirm=force)
            if result.status == dsl.ImportStatus.FAILED:
                raise CommandError(result.error)
            if result.status == dsl.ImportStatus.PENDING:
                raise CommandError(f"{result.warnings[0]} Run again with --force to import it anyway.")
            assert result.app is not None
            if publish and result.app.mode in dsl.WORKFLOW_MODES:
                from apps.workflows.services import publish as publish_workflow

                publish_workflow(app=result.app)
            elif publish:
                services.app_publish(app=result.app)
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(str(result.app.pk))
