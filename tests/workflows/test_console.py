"""Console pages of workflow apps: the workflow page (graph, checklist, history), the draft JSON API,
publish and restore, test runs over SSE, run detail, Studio create/duplicate, and isolation."""

import json

import pytest
from asgiref.sync import ThreadSensitiveContext
from django.test import AsyncClient
from django_tenants.utils import schema_context

from apps.applications.models import App
from apps.workflows import services
from apps.workflows.models import Workflow, WorkflowRun
from tests.conftest import client_for
from tests.fakes.base import Reply
from tests.workflows.conftest import build, chatflow_graph
from tests.workflows.helpers import chain, graph, node

BASE = "/console/alpha/apps"


def _flow(world) -> App:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        g = graph([node("start", "start", variables=[{"variable": "q", "label": "Q", "type": "text-input",
                                                      "required": True}]),
                   node("t", "template-transform", template="<b>{{ q }}</b>",
                        variables=[{"variable": "q", "value_selector": ["start", "q"]}]),
                   node("end", "end", outputs=[{"variable": "r", "value_selector": ["t", "output"]}])],
                  chain("start", "t", "end"))
        return services.workflow_app_create(name="Flow", mode="workflow", graph=g,
                                            environment_variables=[{"name": "KEY", "value_type": "secret",
                                                                    "value": "hunter2"}])


