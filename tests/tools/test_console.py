"""The Tools page (TL-01): reachable from the navigation, built-in providers authorised with a real
call (secrets shown masked), custom tools with a test call, MCP servers, workflow tools;
permissions per role and isolation between workspaces."""

import json

import pytest
from django_tenants.utils import tenant_context

from apps.tools import services
from apps.tools.models import ApiToolProvider, BuiltinCredential, McpServer, WorkflowToolProvider
from tests.conftest import client_for
from tests.tools.fakes import PET_KEY, SERPAPI_KEY, pet_openapi
from tests.tools.mcp_fake import TOKEN

pytestmark = pytest.mark.django_db

PAGE = "/console/alpha/tools/"


def test_the_page_is_in_the_navigation_and_lists_the_built_ins(world) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    home = owner.get("/console/alpha/").content.decode()
    assert 'href="/console/alpha/tools/"' in home
    page = owner.get(PAGE)
    body = page.content.decode()
    assert page.status_code == 200
    for label in ("Built-in tools", "Custom tools", "MCP servers", "Workflow tools", "Google", "Wikipedia",
                  "SearXNG", "Current Time", "Web Scraper", "Bar Chart", "Code Interpreter"):
        assert label in body, label
    assert 'aria-current="page"' in body and "No authorisation needed" in body


