"""set_tool_credentials --workspace SLUG --provider NAME --credentials JSON [--no-validate]"""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from apps.providers.management.commands._workspace import workspace_by_slug
from apps.tools import services


class Command(BaseCommand):
    help = "Authorise a built-in tool provider in a workspace (checked with a real call)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--provider", required=True, help="built-in provider name, e.g. google")
        parser.add_argument("--credentials", required=True, help='JSON, e.g. {"serpapi_api_key": "..."}')
        parser.add_argument("--no-validate", action="store_true", help="store without the validation call")

    def handle(self, *args: Any, **opts: Any) -> None:
        workspace = workspace_by_slug(opts["workspace"])
        try:
            credentials = json.loads(opts["credentials"])
        except ValueError as exc:
            raise CommandError(f"--credentials is not JSON: {exc}") from exc
        with tenant_context(workspace):
            try:
                services.builtin_credentials_set(provider=opts["provider"], credentials=credentials,
                                                 validate=not opts["no_validate"])
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"{opts['provider']} authorised in {workspace.slug}")
