"""The Service API beyond generation: messages, feedbacks, suggested questions, conversations,
parameters/meta/info/site, file upload, audio, and conversation titles (service-api.md §2.10–§2.27).

Every read and write is scoped to (app, end user, from_source="api"): other end users, other apps
of the workspace, the WebApp and other workspaces all answer 404 and change nothing."""

import datetime as dt
import json
import uuid

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import AsyncClient
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.applications import services as apps
from apps.applications import tasks
from apps.applications.generation import end_user_for
from apps.applications.models import App, UploadFile
from apps.logs.models import Conversation, Message, MessageFeedback
from apps.providers import services as providers
from tests.fakes.base import Fail, Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ALPHA = "ws_alpha"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def call(method: str, path: str, key: str | None, body: dict | None = None, *,
               query: dict | None = None, files: dict | None = None):  # type: ignore[no-untyped-def]
    client = AsyncClient()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with ThreadSensitiveContext():
        try:
            if method == "get":
                return await client.get(path, data=query or {}, headers=headers)
            if files is not None:
                return await client.post(path, data={**(body or {}), **files}, headers=headers)
            data = json.dumps(body) if body is not None else ""
            return await getattr(client, method)(path, data=data, content_type="application/json",
                                                 headers=headers)
        finally:
            # The test client keeps Django from closing connections at the end of a request;
            # give this request thread's connection back to the pool, as a server would.
            await sync_to_async(connections.close_all)()


def _error(response) -> dict:  # type: ignore[no-untyped-def]
    return response.json()


@sync_to_async
def seed(app: App, user: str | None, turns: int, *, schema: str = ALPHA, source: str = "api",
         name: str = "Chat", minutes: int = 0) -> tuple[Conversation, list[Message]]:
    """A conversation of `turns` answered messages, one second apart, starting `minutes` ago."""
    with schema_context(schema):
        end_user = end_user_for(app, user)
        start = timezone.now() - dt.timedelta(minutes=60 - minutes)
        conversation = Conversation.objects.create(app=app, end_user=end_user, from_source=source, mode=app.mode,
                                                   name=name, inputs={"name": "Ada"})
        messages = []
        for i in range(turns):
            m = Message.objects.create(app=app, conversation=conversation, end_user=end_user, from_source=source,
                                       inputs={"name": "Ada"}, query=f"q{i}", answer=f"a{i}", status="normal")
            Message.objects.filter(pk=m.pk).update(created_at=start + dt.timedelta(seconds=i))
            messages.append(m)
        Conversation.objects.filter(pk=conversation.pk).update(created_at=start, updated_at=start)
        return conversation, messages


@sync_to_async
def in_schema(fn, schema: str = ALPHA):  # type: ignore[no-untyped-def]
    with schema_context(schema):
        return fn()


@sync_to_async
def set_default_llm(schema: str = ALPHA) -> None:
    with schema_context(schema):
        providers.default_model_set(model_type="llm", provider_id="openai_api_compatible", model="fake-chat")


@sync_to_async
def enable(app: App, **features: dict) -> None:
    with schema_context(ALPHA):
        app.refresh_from_db()
        apps.draft_save(app=app, config={**app.draft_config, **features})
        apps.app_publish(app=app)


@sync_to_async
def second_chat_app() -> tuple[App, str]:
    with schema_context(ALPHA):
        other = apps.app_create(name="Other", mode="chat", config={"model": {"provider": "x", "name": "y"}})
        apps.app_publish(app=other)
        return other, apps.api_key_create(app=other)[1]


# --- GET /v1/messages --------------------------------------------------------------------------------------------