def test_the_page_is_translated(world) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    zh = owner.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    ja = owner.get(PAGE, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "内置工具" in zh and "自定义工具" in zh and "无需授权" in zh
    assert "組み込みツール" in ja and "カスタムツール" in ja and "認証は不要です" in ja


def test_roles(world) -> None:  # type: ignore[no-untyped-def]
    assert client_for(world.normal.user).get(PAGE).status_code == 403
    editor = client_for(world.editor.user)
    body = editor.get(PAGE).content.decode()
    assert "Add a custom tool" not in body and "Authorise" not in body  # editors use tools, admins set them up
    response = editor.post("/console/alpha/tools/builtin/google/authorise/", {"serpapi_api_key": "x"})
    assert response.status_code == 403
    response = editor.post("/console/alpha/tools/mcp/new/", {"name": "x", "url": "https://example.com/mcp"})
    assert response.status_code == 403
    with tenant_context(world.alpha):
        assert not BuiltinCredential.objects.exists() and not McpServer.objects.exists()
    assert client_for(world.outsider).get(PAGE).status_code in (403, 404)


def test_authorising_google_shows_the_key_masked(world, search_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    allow_loopback.TOOL_SERPAPI_BASE_URL = search_server.url
    admin = client_for(world.admin.user)
    wrong = admin.post("/console/alpha/tools/builtin/google/authorise/", {"serpapi_api_key": "wrong"}, follow=True)
    assert "Invalid API key" in wrong.content.decode()
    response = admin.post("/console/alpha/tools/builtin/google/authorise/", {"serpapi_api_key": SERPAPI_KEY})
    assert response.status_code == 302 and response["Location"].endswith("/tools/#tool-google")
    body = admin.get(PAGE).content.decode()
    assert SERPAPI_KEY not in body and SERPAPI_KEY[-4:] in body and "Authorised" in body
    admin.post("/console/alpha/tools/builtin/google/remove/")
    with tenant_context(world.alpha):
        assert services.builtin_credentials("google") is None


def test_custom_tool_added_tested_and_removed(world, pet_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    response = owner.post("/console/alpha/tools/custom/new/", {
        "name": "pets", "schema": json.dumps(pet_openapi(pet_server.url)), "auth_type": "api_key_header",
        "header": "X-API-Key", "api_key": PET_KEY}, follow=True)
    assert "pets was added with 2 tools." in response.content.decode()
    with tenant_context(world.alpha):
        provider = ApiToolProvider.objects.get()
    tested = owner.post(f"/console/alpha/tools/custom/{provider.pk}/test/",
                        {"operation": "getPet", "arguments": '{"petId": 5}'})
    assert tested.status_code == 200 and "&quot;name&quot;: &quot;Rex&quot;" in tested.content.decode()
    bad = owner.post(f"/console/alpha/tools/custom/{provider.pk}/test/", {"operation": "getPet", "arguments": "[1"})
    assert bad.status_code == 400 and "The arguments must be a JSON object." in bad.content.decode()
    broken = owner.post("/console/alpha/tools/custom/new/", {"name": "x", "schema": '{"openapi": "3.0.0"'},
                        follow=True)
    assert "Invalid JSON" in broken.content.decode() and "line 1, column" in broken.content.decode()
    owner.post(f"/console/alpha/tools/custom/{provider.pk}/delete/")
    with tenant_context(world.alpha):
        assert not ApiToolProvider.objects.exists()


def test_mcp_server_added_refreshed_and_removed(world, mcp_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    response = owner.post("/console/alpha/tools/mcp/new/", {
        "name": "calc", "url": f"{mcp_server.url}/mcp", "transport": "streamable_http", "bearer": TOKEN,
        "headers": "X-Team: tools"}, follow=True)
    body = response.content.decode()
    assert "calc was added with 4 tools." in body and TOKEN not in body and "<code>X-Team: ••••</code>" in body
    with tenant_context(world.alpha):
        server = McpServer.objects.get()
    assert owner.post(f"/console/alpha/tools/mcp/{server.pk}/refresh/").status_code == 302
    owner.post(f"/console/alpha/tools/mcp/{server.pk}/delete/")
    with tenant_context(world.alpha):
        assert not McpServer.objects.exists()


def test_workflow_tool_registered_from_the_page(world) -> None:  # type: ignore[no-untyped-def]
    from apps.workflows import services as workflow_services
    from tests.workflows.helpers import chain, graph, node

    with tenant_context(world.alpha):
        app = workflow_services.workflow_app_create(name="Summ", mode="workflow", graph=graph(
            [node("start", "start", variables=[{"variable": "text", "type": "paragraph"}]),
             node("end", "end", outputs=[{"variable": "out", "value_selector": ["start", "text"]}])],
            chain("start", "end")))
        workflow_services.publish(app=app)
    editor = client_for(world.editor.user)
    assert "Summ" in editor.get(PAGE).content.decode()
    editor.post("/console/alpha/tools/workflow/new/", {"app": str(app.pk), "name": "summarise"})
    with tenant_context(world.alpha):
        assert WorkflowToolProvider.objects.get().name == "summarise"


def test_another_workspace_cannot_reach_these_tools(world, pet_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    with tenant_context(world.alpha):
        provider = services.api_provider_save(name="pets", schema=json.dumps(pet_openapi(pet_server.url)))
    bruno = client_for(world.other.user)  # owner of beta
    assert bruno.get(PAGE).status_code in (403, 404)
    assert bruno.post(f"/console/alpha/tools/custom/{provider.pk}/delete/").status_code in (403, 404)
    # Through his own workspace's URLs, alpha's ids are unknown.
    assert bruno.post(f"/console/beta/tools/custom/{provider.pk}/delete/").status_code == 404
    tested = bruno.post(f"/console/beta/tools/custom/{provider.pk}/test/", {"operation": "getPet"})
    assert tested.status_code == 404
    assert "pets" not in bruno.get("/console/beta/tools/").content.decode()
    with tenant_context(world.alpha):
        assert ApiToolProvider.objects.filter(pk=provider.pk).exists()


def test_an_app_is_served_over_mcp_from_the_page(world) -> None:  # type: ignore[no-untyped-def]
    from apps.applications import services as app_services
    from apps.tools.models import AppMcpServer
    from apps.workspaces.models import ApiKeyRoute, hash_secret

    with tenant_context(world.alpha):
        app = app_services.app_create(name="Helper", mode="chat")
    assert "Serve over MCP" in client_for(world.owner.user).get(PAGE).content.decode()  # off by default
    assert client_for(world.editor.user).post(f"/console/alpha/tools/mcp-apps/{app.pk}/enable/").status_code == 403
    owner = client_for(world.owner.user)
    body = owner.post(f"/console/alpha/tools/mcp-apps/{app.pk}/enable/", follow=True).content.decode()
    with tenant_context(world.alpha):
        row = AppMcpServer.objects.get(app=app)
    key = body.split('data-testid="mcp-key">')[1].split("<")[0]
    assert f"/mcp/{row.code}" in body and row.key_hash == hash_secret(key) and key not in row.key_hash
    assert ApiKeyRoute.objects.get(key_hash=row.key_hash).kind == "mcp"
    assert key not in owner.get(PAGE).content.decode()  # shown once
    owner.post(f"/console/alpha/tools/mcp-apps/{app.pk}/disable/")
    assert not ApiKeyRoute.objects.filter(key_hash=row.key_hash).exists()


def test_testing_an_operation_the_document_lacks(world, pet_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    with tenant_context(world.alpha):
        provider = services.api_provider_save(name="pets", schema=json.dumps(pet_openapi(pet_server.url)))
    response = client_for(world.owner.user).post(f"/console/alpha/tools/custom/{provider.pk}/test/",
                                                 {"operation": "deletePet", "arguments": "{}"})
    assert response.status_code == 200 and "has no operation &#x27;deletePet&#x27;" in response.content.decode()
