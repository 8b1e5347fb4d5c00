"""POST /v1/chat-messages and /v1/completion-messages: blocking, streaming, conversation rules,
errors, stop, and isolation between apps and workspaces."""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import ThreadSensitiveContext
from django.test import AsyncClient
from django_tenants.utils import schema_context

from apps.logs.models import Conversation, Message
from tests.fakes.base import Fail, Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def post(path: str, key: str | None, body: dict, **headers: str):  # type: ignore[no-untyped-def]
    client = AsyncClient()
    extra = {**(_auth(key) if key else {}), **headers}
    # Each request gets its own thread-sensitive context, as Django's ASGIHandler gives it.
    async with ThreadSensitiveContext():
        return await client.post(path, data=json.dumps(body), content_type="application/json", headers=extra)


async def sse_events(response) -> list[dict]:  # type: ignore[no-untyped-def]
    raw = b"".join([chunk async for chunk in response.streaming_content]).decode()
    events = []
    for block in raw.split("\n\n"):
        if block.startswith("data: "):
            events.append(json.loads(block[6:]))
        elif block.strip() == "event: ping":
            events.append({"event": "ping"})
    return events


def _data(chunk: bytes) -> list[dict]:
    """The events of one written chunk (events already queued together go out in one write)."""
    return [json.loads(block[6:]) for block in chunk.decode().split("\n\n") if block.startswith("data: ")]


def _messages(schema: str, **filters: object) -> list[Message]:
    with schema_context(schema):
        return list(Message.objects.filter(**filters).order_by("created_at"))


CHAT = {"inputs": {"name": "Ada"}, "query": "Hello there", "user": "u-1"}


