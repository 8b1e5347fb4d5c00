"""The workflow WebApp's endpoints (WEB-16): /workflow/<code>, a run streamed with its events, the
CSV batch of workflow runs, and isolation between browsers and workspaces."""

import json

import pytest
from asgiref.sync import ThreadSensitiveContext
from django.test import AsyncClient, Client
from django_tenants.utils import schema_context

from apps.applications.webapp import identity
from apps.logs.models import CompletionBatch
from apps.workflows.models import WorkflowRun
from tests.conftest import client_for
from tests.fakes.base import Reply
from tests.webapp.test_completion_api import HEADERS, _api, _browser, _csv_file, _rows, _upload
from tests.webapp.workflow_setup import build_flow_site, text_graph

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def flow(world_tx, fake_openai):  # type: ignore[no-untyped-def]
    return build_flow_site(world_tx, fake_openai, text_graph())


async def _run(code: str, cookie: tuple[str, str], body: dict,
               headers: dict | None = None) -> tuple[int, list]:
    client = AsyncClient()
    client.cookies[cookie[0]] = cookie[1]
    async with ThreadSensitiveContext():
        response = await client.post(_api(code, "workflows/run"), data=json.dumps(body),
                                     content_type="application/json",
                                     headers=HEADERS if headers is None else headers)
    if response.status_code != 200:
        return response.status_code, [json.loads(response.content)]
    raw = b"".join([chunk async for chunk in response.streaming_content]).decode()
    return 200, [json.loads(b[6:]) for b in raw.split("\n\n") if b.startswith("data: ")]


def _cookie(schema: str, app) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with schema_context(schema):
        _user, token = identity.end_user_for_token(app, None)
    return identity.cookie_name(app), token


def test_the_page_and_the_console_link(flow, world_tx) -> None:  # type: ignore[no-untyped-def]
    page = Client().get(f"/workflow/{flow.code}")
    assert page.status_code == 200 and b"waWorkflow" in page.content and b"Topic" in page.content
    console = client_for(world_tx.owner.user).get(f"/console/alpha/apps/{flow.app.pk}/webapp/")
    assert f"/workflow/{flow.code}".encode() in console.content
    # A chat or completion page does not open a workflow app, nor a workflow page another kind.
    assert Client().get(f"/completion/{flow.code}").status_code == 404
    assert Client().get(f"/chat/{flow.code}").status_code == 404


@pytest.mark.asyncio
async def test_a_run_streams_its_steps_and_outputs(flow, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("Waves roll in."))
    cookie = await _in_thread(_cookie, "ws_alpha", flow.app)
    status, events = await _run(flow.code, cookie, {"inputs": {"topic": "the sea"}})
    assert status == 200
    kinds = [e["event"] for e in events]
    assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_finished"
    assert [e["data"]["node_id"] for e in events if e["event"] == "node_finished"] == ["start", "llm", "end"]
    finished = events[-1]["data"]
    assert finished["status"] == "succeeded" and finished["outputs"] == {"text": "Waves roll in."}

    def stored():  # type: ignore[no-untyped-def]
        with schema_context("ws_alpha"):
            run = WorkflowRun.objects.select_related("created_by_end_user").get(pk=finished["id"])
            return run.created_from, run.created_by_end_user.session_id

    created_from, session = await _in_thread(stored)
    assert created_from == "web-app" and session  # the browser's own end user, in the Logs
    missing, body = await _run(flow.code, cookie, {"inputs": {}})
    assert missing == 400 and body[0]["message"] == "topic is required in input form"
    forged, body = await _run(flow.code, cookie, {"inputs": {"topic": "x"}}, headers={})
    assert forged == 403  # no X-Tessera-WebApp header: not from the page


async def _in_thread(fn, *args):  # type: ignore[no-untyped-def]
    import asyncio

    return await asyncio.to_thread(fn, *args)


def test_a_csv_batch_runs_the_workflow_per_row(flow, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.responder = lambda request: Reply("About " + request.json["messages"][-1]["content"][12:-1])
    _user, client = _browser("ws_alpha", flow.app)
    template = client.get(_api(flow.code, "completion-batches/template"))
    assert _rows(template.content) == [["Topic"]]
    body = _upload(client, flow.code, _csv_file("Topic\nthe sea\n\nthe hills\n" + "x" * 101 + "\n")).json()
    detail = client.get(_api(flow.code, f"completion-batches/{body['id']}")).json()
    assert detail["status"] == "finished" and detail["total"] == 3 and detail["succeeded"] == 2
    assert [r["answer"] for r in detail["rows"][:2]] == ["About the sea", "About the hills"]
    assert "must be less than 100 characters" in detail["rows"][2]["error"]
    export = _rows(client.get(_api(flow.code, f"completion-batches/{body['id']}/export")).content)
    assert export[1] == ["the sea", "About the sea", "succeeded", ""]
    with schema_context("ws_alpha"):
        assert WorkflowRun.objects.filter(app=flow.app, created_from="web-app").count() == 2


def test_runs_and_batches_stay_in_their_browser_and_workspace(flow, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.responder = lambda request: Reply("ok")
    _user, client = _browser("ws_alpha", flow.app)
    batch_id = _upload(client, flow.code, _csv_file("Topic\nthe sea\n")).json()["id"]
    # Another browser of the same app, and beta's site (its own workspace), cannot see the batch.
    _other, other = _browser("ws_alpha", flow.app)
    _beta_user, beta = _browser("ws_beta", flow.beta_app)
    assert other.get(_api(flow.code, "completion-batches")).json()["data"] == []
    for path in (f"completion-batches/{batch_id}", f"completion-batches/{batch_id}/export"):
        assert other.get(_api(flow.code, path)).status_code == 404
        assert beta.get(_api(flow.beta_code, path)).status_code == 404
    with schema_context("ws_beta"):
        assert not CompletionBatch.objects.exists() and not WorkflowRun.objects.exists()
    # Alpha's cookie means nothing to beta's site: it gets a new end user of beta's app.
    beta_page = client.get(f"/workflow/{flow.beta_code}")
    assert beta_page.status_code == 200 and b"Flow ws_beta" in beta_page.content
    assert client.get(_api(flow.beta_code, "completion-batches")).json()["data"] == []
