"""Console → app → Orchestrate: saving basic and expert configs, validation, publishing, roles,
isolation, and the debug & preview stream."""

import asyncio
import json

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
from tests.conftest import client_for
from tests.fakes.base import Reply

MODEL = {"provider": "openai_api_compatible", "name": "fake-chat", "mode": "chat",
         "completion_params": {"temperature": 0.3, "max_tokens": 256}}


def _setup(world, fake, mode: str = "chat") -> App:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake.base_url, "model": "fake-chat", "model_type": "llm"})
        app = apps.app_create(name="Helper", mode=mode, config={"model": MODEL, "pre_prompt": "Be brief."})
        apps.app_publish(app=app)
    return app


def _url(name: str, app_id, ws: str = "alpha") -> str:  # type: ignore[no-untyped-def]
    return reverse(f"console:{name}", kwargs={"ws": ws, "app_id": app_id})


def _app(app_id) -> App:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        return App.objects.select_related("published").get(pk=app_id)


def _basic(**changes) -> dict:  # type: ignore[no-untyped-def]
    config = with_defaults({"model": MODEL})
    config.update({
        "pre_prompt": "Translate the content to: {{language}}",
        "user_input_form": [
            {"select": {"variable": "language", "label": "Language", "required": True, "options": ["French", "German"]}},
            {"text-input": {"variable": "name", "label": "", "required": False, "max_length": 30}},
        ],
        "opening_statement": "Hello {{name}}", "suggested_questions": ["What now?", ""],
        "suggested_questions_after_answer": {"enabled": True},
        "speech_to_text": {"enabled": True},  # no STT model in the workspace: refused
        "file_upload": {"image": {"enabled": True}},  # fake-chat has no vision: refused
    })
    config["model"] = {**MODEL, "completion_params": {"temperature": 5, "top_p": 0.5, "presence_penalty": -9,
                                                      "frequency_penalty": 0.2, "max_tokens": 100,
                                                      "stop": ["END", "END", "###"]}}
    config.update(changes)
    return config


def _save(client, app_id, config, **headers):  # type: ignore[no-untyped-def]
    return client.post(_url("app_orchestrate", app_id), {"config": json.dumps(config)}, **headers)