async def test_messages_newest_page_oldest_first_then_first_id(api) -> None:  # type: ignore[no-untyped-def]
    conversation, messages = await seed(api.chat, "u-1", 5)
    first = await call("get", "/v1/messages", api.chat_key,
                       query={"conversation_id": str(conversation.pk), "user": "u-1", "limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert body["limit"] == 2 and body["has_more"] is True
    assert [m["query"] for m in body["data"]] == ["q3", "q4"]
    item = body["data"][0]
    assert item == {"id": str(messages[3].pk), "conversation_id": str(conversation.pk), "parent_message_id": None,
                    "inputs": {"name": "Ada"}, "query": "q3", "answer": "a3", "message_files": [],
                    "feedback": None, "retriever_resources": [], "created_at": item["created_at"],
                    "agent_thoughts": [], "status": "normal", "error": None}
    assert isinstance(item["created_at"], int)
    older = (await call("get", "/v1/messages", api.chat_key, query={
        "conversation_id": str(conversation.pk), "user": "u-1", "limit": 2, "first_id": item["id"]})).json()
    assert [m["query"] for m in older["data"]] == ["q1", "q2"] and older["has_more"] is True
    last = (await call("get", "/v1/messages", api.chat_key, query={
        "conversation_id": str(conversation.pk), "user": "u-1", "limit": 2,
        "first_id": older["data"][0]["id"]})).json()
    assert [m["query"] for m in last["data"]] == ["q0"] and last["has_more"] is False
    default = (await call("get", "/v1/messages", api.chat_key,
                          query={"conversation_id": str(conversation.pk), "user": "u-1"})).json()
    assert default["limit"] == 20 and len(default["data"]) == 5 and default["has_more"] is False


@pytest.mark.parametrize(("query", "status", "code", "message"), [
    ({"conversation_id": None}, 400, "invalid_param", "conversation_id is required"),
    ({"conversation_id": "nope"}, 400, "invalid_param", "conversation_id must be a valid UUID"),
    ({"conversation_id": str(uuid.uuid4())}, 404, "not_found", "Conversation Not Exists."),
    ({"limit": "0"}, 400, "invalid_param", "limit must be between 1 and 100"),
    ({"limit": "101"}, 400, "invalid_param", "limit must be between 1 and 100"),
    ({"first_id": str(uuid.uuid4())}, 404, "not_found", "First Message Not Exists."),
])
async def test_messages_errors(api, query, status, code, message) -> None:  # type: ignore[no-untyped-def]
    conversation, _ = await seed(api.chat, "u-1", 1)
    query = {k: v for k, v in {"conversation_id": str(conversation.pk), "user": "u-1", **query}.items() if v}
    response = await call("get", "/v1/messages", api.chat_key, query=query)
    assert response.status_code == status
    assert response.json() == {"code": code, "message": message, "status": status}


async def test_messages_empty_conversation_id_is_an_empty_page(api) -> None:  # type: ignore[no-untyped-def]
    response = await call("get", "/v1/messages", api.chat_key, query={"conversation_id": "", "user": "u-1"})
    assert response.json() == {"limit": 20, "has_more": False, "data": []}


async def test_messages_are_scoped_to_user_source_app_and_mode(api, world_tx) -> None:  # type: ignore[no-untyped-def]
    mine, _ = await seed(api.chat, "u-1", 1)
    webapp, _ = await seed(api.chat, "u-1", 1, source="webapp")
    other, other_key = await second_chat_app()
    for key, user, conversation in [(api.chat_key, "u-2", mine), (api.chat_key, None, mine),
                                    (api.chat_key, "u-1", webapp), (other_key, "u-1", mine),
                                    (api.beta_key, "u-1", mine)]:
        query = {"conversation_id": str(conversation.pk), **({"user": user} if user else {})}
        response = await call("get", "/v1/messages", key, query=query)
        assert response.status_code == 404 and response.json()["message"] == "Conversation Not Exists."
    response = await call("get", "/v1/messages", api.completion_key,
                          query={"conversation_id": str(mine.pk), "user": "u-1"})
    assert response.status_code == 400 and response.json()["code"] == "not_chat_app"
    anonymous, _ = await seed(api.chat, None, 2)
    response = await call("get", "/v1/messages", api.chat_key, query={"conversation_id": str(anonymous.pk)})
    assert response.status_code == 200 and len(response.json()["data"]) == 2


async def test_auth_errors_in_dify_format(api) -> None:  # type: ignore[no-untyped-def]
    response = await call("get", "/v1/parameters", None)
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"code": "unauthorized", "status": 401,
                               "message": "Authorization header must be provided and start with 'Bearer'"}
    response = await call("get", "/v1/conversations", "app-unknown")
    assert response.json()["message"] == "Access token is invalid"
    response = await call("post", "/v1/parameters", api.chat_key, {})
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


# --- Feedbacks ----------------------------------------------------------------------------------------------------

async def test_feedback_like_update_revoke_and_list(api) -> None:  # type: ignore[no-untyped-def]
    conversation, [message] = await seed(api.chat, "u-1", 1)
    path = f"/v1/messages/{message.pk}/feedbacks"
    response = await call("post", path, api.chat_key, {"rating": "like", "content": "great", "user": "u-1"})
    assert response.status_code == 200 and response.json() == {"result": "success"}
    listed = (await call("get", "/v1/messages", api.chat_key,
                         query={"conversation_id": str(conversation.pk), "user": "u-1"})).json()
    assert listed["data"][0]["feedback"] == {"rating": "like"}
    await call("post", path, api.chat_key, {"rating": "dislike", "user": "u-1"})
    feedbacks = (await call("get", "/v1/app/feedbacks", api.chat_key)).json()["data"]
    assert len(feedbacks) == 1
    fb = feedbacks[0]
    assert (fb["rating"], fb["content"], fb["from_source"], fb["message_id"], fb["conversation_id"]) == (
        "dislike", None, "user", str(message.pk), str(conversation.pk))
    assert fb["app_id"] == str(api.chat.pk) and fb["from_account_id"] is None and uuid.UUID(fb["from_end_user_id"])
    assert dt.datetime.fromisoformat(fb["created_at"]) and "T" in fb["updated_at"] and "+" not in fb["created_at"]
    response = await call("post", path, api.chat_key, {"rating": None, "user": "u-1"})
    assert response.status_code == 200
    assert await in_schema(lambda: MessageFeedback.objects.count()) == 0
    again = await call("post", path, api.chat_key, {"rating": None, "user": "u-1"})
    assert again.json() == {"code": "invalid_param", "status": 400,
                            "message": "rating cannot be None when feedback not exists"}


async def test_feedback_errors_and_isolation(api) -> None:  # type: ignore[no-untyped-def]
    _, [message] = await seed(api.chat, "u-1", 1)
    path = f"/v1/messages/{message.pk}/feedbacks"
    bad = await call("post", path, api.chat_key, {"rating": "meh", "user": "u-1"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_param"
    no_user = await call("post", path, api.chat_key, {"rating": "like"})
    assert no_user.json()["message"] == "Arg user must be provided."
    other, other_key = await second_chat_app()
    for key, user, target in [(api.chat_key, "u-2", path), (other_key, "u-1", path), (api.beta_key, "u-1", path),
                              (api.chat_key, "u-1", "/v1/messages/not-a-uuid/feedbacks")]:
        response = await call("post", target, key, {"rating": "like", "user": user})
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Message Not Exists.", "status": 404}
    assert await in_schema(lambda: MessageFeedback.objects.count()) == 0
    assert (await call("get", "/v1/app/feedbacks", other_key)).json() == {"data": []}


async def test_app_feedbacks_paginate_newest_first(api) -> None:  # type: ignore[no-untyped-def]
    _, messages = await seed(api.chat, "u-1", 3)
    for m in messages:
        await call("post", f"/v1/messages/{m.pk}/feedbacks", api.chat_key, {"rating": "like", "user": "u-1"})
    page1 = (await call("get", "/v1/app/feedbacks", api.chat_key, query={"limit": 2})).json()["data"]
    page2 = (await call("get", "/v1/app/feedbacks", api.chat_key, query={"limit": 2, "page": 2})).json()["data"]
    assert [f["message_id"] for f in page1 + page2] == [str(m.pk) for m in reversed(messages)]
    bad = await call("get", "/v1/app/feedbacks", api.chat_key, query={"limit": 102})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_param"
    assert (await call("get", "/v1/app/feedbacks", api.chat_key, query={"page": 0})).status_code == 400


# --- Suggested questions ------------------------------------------------------------------------------------------

async def test_suggested_disabled_by_default(api) -> None:  # type: ignore[no-untyped-def]
    _, [message] = await seed(api.chat, "u-1", 1)
    response = await call("get", f"/v1/messages/{message.pk}/suggested", api.chat_key, query={"user": "u-1"})
    assert response.status_code == 400
    assert response.json() == {"code": "bad_request", "message": "Suggested Questions Is Disabled.", "status": 400}


async def test_suggested_questions_from_default_model(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await enable(api.chat, suggested_questions_after_answer={"enabled": True})
    await set_default_llm()
    _, messages = await seed(api.chat, "u-1", 2)
    fake_openai.script("chat", Reply('Sure: ["What is next?", "Why so?", "How much?"]'))
    response = await call("get", f"/v1/messages/{messages[0].pk}/suggested", api.chat_key, query={"user": "u-1"})
    assert response.status_code == 200
    assert response.json() == {"result": "success", "data": ["What is next?", "Why so?", "How much?"]}
    sent = fake_openai.requests[-1].json["messages"]
    assert "Human: q0\nAssistant: a0" in sent[-1]["content"] and "q1" not in sent[-1]["content"]
    fake_openai.script("chat", Fail(400))
    failed = await call("get", f"/v1/messages/{messages[1].pk}/suggested", api.chat_key, query={"user": "u-1"})
    assert failed.json() == {"result": "success", "data": []}


async def test_suggested_errors(api) -> None:  # type: ignore[no-untyped-def]
    await enable(api.chat, suggested_questions_after_answer={"enabled": True})
    _, [message] = await seed(api.chat, "u-1", 1)
    path = f"/v1/messages/{message.pk}/suggested"
    assert (await call("get", path, api.chat_key)).json()["message"] == "Arg user must be provided."
    assert (await call("get", path, api.chat_key, query={"user": "u-2"})).json()["message"] == "Message Not Exists."
    assert (await call("get", path, api.beta_key, query={"user": "u-1"})).status_code == 404
    assert (await call("get", path, api.completion_key, query={"user": "u-1"})).json()["code"] == "not_chat_app"
    # No default LLM: no suggestions rather than an error.
    assert (await call("get", path, api.chat_key, query={"user": "u-1"})).json() == {"result": "success", "data": []}


# --- Conversations ------------------------------------------------------------------------------------------------

async def test_conversation_list_sorting_and_last_id(api) -> None:  # type: ignore[no-untyped-def]
    made = [await seed(api.chat, "u-1", 1, name=f"c{i}", minutes=i) for i in range(3)]
    await seed(api.chat, "u-2", 1, name="someone else")
    await seed(api.chat, "u-1", 1, name="webapp", source="webapp")
    deleted, _ = await seed(api.chat, "u-1", 1, name="deleted")
    await in_schema(lambda: Conversation.objects.filter(pk=deleted.pk).update(is_deleted=True))
    body = (await call("get", "/v1/conversations", api.chat_key, query={"user": "u-1", "limit": 2})).json()
    assert body["limit"] == 2 and body["has_more"] is True
    assert [c["name"] for c in body["data"]] == ["c2", "c1"]
    c = body["data"][0]
    assert set(c) == {"id", "name", "inputs", "status", "introduction", "created_at", "updated_at"}
    assert c["inputs"] == {"name": "Ada"} and c["status"] == "normal" and isinstance(c["updated_at"], int)
    rest = (await call("get", "/v1/conversations", api.chat_key,
                       query={"user": "u-1", "limit": 2, "last_id": body["data"][1]["id"]})).json()
    assert [c["name"] for c in rest["data"]] == ["c0"] and rest["has_more"] is False
    oldest = (await call("get", "/v1/conversations", api.chat_key,
                         query={"user": "u-1", "sort_by": "created_at"})).json()
    assert [c["name"] for c in oldest["data"]] == ["c0", "c1", "c2"]
    assert {c["id"] for c in oldest["data"]} == {str(conv.pk) for conv, _ in made}


@pytest.mark.parametrize(("query", "status", "message"), [
    ({"last_id": str(uuid.uuid4())}, 404, "Last Conversation Not Exists."),
    ({"last_id": "garbage"}, 404, "Last Conversation Not Exists."),
    ({"sort_by": "name"}, 400, "sort_by must be one of created_at, -created_at, updated_at, -updated_at"),
    ({"limit": "x"}, 400, "limit must be an integer"),
])
async def test_conversation_list_errors(api, query, status, message) -> None:  # type: ignore[no-untyped-def]
    response = await call("get", "/v1/conversations", api.chat_key, query={"user": "u-1", **query})
    assert response.status_code == status and response.json()["message"] == message


async def test_conversation_list_other_apps_see_nothing(api) -> None:  # type: ignore[no-untyped-def]
    mine, _ = await seed(api.chat, "u-1", 1)
    other, other_key = await second_chat_app()
    assert (await call("get", "/v1/conversations", other_key, query={"user": "u-1"})).json()["data"] == []
    assert (await call("get", "/v1/conversations", api.beta_key, query={"user": "u-1"})).json()["data"] == []
    response = await call("get", "/v1/conversations", other_key, query={"user": "u-1", "last_id": str(mine.pk)})
    assert response.status_code == 404
    assert (await call("get", "/v1/conversations", api.completion_key)).json()["code"] == "not_chat_app"


async def test_delete_conversation_is_soft_and_scoped(api) -> None:  # type: ignore[no-untyped-def]
    conversation, _ = await seed(api.chat, "u-1", 1)
    path = f"/v1/conversations/{conversation.pk}"
    other, other_key = await second_chat_app()
    for key, user in [(api.chat_key, "u-2"), (other_key, "u-1"), (api.beta_key, "u-1")]:
        response = await call("delete", path, key, {"user": user})
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Conversation Not Exists.", "status": 404}
    empty = await call("delete", path, api.chat_key)
    assert empty.json()["message"] == "Invalid JSON payload received or JSON payload is empty."
    response = await call("delete", path, api.chat_key, {"user": "u-1"})
    # Dify sends {"result": "success"} with the 204; HTTP drops a 204's body, and so does Django.
    assert response.status_code == 204
    stored = await in_schema(lambda: Conversation.objects.get(pk=conversation.pk))
    assert stored.is_deleted is True
    assert (await call("get", "/v1/conversations", api.chat_key, query={"user": "u-1"})).json()["data"] == []
    again = await call("delete", path, api.chat_key, {"user": "u-1"})
    assert again.status_code == 404
    messages = await call("get", "/v1/messages", api.chat_key,
                          query={"conversation_id": str(conversation.pk), "user": "u-1"})
    assert messages.status_code == 404


async def test_rename_conversation(api) -> None:  # type: ignore[no-untyped-def]
    conversation, _ = await seed(api.chat, "u-1", 1)
    path = f"/v1/conversations/{conversation.pk}/name"
    response = await call("post", path, api.chat_key, {"name": "  Trip plans ", "user": "u-1"})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(conversation.pk) and body["name"] == "Trip plans" and body["introduction"] == ""
    assert set(body) == {"id", "name", "inputs", "status", "introduction", "created_at", "updated_at"}
    missing = await call("post", path, api.chat_key, {"user": "u-1"})
    assert missing.json() == {"code": "invalid_param", "status": 400,
                              "message": "name is required when auto_generate is false"}
    other, other_key = await second_chat_app()
    for key, user in [(api.chat_key, "u-2"), (other_key, "u-1"), (api.beta_key, "u-1")]:
        response = await call("post", path, key, {"name": "hijack", "user": user})
        assert response.status_code == 404 and response.json()["message"] == "Conversation Not Exists."
    stored = await in_schema(lambda: Conversation.objects.get(pk=conversation.pk))
    assert stored.name == "Trip plans"


async def test_rename_auto_generate_uses_default_model(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    conversation, _ = await seed(api.chat, "u-1", 1, name="q0")
    path = f"/v1/conversations/{conversation.pk}/name"
    kept = await call("post", path, api.chat_key, {"auto_generate": True, "user": "u-1"})
    assert kept.status_code == 200 and kept.json()["name"] == "q0"  # no default LLM: the name stays
    await set_default_llm()
    fake_openai.script("chat", Reply('"Weekend in Lisbon."'))
    response = await call("post", path, api.chat_key, {"auto_generate": True, "user": "u-1"})
    assert response.json()["name"] == "Weekend in Lisbon"
    assert fake_openai.requests[-1].json["messages"][-1]["content"] == "q0"


# --- Titles of new conversations ----------------------------------------------------------------------------------

CHAT = {"inputs": {"name": "Ada"}, "query": "Plan a trip to Lisbon", "user": "u-1"}


async def test_new_conversation_is_named_by_default_model(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await set_default_llm()
    fake_openai.script("chat", Reply("Here is a plan"), Reply("Lisbon trip plan"))
    body = (await call("post", "/v1/chat-messages", api.chat_key, CHAT)).json()
    conversation = await in_schema(lambda: Conversation.objects.get(pk=body["conversation_id"]))
    assert conversation.name == "Lisbon trip plan"
    assert fake_openai.requests[-1].json["messages"][-1]["content"] == "Plan a trip to Lisbon"
    # Later turns do not rename it.
    requests = len(fake_openai.requests)
    fake_openai.script("chat", Reply("More"))
    await call("post", "/v1/chat-messages", api.chat_key, {**CHAT, "conversation_id": body["conversation_id"]})
    assert len(fake_openai.requests) == requests + 1
    listed = (await call("get", "/v1/conversations", api.chat_key, query={"user": "u-1"})).json()["data"]
    assert listed[0]["name"] == "Lisbon trip plan"


async def test_auto_generate_name_false_keeps_initial_name(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await set_default_llm()
    fake_openai.script("chat", Reply("Here is a plan"))
    body = (await call("post", "/v1/chat-messages", api.chat_key, {**CHAT, "auto_generate_name": False})).json()
    conversation = await in_schema(lambda: Conversation.objects.get(pk=body["conversation_id"]))
    assert conversation.name == "Plan a trip to Lisbo…" and len(fake_openai.requests) == 1
    bad = await call("post", "/v1/chat-messages", api.chat_key, {**CHAT, "auto_generate_name": "no"})
    assert bad.status_code == 400 and bad.json()["message"] == "auto_generate_name must be a boolean"


async def test_failed_answer_is_not_named(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await set_default_llm()
    fake_openai.script("chat", Fail(400))
    await call("post", "/v1/chat-messages", api.chat_key, CHAT)
    assert len(fake_openai.requests) == 1


async def test_title_task_keeps_name_without_default_model(api) -> None:  # type: ignore[no-untyped-def]
    await sync_to_async(_title_task_without_default_model)(api)


def _title_task_without_default_model(api) -> None:  # type: ignore[no-untyped-def]
    with schema_context(ALPHA):
        end_user = end_user_for(api.chat, "u-1")
        conversation = Conversation.objects.create(app=api.chat, end_user=end_user, from_source="api",
                                                   mode="chat", name="initial")
        Message.objects.create(app=api.chat, conversation=conversation, end_user=end_user, from_source="api",
                               query="hello", answer="hi", status="normal")
        assert tasks.generate_conversation_name.delay(str(conversation.pk)).get() is None
        conversation.refresh_from_db()
        assert conversation.name == "initial"
        assert tasks.generate_conversation_name.delay(str(uuid.uuid4())).get() is None


# --- parameters, meta, info, site ---------------------------------------------------------------------------------

async def test_parameters_from_live_config(api) -> None:  # type: ignore[no-untyped-def]
    body = (await call("get", "/v1/parameters", api.chat_key)).json()
    assert body["opening_statement"] == "Hi {{name}}!"
    assert body["suggested_questions"] == ["What can you do?"]
    assert body["suggested_questions_after_answer"] == {"enabled": False}
    assert body["speech_to_text"] == {"enabled": False}
    assert body["text_to_speech"]["enabled"] is False
    for key in ("retriever_resource", "annotation_reply", "more_like_this"):
        assert body[key] == {"enabled": False}
    assert body["sensitive_word_avoidance"] == {"enabled": False, "type": "", "configs": []}
    assert body["user_input_form"][0]["text-input"]["variable"] == "name"
    assert body["file_upload"]["image"]["number_limits"] == 3
    assert body["system_parameters"] == {"image_file_size_limit": 10, "video_file_size_limit": 100,
                                         "audio_file_size_limit": 50, "file_size_limit": 15,
                                         "workflow_file_upload_limit": 10}
    completion = (await call("get", "/v1/parameters", api.completion_key)).json()
    assert completion["opening_statement"] is None and completion["user_input_form"][0]["paragraph"]


async def test_meta_info_site(api) -> None:  # type: ignore[no-untyped-def]
    await enable(api.chat, agent_mode={"enabled": True, "tools": [
        {"provider_type": "builtin", "provider_id": "time", "tool_name": "current_time", "enabled": True},
        {"provider_type": "api", "provider_id": "x", "tool_name": "weather", "enabled": True}]})
    meta = (await call("get", "/v1/meta", api.chat_key)).json()
    assert meta["tool_icons"]["current_time"].endswith(
        "/console/api/workspaces/current/tool-provider/builtin/time/icon")
    assert meta["tool_icons"]["weather"] == {"background": "#252525", "content": "😁"}
    info = (await call("get", "/v1/info", api.chat_key)).json()
    assert info == {"name": "Helper", "description": "", "tags": [], "mode": "chat", "author_name": ""}
    site = (await call("get", "/v1/site", api.beta_key)).json()
    assert site["title"] == "Beta bot" and site["default_language"] == "en-US" and site["icon"] == "🤖"
    assert set(site) == {"title", "chat_color_theme", "chat_color_theme_inverted", "icon_type", "icon",
                         "icon_background", "icon_url", "description", "copyright", "privacy_policy",
                         "custom_disclaimer", "default_language", "show_workflow_steps", "use_icon_as_answer_icon"}


# --- File upload --------------------------------------------------------------------------------------------------

async def test_upload_image(api, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    response = await call("post", "/v1/files/upload", api.chat_key, {"user": "u-1"},
                          files={"file": SimpleUploadedFile("cat.PNG", PNG, content_type="image/png")})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["size"], body["extension"], body["mime_type"]) == ("cat.PNG", len(PNG), "png",
                                                                                  "image/png")
    assert isinstance(body["created_at"], int) and body["preview_url"] is None and body["file_key"] is None
    assert {"original_url", "user_id", "tenant_id", "conversation_id", "source_url"} <= set(body)
    row = await in_schema(lambda: UploadFile.objects.select_related("created_by").get(pk=body["id"]))
    assert str(row.created_by_id) == body["created_by"] and row.created_by.session_id == "u-1"
    assert row.key.startswith(f"upload_files/{ALPHA}/")
    assert (tmp_path / row.key).read_bytes() == PNG


@pytest.mark.parametrize(("files", "status", "code"), [
    ({}, 400, "no_file_uploaded"),
    ({"file": SimpleUploadedFile("a.png", PNG, "image/png"), "other": SimpleUploadedFile("b.png", PNG, "image/png")},
     400, "too_many_files"),
    ({"file": SimpleUploadedFile("setup.exe", b"MZ", "application/x-msdownload")}, 400, "file_extension_blocked"),
    ({"file": SimpleUploadedFile("noextension", b"hi", "text/plain")}, 400, "file_extension_blocked"),
    ({"file": SimpleUploadedFile("big.png", b"x" * (1024 * 1024 + 1), "image/png")}, 413, "file_too_large"),
])
async def test_upload_errors(api, settings, tmp_path, files, status, code) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    settings.UPLOAD_IMAGE_FILE_SIZE_LIMIT = 1
    response = await call("post", "/v1/files/upload", api.chat_key, {"user": "u-1"}, files=files)
    assert response.status_code == status and response.json()["code"] == code
    assert await in_schema(lambda: UploadFile.objects.count()) == 0


# --- Audio --------------------------------------------------------------------------------------------------------

@sync_to_async
def audio_models(fake) -> None:  # type: ignore[no-untyped-def]
    with schema_context(ALPHA):
        providers.credential_save(provider_id="openai", validate=False,
                                  data={"api_key": "sk-test", "base_url": fake.base_url})
        providers.default_model_set(model_type="speech2text", provider_id="openai", model="whisper-1")
        providers.default_model_set(model_type="tts", provider_id="openai", model="tts-1")


def _audio(name: str = "hello.mp3", content_type: str = "audio/mp3", size: int = 0) -> dict:
    return {"file": SimpleUploadedFile(name, b"ID3" + b"\x00" * max(size, 16), content_type=content_type)}


async def test_audio_to_text(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    disabled = await call("post", "/v1/audio-to-text", api.chat_key, {"user": "u-1"}, files=_audio())
    assert disabled.json() == {"code": "invalid_param", "message": "Speech to text is not enabled", "status": 400}
    await enable(api.chat, speech_to_text={"enabled": True})
    no_model = await call("post", "/v1/audio-to-text", api.chat_key, {"user": "u-1"}, files=_audio())
    assert no_model.json() == {"code": "provider_not_support_speech_to_text", "status": 400,
                               "message": "Provider not support speech to text."}
    await audio_models(fake_openai)
    fake_openai.script("transcriptions", Reply("hello from the fake"))
    response = await call("post", "/v1/audio-to-text", api.chat_key, {"user": "u-1"}, files=_audio())
    assert response.status_code == 200 and response.json() == {"text": "hello from the fake"}
    assert fake_openai.requests[-1].path.endswith("/audio/transcriptions")


@pytest.mark.parametrize(("files", "status", "code"), [
    ({}, 400, "no_audio_uploaded"),
    ({**_audio(), "extra": SimpleUploadedFile("b.mp3", b"ID3", "audio/mp3")}, 400, "too_many_files"),
    (_audio("x.png", "image/png"), 415, "unsupported_audio_type"),
    (_audio(size=30 * 1024 * 1024 + 1), 413, "audio_too_large"),
])
async def test_audio_to_text_errors(api, files, status, code) -> None:  # type: ignore[no-untyped-def]
    await enable(api.chat, speech_to_text={"enabled": True})
    response = await call("post", "/v1/audio-to-text", api.chat_key, {"user": "u-1"}, files=files)
    assert response.status_code == status and response.json()["code"] == code


async def test_text_to_audio(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    disabled = await call("post", "/v1/text-to-audio", api.chat_key, {"text": "Hi", "user": "u-1"})
    assert disabled.json() == {"code": "invalid_param", "message": "TTS is not enabled", "status": 400}
    await enable(api.chat, text_to_speech={"enabled": True, "voice": "nova", "language": "en-US"})
    no_model = await call("post", "/v1/text-to-audio", api.chat_key, {"text": "Hi", "user": "u-1"})
    assert no_model.status_code == 400 and no_model.json()["code"] == "provider_not_initialize"
    await audio_models(fake_openai)
    response = await call("post", "/v1/text-to-audio", api.chat_key, {"text": "Hello there", "user": "u-1"})
    assert response.status_code == 200 and response["Content-Type"] == "audio/mpeg"
    assert response.content.startswith(b"ID3") and b"Hello there" in response.content
    assert fake_openai.requests[-1].json["voice"] == "nova"
    _, [message] = await seed(api.chat, "u-1", 1)
    spoken = await call("post", "/v1/text-to-audio", api.chat_key,
                        {"message_id": str(message.pk), "voice": "echo", "user": "u-1"})
    assert b"a0" in spoken.content and fake_openai.requests[-1].json["voice"] == "echo"
    unknown = await call("post", "/v1/text-to-audio", api.chat_key, {"message_id": str(message.pk), "user": "u-2"})
    assert unknown.status_code == 200 and unknown.content == b"null"
    empty = await call("post", "/v1/text-to-audio", api.chat_key, {"user": "u-1"})
    assert empty.json()["message"] == "Text is required"
