"""The tools' management commands: scripted set-up of MCP servers, OpenAPI tools and credentials."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from apps.tools import services
from apps.tools.models import ApiToolProvider, McpServer
from tests.tools.fakes import PET_KEY, SERPAPI_KEY, pet_openapi
from tests.tools.mcp_fake import TOKEN

pytestmark = pytest.mark.django_db


def command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_add_mcp_server_prints_its_id(world, mcp_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    server_id = command("add_mcp_server", "--workspace", "alpha", "--name", "calc", "--url", f"{mcp_server.url}/mcp",
                        "--header", f"Authorization: Bearer {TOKEN}", "--header", "X-Team: tools")
    with tenant_context(world.alpha):
        server = McpServer.objects.get(pk=server_id)
        assert server.header_names == ["Authorization", "X-Team"] and len(server.tools) == 4
    with tenant_context(world.beta):
        assert not McpServer.objects.exists()
    with pytest.raises(CommandError, match="answered 401"):
        command("add_mcp_server", "--workspace", "beta", "--name", "calc", "--url", f"{mcp_server.url}/mcp")
    with pytest.raises(CommandError, match="Name: value"):
        command("add_mcp_server", "--workspace", "beta", "--name", "x", "--url", f"{mcp_server.url}/mcp",
                "--header", "no colon")


def test_import_openapi_tool_prints_its_id(world, pet_server, allow_loopback, tmp_path) -> None:  # type: ignore[no-untyped-def]
    document = tmp_path / "pets.json"
    document.write_text(json.dumps(pet_openapi(pet_server.url)))
    provider_id = command("import_openapi_tool", "--workspace", "alpha", "--name", "pets", str(document),
                          "--auth-type", "api_key_header", "--auth", json.dumps({"header": "X-API-Key",
                                                                                 "api_key": PET_KEY}))
    with tenant_context(world.alpha):
        provider = ApiToolProvider.objects.get(pk=provider_id)
        assert [t["operation_id"] for t in provider.tools] == ["getPet", "addPet"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.0\nservers: [{url: 'https://x.test'}]\npaths: {}\n")
    with pytest.raises(CommandError, match=r"no paths \(at paths\)"):
        command("import_openapi_tool", "--workspace", "alpha", "--name", "broken", str(broken))


def test_set_tool_credentials(world, search_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    allow_loopback.TOOL_SERPAPI_BASE_URL = search_server.url
    with pytest.raises(CommandError, match="Invalid API key"):
        command("set_tool_credentials", "--workspace", "alpha", "--provider", "google",
                "--credentials", '{"serpapi_api_key": "nope"}')
    assert "google authorised in alpha" == command(
        "set_tool_credentials", "--workspace", "alpha", "--provider", "google",
        "--credentials", json.dumps({"serpapi_api_key": SERPAPI_KEY}))
    with tenant_context(world.alpha):
        assert services.builtin_credentials("google") == {"serpapi_api_key": SERPAPI_KEY}
    with tenant_context(world.beta):
        assert services.builtin_credentials("google") is None
    with pytest.raises(CommandError, match="no ready workspace"):
        command("set_tool_credentials", "--workspace", "nowhere", "--provider", "google", "--credentials", "{}")