async def test_blocking_chat_answer_and_stored_message(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("Hello Ada, nice to meet you", usage=(20, 6)))
    response = await post("/v1/chat-messages", api.chat_key, CHAT)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["event"] == "message" and body["mode"] == "chat"
    assert body["answer"] == "Hello Ada, nice to meet you"
    assert body["id"] == body["message_id"] and uuid.UUID(body["conversation_id"]) and uuid.UUID(body["task_id"])
    usage = body["metadata"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (20, 6, 26)
    assert body["metadata"]["retriever_resources"] == [] and body["metadata"]["annotation_reply"] is None
    assert isinstance(body["created_at"], int)
    sent = fake_openai.requests[-1].json
    assert sent["messages"][0] == {"role": "system", "content": "You help Ada in a warm tone."}
    assert sent["messages"][-1] == {"role": "user", "content": "Hello there"}
    assert sent["temperature"] == 0.3
    [stored] = await asyncio.to_thread(_messages, "ws_alpha", pk=body["message_id"])
    assert (stored.status, stored.answer, stored.query) == ("normal", "Hello Ada, nice to meet you", "Hello there")
    assert (stored.message_tokens, stored.answer_tokens, stored.from_source) == (20, 6, "api")
    assert stored.prompt_log[0]["role"] == "system"


async def test_streaming_events_in_order_and_shape(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("one two three four", chunk_size=1))
    response = await post("/v1/chat-messages", api.chat_key, {**CHAT, "response_mode": "streaming"})
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    events = await sse_events(response)
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "message_end" and set(kinds[:-1]) == {"message"} and len(kinds) >= 5
    first, end = events[0], events[-1]
    assert set(first) >= {"event", "task_id", "id", "message_id", "conversation_id", "answer", "created_at"}
    assert first["from_variable_selector"] is None
    assert "".join(e["answer"] for e in events[:-1]) == "one two three four"
    assert end["id"] == first["id"] and end["conversation_id"] == first["conversation_id"]
    assert end["metadata"]["usage"]["total_tokens"] > 0 and end["files"] is None
    assert len({e["task_id"] for e in events}) == 1


async def test_conversation_continues_with_memory(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("First answer"), Reply("Second answer"))
    first = (await post("/v1/chat-messages", api.chat_key, CHAT)).json()
    second = await post("/v1/chat-messages", api.chat_key,
                        {**CHAT, "query": "And then?", "conversation_id": first["conversation_id"]})
    assert second.status_code == 200 and second.json()["conversation_id"] == first["conversation_id"]
    sent = fake_openai.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "Hello there" and sent[2]["content"] == "First answer"


async def test_inputs_are_revalidated_every_turn(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    first = (await post("/v1/chat-messages", api.chat_key, CHAT)).json()
    again = await post("/v1/chat-messages", api.chat_key,
                       {"inputs": {}, "query": "more", "user": "u-1", "conversation_id": first["conversation_id"]})
    assert again.status_code == 400
    assert again.json() == {"code": "invalid_param", "message": "name is required in input form", "status": 400}


@pytest.mark.parametrize(
    ("change", "status", "code", "message"),
    [
        ({"conversation_id": "not-a-uuid"}, 400, "invalid_param", "conversation_id must be a valid UUID"),
        ({"conversation_id": str(uuid.uuid4())}, 404, "not_found", "Conversation Not Exists."),
        ({"query": ""}, 400, "invalid_param", "query is required"),
        ({"user": ""}, 400, "invalid_param", "Arg user must be provided."),
        ({"inputs": {"name": "x" * 21}}, 400, "invalid_param", "name in input form must be less than 20 characters"),
        ({"inputs": {"name": "Ada", "tone": "loud"}}, 400, "invalid_param",
         "tone in input form must be one of the following: ['warm', 'dry']"),
        ({"inputs": {"name": 5}}, 400, "invalid_param", "(type 'text-input') name in input form must be a string"),
    ],
)
async def test_chat_request_errors(api, change, status, code, message) -> None:  # type: ignore[no-untyped-def]
    response = await post("/v1/chat-messages", api.chat_key, {**CHAT, **change})
    assert response.status_code == status
    assert response.json() == {"code": code, "message": message, "status": status}


async def test_another_users_conversation_is_404(api) -> None:  # type: ignore[no-untyped-def]
    mine = (await post("/v1/chat-messages", api.chat_key, CHAT)).json()
    theirs = await post("/v1/chat-messages", api.chat_key,
                        {**CHAT, "user": "someone-else", "conversation_id": mine["conversation_id"]})
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Authorization header must be provided and start with 'Bearer'"),
        ("Basic abc", "Authorization scheme must be 'Bearer'"),
        ("Bearer app-unknownunknownunknown00", "Access token is invalid"),
    ],
)
async def test_authentication_errors(api, header, message) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": header} if header else {}
    response = await AsyncClient().post("/v1/chat-messages", data=json.dumps(CHAT), content_type="application/json",
                                        headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": "unauthorized", "message": message, "status": 401}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


async def test_disabled_api_is_403(api) -> None:  # type: ignore[no-untyped-def]
    def disable() -> None:
        with schema_context("ws_alpha"):
            type(api.chat).objects.filter(pk=api.chat.pk).update(enable_api=False)

    await asyncio.to_thread(disable)
    response = await post("/v1/chat-messages", api.chat_key, CHAT)
    assert response.status_code == 403
    assert response.json()["message"] == "The app's API service has been disabled."


async def test_mode_mismatch(api) -> None:  # type: ignore[no-untyped-def]
    wrong = await post("/v1/chat-messages", api.completion_key, {**CHAT, "inputs": {"topic": "x"}})
    assert wrong.status_code == 400 and wrong.json()["code"] == "not_chat_app"
    wrong = await post("/v1/completion-messages", api.chat_key, CHAT)
    assert wrong.status_code == 400 and wrong.json()["code"] == "app_unavailable"


async def test_completion_blocking_and_streaming(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("Otters hold hands"), Reply("Otters sleep a lot", chunk_size=1))
    body = {"inputs": {"topic": "otters"}, "user": "writer-1"}
    blocking = (await post("/v1/completion-messages", api.completion_key, body)).json()
    assert blocking["answer"] == "Otters hold hands" and blocking["mode"] == "completion"
    assert "conversation_id" not in blocking
    assert fake_openai.requests[-1].json["messages"] == [{"role": "user", "content": "Write about otters."}]
    streamed = await sse_events(await post("/v1/completion-messages", api.completion_key,
                                           {**body, "response_mode": "streaming"}))
    assert streamed[-1]["event"] == "message_end" and "conversation_id" not in streamed[0]
    missing = await post("/v1/completion-messages", api.completion_key, {"inputs": {}, "user": "w"})
    assert missing.json() == {"code": "invalid_param", "message": "topic is required in input form", "status": 400}


@pytest.mark.parametrize(("failure", "code", "status"), [
    (Fail(401, "Incorrect API key provided"), "provider_not_initialize", 400),
    (Fail(429, "Rate limit reached"), "rate_limit_error", 429),
    (Fail(400, "bad temperature"), "completion_request_error", 400),
])
async def test_provider_errors(api, fake_openai, settings, failure, code, status) -> None:  # type: ignore[no-untyped-def]
    settings.PROVIDER_MAX_RETRIES = 0
    fake_openai.script("chat", failure, failure)
    blocking = await post("/v1/chat-messages", api.chat_key, CHAT)
    assert blocking.status_code == status and blocking.json()["code"] == code
    assert failure.message in blocking.json()["message"]
    events = await sse_events(await post("/v1/chat-messages", api.chat_key, {**CHAT, "response_mode": "streaming"}))
    assert events[-1]["event"] == "error" and events[-1]["code"] == code and events[-1]["status"] == status
    assert {"conversation_id", "message_id", "created_at", "task_id"} <= set(events[-1])
    stored = await asyncio.to_thread(_messages, "ws_alpha", status="error")
    assert len(stored) == 2 and failure.message in stored[0].error


async def test_another_end_users_stop_is_ignored(api, fake_openai, cache_backend) -> None:  # type: ignore[no-untyped-def]
    """An intruder's stop lands in the cache and in this process's running turn alike; the turn
    still streams to its end. (The owner's stop, below, takes effect at the next chunk, so the
    full answer proves the intruder's did not.)"""
    words = " ".join(f"w{i}" for i in range(30))
    fake_openai.script("chat", Reply(words, chunk_size=1, delay_between_chunks=0.02))
    response = await post("/v1/chat-messages", api.chat_key, {**CHAT, "response_mode": "streaming"})
    stream = response.streaming_content.__aiter__()
    first, *rest = _data(await stream.__anext__())
    assert (await post(f"/v1/chat-messages/{first['task_id']}/stop", api.chat_key, {"user": "intruder"})).json() == {
        "result": "success"}
    rest += [event async for chunk in stream for event in _data(chunk)]
    assert rest[-1]["event"] == "message_end"
    [stored] = await asyncio.to_thread(_messages, "ws_alpha", pk=first["message_id"])
    assert (stored.status, stored.answer) == ("normal", words)


async def test_stop_keeps_what_was_generated(api, fake_openai, cache_backend) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply(" ".join(f"w{i}" for i in range(200)), chunk_size=1, delay_between_chunks=0.02))
    response = await post("/v1/chat-messages", api.chat_key, {**CHAT, "response_mode": "streaming"})
    stream = response.streaming_content.__aiter__()
    first, *rest = _data(await stream.__anext__())
    stop = await post(f"/v1/chat-messages/{first['task_id']}/stop", api.chat_key, {"user": "u-1"})
    assert stop.json() == {"result": "success"}
    rest += [event async for chunk in stream for event in _data(chunk)]
    assert rest[-1]["event"] == "message_end"
    [stored] = await asyncio.to_thread(_messages, "ws_alpha", pk=first["message_id"])
    assert stored.status == "stopped"
    assert 0 < len(stored.answer.split()) < 200
    assert stored.answer == "".join([first["answer"], *(e["answer"] for e in rest[:-1])])


