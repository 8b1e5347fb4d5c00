"""add_mcp_server --workspace SLUG --name NAME --url URL [--header "Name: value" ...] [--transport sse]"""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from apps.providers.management.commands._workspace import workspace_by_slug
from apps.tools import services
from apps.tools.models import McpServer


class Command(BaseCommand):
    help = "Add an MCP server to a workspace (its tools are listed at once) and print its id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--url", required=True)
        parser.add_argument("--header", action="append", default=[], help='"Name: value", repeatable')
        parser.add_argument("--transport", default=McpServer.Transport.STREAMABLE_HTTP,
                            choices=McpServer.Transport.values)

    def handle(self, *args: Any, **opts: Any) -> None:
        workspace = workspace_by_slug(opts["workspace"])
        with tenant_context(workspace):
            try:
                headers = services.parse_header_lines(opts["header"])
                server = services.mcp_server_save(name=opts["name"], url=opts["url"],
                                                  transport=opts["transport"], headers=headers)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(str(server.pk))
