"""Conversation titles through a real Celery worker: the first Service API message of each new
conversation queues its title (batched per process for TITLE_BATCH_SECONDS into one
generate_conversation_names message), and a separate worker process names the conversations with
the workspace default LLM (the fake OpenAI server, reached over HTTP from the worker)."""

import asyncio

import pytest

from apps.applications.assist import TITLE_PROMPT
from apps.logs.models import Conversation
from tests.applications.test_service_endpoints import CHAT, call, in_schema, set_default_llm
from tests.core.test_celery_worker import _start_worker, _stop, _wait_for, real_broker  # noqa: F401
from tests.fakes.base import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.worker]


def _name(conversation_id: str, schema: str = "ws_alpha") -> str:
    from django_tenants.utils import schema_context

    with schema_context(schema):
        return Conversation.objects.get(pk=conversation_id).name


async def test_worker_names_the_new_conversations(api, fake_openai, real_broker, tmp_path, settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    settings.TITLE_BATCH_SECONDS = 0.3
    await set_default_llm()
    fake_openai.script("chat", Reply("Here is a plan"), Reply("Another plan"))
    first = await call("post", "/v1/chat-messages", api.chat_key, CHAT)
    second = await call("post", "/v1/chat-messages", api.chat_key, {**CHAT, "query": "Plan a week in Porto"})
    assert first.status_code == second.status_code == 200, (first.content, second.content)
    ids = [first.json()["conversation_id"], second.json()["conversation_id"]]
    # Queued, not run: the requests answered with the initial names still in place.
    assert await asyncio.to_thread(_name, ids[0]) == "Plan a trip to Lisbo…"

    fake_openai.script("chat", Reply("Lisbon weekend plan"), Reply("A week in Porto"))
    worker = await asyncio.to_thread(_start_worker, tmp_path)
    try:
        named = await asyncio.to_thread(_wait_for, lambda: _name(ids[1]) == "A week in Porto")
    finally:
        output = await asyncio.to_thread(_stop, worker, tmp_path)
    assert named, output
    assert await asyncio.to_thread(_name, ids[0]) == "Lisbon weekend plan"
    # Both titles came from one task message, published after the batch window.
    assert output.count("apps.applications.tasks.generate_conversation_names[") == 2, output  # received + succeeded
    title_requests = [r.json for r in fake_openai.requests if r.json["messages"][0]["content"] == TITLE_PROMPT]
    assert [r["messages"][-1]["content"] for r in title_requests] == [CHAT["query"], "Plan a week in Porto"]
    listed = (await call("get", "/v1/conversations", api.chat_key, query={"user": "u-1"})).json()["data"]
    assert sorted(c["name"] for c in listed) == ["A week in Porto", "Lisbon weekend plan"]
    assert await in_schema(lambda: Conversation.objects.count(), "ws_beta") == 0
