"""DSL import and export of workflow and chatflow apps: Dify-format files import with a report of
what could not be mapped, run unchanged once published, and export → import round-trips."""

import asyncio
import json
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django_tenants.utils import schema_context

from apps.applications import dsl
from apps.applications import services as apps
from apps.applications.models import App
from apps.providers import services as providers
from apps.workflows import services
from apps.workflows.models import Workflow, WorkflowRun
from apps.workflows.variables import SECRET_PREFIX
from tests.fakes.base import Reply
from tests.workflows.test_api import call, sse

FIXTURES = Path(__file__).parent / "fixtures"


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


def _openai(fake) -> None:  # type: ignore[no-untyped-def]
    providers.credential_save(provider_id="openai", validate=False,
                              data={"api_key": "sk-test", "base_url": fake.base_url})


def _import(world, name: str, *, publish: bool = True) -> tuple[dsl.ImportResult, str | None]:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(text(name))
        key = None
        if result.ok and publish:
            services.publish(app=result.app)
            _, key = apps.api_key_create(app=result.app)
    return result, key


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_modern_workflow_imports_and_runs_unchanged(world_tx, fake_openai) -> None:
    await asyncio.to_thread(lambda: _with(world_tx, lambda: _openai(fake_openai)))
    result, key = await asyncio.to_thread(_import, world_tx, "workflow_modern.yml")
    assert result.status == "completed" and result.app.mode == "workflow" and result.app.name == "Topic digest"
    assert result.warnings == []
    fake_openai.script("chat", Reply("A long digest"))
    body = {"inputs": {"topic": "tea", "facts": 3, "style": "long"}, "user": "u", "response_mode": "streaming"}
    events = await sse(await call("POST", "/v1/workflows/run", key, body))
    finished = events[-1]["data"]
    assert finished["status"] == "succeeded", finished
    assert finished["outputs"] == {"digest": "A long digest", "count": 3}
    sent = fake_openai.requests[-1].json
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"][0]["content"] == "Digest: write about tea."
    assert json.loads(sent["messages"][1]["content"]) == ["1) tea fact 1", "2) tea fact 2", "3) tea fact 3"]
    kinds = [e["event"] for e in events]
    assert kinds.count("iteration_next") == 3 and "text_chunk" in kinds
    short = (await call("POST", "/v1/workflows/run", key,
                        {"inputs": {"topic": "tea", "style": "short"}, "user": "u"})).json()
    assert short["data"]["outputs"] == {"digest": "Digest: 1) tea fact 1; 2) tea fact 2"}


def _with(world, fn):  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        return fn()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_legacy_chatflow_imports_and_runs_over_several_turns(world_tx, fake_openai) -> None:
    await asyncio.to_thread(lambda: _with(world_tx, lambda: _openai(fake_openai)))
    result, key = await asyncio.to_thread(_import, world_tx, "chatflow_legacy.yml")
    assert result.status == "completed-with-warnings" and result.app.mode == "advanced-chat"
    assert any("older than the current one" in w for w in result.warnings)
    params = (await call("GET", "/v1/parameters", key)).json()
    assert params["opening_statement"] == "Hi, what do you need?" and params["user_input_form"] == []
    fake_openai.script("chat", Reply('{"category_id": "1711528737066"}'), Reply("Refund approved."),
                       Reply('{"category_id": "1711528739063"}'))
    first = (await call("POST", "/v1/chat-messages", key,
                        {"query": "I want a refund", "inputs": {}, "user": "u"})).json()
    assert first["answer"] == "Refund approved."
    assert fake_openai.requests[-1].json["messages"][0]["content"] == \
        "You handle billing. Request: Refund request: I want a refund"
    second = (await call("POST", "/v1/chat-messages", key, {"query": "what's the weather", "inputs": {},
                                                            "user": "u", "conversation_id": first["conversation_id"]})).json()
    assert second["answer"] == "I can only help with billing."

    def stored():  # type: ignore[no-untyped-def]
        from apps.workflows.models import ConversationVariable

        with schema_context("ws_alpha"):
            return ConversationVariable.objects.get(conversation_id=first["conversation_id"]).value

    assert await asyncio.to_thread(stored) == "I want a refund"  # the second turn took the other branch