@pytest.mark.parametrize("who", ["owner", "intruder"])
async def test_a_stop_from_another_process_reaches_the_turn(api, fake_openai, cache_backend, who) -> None:  # type: ignore[no-untyped-def]
    """Another process (an API server without this turn) can only leave the stop in the cache:
    this process's watcher picks it up when the owner left it, and ignores an intruder's."""
    from django.core.cache import cache

    from apps.applications import generation
    from apps.applications.generation import STOP_KEY

    words = " ".join(f"w{i}" for i in range(60))
    fake_openai.script("chat", Reply(words, chunk_size=1, delay_between_chunks=0.05))
    response = await post("/v1/chat-messages", api.chat_key, {**CHAT, "response_mode": "streaming"})
    stream = response.streaming_content.__aiter__()
    first, *rest = _data(await stream.__anext__())
    owner = generation.RUNNING[first["task_id"]].prepared.end_user_id
    stopper = owner if who == "owner" else str(uuid.uuid4())
    await asyncio.to_thread(cache.set, STOP_KEY.format(task_id=first["task_id"]), stopper, 600)
    rest += [event async for chunk in stream for event in _data(chunk)]
    [stored] = await asyncio.to_thread(_messages, "ws_alpha", pk=first["message_id"])
    if who == "owner":
        assert stored.status == "stopped" and 0 < len(stored.answer.split()) < 60
    else:
        assert (stored.status, stored.answer) == ("normal", words)


