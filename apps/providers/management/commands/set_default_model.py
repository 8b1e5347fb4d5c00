"""set_default_model --workspace SLUG --type TYPE --provider NAME --model NAME"""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.providers import services
from apps.providers.management.commands._workspace import workspace_by_slug
from apps.providers.runtime.entities import ModelType


class Command(BaseCommand):
    help = "Set a workspace's system default model for one model type."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--type", required=True, choices=[t.value for t in ModelType])
        parser.add_argument("--provider", required=True)
        parser.add_argument("--model", required=True)

    def handle(self, *args: Any, **opts: Any) -> None:
        workspace = workspace_by_slug(opts["workspace"])
        with schema_context(workspace.schema_name):
            try:
                services.default_model_set(model_type=opts["type"], provider_id=opts["provider"], model=opts["model"])
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"default {opts['type']} model of {workspace.slug}: {opts['provider']}:{opts['model']}")
