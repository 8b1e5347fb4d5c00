"""Console → agent app → Orchestrate: the agent settings (strategy, iteration limit, the tool
picker with form parameters), the thoughts in debug & preview, and isolation."""

import asyncio
import json

import pytest
from django_tenants.utils import schema_context

from apps.applications import services as apps
from apps.applications.config import with_defaults
from apps.applications.models import App
from apps.providers import services as providers
from tests.applications.test_orchestrate import MODEL, _app, _debug, _events, _save, _url
from tests.conftest import client_for
from tests.fakes.base import FakeToolCall, Reply

TIME = {"enabled": True, "provider_type": "builtin", "provider_id": "time", "provider_name": "time",
        "tool_name": "current_time", "tool_parameters": {"timezone": "Asia/Tokyo", "format": "%H:%M"}}


def _agent(world, fake, schema: str = "ws_alpha"):  # type: ignore[no-untyped-def]
    fake.serve("fake-chat")
    with schema_context(schema):
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake.base_url, "model": "fake-chat", "model_type": "llm", "function_calling": True})
        app = apps.app_create(name="Clock", mode="agent-chat", config={"model": MODEL, "pre_prompt": "Tell the time."})
        apps.app_publish(app=app)
    return app


def test_the_agent_card_offers_the_tools(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _agent(world, fake_openai)
    response = client_for(world.editor.user).get(_url("app_orchestrate", app.pk))
    body = response.content.decode()
    assert response.status_code == 200 and 'data-testid="agent-card"' in body
    data = json.loads(body.split('id="orchestrate-data" type="application/json">')[1].split("</script>")[0])
    keys = [c["key"] for c in data["agent_tools"]]
    assert "builtin:time:current_time" in keys and "builtin:time:timezone_conversion" in keys
    current = next(c for c in data["agent_tools"] if c["key"] == "builtin:time:current_time")
    assert current["authorized"] and {p["name"] for p in current["params"]} == {"format", "timezone"}


def test_agent_settings_are_saved(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _agent(world, fake_openai)
    config = with_defaults(_app(app.pk).draft_config)
    config["agent_mode"] = {"enabled": True, "strategy": "react", "max_iteration": 500,
                            "tools": [TIME, {**TIME, "tool_name": "no_such_tool"}]}
    response = _save(client_for(world.editor.user), app.pk, config)
    assert response.status_code == 302
    agent = _app(app.pk).draft_config["agent_mode"]
    assert (agent["strategy"], agent["max_iteration"]) == ("react", 99)
    assert [t["tool_name"] for t in agent["tools"]] == ["current_time"]  # unknown tools are not added
    assert agent["tools"][0]["tool_parameters"] == {"format": "%H:%M", "timezone": "Asia/Tokyo"}
    bad = {**config, "agent_mode": {**config["agent_mode"], "tools": [
        {**TIME, "tool_parameters": {"timezone": "Mars/Olympus"}}]}}
    refused = _save(client_for(world.editor.user), app.pk, bad, HTTP_ACCEPT="application/json")
    assert refused.status_code == 400 and "Mars/Olympus" in refused.content.decode()


def test_another_workspace_cannot_edit_the_agent(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _agent(world, fake_openai)
    outsider = client_for(world.other.user)  # the owner of beta
    config = with_defaults(_app(app.pk).draft_config)
    config["agent_mode"] = {"enabled": True, "strategy": "react", "max_iteration": 2, "tools": [TIME]}
    assert outsider.post(_url("app_orchestrate", app.pk), {"config": json.dumps(config)}).status_code in (403, 404)
    assert outsider.get(_url("app_orchestrate", app.pk, ws="beta")).status_code == 404
    assert _app(app.pk).draft_config["agent_mode"]["tools"] == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_debug_streams_the_agents_steps(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = await asyncio.to_thread(_agent, world_tx, fake_openai)

    def add_tool() -> None:
        with schema_context("ws_alpha"):
            saved = App.objects.get(pk=app.pk)
            config = with_defaults(saved.draft_config)
            apps.draft_save(app=saved, config={**config, "agent_mode": {**config["agent_mode"], "tools": [TIME]}})

    await asyncio.to_thread(add_tool)
    fake_openai.script("chat", Reply(tool_calls=[FakeToolCall("current_time", {})]), Reply("Done."))
    response = await _debug(world_tx.editor.user, app.pk, {"query": "Time?", "inputs": {}})
    events = await _events(response)
    thoughts = [e for e in events if e["event"] == "agent_thought"]
    assert [t["tool"] for t in thoughts] == ["", "current_time", "current_time", "", ""]
    assert json.loads(thoughts[2]["observation"])["current_time"]
    assert "".join(e["answer"] for e in events if e["event"] == "agent_message") == "Done."
    assert events[-1]["event"] == "message_end"


def _page_data(client, app) -> dict:  # type: ignore[no-untyped-def]
    body = client.get(_url("app_orchestrate", app.pk)).content.decode()
    return json.loads(body.split('id="orchestrate-data" type="application/json">')[1].split("</script>")[0])


def test_the_picker_offers_the_workspaces_own_tools_only(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from apps.tools.models import ApiToolProvider, McpServer

    app = _agent(world, fake_openai)
    with schema_context("ws_alpha"):
        pets = ApiToolProvider.objects.create(name="Pets API", schema_type="openapi", schema="{}", tools=[
            {"operation_id": "listPets", "description": "List pets",
             "parameters": [{"name": "limit", "type": "number", "form": "form", "label": "Limit"},
                            {"name": "kind", "type": "string", "form": "llm"}]}])
        McpServer.objects.create(name="Docs MCP", server_url="https://mcp.example/mcp",
                                 tools=[{"name": "search_docs", "description": "Search the docs"}])
    with schema_context("ws_beta"):
        ApiToolProvider.objects.create(name="Beta API", schema_type="openapi", schema="{}",
                                       tools=[{"operation_id": "betaSecret", "parameters": []}])
    choices = {c["key"]: c for c in _page_data(client_for(world.editor.user), app)["agent_tools"]}
    assert [p["name"] for p in choices[f"api:{pets.pk}:listPets"]["params"]] == ["limit"]
    assert any(key.startswith("mcp:") and key.endswith(":search_docs") for key in choices)
    assert not any("betaSecret" in key for key in choices)

    config = with_defaults(_app(app.pk).draft_config)
    config["agent_mode"] = {"enabled": True, "strategy": "function_call", "max_iteration": 3, "tools": [
        {"enabled": True, "provider_type": "api", "provider_id": str(pets.pk), "tool_name": "listPets",
         "tool_parameters": {"limit": "5"}}]}
    assert _save(client_for(world.editor.user), app.pk, config).status_code == 302
    [saved] = _app(app.pk).draft_config["agent_mode"]["tools"]
    assert (saved["provider_type"], saved["provider_name"], saved["tool_parameters"]) == (
        "api", "Pets API", {"limit": "5"})
