"""Stopping an agent turn while its tool is running (issue 21 §1): a custom OpenAPI tool whose
service does not answer; POST /v1/chat-messages/<task_id>/stop ends the turn at once, the step
records that the user stopped it, and the message is stored as stopped with what was said."""

import asyncio
import json

import pytest
from asgiref.sync import ThreadSensitiveContext
from django.test import AsyncClient
from django_tenants.utils import tenant_context
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from apps.logs.models import Message
from apps.tools import services
from tests.applications.test_agent import import_clock_agent
from tests.fakes.base import FakeToolCall, Reply
from tests.tools.fakes import Served

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _slow_api() -> Served:
    async def lookup(request):  # type: ignore[no-untyped-def]
        await asyncio.sleep(30)  # a service that hangs
        return JSONResponse({"late": True})

    return Served(Starlette(routes=[Route("/lookup", lookup)])).start()


def _document(base_url: str) -> str:
    return json.dumps({"openapi": "3.0.0", "info": {"title": "Slow", "version": "1"},
                       "servers": [{"url": base_url}],
                       "paths": {"/lookup": {"get": {"operationId": "slowLookup", "summary": "Looks slowly",
                                                     "responses": {"200": {"description": "ok"}}}}}})


async def test_stop_ends_the_turn_while_the_tool_runs(world_tx, fake_openai, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    server = await asyncio.to_thread(_slow_api)

    def provider():  # type: ignore[no-untyped-def]
        with tenant_context(world_tx.alpha):
            return services.api_provider_save(name="slow", schema=_document(server.url))

    try:
        slow = await asyncio.to_thread(provider)
        tool = {"enabled": True, "provider_type": "api", "provider_id": str(slow.pk), "provider_name": "slow",
                "tool_name": "slowLookup", "tool_parameters": {}}
        _app, key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai, tools=[tool])
        fake_openai.script(Reply("Looking it up.", tool_calls=[FakeToolCall("slowLookup", {})]))
        headers = {"Authorization": f"Bearer {key}"}
        async with ThreadSensitiveContext():
            response = await AsyncClient().post(
                "/v1/chat-messages", data=json.dumps({"inputs": {}, "query": "Look it up", "user": "u-1",
                                                      "response_mode": "streaming"}),
                content_type="application/json", headers=headers)
        events: list[dict] = []
        buffer = ""
        loop = asyncio.get_running_loop()
        started = None
        async for chunk in response.streaming_content:
            buffer += chunk.decode()
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                if block.startswith("data: "):
                    events.append(json.loads(block[6:]))
            running = [e for e in events if e["event"] == "agent_thought" and e["tool"] == "slowLookup"]
            if running and started is None:
                started = loop.time()
                await asyncio.sleep(0.3)  # the tool is under way
                async with ThreadSensitiveContext():
                    stopped = await AsyncClient().post(f"/v1/chat-messages/{events[0]['task_id']}/stop",
                                                       data=json.dumps({"user": "u-1"}),
                                                       content_type="application/json", headers=headers)
                assert stopped.json() == {"result": "success"}
        assert events[-1]["event"] == "message_end"
        assert loop.time() - started < 15  # not the 30 s the service would take
        last = [e for e in events if e["event"] == "agent_thought"][-1]
        assert json.loads(last["observation"]) == {
            "slowLookup": "The user stopped the turn while the tool was running."}
        assert len(fake_openai.requests_to("chat")) == 1

        def stored() -> Message:
            with tenant_context(world_tx.alpha):
                return Message.objects.get(pk=events[-1]["message_id"])

        message = await asyncio.to_thread(stored)
        assert (message.status, message.answer) == ("stopped", "Looking it up.")
    finally:
        await asyncio.to_thread(server.stop)