@pytest.mark.django_db
def test_unsupported_nodes_and_foreign_datasets_are_reported(world) -> None:
    result, _ = _import(world, "workflow_unsupported.yml", publish=False)
    assert result.status == "completed-with-warnings"  # no version: 0.1.0
    joined = " ".join(result.warnings)
    assert "Current time" not in joined  # the built-in time tool needs no authorising
    assert "knowledge bases that do not exist in this workspace were removed" in joined
    with schema_context(world.alpha.schema_name):
        graph = Workflow.objects.get(app=result.app, version="draft").graph
    nodes = {n["id"]: n["data"] for n in graph["nodes"]}
    assert nodes["kr"]["dataset_ids"] == [] and "credential_id" not in nodes["tool"]
    assert result.dependencies[0]["value"]["marketplace_plugin_unique_identifier"] == "langgenius/time"


@pytest.mark.django_db
def test_export_import_round_trip_and_secrets(world) -> None:
    result, _ = _import(world, "workflow_modern.yml", publish=False)
    with schema_context(world.alpha.schema_name):
        draft = Workflow.objects.get(app=result.app, version="draft")
        token = next(v for v in draft.environment_variables if v["name"] == "TOKEN")
        assert token["value"].startswith(SECRET_PREFIX) and "s3cr3t-token" not in json.dumps(
            draft.environment_variables)
        exported = dsl.export_app(result.app)
        with_secret = dsl.export_app(result.app, include_secrets=True)
        again = dsl.import_app(exported)
        assert again.status == "completed"
        second = Workflow.objects.get(app=again.app, version="draft")
        assert second.graph == draft.graph and second.features == draft.features
        assert dsl.export_app(again.app) == exported
    data = yaml.safe_load(exported)
    assert list(data) == ["app", "dependencies", "kind", "version", "workflow"]
    assert data["version"] == "0.5.0" and data["app"]["mode"] == "workflow"
    envs = {v["name"]: v["value"] for v in data["workflow"]["environment_variables"]}
    assert envs == {"PREFIX": "Digest:", "TOKEN": ""}
    assert {v["name"]: v["value"] for v in yaml.safe_load(with_secret)["workflow"]["environment_variables"]}[
        "TOKEN"] == "s3cr3t-token"
    assert data["dependencies"][0]["value"]["marketplace_plugin_unique_identifier"] == "langgenius/openai"
    assert any(n["type"] == "custom-note" for n in data["workflow"]["graph"]["nodes"])  # notes travel


@pytest.mark.django_db
def test_import_refusals_and_overwriting_a_draft(world) -> None:
    with schema_context(world.alpha.schema_name):
        missing = dsl.import_app("app: {mode: workflow, name: X}\nversion: '0.5.0'\n")
        assert missing.status == "failed" and "Missing workflow data" in missing.error
        bad_env = dsl.import_app("app: {mode: workflow, name: X}\nworkflow:\n  graph: {nodes: [], edges: []}\n"
                                 "  environment_variables: [{name: A, value_type: number, value: abc}]\n")
        assert bad_env.status == "failed" and "A must be a number" in bad_env.error
        target = services.workflow_app_create(name="Target", mode="advanced-chat")
        wrong = dsl.import_app(text("workflow_modern.yml"), app=target)
        assert wrong.status == "failed" and "cannot replace" in wrong.error
        flow = services.workflow_app_create(name="Flow", mode="workflow")
        replaced = dsl.import_app(text("workflow_modern.yml"), app=flow)
        assert replaced.ok and replaced.app.pk == flow.pk and App.objects.get(pk=flow.pk).name == "Topic digest"
        assert len(Workflow.objects.get(app=flow, version="draft").graph["nodes"]) == 11


@pytest.mark.django_db
def test_import_app_command_publishes_workflow_apps(world, tmp_path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text(text("workflow_modern.yml"))
    out, err = StringIO(), StringIO()
    call_command("import_app", str(path), "--workspace", "alpha", "--publish", stdout=out, stderr=err)
    with schema_context(world.alpha.schema_name):
        app = App.objects.get(pk=out.getvalue().strip())
        assert Workflow.objects.filter(app=app).exclude(version="draft").count() == 1
        assert WorkflowRun.objects.count() == 0