def test_page_renders_for_editor(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    response = client_for(world.editor.user).get(_url("app_orchestrate", app.pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert "orchestrate-data" in body and "fake-chat" in body and "Published v1" in body
    assert "Debug and preview" in body and "Unpublished changes" not in body


def test_basic_config_saved_to_draft_only(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    live_before = _app(app.pk).live_config
    response = _save(client_for(world.editor.user), app.pk, _basic())
    assert response.status_code == 302
    saved = _app(app.pk)
    draft = saved.draft_config
    assert draft["pre_prompt"] == "Translate the content to: {{language}}"
    assert draft["user_input_form"][0]["select"]["options"] == ["French", "German"]
    assert draft["user_input_form"][1]["text-input"] == {
        "variable": "name", "label": "name", "required": False, "max_length": 30, "default": ""}
    params = draft["model"]["completion_params"]
    assert (params["temperature"], params["top_p"], params["presence_penalty"]) == (2.0, 0.5, -2.0)
    assert params["stop"] == ["END", "###"] and params["max_tokens"] == 100
    assert draft["suggested_questions"] == ["What now?"] and draft["suggested_questions_after_answer"]["enabled"]
    assert draft["speech_to_text"]["enabled"] is False and draft["file_upload"]["image"]["enabled"] is False
    # The live version is untouched until publish; the page says so.
    assert saved.live_config == live_before and saved.live_config["pre_prompt"] == "Be brief."
    page = client_for(world.editor.user).get(_url("app_orchestrate", app.pk)).content.decode()
    assert "Unpublished changes" in page


def test_invalid_variables_are_refused(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    bad = _basic(user_input_form=[{"text-input": {"variable": "1bad", "label": "x"}},
                                  {"select": {"variable": "s", "label": "S", "options": []}}])
    response = _save(client_for(world.editor.user), app.pk, bad, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert len(response.json()["errors"]) == 2
    assert _app(app.pk).draft_config["pre_prompt"] == "Be brief."


def test_expert_chat_and_completion_templates(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    client = client_for(world.editor.user)
    expert = _basic(prompt_type="advanced", memory_window=7,
                    chat_prompt_config={"prompt": [{"role": "system", "text": "You are {{name}}. {{#context#}}"},
                                                   {"role": "user", "text": "Example"},
                                                   {"role": "assistant", "text": "Answer"},
                                                   {"role": "bogus", "text": "dropped"}]})
    response = _save(client, app.pk, expert, HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json()["ok"]
    draft = _app(app.pk).draft_config
    assert draft["prompt_type"] == "advanced" and draft["memory_window"] == 7
    assert [m["role"] for m in draft["chat_prompt_config"]["prompt"]] == ["system", "user", "assistant"]

    # Refused: the same block twice, and {{#histories#}} in a chat-model prompt.
    twice = {**expert, "chat_prompt_config": {"prompt": [
        {"role": "system", "text": "{{#context#}} {{#histories#}}"}, {"role": "user", "text": "{{#context#}}"}]}}
    response = _save(client, app.pk, twice)
    assert response.status_code == 400
    body = response.content.decode()
    assert "may appear only once" in body and "belongs in completion-mode prompts" in body
    assert _app(app.pk).draft_config["chat_prompt_config"] == draft["chat_prompt_config"]

    # A completion-mode model in a chat app needs the history and query blocks.
    with schema_context("ws_alpha"):
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake_openai.base_url, "model": "fake-complete", "model_type": "llm", "mode": "completion"})
    completion = {**expert, "model": {**MODEL, "name": "fake-complete", "mode": "chat"},
                  "completion_prompt_config": {"prompt": {"text": "Just {{#query#}}"}}}
    response = _save(client, app.pk, completion, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json()["problems"] == ["The completion prompt of a chat app needs the {{#histories#}} block."]
    completion["completion_prompt_config"] = {
        "prompt": {"text": "{{#histories#}}\nMe: {{#query#}}\nAI:"},
        "conversation_histories_role": {"user_prefix": "Me", "assistant_prefix": "AI"}}
    response = _save(client, app.pk, completion, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.json()
    draft = _app(app.pk).draft_config
    assert draft["model"]["mode"] == "completion"  # from the model, not from the browser
    assert draft["completion_prompt_config"]["conversation_histories_role"] == {"user_prefix": "Me",
                                                                                "assistant_prefix": "AI"}
    # The live validation endpoint answers the same problems.
    problems = client.post(_url("app_orchestrate_validate", app.pk), {"config": json.dumps(twice)}).json()["problems"]
    assert "{{#context#}} may appear only once." in problems


def test_publish_creates_versions_and_locks_expert_mode(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    client = client_for(world.editor.user)
    _save(client, app.pk, _basic(pre_prompt="Version two"))
    assert _app(app.pk).live_config["pre_prompt"] == "Be brief."
    response = client.post(_url("app_orchestrate_publish", app.pk), follow=True)
    assert "Published v2" in response.content.decode()
    current = _app(app.pk)
    assert current.published.number == 2 and current.live_config["pre_prompt"] == "Version two"
    with schema_context("ws_alpha"):
        assert current.versions.count() == 2
    # Publishing in expert mode: no way back to basic mode (EX-01).
    expert = _basic(prompt_type="advanced", chat_prompt_config={"prompt": [{"role": "system", "text": "X"}]})
    _save(client, app.pk, expert)
    client.post(_url("app_orchestrate_publish", app.pk))
    response = _save(client, app.pk, _basic(prompt_type="simple"), HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "expert mode" in response.json()["errors"][0]
    assert _app(app.pk).published.number == 3


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("editor", 200), ("normal", 403)])
def test_roles(world, fake_openai, role, status) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    client = client_for(world.by_role(role).user)
    assert client.get(_url("app_orchestrate", app.pk)).status_code == status
    if status == 403:
        assert _save(client, app.pk, _basic()).status_code == 403
        assert client.post(_url("app_orchestrate_publish", app.pk)).status_code == 403
        assert client.post(_url("app_debug_chat", app.pk), "{}", content_type="application/json").status_code == 403
        assert _app(app.pk).published.number == 1


def test_other_workspace_app_is_404(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    bruno = client_for(world.other.user)
    assert bruno.get(_url("app_orchestrate", app.pk, ws="beta")).status_code == 404
    assert bruno.post(_url("app_orchestrate_publish", app.pk, ws="beta")).status_code == 404
    assert bruno.get(_url("app_orchestrate", app.pk)).status_code == 404  # not a member of alpha


# --- Debug & preview (async, streamed) ------------------------------------------------------


async def _debug(user, app_id, body: dict):  # type: ignore[no-untyped-def]
    client = AsyncClient()
    await asyncio.to_thread(client.force_login, user)
    async with ThreadSensitiveContext():
        return await client.post(_url("app_debug_chat", app_id), data=json.dumps(body),
                                 content_type="application/json")


async def _events(response) -> list[dict]:  # type: ignore[no-untyped-def]
    raw = b"".join([chunk async for chunk in response.streaming_content]).decode()
    return [json.loads(block[6:]) for block in raw.split("\n\n") if block.startswith("data: ")]


def _messages(**filters) -> list[Message]:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        return list(Message.objects.filter(**filters).order_by("created_at"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_debug_streams_the_draft_and_continues(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = await asyncio.to_thread(_setup, world_tx, fake_openai)
    draft = _basic(pre_prompt="Answer in {{language}}.")
    # Saved as is (the page would clamp it): within the provider's range, unlike _basic's 5.
    draft["model"]["completion_params"].update(temperature=1.5, presence_penalty=-1.5)

    def save() -> None:
        with schema_context("ws_alpha"):
            apps.draft_save(app=App.objects.get(pk=app.pk), config=draft)

    await asyncio.to_thread(save)
    fake_openai.script("chat", Reply("Bonjour <b>!</b>", chunk_size=3), Reply("Encore"))
    editor = world_tx.editor.user
    response = await _debug(editor, app.pk, {"query": "Hi", "inputs": {"language": "French"}})
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    events = await _events(response)
    assert events[0]["event"] == "prompt_log"
    assert events[0]["prompt_log"][0] == {"role": "system", "text": "Answer in French."}
    assert events[-1]["event"] == "message_end"
    assert "".join(e["answer"] for e in events if e["event"] == "message") == "Bonjour <b>!</b>"
    sent = fake_openai.requests[-1].json
    assert sent["messages"][0]["content"] == "Answer in French." and sent["temperature"] == 1.5  # the draft's, not the live 0.3
    [stored] = await asyncio.to_thread(_messages, pk=events[-1]["message_id"])
    assert stored.from_source == "debugger" and stored.from_account_id == editor.pk
    assert stored.answer == "Bonjour <b>!</b>" and stored.prompt_log[0]["text"] == "Answer in French."

    # The conversation continues with memory; the live config was never used.
    second = await _events(await _debug(editor, app.pk, {
        "query": "More", "inputs": {"language": "French"}, "conversation_id": events[-1]["conversation_id"]}))
    assert second[-1]["event"] == "message_end"
    assert [m["role"] for m in second[0]["prompt_log"]] == ["system", "user", "assistant", "user"]

    # Missing required input: a JSON error, no stream.
    response = await _debug(editor, app.pk, {"query": "Hi", "inputs": {}})
    assert response.status_code == 400 and response.json()["message"] == "language is required in input form"
