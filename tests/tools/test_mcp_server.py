"""Apps published as MCP servers (/mcp/<code>): the real ASGI application served over HTTP on
loopback, called by the mcp SDK's client; its own key, off by default, isolated per workspace."""

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import tenant_context

from apps.tools import mcp_client, services
from apps.tools.entities import ToolInvokeError
from apps.tools.models import AppMcpServer
from apps.workflows import services as workflow_services
from tests.tools.fakes import Served
from tests.workflows.helpers import chain, graph, node

pytestmark = pytest.mark.django_db(transaction=True)

GREETER = graph([node("start", "start", variables=[
                     {"variable": "name", "label": "Name", "type": "text-input", "required": True}]),
                 node("greet", "template-transform", template="Hello {{ name }}",
                      variables=[{"variable": "name", "value_selector": ["start", "name"]}]),
                 node("end", "end", outputs=[{"variable": "greeting", "value_selector": ["greet", "output"]}])],
                chain("start", "greet", "end"))


@pytest.fixture(scope="module")
def site():  # type: ignore[no-untyped-def]
    from config.asgi import application

    server = Served(application, lifespan="off").start()  # as under Daphne, which has no lifespan
    yield server
    server.stop()


def _greeter(workspace):  # type: ignore[no-untyped-def]
    with tenant_context(workspace):
        app = workflow_services.workflow_app_create(name="Greeter", mode="workflow", graph=GREETER)
        workflow_services.publish(app=app)
    return app


def listed(url: str, key: str):  # type: ignore[no-untyped-def]
    return async_to_sync(mcp_client.list_tools)(url, "streamable_http", {"Authorization": f"Bearer {key}"})


def test_a_published_workflow_is_called_by_the_sdk_client(world_tx, site, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    app = _greeter(world_tx.alpha)
    with tenant_context(world_tx.alpha):
        assert not AppMcpServer.objects.exists()  # off by default
        row, key = services.app_mcp_enable(app=app)
    url = f"{site.url}/mcp/{row.code}"
    [tool] = listed(url, key)
    assert tool["name"] == "Greeter" and tool["input_schema"]["required"] == ["name"]
    messages = async_to_sync(mcp_client.call_tool)(url, "streamable_http", {"Authorization": f"Bearer {key}"},
                                                   "Greeter", {"name": "Ada"})
    assert [m.payload for m in messages] == ["Hello Ada"]
    with tenant_context(world_tx.alpha):
        from apps.workflows.models import WorkflowRun

        assert WorkflowRun.objects.filter(app=app, status="succeeded").count() == 1


def test_keys_codes_and_workspaces_do_not_mix(world_tx, site, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    alpha_app, beta_app = _greeter(world_tx.alpha), _greeter(world_tx.beta)
    with tenant_context(world_tx.alpha):
        alpha_row, alpha_key = services.app_mcp_enable(app=alpha_app)
    with tenant_context(world_tx.beta):
        beta_row, beta_key = services.app_mcp_enable(app=beta_app)
    with pytest.raises(ToolInvokeError, match="answered 401"):
        listed(f"{site.url}/mcp/{alpha_row.code}", "mcp-wrong")
    with pytest.raises(ToolInvokeError, match="answered 404"):  # beta's key does not open alpha's code
        listed(f"{site.url}/mcp/{alpha_row.code}", beta_key)
    assert len(listed(f"{site.url}/mcp/{beta_row.code}", beta_key)) == 1
    with tenant_context(world_tx.alpha):
        _row, new_key = services.app_mcp_enable(app=alpha_app)  # a new key replaces the old one
    with pytest.raises(ToolInvokeError, match="answered 401"):
        listed(f"{site.url}/mcp/{alpha_row.code}", alpha_key)
    assert len(listed(f"{site.url}/mcp/{alpha_row.code}", new_key)) == 1
    with tenant_context(world_tx.alpha):
        services.app_mcp_disable(app=alpha_app)
    with pytest.raises(ToolInvokeError, match="answered 401"):
        listed(f"{site.url}/mcp/{alpha_row.code}", new_key)


def test_a_chat_app_answers_over_mcp(world_tx, site, allow_loopback, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from apps.applications import services as app_services
    from tests.fakes.base import Reply
    from tests.workflows.conftest import MODEL, setup_model

    with tenant_context(world_tx.alpha):
        setup_model(fake_openai)
        app = app_services.app_create(name="Helper", mode="chat", config={"model": MODEL})
        app_services.app_publish(app=app)
        row, key = services.app_mcp_enable(app=app)
    fake_openai.script("chat", Reply("Tiles fit without gaps."))
    url, headers = f"{site.url}/mcp/{row.code}", {"Authorization": f"Bearer {key}"}
    [tool] = listed(url, key)
    assert tool["input_schema"]["required"] == ["query"]
    messages = async_to_sync(mcp_client.call_tool)(url, "streamable_http", headers, "Helper",
                                                   {"query": "What is a tessellation?"})
    assert [m.payload for m in messages] == ["Tiles fit without gaps."]