@pytest.mark.django_db
def test_workflow_page_shows_graph_checklist_and_publishes(world) -> None:
    app = _flow(world)
    client = client_for(world.editor.user)
    page = client.get(f"{BASE}/{app.pk}/workflow/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="workflow-data"' in body and "Not published yet" in body
    # The canvas reads the draft and its (empty) checklist from the editor's config; the run panel
    # reads the Start node's inputs from its own data.
    editor = json.loads(body.split('id="workflow-editor-config" type="application/json">')[1].split("</script>")[0])
    assert [n["id"] for n in editor["graph"]["nodes"]] == ["start", "t", "end"] and len(editor["graph"]["edges"]) == 2
    assert editor["checklist"] == []
    data = json.loads(body.split('id="workflow-data" type="application/json">')[1].split("</script>")[0])
    assert data["inputs"][0]["variable"] == "q"
    assert client.get(f"{BASE}/{app.pk}/orchestrate/").url.endswith(f"/apps/{app.pk}/workflow/")
    response = client.post(f"{BASE}/{app.pk}/workflow/publish/")
    assert response.status_code == 302
    with schema_context(world.alpha.schema_name):
        assert Workflow.objects.filter(app=app).exclude(version="draft").count() == 1


@pytest.mark.django_db
def test_draft_json_api_round_trip_masks_secrets_and_restore(world) -> None:
    app = _flow(world)
    client = client_for(world.editor.user)
    url = f"{BASE}/{app.pk}/workflow/draft/"
    draft = client.get(url).json()
    assert draft["environment_variables"][0]["value"] == "[__HIDDEN__]" and "hunter2" not in json.dumps(draft)
    with schema_context(world.alpha.schema_name):
        services.publish(app=app)
    changed = dict(draft["graph"])
    changed["nodes"] = [n for n in draft["graph"]["nodes"] if n["id"] != "end"]
    saved = client.post(url, {"graph": changed, "environment_variables": draft["environment_variables"]},
                        content_type="application/json").json()
    assert saved["ok"] and "The workflow has no End node." in saved["checklist"]
    with schema_context(world.alpha.schema_name):
        from apps.workflows.variables import unseal

        stored = Workflow.objects.get(app=app, version="draft")
        assert unseal("ws_alpha", stored.environment_variables) == {"KEY": "hunter2"}  # the mask kept the secret
    bad = client.post(url, {"graph": {"nodes": "nope"}}, content_type="application/json")
    assert bad.status_code == 400
    page = client.get(f"{BASE}/{app.pk}/workflow/").content.decode()
    assert "The workflow has no End node." in page and "Unpublished changes" in page
    with schema_context(world.alpha.schema_name):
        version = Workflow.objects.filter(app=app).exclude(version="draft").get()
    client.post(f"{BASE}/{app.pk}/workflow/versions/{version.pk}/restore/")
    assert len(client.get(url).json()["graph"]["nodes"]) == 3


@pytest.mark.django_db
def test_publish_is_refused_while_the_checklist_has_problems(world) -> None:
    with schema_context(world.alpha.schema_name):
        app = services.workflow_app_create(name="Chat", mode="advanced-chat")  # the LLM has no model yet
    client = client_for(world.owner.user)
    page = client.get(f"{BASE}/{app.pk}/workflow/").content.decode()
    assert "LLM: no model is selected." in page
    client.post(f"{BASE}/{app.pk}/workflow/publish/")
    with schema_context(world.alpha.schema_name):
        assert not Workflow.objects.filter(app=app).exclude(version="draft").exists()


@pytest.mark.django_db
def test_studio_creates_and_duplicates_workflow_apps(world) -> None:
    client = client_for(world.editor.user)
    assert "Workflow" in client.get(f"{BASE}/new/").content.decode()
    response = client.post(f"{BASE}/new/", {"template": "blank", "mode": "advanced-chat", "name": "Bot",
                                            "icon": "🤖", "icon_background": "#E4EEF9", "description": ""})
    assert response.status_code == 302 and response.url.endswith("/workflow/")
    with schema_context(world.alpha.schema_name):
        app = App.objects.get(name="Bot")
        assert app.mode == "advanced-chat"
        assert [n["data"]["type"] for n in Workflow.objects.get(app=app).graph["nodes"]] == ["start", "llm", "answer"]
    client.post(f"{BASE}/{app.pk}/duplicate/")
    with schema_context(world.alpha.schema_name):
        copy = App.objects.exclude(pk=app.pk).get(name__startswith="Bot")
        assert Workflow.objects.get(app=copy, version="draft").graph["nodes"][1]["data"]["type"] == "llm"


@pytest.mark.django_db
def test_workflow_pages_are_isolated_and_need_edit_rights(world) -> None:
    app = _flow(world)
    with schema_context(world.alpha.schema_name):
        run = WorkflowRun.objects.create(app=app, workflow_version="draft", mode="workflow",
                                         triggered_from="debugging")
        chat = App.objects.create(name="Plain", mode="chat")
    urls = ["/workflow/", "/workflow/draft/", f"/workflow/runs/{run.pk}/"]
    beta = client_for(world.other.user)
    for suffix in urls:
        # beta's owner: alpha is not their workspace; their own workspace has no such app
        assert beta.get(f"{BASE}/{app.pk}{suffix}").status_code in (403, 404)
        assert beta.get(f"/console/beta/apps/{app.pk}{suffix}").status_code == 404
    assert beta.post(f"/console/beta/apps/{app.pk}/workflow/publish/").status_code == 404
    assert beta.post(f"/console/beta/apps/{app.pk}/workflow/draft/", {"graph": {}},
                     content_type="application/json").status_code == 404
    normal = client_for(world.normal.user)
    readonly = normal.get(f"{BASE}/{app.pk}/workflow/")  # a member sees the canvas, read-only
    assert readonly.status_code == 200 and "Read only: your role (Member)" in readonly.content.decode()
    assert 'id="wf-publish-form"' not in readonly.content.decode()
    assert normal.get(f"{BASE}/{app.pk}/workflow/draft/").status_code == 403
    assert normal.post(f"{BASE}/{app.pk}/workflow/draft/", {"graph": {}},
                       content_type="application/json").status_code == 403
    assert normal.post(f"{BASE}/{app.pk}/workflow/publish/").status_code == 403
    editor = client_for(world.editor.user)
    assert editor.get(f"{BASE}/{chat.pk}/workflow/").status_code == 404  # not a workflow app
    assert editor.get(f"{BASE}/{app.pk}/workflow/runs/{run.pk}/").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_test_run_streams_stores_a_debug_run_and_shows_its_trace(world_tx, fake_openai) -> None:
    import asyncio

    setup = await asyncio.to_thread(build, world_tx, fake_openai)
    client = AsyncClient()
    await asyncio.to_thread(client.force_login, world_tx.editor.user)
    fake_openai.script("chat", Reply("streamed answer"))
    async with ThreadSensitiveContext():
        response = await client.post(f"{BASE}/{setup.chatflow.pk}/workflow/run/",
                                     data=json.dumps({"inputs": {"name": "Ada"}, "query": "hi"}),
                                     content_type="application/json")
    assert response.status_code == 200
    raw = b"".join([c async for c in response.streaming_content]).decode()
    events = [json.loads(b[6:]) for b in raw.split("\n\n") if b.startswith("data: ")]
    assert events[-1]["event"] == "message_end" and events[-2]["data"]["status"] == "succeeded"
    run_id = events[0]["workflow_run_id"]

    def stored():  # type: ignore[no-untyped-def]
        with schema_context("ws_alpha"):
            return WorkflowRun.objects.get(pk=run_id)

    run = await asyncio.to_thread(stored)
    assert run.triggered_from == "debugging" and run.created_by_account_id == world_tx.editor.user.pk
    assert run.workflow_version == "draft"
    async with ThreadSensitiveContext():
        detail = await client.get(f"{BASE}/{setup.chatflow.pk}/workflow/runs/{run_id}/")
        page = await client.get(f"{BASE}/{setup.chatflow.pk}/workflow/")
        logs = await client.get("/v1/workflows/logs", headers={"Authorization": f"Bearer {setup.chat_key}"})
    text = detail.content.decode()
    assert "streamed answer" in text and 'data-testid="trace"' in text and text.count("<tr>") >= 5
    assert str(run_id) in page.content.decode()
    assert logs.json()["total"] == 0  # test runs stay out of the logs
    async with ThreadSensitiveContext():
        bad = await client.post(f"{BASE}/{setup.chatflow.pk}/workflow/run/", data=json.dumps({"inputs": {}}),
                                content_type="application/json")
        foreign = await client.post(f"/console/beta/apps/{setup.beta_workflow.pk}/workflow/run/",
                                    data=json.dumps({"inputs": {}}), content_type="application/json")
    assert bad.status_code == 400 and bad.json()["message"] == "query is required"
    assert foreign.status_code in (403, 404)


_ = chatflow_graph


@pytest.mark.django_db
def test_step_test_runs_one_node_with_given_values(world) -> None:
    app = _flow(world)
    client = client_for(world.editor.user)
    url = f"{BASE}/{app.pk}/workflow/nodes/t/run/"
    assert client.get(url).json()["variables"] == ["start.q"]
    result = client.post(url, {"values": {"start.q": "hi"}}, content_type="application/json").json()["node"]
    assert result["status"] == "succeeded" and result["outputs"] == {"output": "<b>hi</b>"}
    assert result["inputs"] == {"q": "hi"} and "elapsed_time" in result
    again = client.post(url, {"values": {"start.q": "again"}}, content_type="application/json").json()["node"]
    assert again["outputs"] == {"output": "<b>again</b>"}
    missing = client.post(f"{BASE}/{app.pk}/workflow/nodes/end/run/", {"values": {}},
                          content_type="application/json").json()["node"]
    assert missing["status"] == "succeeded" and missing["outputs"] == {"r": None}
    assert client.get(f"{BASE}/{app.pk}/workflow/nodes/nope/run/").status_code == 404
    assert client.post(url, {"values": "x"}, content_type="application/json").status_code == 400
    assert client_for(world.other.user).get(f"/console/beta/apps/{app.pk}/workflow/nodes/t/run/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["workflow", "advanced-chat"])
def test_every_studio_tab_of_a_workflow_app_renders(world, mode: str) -> None:
    with schema_context(world.alpha.schema_name):
        app = services.workflow_app_create(name="Tabs", mode=mode)
        services.publish(app=app)  # the app's live config is then the published features
    client = client_for(world.owner.user)
    for suffix in ("", "edit/", "api/", "logs/", "webapp/", "workflow/", "export/"):
        response = client.get(f"{BASE}/{app.pk}/{suffix}")
        assert response.status_code == 200, (suffix, response.status_code)
    studio = client.get(f"{BASE}/").content.decode()
    assert "Tabs" in studio


@pytest.mark.django_db
def test_publishing_shows_in_the_studio_header(world) -> None:
    app = _flow(world)
    client = client_for(world.owner.user)
    assert "Draft, not published yet" in client.get(f"{BASE}/{app.pk}/").content.decode()
    client.post(f"{BASE}/{app.pk}/workflow/publish/")
    client.post(f"{BASE}/{app.pk}/workflow/publish/")
    assert "Published · v2" in client.get(f"{BASE}/{app.pk}/").content.decode()


@pytest.mark.django_db
def test_run_log_lists_api_runs_with_status_filter(world) -> None:
    app = _flow(world)
    with schema_context(world.alpha.schema_name):
        ok = WorkflowRun.objects.create(app=app, workflow_version="v", mode="workflow", triggered_from="app-run",
                                        status="succeeded")
        bad = WorkflowRun.objects.create(app=app, workflow_version="v", mode="workflow", triggered_from="app-run",
                                         status="failed", error="boom")
        debug = WorkflowRun.objects.create(app=app, workflow_version="draft", mode="workflow",
                                           triggered_from="debugging")
    normal = client_for(world.normal.user)  # members who may read logs
    page = normal.get(f"{BASE}/{app.pk}/workflow/logs/")
    if page.status_code == 403:
        normal = client_for(world.owner.user)
        page = normal.get(f"{BASE}/{app.pk}/workflow/logs/")
    text = page.content.decode()
    assert str(ok.pk) in text and str(bad.pk) in text and str(debug.pk) not in text
    failed = normal.get(f"{BASE}/{app.pk}/workflow/logs/?status=failed").content.decode()
    assert str(bad.pk) in failed and str(ok.pk) not in failed
    detail = normal.get(f"{BASE}/{app.pk}/workflow/runs/{bad.pk}/").content.decode()
    assert "boom" in detail
    overview = client_for(world.owner.user).get(f"{BASE}/{app.pk}/").content.decode()
    assert f"/apps/{app.pk}/workflow/logs/" in overview
    assert client_for(world.other.user).get(f"/console/beta/apps/{app.pk}/workflow/logs/").status_code == 404
