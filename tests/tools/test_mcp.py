"""MCP servers as tool providers: the mcp SDK's client against an MCP server built with the same
SDK on loopback (Streamable HTTP and SSE), bearer auth, SSRF refusal."""

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError

from apps.tools import services
from apps.tools.entities import ToolInvokeError
from apps.tools.models import McpServer
from apps.tools.runtime import available_tools, resolve_tool
from tests.tools.mcp_fake import PIXEL, TOKEN

pytestmark = pytest.mark.django_db


def _add(server, **kwargs) -> McpServer:  # type: ignore[no-untyped-def]
    return services.mcp_server_save(name="fake", url=f"{server.url}/mcp", bearer=TOKEN, **kwargs)


def test_adding_a_server_lists_its_tools(alpha, mcp_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    server = _add(mcp_server)
    assert [t["name"] for t in server.tools] == ["add", "echo", "pixel", "broken"]
    assert server.header_names == ["Authorization"] and TOKEN not in server.secret_config
    handle = resolve_tool(alpha, {"provider_type": "mcp", "provider_id": str(server.pk), "tool_name": "echo"})
    schema = handle.parameters_schema()
    assert schema["required"] == ["text"]
    assert schema["properties"]["shout"]["type"] == "boolean"


@pytest.mark.django_db(transaction=True)
def test_calls_return_text_json_and_stored_images(world_tx, mcp_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    # Committed rows: files are stored from the async call through its own database connection.
    from django_tenants.utils import tenant_context

    from apps.applications import services as app_services
    from apps.applications.models import UploadFile

    alpha = world_tx.alpha
    with tenant_context(alpha):
        _calls_return_text_json_and_stored_images(alpha, mcp_server, app_services, UploadFile)


def _calls_return_text_json_and_stored_images(alpha, mcp_server, app_services, UploadFile) -> None:  # type: ignore[no-untyped-def]
    server = _add(mcp_server)
    add, echo, pixel = available_tools(alpha, [
        {"provider_type": "mcp", "provider_id": str(server.pk), "tool_name": "add"},
        {"provider_type": "mcp", "provider_id": "elsewhere", "provider_name": "fake", "tool_name": "echo"},
        {"provider_type": "mcp", "provider_id": str(server.pk), "tool_name": "pixel"}])
    assert [m.as_text() for m in async_to_sync(add.invoke)({"a": 2, "b": "40"})] == ["42"]
    assert async_to_sync(echo.invoke)({"text": "hi", "shout": "true"})[0].payload == "HI"
    app = app_services.app_create(name="Agent", mode="agent-chat")
    text, image = async_to_sync(pixel.invoke)({}, context=_RunContext(app.pk))  # any object with app_id
    assert (text.type, text.payload, image.type) == ("text", "here it is", "image")
    upload = UploadFile.objects.get(pk=image.meta["upload_file_id"])
    assert (upload.app_id, upload.mime_type, upload.size) == (app.pk, "image/png", len(PIXEL))
    assert f"/v1/files/{upload.pk}/file-preview?tenant={alpha.pk}" in image.payload


class _RunContext:
    def __init__(self, app_id) -> None:  # type: ignore[no-untyped-def]
        self.app_id, self.user_id = app_id, "end-user-1"


def test_tool_errors_become_tool_invoke_errors(alpha, mcp_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    server = _add(mcp_server)
    broken = resolve_tool(alpha, {"provider_type": "mcp", "provider_id": str(server.pk), "tool_name": "broken"})
    with pytest.raises(ToolInvokeError, match="the widget is broken"):
        async_to_sync(broken.invoke)({})


def test_sse_transport(alpha, mcp_sse_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    server = services.mcp_server_save(name="sse", url=f"{mcp_sse_server.url}/sse", transport="sse",
                                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert len(server.tools) == 4
    add = resolve_tool(alpha, {"provider_type": "mcp", "provider_id": "sse", "tool_name": "add"})
    assert async_to_sync(add.invoke)({"a": 1, "b": 2})[0].payload == "3"


def test_a_wrong_token_is_refused_and_nothing_is_saved(alpha, mcp_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="401"):
        services.mcp_server_save(name="fake", url=f"{mcp_server.url}/mcp", bearer="wrong")
    assert not McpServer.objects.exists()


def test_refresh_and_masked_headers_keep_the_token(alpha, mcp_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    server = _add(mcp_server)
    McpServer.objects.filter(pk=server.pk).update(tools=[])
    server = services.mcp_server_refresh(server=McpServer.objects.get(pk=server.pk))
    assert len(server.tools) == 4 and server.tools_refreshed_at is not None
    services.mcp_server_save(name="renamed", url=server.server_url, headers={"Authorization": "Bea••••••en-7"},
                             server=server)
    assert services.mcp_headers(McpServer.objects.get()) == {"Authorization": f"Bearer {TOKEN}"}


def test_private_urls_are_refused_unless_allowed(alpha, mcp_server, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOWED_NETWORKS = ""
    with pytest.raises(ValidationError, match="loopback address"):
        _add(mcp_server)
    with pytest.raises(ValidationError, match="private address"):
        services.mcp_server_save(name="lan", url="http://10.1.2.3:8080/mcp")
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.1/32"
    server = _add(mcp_server)
    settings.OUTBOUND_ALLOWED_NETWORKS = ""
    add = resolve_tool(alpha, {"provider_type": "mcp", "provider_id": str(server.pk), "tool_name": "add"})
    with pytest.raises(ToolInvokeError, match="not allowed"):
        async_to_sync(add.invoke)({"a": 1, "b": 1})
