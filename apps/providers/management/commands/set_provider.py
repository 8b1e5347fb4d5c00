"""set_provider --workspace SLUG --provider NAME --credentials JSON [--model NAME --model-type TYPE]"""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.providers import services
from apps.providers.catalog import PROVIDERS
from apps.providers.management.commands._workspace import workspace_by_slug
from apps.providers.runtime.entities import ModelType


class Command(BaseCommand):
    help = "Save (and validate) a model provider's credentials in a workspace."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
        parser.add_argument("--credentials", required=True, help='JSON object, e.g. {"api_key": "sk-..."}')
        parser.add_argument("--model", help="per-model providers (openai_api_compatible, azure_openai)")
        parser.add_argument("--model-type", choices=[t.value for t in ModelType])
        parser.add_argument("--no-validate", action="store_true", help="store without the validation call")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            data = json.loads(opts["credentials"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--credentials is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise CommandError("--credentials must be a JSON object")
        if opts["model"]:
            key = "deployment" if opts["provider"] == "azure_openai" else "model"
            data.setdefault(key, opts["model"])
        if opts["model_type"]:
            data.setdefault("model_type", opts["model_type"])
        workspace = workspace_by_slug(opts["workspace"])
        with schema_context(workspace.schema_name):
            try:
                credential = services.credential_save(provider_id=opts["provider"], data=data,
                                                      validate=not opts["no_validate"])
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        target = f"{credential.provider}:{credential.model}" if credential.model else credential.provider
        self.stdout.write(f"saved {target} in {workspace.slug}")
