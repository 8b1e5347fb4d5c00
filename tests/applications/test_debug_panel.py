"""Debug & preview extras: stopping a running draft run, follow-up suggestions after a debug
answer and "more like this" for completion apps; each scoped to the member's own runs."""

import asyncio
import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_tenants.utils import schema_context

from apps.applications import services as apps
from apps.applications.config import with_defaults
from apps.applications.models import App
from apps.logs.models import Conversation, Message
from apps.providers import services as providers
from tests.applications.test_orchestrate import _debug as _open
from tests.applications.test_orchestrate import _messages, _setup, _url
from tests.applications.test_service_endpoints import audio_models
from tests.conftest import client_for
from tests.fakes.base import Reply

pytestmark = [pytest.mark.django_db(transaction=True)]

SLOW = Reply(" ".join(f"w{i}" for i in range(60)), chunk_size=1, delay_between_chunks=0.2)


def _stop_url(app_id, task_id, ws: str = "alpha") -> str:  # type: ignore[no-untyped-def]
    return reverse("console:app_debug_stop", kwargs={"ws": ws, "app_id": app_id, "task_id": task_id})


def _suggested_url(app_id, message_id, ws: str = "alpha") -> str:  # type: ignore[no-untyped-def]
    return reverse("console:app_debug_suggested", kwargs={"ws": ws, "app_id": app_id, "message_id": message_id})


def _enable(app_id, **features) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        app = App.objects.get(pk=app_id)
        apps.draft_save(app=app, config={**with_defaults(app.draft_config), **features})


def _parse(chunk: bytes) -> list[dict]:
    return [json.loads(b[6:]) for b in chunk.decode().split("\n\n") if b.startswith("data: ")]


@pytest.mark.asyncio
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


@pytest.mark.asyncio
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


@pytest.mark.asyncio
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
    assert (await asyncio.to_thread(client.post, _suggested_url(app.pk, message_id))).status_code == 405


@pytest.mark.asyncio
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


# --- Image upload for vision models, speech toggles ---------------------------------------------

VISION = {"provider": "openai_api_compatible", "name": "fake-vision", "mode": "chat",
          "completion_params": {"temperature": 0.3, "max_tokens": 256}}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


def _vision_app(fake, image_enabled: bool = True) -> App:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake.base_url, "model": "fake-vision", "model_type": "llm", "vision": True})
        app = apps.app_create(name="Eyes", mode="chat", config={
            "model": VISION, "pre_prompt": "Describe images.",
            "file_upload": {"image": {"enabled": image_enabled, "number_limits": 2, "detail": "low",
                                      "transfer_methods": ["local_file"]}}})
        apps.app_publish(app=app)
        return app


def _upload(client, app_id, name: str = "cat.png", data: bytes = PNG, content_type: str = "image/png"):  # type: ignore[no-untyped-def]
    url = reverse("console:app_debug_upload", kwargs={"ws": "alpha", "app_id": app_id})
    return client.post(url, {"file": SimpleUploadedFile(name, data, content_type=content_type)})


