"""N-to-1 routing (KN-18) is a model call of the turn: its tokens and price count. In a workflow the
Knowledge Retrieval node reports the routing call's usage in its execution_metadata and the run adds
it to its totals; in a chatflow it reaches message_end's usage and the stored message's tokens and
price alongside the LLM node's. For chat apps, the knowledge context (apps.datasets.context.for_turn)
returns the routing usage and usage_with() adds it to the answer's. The model: the fake OpenAI server,
scripted with fixed usages and priced through a workspace model price."""

import asyncio
import json
import uuid
from decimal import Decimal

import pytest
from asgiref.sync import ThreadSensitiveContext
from django.test import AsyncClient
from django_tenants.utils import schema_context

from apps.applications import services as apps
from apps.datasets import context
from apps.logs.models import Message
from apps.providers import services as providers
from apps.providers.runtime.entities import Usage
from apps.workflows import services
from tests.fakes.base import FakeToolCall, Reply
from tests.workflows.conftest import MODEL
from tests.workflows.helpers import chain, graph, node
from tests.workflows.test_nodes_external import START, _knowledge, alpha, end, one  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

# $1 per 1,000 prompt tokens and $2 per 1,000 completion tokens
PRICE = {"provider_id": "openai_api_compatible", "model": "fake-chat", "input_price": "1", "output_price": "2",
         "price_unit": "0.001"}


def _price() -> None:
    with schema_context("ws_alpha"):
        providers.price_set(**PRICE)


def _route_to(dataset_id: str, usage: tuple[int, int]) -> Reply:
    return Reply(tool_calls=[FakeToolCall(f"dataset_{uuid.UUID(dataset_id).hex}", {"query": "q"})], usage=usage)


def _kr(pets: str, cars: str) -> dict:
    return node("kr", "knowledge-retrieval", query_variable_selector=["start", "q"], dataset_ids=[pets, cars],
                retrieval_mode="single", single_retrieval_config={"model": MODEL})


async def test_routing_usage_counts_toward_the_node_and_the_run(alpha, fake_openai, world_tx) -> None:
    pets, cars = await asyncio.to_thread(_knowledge, world_tx)
    await asyncio.to_thread(_price)
    fake_openai.script("chat", _route_to(cars, (40, 5)))
    result = await one(alpha, _kr(pets, cars), {"q": "when should I check tyre pressure"},
                       outputs={"r": ["kr", "result"]})
    assert result.status == "succeeded", result.error
    assert {c["metadata"]["dataset_name"] for c in result.outputs["r"]} == {"Cars"}
    [finished] = [d["data"] for e, d in result.events if e == "node_finished" and d["data"]["node_id"] == "kr"]
    meta = finished["execution_metadata"]
    # 40 × $0.001 + 5 × $0.002
    assert (meta["total_tokens"], Decimal(meta["total_price"]), meta["currency"]) == (45, Decimal("0.05"), "USD")
    assert result.ctx.total_tokens == 45 and result.ctx.total_price == Decimal("0.05")

    # One dataset: nothing to route, no model call, no usage.
    single = node("kr", "knowledge-retrieval", query_variable_selector=["start", "q"], dataset_ids=[cars],
                  retrieval_mode="single", single_retrieval_config={"model": MODEL})
    calls = len(fake_openai.requests_to("chat"))
    result = await one(alpha, single, {"q": "tyre pressure"}, outputs={"r": ["kr", "result"]})
    assert result.status == "succeeded" and result.ctx.total_tokens == 0
    assert len(fake_openai.requests_to("chat")) == calls


