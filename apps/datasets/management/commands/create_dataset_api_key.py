"""Print a new Knowledge API key: manage.py create_dataset_api_key --workspace SLUG [--dataset ID ...]."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.core.errors import ServiceError
from apps.datasets import keys
from apps.providers.management.commands._workspace import workspace_by_slug


class Command(BaseCommand):
    help = (
        "Create a Knowledge API key (dataset-…) for a workspace and print it (it is never shown again). "
        "With --dataset, the key reaches only those knowledge bases."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="the workspace slug")
        parser.add_argument(
            "--dataset",
            action="append",
            dest="datasets",
            default=[],
            help="limit the key to this knowledge base id (repeatable)",
        )

    def handle(self, *args: Any, workspace: str, datasets: list[str], **options: Any) -> None:
        found = workspace_by_slug(workspace)
        with schema_context(found.schema_name):
            try:
                _key, raw = keys.api_key_create(dataset_ids=datasets or None)
            except ServiceError as exc:
                raise CommandError(exc.message) from None
        self.stdout.write(raw)
