"""Issue 14's DSL fidelity items, each with a small file of the shape that failed: imported,
published and run through the Service API, checking the run's outputs.

- a Knowledge Retrieval node whose knowledge base does not exist here gives an empty result;
- a Code node may `import json, requests` and httpx (through the outbound guard);
- an assigner inside an Iteration writes a conversation variable the Answer then reads;
- `manage.py export_app` works for workflow and chatflow apps, with or without --workspace;
- notes (`custom-note`) survive import, publish and export.
"""

import asyncio
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django_tenants.utils import schema_context

from apps.applications import dsl
from apps.applications import services as apps
from apps.workflows import services
from apps.workflows.models import Workflow
from tests.workflows.test_api import call, sse
from tests.workflows.test_dsl import text
from tests.workflows.test_sandbox_network import api  # noqa: F401 (fixture)


def _import(schema: str, name: str) -> tuple[dsl.ImportResult, str]:
    with schema_context(schema):
        result = dsl.import_app(text(name))
        assert result.ok, result.error
        services.publish(app=result.app)
        _, key = apps.api_key_create(app=result.app)
    return result, key


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_knowledge_retrieval_without_its_knowledge_base_gives_an_empty_result(world_tx) -> None:
    result, key = await asyncio.to_thread(_import, world_tx.alpha.schema_name, "knowledge_missing.yml")
    removed = "knowledge bases that do not exist in this workspace were removed"
    assert any(removed in w for w in result.warnings)
    checklist = await asyncio.to_thread(lambda: _in(world_tx, lambda: services.checklist(
        Workflow.objects.get(app=result.app, version="draft").graph, "workflow")))
    assert "Docs: no knowledge base is selected." in checklist  # the editor is told
    events = await sse(await call("POST", "/v1/workflows/run", key,
                                  {"inputs": {"q": "refunds"}, "user": "u", "response_mode": "streaming"}))
    finished = events[-1]["data"]
    assert finished["status"] == "succeeded", finished
    assert finished["outputs"] == {"result": [], "summary": "0 passages for refunds"}
    kr = next(e["data"] for e in events if e["event"] == "node_finished" and e["data"]["node_id"] == "kr")
    assert kr["status"] == "succeeded" and kr["outputs"] == {"result": []}


def _in(world, fn):  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        return fn()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_code_node_imports_requests_and_httpx_through_the_guard(world_tx, api, settings) -> None:  # noqa: F811
    _, key = await asyncio.to_thread(_import, world_tx.alpha.schema_name, "code_requests.yml")
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.1/32"
    done = (await call("POST", "/v1/workflows/run", key, {"inputs": {"api": api}, "user": "u"})).json()
    assert done["data"]["status"] == "succeeded", done
    assert done["data"]["outputs"] == {"path": "/echo?city=Paris", "sent": "Lyon"}
    settings.OUTBOUND_ALLOWED_NETWORKS = ""  # the platform's own network: refused, the node says why
    refused = (await call("POST", "/v1/workflows/run", key, {"inputs": {"api": api}, "user": "u"})).json()
    assert refused["data"]["status"] == "failed"
    assert "ConnectionError" in refused["data"]["error"] and "127.0.0.1" in refused["data"]["error"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_conversation_variable_written_in_an_iteration_reaches_the_answer(world_tx) -> None:
    _, key = await asyncio.to_thread(_import, world_tx.alpha.schema_name, "conversation_in_iteration.yml")
    first = (await call("POST", "/v1/chat-messages", key,
                        {"query": "ensure conversation variable syncs", "inputs": {}, "user": "u"})).json()
    assert first["answer"] == "ensure conversation variable syncs", first
    events = await sse(await call("POST", "/v1/chat-messages", key, {
        "query": "second turn", "inputs": {}, "user": "u", "conversation_id": first["conversation_id"],
        "response_mode": "streaming"}))
    answer = "".join(e.get("answer", "") for e in events if e["event"] == "message")
    assert answer == "second turn"
    stored = (await call("GET", f"/v1/conversations/{first['conversation_id']}/variables", key,
                         {"user": "u"})).json()
    assert {v["name"]: v["value"] for v in stored["data"]} == {"answer": "second turn"}


@pytest.mark.django_db
def test_export_app_command_for_workflow_and_chatflow_apps(world) -> None:
    with schema_context(world.alpha.schema_name):
        flow = dsl.import_app(text("knowledge_missing.yml")).app
        chat = dsl.import_app(text("conversation_in_iteration.yml")).app
    for app in (flow, chat):
        for options in ([], ["--workspace", "alpha"]):
            out = StringIO()
            call_command("export_app", str(app.pk), *options, stdout=out)
            data = yaml.safe_load(out.getvalue())
            assert data["app"]["mode"] == app.mode and data["app"]["name"] == app.name
            assert data["workflow"]["graph"]["nodes"], options
    exported = yaml.safe_load(_export(flow))
    assert exported["workflow"]["graph"]["nodes"][1]["data"]["dataset_ids"] == []


def _export(app) -> str:  # type: ignore[no-untyped-def]
    out = StringIO()
    call_command("export_app", str(app.pk), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_notes_are_kept_through_import_publish_and_export(world, tmp_path) -> None:
    nodes = yaml.safe_load(text("knowledge_missing.yml"))["workflow"]["graph"]["nodes"]
    original = {n["id"]: n for n in nodes}
    with schema_context(world.alpha.schema_name):
        app = dsl.import_app(text("knowledge_missing.yml")).app
        published = services.publish(app=app)
    note = next(n for n in published.graph["nodes"] if n["id"] == "note-1")
    assert note == original["note-1"]
    exported = yaml.safe_load(_export(app))
    notes = [n for n in exported["workflow"]["graph"]["nodes"] if n["type"] == "custom-note"]
    assert notes == [original["note-1"]]
    path = tmp_path / "docs.yml"
    path.write_text(yaml.safe_dump(exported, allow_unicode=True))
    out = StringIO()
    call_command("import_app", str(path), "--workspace", "beta", stdout=out)
    with schema_context(world.beta.schema_name):
        graph = Workflow.objects.get(app_id=out.getvalue().strip(), version="draft").graph
    assert next(n for n in graph["nodes"] if n["id"] == "note-1") == original["note-1"]
