"""The workflow Tool node (dsl.md §3.13) for every provider type — built-in, custom OpenAPI, MCP
and a published workflow used as a tool — run through the engine against the fake services; the
DSL import report and the checklist for tools that cannot be used."""

import asyncio
import json

import pytest
from django_tenants.utils import tenant_context

from apps.tools import services
from apps.workflows import services as workflow_services
from tests.tools.fakes import PET_KEY, pet_openapi
from tests.tools.mcp_fake import TOKEN
from tests.workflows.helpers import arun, chain, graph, node

pytestmark = pytest.mark.django_db(transaction=True)

START = node("start", "start", variables=[{"variable": "q", "label": "Q", "type": "text-input"},
                                          {"variable": "n", "label": "N", "type": "number"}])


def tool_node(node_id: str, provider_type: str, provider_id: str, tool_name: str, parameters: dict,
              configurations: dict | None = None) -> dict:
    return node(node_id, "tool", provider_type=provider_type, provider_id=provider_id, provider_name=provider_id,
                tool_name=tool_name, tool_parameters=parameters, tool_configurations=configurations or {},
                tool_node_version="2")


def end(**outputs: list[str]) -> dict:
    return node("end", "end", outputs=[{"variable": k, "value_selector": v} for k, v in outputs.items()])


def run_in(workspace, raw, inputs, app_id="app"):  # type: ignore[no-untyped-def]
    return asyncio.run(arun(raw, inputs, tenant=workspace, app_id=app_id))


def test_builtin_tool_with_mixed_variable_and_constant_parameters(world_tx) -> None:  # type: ignore[no-untyped-def]
    convert = tool_node("convert", "builtin", "langgenius/time/time", "timezone_conversion", {
        "current_time": {"type": "mixed", "value": "2024-01-31 {{#start.q#}}"},
        "current_timezone": {"type": "constant", "value": "Asia/Tokyo"},
        "target_timezone": {"type": "variable", "value": ["start", "zone"]}})
    start = node("start", "start", variables=[{"variable": "q", "type": "text-input"},
                                              {"variable": "zone", "type": "text-input"}])
    raw = graph([start, convert, end(text=["convert", "text"], files=["convert", "files"])],
                chain("start", "convert", "end"))
    result = run_in(world_tx.alpha, raw, {"q": "09:00:00", "zone": "UTC"})
    assert result.status == "succeeded", result.error
    assert result.outputs == {"text": "2024-01-31 00:00:00", "files": []}
    assert result.finished("convert")["inputs"]["current_timezone"] == "Asia/Tokyo"


def test_a_failing_tool_fails_the_node_with_its_reason(world_tx) -> None:  # type: ignore[no-untyped-def]
    bad = tool_node("t", "builtin", "time", "timezone_conversion", {"current_time": "nonsense",
                                                                      "current_timezone": "UTC",
                                                                      "target_timezone": "UTC"})
    result = run_in(world_tx.alpha, graph([START, bad, end(text=["t", "text"])], chain("start", "t", "end")), {})
    assert result.status == "failed" and "timezone_conversion: Cannot read 'nonsense'" in result.error
    missing = tool_node("t", "builtin", "google", "google_search", {"query": "x"})
    result = run_in(world_tx.alpha, graph([START, missing, end(text=["t", "text"])], chain("start", "t", "end")), {})
    assert result.status == "failed" and "not authorised in this workspace" in result.error