def _chatflow(pets: str, cars: str) -> str:
    raw = graph([
        node("start", "start", variables=[]),
        node("kr", "knowledge-retrieval", query_variable_selector=["sys", "query"], dataset_ids=[pets, cars],
             retrieval_mode="single", single_retrieval_config={"model": MODEL}),
        node("llm", "llm", model=MODEL, context={"enabled": True, "variable_selector": ["kr", "result"]},
             prompt_template=[{"role": "system", "text": "Use: {{#context#}}"},
                              {"role": "user", "text": "{{#sys.query#}}"}]),
        node("answer", "answer", answer="{{#llm.text#}}"),
    ], chain("start", "kr", "llm", "answer"))
    with schema_context("ws_alpha"):
        app = services.workflow_app_create(name="Routed chatflow", mode="advanced-chat", graph=raw)
        services.publish(app=app)
        _, key = apps.api_key_create(app=app)
    return key


async def test_chatflow_message_end_and_message_include_the_routing_call(alpha, fake_openai, world_tx) -> None:
    pets, cars = await asyncio.to_thread(_knowledge, world_tx)
    await asyncio.to_thread(_price)
    key = await asyncio.to_thread(_chatflow, pets, cars)
    fake_openai.script("chat", _route_to(pets, (40, 5)), Reply("Sixteen hours.", usage=(100, 3)))
    async with ThreadSensitiveContext():
        response = await AsyncClient().post(
            "/v1/chat-messages", data=json.dumps({"query": "how long do cats sleep", "inputs": {}, "user": "u-1",
                                                  "response_mode": "streaming"}),
            content_type="application/json", headers={"Authorization": f"Bearer {key}"})
        raw = b"".join([chunk async for chunk in response.streaming_content]).decode()
    events = [json.loads(block[6:]) for block in raw.split("\n\n") if block.startswith("data: ")]
    assert events[-1]["event"] == "message_end", events[-1]
    usage = events[-1]["metadata"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (140, 8, 148)
    # (40 + 100) × $0.001 + (5 + 3) × $0.002
    assert Decimal(usage["total_price"]) == Decimal("0.156")
    assert "sixteen hours" in fake_openai.requests_to("chat")[-1].json["messages"][0]["content"]

    def stored() -> Message:
        with schema_context("ws_alpha"):
            return Message.objects.get(pk=events[-1]["message_id"])

    message = await asyncio.to_thread(stored)
    assert (message.message_tokens, message.answer_tokens, message.total_price) == (140, 8, Decimal("0.156"))


def _for_turn(pets: str, cars: str, fake) -> context.TurnContext:  # type: ignore[no-untyped-def]
    from apps.providers import selectors

    with schema_context("ws_alpha"):
        config = {"dataset_configs": context.config_for([pets, cars], mode="single")}
        model = selectors.resolve("llm", "openai_api_compatible", "fake-chat")
        return context.for_turn(config=config, query="how long do cats sleep", inputs={}, model=model,
                                source="api")


async def test_chat_turn_context_returns_the_routing_usage(alpha, fake_openai, world_tx) -> None:
    pets, cars = await asyncio.to_thread(_knowledge, world_tx)
    await asyncio.to_thread(_price)
    fake_openai.script("chat", _route_to(pets, (40, 5)))
    turn = await asyncio.to_thread(_for_turn, pets, cars, fake_openai)
    assert "sixteen hours" in turn.text
    assert (turn.usage.prompt_tokens, turn.usage.completion_tokens, turn.usage.total_price) == \
        (40, 5, Decimal("0.05"))
    fake_openai.script("chat", Reply("none fits", usage=(30, 2)))
    missed = await asyncio.to_thread(_for_turn, pets, cars, fake_openai)
    assert missed.text == "" and missed.usage.total_tokens == 32  # asked, even though nothing was picked

    answer = Usage(prompt_tokens=100, completion_tokens=3, total_tokens=103, prompt_price=Decimal("0.1"),
                   completion_price=Decimal("0.006"), total_price=Decimal("0.106"), latency=1.5)
    total = context.usage_with(answer, turn.usage)
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens, total.total_price, total.latency) == \
        (140, 8, 148, Decimal("0.156"), 1.5)
    assert answer.total_tokens == 103  # not changed in place
    assert context.usage_with(answer, None) is answer and context.usage_with(None, turn.usage) == turn.usage
