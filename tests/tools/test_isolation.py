"""Cross-tenant: one workspace's tools, credentials and MCP servers are invisible and unusable
from another, by id or by name, and its encrypted secrets do not decrypt there."""

import json

import pytest
from django_tenants.utils import tenant_context

from apps.providers.crypto import CredentialsUnreadable
from apps.tools import services
from apps.tools.entities import ToolUnavailable
from apps.tools.models import BuiltinCredential
from apps.tools.runtime import available_tools, resolve_tool
from tests.tools.fakes import PET_KEY, SERPAPI_KEY, pet_openapi
from tests.tools.mcp_fake import TOKEN

pytestmark = pytest.mark.django_db


def test_nothing_of_alpha_reaches_beta(world, pet_server, mcp_server, search_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    allow_loopback.TOOL_SERPAPI_BASE_URL = search_server.url
    with tenant_context(world.alpha):
        services.builtin_credentials_set(provider="google", credentials={"serpapi_api_key": SERPAPI_KEY})
        pets = services.api_provider_save(name="pets", schema=json.dumps(pet_openapi(pet_server.url)),
                                          auth_type="api_key_header", auth={"header": "X-API-Key", "api_key": PET_KEY})
        mcp = services.mcp_server_save(name="calc", url=f"{mcp_server.url}/mcp", bearer=TOKEN)
        secret = BuiltinCredential.objects.get().secret_config
    specs = [{"provider_type": "builtin", "provider_id": "google", "tool_name": "google_search"},
             {"provider_type": "api", "provider_id": str(pets.pk), "provider_name": "pets", "tool_name": "getPet"},
             {"provider_type": "mcp", "provider_id": str(mcp.pk), "provider_name": "calc", "tool_name": "add"}]
    assert len(available_tools(world.alpha, specs)) == 3
    assert available_tools(world.beta, specs) == []
    for spec in specs:
        with pytest.raises(ToolUnavailable):
            resolve_tool(world.beta, spec)
    with tenant_context(world.beta):
        assert services.builtin_credentials("google") is None
        # Alpha's ciphertext copied into beta's table does not decrypt with beta's key.
        BuiltinCredential.objects.create(provider="google", secret_config=secret)
        with pytest.raises(CredentialsUnreadable):
            services.builtin_credentials("google")