def test_api_and_mcp_tools_in_one_workflow(world_tx, pet_server, mcp_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    with tenant_context(world_tx.alpha):
        pets = services.api_provider_save(name="pets", schema=json.dumps(pet_openapi(pet_server.url)),
                                          auth_type="api_key_header", auth={"header": "X-API-Key", "api_key": PET_KEY})
        mcp = services.mcp_server_save(name="calc", url=f"{mcp_server.url}/mcp", bearer=TOKEN)
    raw = graph([START,
                 tool_node("pet", "api", str(pets.pk), "getPet", {"petId": {"type": "variable", "value": ["start", "n"]}}),
                 tool_node("add", "mcp", str(mcp.pk), "add", {"a": {"type": "variable", "value": ["start", "n"]},
                                                              "b": {"type": "constant", "value": 1}}),
                 end(pet=["pet", "json"], sum=["add", "text"])],
                chain("start", "pet", "add", "end"))
    result = run_in(world_tx.alpha, raw, {"n": 41})
    assert result.status == "succeeded", result.error
    assert result.outputs == {"pet": [{"id": 41, "name": "Rex", "kind": "dog"}], "sum": "42"}


def test_mcp_image_results_become_workflow_files(world_tx, mcp_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    with tenant_context(world_tx.alpha):
        services.mcp_server_save(name="calc", url=f"{mcp_server.url}/mcp", bearer=TOKEN)
        app = workflow_services.workflow_app_create(name="Pictures", mode="workflow")
    raw = graph([START, tool_node("pic", "mcp", "calc", "pixel", {}),
                 end(files=["pic", "files"], text=["pic", "text"])], chain("start", "pic", "end"))
    result = run_in(world_tx.alpha, raw, {}, app_id=str(app.pk))
    assert result.status == "succeeded", result.error
    [file] = result.outputs["files"]
    assert (file["type"], file["transfer_method"], file["mime_type"]) == ("image", "tool_file", "image/png")
    assert f"/v1/files/{file['related_id']}/file-preview" in file["url"] and result.outputs["text"] == "here it is"


def test_a_published_workflow_as_a_tool(world_tx) -> None:  # type: ignore[no-untyped-def]
    inner = graph([node("start", "start", variables=[
                       {"variable": "name", "label": "Name", "type": "text-input", "required": True},
                       {"variable": "style", "label": "Style", "type": "select", "options": ["plain", "loud"]}]),
                   node("greet", "template-transform", template="Hello {{ name }} ({{ style }})", variables=[
                       {"variable": "name", "value_selector": ["start", "name"]},
                       {"variable": "style", "value_selector": ["start", "style"]}]),
                   node("end", "end", outputs=[{"variable": "greeting", "value_selector": ["greet", "output"]}])],
                  chain("start", "greet", "end"))
    with tenant_context(world_tx.alpha):
        app = workflow_services.workflow_app_create(name="Greeter", mode="workflow", graph=inner)
        with pytest.raises(Exception, match="Publish the workflow"):
            services.workflow_tool_save(app=app, name="greeter")
        workflow_services.publish(app=app)
        provider = services.workflow_tool_save(app=app, name="greeter", parameters=[
            {"name": "name", "description": "Who to greet", "form": "llm"}, {"name": "style", "form": "form"}])
        from apps.tools.runtime import resolve_tool

        handle = resolve_tool(world_tx.alpha, {"provider_type": "workflow", "provider_id": str(provider.pk),
                                               "tool_name": "greeter"})
        assert handle.parameters_schema() == {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "description": "Who to greet"}}}
    raw = graph([START, tool_node("t", "workflow", str(provider.pk), "greeter",
                                  {"name": {"type": "mixed", "value": "{{#start.q#}}"}}, {"style": "loud"}),
                 end(text=["t", "text"], json=["t", "json"])], chain("start", "t", "end"))
    result = run_in(world_tx.alpha, raw, {"q": "Ada"})
    assert result.status == "succeeded", result.error
    assert result.outputs == {"text": "Hello Ada (loud)", "json": [{"greeting": "Hello Ada (loud)"}]}
    with tenant_context(world_tx.alpha):
        from apps.workflows.models import WorkflowRun

        assert WorkflowRun.objects.filter(app=app, status="succeeded").count() == 1  # a real, stored run


def test_import_report_and_checklist_name_unusable_tools(world_tx) -> None:  # type: ignore[no-untyped-def]
    from apps.workflows import dsl

    raw = graph([START, tool_node("g", "builtin", "langgenius/google/google", "google_search", {"query": "x"}),
                 tool_node("c", "api", "0b7d3f0e-0000-4000-8000-000000000000", "getPet", {}),
                 tool_node("t", "builtin", "time", "current_time", {}),
                 end(text=["t", "text"])], chain("start", "g", "c", "t", "end"))
    with tenant_context(world_tx.alpha):
        _section, notes = dsl.normalise({"graph": raw}, mode="workflow")
        problems = workflow_services.checklist(raw, "workflow")
    assert any("g: The provider google is not authorised" in n for n in notes)
    assert any("There is no custom tool provider" in n for n in notes)
    assert not any(n.startswith("Node t:") for n in notes)
    assert "g: The provider google is not authorised in this workspace." in problems

