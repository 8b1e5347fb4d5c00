"""Conversation titles through a real Celery worker: the first Service API message queues
generate_conversation_name, and a separate worker process names the conversation with the
workspace default LLM (the fake OpenAI server, reached over HTTP from the worker)."""

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


async def test_worker_names_the_new_conversation(api, fake_openai, real_broker, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    await set_default_llm()
    fake_openai.script("chat", Reply("Here is a plan"), Reply("Lisbon weekend plan"))
    response = await call("post", "/v1/chat-messages", api.chat_key, CHAT)
    assert response.status_code == 200, response.content
    conversation_id = response.json()["conversation_id"]
    # Queued, not run: the request answered with the initial name still in place.
    assert await asyncio.to_thread(_name, conversation_id) == "Plan a trip to Lisbo…"

    worker = await asyncio.to_thread(_start_worker, tmp_path)
    try:
        named = await asyncio.to_thread(_wait_for, lambda: _name(conversation_id) == "Lisbon weekend plan")
    finally:
        output = await asyncio.to_thread(_stop, worker, tmp_path)
    assert named, output
    assert "apps.applications.tasks.generate_conversation_name" in output
    title_request = fake_openai.requests[-1].json
    assert title_request["messages"][0]["content"] == TITLE_PROMPT
    assert title_request["messages"][-1]["content"] == CHAT["query"]
    listed = (await call("get", "/v1/conversations", api.chat_key, query={"user": "u-1"})).json()["data"]
    assert [c["name"] for c in listed] == ["Lisbon weekend plan"]
    assert await in_schema(lambda: Conversation.objects.count(), "ws_beta") == 0