async def test_concurrency_limit_answers_429(api, fake_openai, cache_backend) -> None:  # type: ignore[no-untyped-def]
    def limit() -> None:
        with schema_context("ws_alpha"):
            type(api.chat).objects.filter(pk=api.chat.pk).update(max_active_requests=1)

    await asyncio.to_thread(limit)
    fake_openai.script("chat", Reply("slow answer here", chunk_size=1, delay_between_chunks=0.2))
    first = asyncio.create_task(post("/v1/chat-messages", api.chat_key, CHAT))
    from django.core.cache import cache

    from apps.applications.generation import ACTIVE_KEY

    slot = ACTIVE_KEY.format(schema="ws_alpha", app_id=api.chat.pk)
    for _ in range(200):  # until the first turn holds the app's one slot (no fixed sleep: load varies)
        if await asyncio.to_thread(cache.get, slot) == 1:
            break
        await asyncio.sleep(0.02)
    second = await post("/v1/chat-messages", api.chat_key, CHAT)
    assert second.status_code == 429 and second.json()["code"] == "too_many_requests"
    assert (await first).status_code == 200
    third = await post("/v1/chat-messages", api.chat_key, CHAT)
    assert third.status_code == 200


async def test_keys_never_cross_apps_or_workspaces(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    alpha = (await post("/v1/chat-messages", api.chat_key, CHAT)).json()
    # beta's key continues nothing of alpha's app, even with the same user name.
    crossed = await post("/v1/chat-messages", api.beta_key,
                         {"inputs": {}, "query": "hi", "user": "u-1", "conversation_id": alpha["conversation_id"]})
    assert crossed.status_code == 404
    # The completion app's key (same workspace) cannot stop or reach the chat app's conversation either.
    other_app = await post("/v1/chat-messages", api.completion_key,
                           {**CHAT, "conversation_id": alpha["conversation_id"]})
    assert other_app.status_code == 400 and other_app.json()["code"] == "not_chat_app"
    beta_answer = (await post("/v1/chat-messages", api.beta_key, {"inputs": {}, "query": "hi", "user": "u-1"})).json()

    def where() -> tuple[int, int]:
        with schema_context("ws_alpha"):
            in_alpha = Conversation.objects.filter(pk=beta_answer["conversation_id"]).count()
        with schema_context("ws_beta"):
            in_beta = Conversation.objects.filter(pk=beta_answer["conversation_id"]).count()
        return in_alpha, in_beta

    assert await asyncio.to_thread(where) == (0, 1)


@pytest.mark.parametrize("path", ["/v1/chat-messages", "/v1/completion-messages", "/v1/chat-messages/abc/stop"])
async def test_generation_endpoints_answer_405_in_the_api_format(api, path) -> None:  # type: ignore[no-untyped-def]
    response = await AsyncClient().get(path, headers=_auth(api.chat_key))
    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "status": 405,
                               "message": "The method is not allowed for the requested URL."}