@pytest.mark.asyncio
async def test_debug_turn_sends_uploaded_images_to_the_vision_model(world_tx, fake_openai, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    app = await asyncio.to_thread(_vision_app, fake_openai)
    editor = world_tx.editor.user
    client = await asyncio.to_thread(client_for, editor)
    uploaded = await asyncio.to_thread(_upload, client, app.pk)
    assert uploaded.status_code == 201, uploaded.content
    file_id = uploaded.json()["id"]
    assert uploaded.json()["name"] == "cat.png"
    text = await asyncio.to_thread(_upload, client, app.pk, "notes.txt", b"hi", "text/plain")
    assert text.status_code == 415 and text.json()["code"] == "unsupported_file_type"

    fake_openai.script("chat", Reply("A cat on a mat."))
    files = [{"type": "image", "transfer_method": "local_file", "upload_file_id": file_id}]
    events = _parse(b"".join([c async for c in (await _open(editor, app.pk, {
        "query": "What is this?", "inputs": {}, "files": files})).streaming_content]))
    assert events[-1]["event"] == "message_end"
    content = fake_openai.requests[-1].json["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert content[1]["type"] == "image_url" and content[1]["image_url"]["detail"] == "low"
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")

    def stored() -> list[str]:
        with schema_context("ws_alpha"):
            message = Message.objects.get(pk=events[-1]["message_id"])
            return [str(f.upload_file_id) for f in message.files.all()]

    assert await asyncio.to_thread(stored) == [file_id]
    # Too many images for the draft's limit: refused before any model call.
    requests = len(fake_openai.requests)
    refused = await _open(editor, app.pk, {"query": "And?", "inputs": {}, "files": files * 3})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_param"
    assert len(fake_openai.requests) == requests


@pytest.mark.asyncio
async def test_debug_upload_refusals_and_isolation(world_tx, fake_openai, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    app = await asyncio.to_thread(_vision_app, fake_openai, False)
    editor = await asyncio.to_thread(client_for, world_tx.editor.user)
    off = await asyncio.to_thread(_upload, editor, app.pk)
    assert off.status_code == 400 and off.json()["code"] == "bad_request"
    noor = await asyncio.to_thread(client_for, world_tx.normal.user)
    assert (await asyncio.to_thread(_upload, noor, app.pk)).status_code == 403
    bruno = await asyncio.to_thread(client_for, world_tx.other.user)
    beta_url = reverse("console:app_debug_upload", kwargs={"ws": "beta", "app_id": app.pk})
    assert (await asyncio.to_thread(bruno.post, beta_url, {})).status_code == 404


def _page(client, app_id) -> str:  # type: ignore[no-untyped-def]
    return client.get(_url("app_orchestrate", app_id)).content.decode()


def test_speech_and_image_toggles_follow_the_workspace_models(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world_tx, fake_openai)
    client = client_for(world_tx.editor.user)
    html = _page(client, app.pk)
    assert 'name="speech_to_text"' not in html and 'name="text_to_speech"' not in html
    assert "Speech features appear once the workspace has" in html
    # The image switch is rendered but shown only for a vision model (Alpine: x-show="vision").
    assert 'name="image_upload"' in html and '"vision": false' in html
    with schema_context("ws_alpha"):
        providers.credential_save(provider_id="openai", validate=False,
                                  data={"api_key": "sk-test", "base_url": fake_openai.base_url})
    html = _page(client, app.pk)
    assert 'name="speech_to_text"' in html and 'name="text_to_speech"' in html
    assert "Speech features appear once the workspace has" not in html
    vision_app = _vision_app(fake_openai)
    assert '"vision": true' in _page(client, vision_app.pk)


# --- Microphone (speech to text) and read aloud (text to speech) ------------------------------


def _speech_app(world, fake) -> App:  # type: ignore[no-untyped-def]
    app = _setup(world, fake)
    audio_models.func(fake)  # the sync body: browser tests run it beside Playwright's event loop
    return app


def _post_audio(client, app_id, ws: str = "alpha"):  # type: ignore[no-untyped-def]
    url = reverse("console:app_debug_stt", kwargs={"ws": ws, "app_id": app_id})
    return client.post(url, {"file": SimpleUploadedFile("speech.webm", b"\x1aE\xdf\xa3" + b"\x00" * 32,
                                                         content_type="audio/webm")})


def test_debug_microphone_transcribes_with_the_default_model(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _speech_app(world_tx, fake_openai)
    editor = client_for(world_tx.editor.user)
    off = _post_audio(editor, app.pk)
    assert off.status_code == 400 and off.json()["code"] == "bad_request"
    _enable(app.pk, speech_to_text={"enabled": True})
    fake_openai.script("transcriptions", Reply("what is the weather"))
    heard = _post_audio(editor, app.pk)
    assert heard.status_code == 200 and heard.json() == {"text": "what is the weather"}
    assert fake_openai.requests[-1].path.endswith("/audio/transcriptions")
    assert _post_audio(client_for(world_tx.normal.user), app.pk).status_code == 403
    assert _post_audio(client_for(world_tx.other.user), app.pk, ws="beta").status_code == 404
    url = reverse("console:app_debug_stt", kwargs={"ws": "alpha", "app_id": app.pk})
    wrong = editor.post(url, {"file": SimpleUploadedFile("x.png", b"png", content_type="image/png")})
    assert wrong.status_code == 415 and wrong.json()["code"] == "unsupported_audio_type"


def _debug_message(app_id, account_id) -> Message:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        app = App.objects.get(pk=app_id)
        conversation = Conversation.objects.create(app=app, from_source="debugger", from_account_id=account_id,
                                                   mode=app.mode, name="Debug")
        return Message.objects.create(app=app, conversation=conversation, from_source="debugger",
                                      from_account_id=account_id, query="Hi", answer="Hello from the draft",
                                      status="normal")


def test_debug_answer_read_aloud(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _speech_app(world_tx, fake_openai)
    message = _debug_message(app.pk, world_tx.editor.user.pk)
    url = reverse("console:app_debug_tts", kwargs={"ws": "alpha", "app_id": app.pk, "message_id": message.pk})
    editor = client_for(world_tx.editor.user)
    off = editor.post(url)
    assert off.status_code == 400 and off.json()["code"] == "bad_request"
    _enable(app.pk, text_to_speech={"enabled": True, "voice": "nova", "language": "en-US"})
    spoken = editor.post(url)
    assert spoken.status_code == 200 and spoken["Content-Type"] == "audio/mpeg"
    assert b"Hello from the draft" in spoken.content
    assert fake_openai.requests[-1].json["voice"] == "nova"
    assert client_for(world_tx.admin.user).post(url).status_code == 404  # another member's run
    beta = reverse("console:app_debug_tts", kwargs={"ws": "beta", "app_id": app.pk, "message_id": message.pk})
    assert client_for(world_tx.other.user).post(beta).status_code == 404
