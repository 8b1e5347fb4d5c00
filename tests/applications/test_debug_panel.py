"""Debug & preview extras: stopping a running draft run, follow-up suggestions after a debug
answer and "more like this" for completion apps; each scoped to the member's own runs."""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import ThreadSensitiveContext
from django.test import AsyncClient
from django.urls import reverse
from django_tenants.utils import schema_context

from apps.applications import services as apps
from apps.applications.config import with_defaults
from apps.applications.models import App
from apps.logs.models import Message
from apps.providers import services as providers
from tests.applications.test_orchestrate import _messages, _setup, _url
from tests.conftest import client_for
from tests.fakes.base import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SLOW = Reply(" ".join(f"w{i}" for i in range(60)), chunk_size=1, delay_between_chunks=0.2)


def _stop_url(app_id, task_id, ws: str = "alpha") -> str:  # type: ignore[no-untyped-def]
    return reverse("console:app_debug_stop", kwargs={"ws": ws, "app_id": app_id, "task_id": task_id})


def _suggested_url(app_id, message_id, ws: str = "alpha") -> str:  # type: ignore[no-untyped-def]
    return reverse("console:app_debug_suggested", kwargs={"ws": ws, "app_id": app_id, "message_id": message_id})


def _enable(app_id, **features) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        app = App.objects.get(pk=app_id)
        apps.draft_save(app=app, config={**with_defaults(app.draft_config), **features})


async def _open(user, app_id, body: dict):  # type: ignore[no-untyped-def]
    client = AsyncClient()
    await asyncio.to_thread(client.force_login, user)
    async with ThreadSensitiveContext():
        return await client.post(_url("app_debug_chat", app_id), data=json.dumps(body),
                                 content_type="application/json")


def _parse(chunk: bytes) -> list[dict]:
    return [json.loads(b[6:]) for b in chunk.decode().split("\n\n") if b.startswith("data: ")]


