"""/webapp/<code>/api/: the WebApp's endpoints. They run the Service API's handlers as the browser's
end user (cookie), with source "webapp"; nothing of another end user, app or workspace is reachable."""

import json

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.test import AsyncClient, Client
from django_tenants.utils import schema_context

from apps.applications import services
from apps.applications.models import App
from apps.applications.webapp import identity
from apps.logs.models import Conversation, EndUser, Message, MessageFeedback, Source
from tests.fakes.base import Reply

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = {"X-Tessera-WebApp": "1"}
CHAT = {"inputs": {"name": "Ada"}, "query": "Hello there"}


async def _chat(client: AsyncClient, code: str, body: dict, headers: dict | None = None):  # type: ignore[no-untyped-def]
    async with ThreadSensitiveContext():
        return await client.post(f"/webapp/{code}/api/chat-messages", data=json.dumps(body),
                                 content_type="application/json", headers=HEADERS if headers is None else headers)


async def _events(response) -> list[dict]:  # type: ignore[no-untyped-def]
    raw = b"".join([chunk async for chunk in response.streaming_content]).decode()
    return [json.loads(block[6:]) for block in raw.split("\n\n") if block.startswith("data: ")]


def _client_with_cookie(app: App, end_user_token: str) -> Client:
    client = Client()
    client.cookies[identity.cookie_name(app)] = end_user_token
    return client


@pytest.mark.asyncio
async def test_chat_streams_sse_and_stores_a_webapp_message(web, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("Hello Ada, how can I help?", chunk_size=4))
    client = AsyncClient()
    response = await _chat(client, web.chat_code, CHAT)
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    events = await _events(response)
    assert [e["event"] for e in events][-1] == "message_end"
    assert "".join(e["answer"] for e in events if e["event"] == "message") == "Hello Ada, how can I help?"
    cookie = response.cookies[identity.cookie_name(web.chat)]
    assert cookie["httponly"]

    def stored() -> tuple:
        with schema_context("ws_alpha"):
            message = Message.objects.select_related("conversation", "end_user").get()
            return (message.from_source, message.conversation.from_source, message.end_user.type,
                    message.answer, message.status)

    assert await sync_to_async(stored)() == (Source.WEBAPP, Source.WEBAPP, EndUser.Type.BROWSER,
                                              "Hello Ada, how can I help?", "normal")


