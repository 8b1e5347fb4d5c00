"""import_openapi_tool --workspace SLUG --name NAME FILE [--auth-type TYPE --auth JSON]

FILE is an OpenAPI 3.x, Swagger 2.0 or OpenAI plugin document (JSON or YAML); `-` reads stdin.
"""

import json
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from apps.providers.management.commands._workspace import workspace_by_slug
from apps.tools import services
from apps.tools.models import ApiToolProvider


class Command(BaseCommand):
    help = "Create a custom tool provider from an API description and print its id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("file")
        parser.add_argument("--auth-type", default="none", choices=ApiToolProvider.Auth.values)
        parser.add_argument("--auth", default="{}",
                            help='JSON, e.g. {"header": "X-API-Key", "api_key": "..."}')

    def handle(self, *args: Any, **opts: Any) -> None:
        workspace = workspace_by_slug(opts["workspace"])
        try:
            text = sys.stdin.read() if opts["file"] == "-" else open(opts["file"], encoding="utf-8").read()
            auth = json.loads(opts["auth"])
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc}") from exc
        except ValueError as exc:
            raise CommandError(f"--auth is not JSON: {exc}") from exc
        with tenant_context(workspace):
            try:
                provider = services.api_provider_save(name=opts["name"], schema=text,
                                                      auth_type=opts["auth_type"], auth=auth)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(str(provider.pk))