async def test_stop_ends_the_draft_run_and_keeps_the_partial_answer(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = await asyncio.to_thread(_setup, world_tx, fake_openai)
    fake_openai.script("chat", SLOW)
    editor = world_tx.editor.user
    response = await _open(editor, app.pk, {"query": "Talk", "inputs": {}})
    stream = response.streaming_content.__aiter__()
    events: list[dict] = []
    while not any(e["event"] == "message" for e in events):
        events += _parse(await stream.__anext__())
    task_id = events[0]["task_id"]

    # Another member of the workspace cannot stop it; an unknown task is a 404, not a silent success.
    admin = await asyncio.to_thread(client_for, world_tx.admin.user)
    assert (await asyncio.to_thread(admin.post, _stop_url(app.pk, task_id))).status_code == 404
    editor_client = await asyncio.to_thread(client_for, editor)
    assert (await asyncio.to_thread(editor_client.post, _stop_url(app.pk, uuid.uuid4()))).status_code == 404
    stopped = await asyncio.to_thread(editor_client.post, _stop_url(app.pk, task_id))
    assert stopped.status_code == 200 and stopped.json() == {"result": "success"}

    async for chunk in stream:
        events += _parse(chunk)
    assert events[-1]["event"] == "message_end"
    answer = "".join(e["answer"] for e in events if e["event"] == "message")
    assert answer and answer != SLOW.text and SLOW.text.startswith(answer)
    [stored] = await asyncio.to_thread(_messages, task_id=task_id)
    assert stored.status == Message.Status.STOPPED and stored.answer == answer


async def test_stop_is_scoped_to_the_workspace_and_role(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = await asyncio.to_thread(_setup, world_tx, fake_openai)
    fake_openai.script("chat", Reply("done"))
    events = _parse(b"".join([c async for c in (await _open(world_tx.editor.user, app.pk,
                                                              {"query": "Hi", "inputs": {}})).streaming_content]))
    task_id = events[0]["task_id"]
    bruno = await asyncio.to_thread(client_for, world_tx.other.user)  # owner of beta: alpha's app and task do not exist there
    assert (await asyncio.to_thread(bruno.post, _stop_url(app.pk, task_id, ws="beta"))).status_code == 404
    assert (await asyncio.to_thread(bruno.post, _stop_url(app.pk, task_id))).status_code == 404
    noor = await asyncio.to_thread(client_for, world_tx.normal.user)  # alpha member without edit rights
    assert (await asyncio.to_thread(noor.post, _stop_url(app.pk, task_id))).status_code == 403
    editor = await asyncio.to_thread(client_for, world_tx.editor.user)
    assert (await asyncio.to_thread(editor.get, _stop_url(app.pk, task_id))).status_code == 405


def _default_llm() -> None:
    with schema_context("ws_alpha"):
        providers.default_model_set(model_type="llm", provider_id="openai_api_compatible", model="fake-chat")


async def test_follow_up_suggestions_after_a_debug_answer(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = await asyncio.to_thread(_setup, world_tx, fake_openai)
    await asyncio.to_thread(_default_llm)
    fake_openai.script("chat", Reply("Paris is the capital."),
                       Reply('["How big is Paris?", "What to see?", "Best season?"]'))
    editor = world_tx.editor.user
    events = _parse(b"".join([c async for c in (await _open(editor, app.pk,
                                                              {"query": "Capital of France?", "inputs": {}})).streaming_content]))
    message_id = events[-1]["message_id"]
    client = await asyncio.to_thread(client_for, editor)
    # Off in the draft: a 400 in the API error format, and the model is not asked.
    off = await asyncio.to_thread(client.get, _suggested_url(app.pk, message_id))
    assert off.status_code == 400 and off.json()["code"] == "bad_request"
    await asyncio.to_thread(_enable, app.pk, suggested_questions_after_answer={"enabled": True})
    on = await asyncio.to_thread(client.get, _suggested_url(app.pk, message_id))
    assert on.status_code == 200
    assert on.json() == {"result": "success", "data": ["How big is Paris?", "What to see?", "Best season?"]}
    assert "Human: Capital of France?\nAssistant: Paris is the capital." in (
        fake_openai.requests[-1].json["messages"][1]["content"])
    # Someone else's message, another workspace, or an API message id: 404.
    admin = await asyncio.to_thread(client_for, world_tx.admin.user)
    assert (await asyncio.to_thread(admin.get, _suggested_url(app.pk, message_id))).status_code == 404
    bruno = await asyncio.to_thread(client_for, world_tx.other.user)
    assert (await asyncio.to_thread(bruno.get, _suggested_url(app.pk, message_id, ws="beta"))).status_code == 404
    assert (await asyncio.to_thread(client.get, _suggested_url(app.pk, uuid.uuid4()))).status_code == 404


async def test_more_like_this_reruns_a_completion_with_a_higher_temperature(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = await asyncio.to_thread(_setup, world_tx, fake_openai, "completion")
    editor = world_tx.editor.user
    refused = await _open(editor, app.pk, {"inputs": {}, "more_like_this": True})
    assert refused.status_code == 400 and refused.json()["code"] == "bad_request"
    await asyncio.to_thread(_enable, app.pk, more_like_this={"enabled": True})
    fake_openai.script("chat", Reply("Take one"), Reply("Take two"))
    first = _parse(b"".join([c async for c in (await _open(editor, app.pk, {"inputs": {}})).streaming_content]))
    assert fake_openai.requests[-1].json["temperature"] == 0.3
    again = _parse(b"".join([c async for c in (await _open(editor, app.pk,
                                                             {"inputs": {}, "more_like_this": True})).streaming_content]))
    assert fake_openai.requests[-1].json["temperature"] == 0.9
    assert "".join(e.get("answer", "") for e in again if e["event"] == "message") == "Take two"
    assert first[-1]["message_id"] != again[-1]["message_id"]