@pytest.mark.asyncio
async def test_chat_refuses_missing_write_header_missing_variable_and_wrong_mode(web, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client = AsyncClient()
    no_header = await _chat(client, web.chat_code, CHAT, headers={})
    assert no_header.status_code == 403 and no_header.json()["code"] == "forbidden"
    missing = await _chat(client, web.chat_code, {"inputs": {}, "query": "Hi"})
    assert missing.status_code == 400 and missing.json() == {
        "code": "invalid_param", "message": "name is required in input form", "status": 400}
    wrong_mode = await _chat(client, web.completion_code, CHAT)
    assert wrong_mode.status_code == 404 and wrong_mode.json()["code"] == "site_unavailable"
    unknown = await _chat(client, "nope", CHAT)
    assert unknown.status_code == 404
    assert fake_openai.requests == []


def _message_id(conversation: Conversation) -> str:
    with schema_context("ws_alpha"):
        return str(conversation.messages.get().pk)


def _conversation_for_new_browser(web) -> tuple[EndUser, str, Conversation]:  # type: ignore[no-untyped-def]
    """An end user with one finished conversation, made through the same code paths."""
    with schema_context("ws_alpha"):
        end_user, token = identity.end_user_for_token(web.chat, None)
        conversation = Conversation.objects.create(app=web.chat, end_user=end_user, from_source=Source.WEBAPP,
                                                   mode="chat", name="Mine", inputs={"name": "Ada"})
        Message.objects.create(app=web.chat, conversation=conversation, end_user=end_user,
                               from_source=Source.WEBAPP, query="Q", answer="A", status="normal")
    return end_user, token, conversation


def test_conversations_list_rename_pin_unpin_delete(web) -> None:  # type: ignore[no-untyped-def]
    _, token, conversation = _conversation_for_new_browser(web)
    client = _client_with_cookie(web.chat, token)
    base = f"/webapp/{web.chat_code}/api"
    listed = client.get(f"{base}/conversations").json()
    assert [c["id"] for c in listed["data"]] == [str(conversation.pk)] and listed["data"][0]["pinned"] is False
    renamed = client.post(f"{base}/conversations/{conversation.pk}/name", {"name": "Trip"},
                          content_type="application/json", headers=HEADERS)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Trip"
    assert client.post(f"{base}/conversations/{conversation.pk}/pin", headers=HEADERS).json() == {"result": "success"}
    assert [c["id"] for c in client.get(f"{base}/conversations?pinned=true").json()["data"]] == [str(conversation.pk)]
    assert client.get(f"{base}/conversations?pinned=false").json()["data"] == []
    client.post(f"{base}/conversations/{conversation.pk}/unpin", headers=HEADERS)
    assert client.get(f"{base}/conversations?pinned=true").json()["data"] == []
    assert client.get(f"{base}/conversations?pinned=maybe").status_code == 400
    history = client.get(f"{base}/messages?conversation_id={conversation.pk}").json()
    assert [(m["query"], m["answer"]) for m in history["data"]] == [("Q", "A")]
    message_id = history["data"][0]["id"]
    liked = client.post(f"{base}/messages/{message_id}/feedbacks", {"rating": "like"},
                        content_type="application/json", headers=HEADERS)
    assert liked.json() == {"result": "success"}
    with schema_context("ws_alpha"):
        assert MessageFeedback.objects.get(message_id=message_id).rating == "like"
    deleted = client.delete(f"{base}/conversations/{conversation.pk}", headers=HEADERS)
    assert deleted.status_code == 204
    assert client.get(f"{base}/conversations").json()["data"] == []
    with schema_context("ws_alpha"):
        assert Conversation.objects.get(pk=conversation.pk).is_deleted


def test_another_end_user_reaches_none_of_a_conversation(web) -> None:  # type: ignore[no-untyped-def]
    _, _, conversation = _conversation_for_new_browser(web)
    stranger = Client()  # a new browser: a new end user
    base = f"/webapp/{web.chat_code}/api"
    assert stranger.get(f"{base}/conversations").json()["data"] == []
    assert stranger.get(f"{base}/messages?conversation_id={conversation.pk}").status_code == 404
    message_id = _message_id(conversation)
    for response in (
        stranger.post(f"{base}/conversations/{conversation.pk}/name", {"name": "x"},
                      content_type="application/json", headers=HEADERS),
        stranger.post(f"{base}/conversations/{conversation.pk}/pin", headers=HEADERS),
        stranger.delete(f"{base}/conversations/{conversation.pk}", headers=HEADERS),
        stranger.post(f"{base}/messages/{message_id}/feedbacks", {"rating": "dislike"},
                      content_type="application/json", headers=HEADERS),
    ):
        assert response.status_code == 404, response.content
    with schema_context("ws_alpha"):
        conversation.refresh_from_db()
        assert (conversation.name, conversation.pinned, conversation.is_deleted) == ("Mine", False, False)
        assert not MessageFeedback.objects.exists()


@pytest.mark.asyncio
async def test_another_end_user_cannot_continue_a_conversation(web, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _, _, conversation = await sync_to_async(_conversation_for_new_browser)(web)
    response = await _chat(AsyncClient(), web.chat_code, {**CHAT, "conversation_id": str(conversation.pk)})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert fake_openai.requests == []


def test_service_api_and_webapp_conversations_stay_apart(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    _, token, conversation = _conversation_for_new_browser(web)
    with schema_context("ws_alpha"):
        end_user = EndUser.objects.get(conversations=conversation)
        _, key = services.api_key_create(app=App.objects.get(pk=web.chat.pk))
    # The API, even naming the browser's session id as its `user`, does not see WebApp rows.
    response = Client().get(f"/v1/conversations?user={end_user.session_id}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200 and response.json()["data"] == []


def test_a_code_of_beta_never_reaches_alpha(web) -> None:  # type: ignore[no-untyped-def]
    _, token, conversation = _conversation_for_new_browser(web)
    # beta's code with alpha's cookie: beta's app knows neither the cookie nor the conversation.
    client = _client_with_cookie(web.chat, token)
    base = f"/webapp/{web.beta_code}/api"
    assert client.get(f"{base}/conversations").json()["data"] == []
    assert client.get(f"{base}/messages?conversation_id={conversation.pk}").status_code == 404
    assert client.delete(f"{base}/conversations/{conversation.pk}", headers=HEADERS).status_code == 404
    site = client.get(f"{base}/site").json()
    assert site["site"]["title"] == "Beta bot" and site["app_id"] == str(web.beta_chat.pk)
    with schema_context("ws_beta"):
        assert not Conversation.objects.exists()
    with schema_context("ws_alpha"):
        assert not Conversation.objects.get(pk=conversation.pk).is_deleted


def test_site_info_and_parameters_follow_the_published_config(web) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    info = client.get(f"/webapp/{web.chat_code}/api/site").json()
    assert info["mode"] == "chat" and info["site"]["title"] == "Helper"
    assert info["parameters"]["opening_statement"] == "Hi {{name}}!"
    assert info["parameters"]["suggested_questions_after_answer"] == {"enabled": False}
    # A draft change is not live; publishing it is (WEB-06).
    with schema_context("ws_alpha"):
        app = App.objects.get(pk=web.chat.pk)
        services.draft_save(app=app, config={**app.draft_config,
                                             "suggested_questions_after_answer": {"enabled": True}})
    assert client.get(f"/webapp/{web.chat_code}/api/parameters").json()[
        "suggested_questions_after_answer"] == {"enabled": False}
    with schema_context("ws_alpha"):
        services.app_publish(app=App.objects.get(pk=web.chat.pk))
    assert client.get(f"/webapp/{web.chat_code}/api/parameters").json()[
        "suggested_questions_after_answer"] == {"enabled": True}


def test_suggested_and_audio_follow_the_feature_switches(web) -> None:  # type: ignore[no-untyped-def]
    _, token, conversation = _conversation_for_new_browser(web)
    client = _client_with_cookie(web.chat, token)
    message_id = _message_id(conversation)
    base = f"/webapp/{web.chat_code}/api"
    suggested = client.get(f"{base}/messages/{message_id}/suggested")
    assert suggested.status_code == 400 and suggested.json()["message"] == "Suggested Questions Is Disabled."
    tts = client.post(f"{base}/text-to-audio", {"message_id": message_id}, content_type="application/json",
                      headers=HEADERS)
    assert tts.status_code == 400 and tts.json()["message"] == "TTS is not enabled"


def test_stop_only_touches_the_browsers_own_task(web, cache_backend) -> None:  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    from apps.applications.generation import STOP_KEY

    client = Client()
    response = client.post(f"/webapp/{web.chat_code}/api/chat-messages/task-1/stop", headers=HEADERS)
    assert response.json() == {"result": "success"}
    with schema_context("ws_alpha"):
        end_user = EndUser.objects.get(app=web.chat)
    # The stop flag names this browser's end user: a generation of anyone else ignores it.
    assert cache.get(STOP_KEY.format(task_id="task-1")) == str(end_user.pk)
    assert client.get(f"/webapp/{web.chat_code}/api/chat-messages/task-1/stop").status_code == 405


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.mark.asyncio
async def test_vision_app_gets_the_uploaded_image_with_the_question(web, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.applications.models import MessageFile

    def enable_images() -> None:
        with schema_context("ws_alpha"):
            app = App.objects.get(pk=web.chat.pk)
            services.draft_save(app=app, config={**app.draft_config, "file_upload": {"image": {
                "enabled": True, "number_limits": 2, "detail": "low", "transfer_methods": ["local_file"]}}})
            services.app_publish(app=app)

    await sync_to_async(enable_images)()
    fake_openai.script("chat", Reply("A tiny picture."))
    client = AsyncClient()
    uploaded = await client.post(f"/webapp/{web.chat_code}/api/files/upload", headers=HEADERS,
                                 data={"file": SimpleUploadedFile("dot.png", PNG, content_type="image/png")})
    assert uploaded.status_code == 201, uploaded.content
    file_id = uploaded.json()["id"]
    response = await _chat(client, web.chat_code, {**CHAT, "files": [
        {"type": "image", "transfer_method": "local_file", "upload_file_id": file_id}]})
    events = await _events(response)
    assert events[-1]["event"] == "message_end"
    content = fake_openai.requests[-1].json["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "Hello there"}
    assert content[1]["type"] == "image_url" and content[1]["image_url"]["url"].startswith("data:image/png;base64,")

    def stored() -> list[str]:
        with schema_context("ws_alpha"):
            return [str(f.upload_file_id) for f in MessageFile.objects.filter(message__app=web.chat)]

    assert await sync_to_async(stored)() == [file_id]
    # An upload of another app (here: a made-up id) is refused before anything is stored.
    bad = await _chat(client, web.chat_code, {**CHAT, "files": [
        {"type": "image", "transfer_method": "local_file", "upload_file_id": "00000000-0000-0000-0000-000000000000"}]})
    assert bad.status_code == 400 and bad.json()["message"] == "Invalid upload file"


def test_speech_to_text_and_read_aloud_when_the_app_enables_them(web, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """The microphone and read-aloud buttons call these; with the features on and audio models set,
    the browser's end user gets the fake model's transcript and speech."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.providers import services as providers

    with schema_context("ws_alpha"):
        providers.credential_save(provider_id="openai", validate=False,
                                  data={"api_key": "sk-test", "base_url": fake_openai.base_url})
        providers.default_model_set(model_type="speech2text", provider_id="openai", model="whisper-1")
        providers.default_model_set(model_type="tts", provider_id="openai", model="tts-1")
        web.chat.refresh_from_db()
        services.draft_save(app=web.chat, config={
            **web.chat.draft_config, "speech_to_text": {"enabled": True},
            "text_to_speech": {"enabled": True, "voice": "nova", "language": "en-US"}})
        services.app_publish(app=web.chat)
    _, token, conversation = _conversation_for_new_browser(web)
    client = _client_with_cookie(web.chat, token)
    base = f"/webapp/{web.chat_code}/api"
    fake_openai.script("transcriptions", Reply("spoken words"))
    heard = client.post(f"{base}/audio-to-text", {"file": SimpleUploadedFile("a.mp3", b"ID3" + b"\0" * 16, "audio/mp3")},
                        headers=HEADERS)
    assert heard.status_code == 200 and heard.json() == {"text": "spoken words"}
    spoken = client.post(f"{base}/text-to-audio", {"message_id": _message_id(conversation)},
                         content_type="application/json", headers=HEADERS)
    assert spoken.status_code == 200 and spoken["Content-Type"] == "audio/mpeg" and spoken.content.startswith(b"ID3")
    assert fake_openai.requests[-1].json["voice"] == "nova"
    # Another browser's message is not read aloud to this one.
    _, _other_token, other_conversation = _conversation_for_new_browser(web)
    calls = len(fake_openai.requests)
    foreign = client.post(f"{base}/text-to-audio", {"message_id": _message_id(other_conversation)},
                          content_type="application/json", headers=HEADERS)
    assert foreign.status_code == 200 and foreign.content == b"null"  # as the Service API answers
    assert len(fake_openai.requests) == calls
