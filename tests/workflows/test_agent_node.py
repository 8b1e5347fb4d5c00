"""The workflow Agent node (dsl.md §3.19): the reference's strategy-plugin form, function calling
and ReAct against the fake OpenAI server, with the built-in time tool; agent_log events, outputs,
usage, stop, a tool of another workspace, and DSL import."""

import asyncio
import json
import re

import pytest
from django_tenants.utils import schema_context

from apps.workflows.engine.nodes import unsupported_reason
from tests.fakes.base import FakeToolCall, Reply
from tests.workflows.conftest import MODEL, setup_model
from tests.workflows.helpers import arun, chain, graph, node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

START = node("start", "start", variables=[{"variable": "q", "type": "text-input"}])
END = node("end", "end", outputs=[{"variable": "text", "value_selector": ["agent", "text"]},
                                  {"variable": "steps", "value_selector": ["agent", "json"]}])
TIME_TOOL = {"enabled": True, "type": "builtin", "provider_name": "langgenius/time/time", "tool_name": "current_time",
             "tool_label": "Current Time", "parameters": {}, "settings": {"timezone": {"value": "UTC"},
                                                                          "format": {"value": "%Y-%m-%d %H:%M:%S"}}}
CLOCK = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def agent(strategy: str = "function_calling", tools=(TIME_TOOL,), iterations: int = 3) -> dict:  # type: ignore[no-untyped-def]
    model = {"provider": "langgenius/openai_api_compatible/openai_api_compatible", "model": "fake-chat",
             "model_type": "llm", "mode": "chat", "completion_params": {"temperature": 0.1}}
    return node("agent", "agent", agent_strategy_provider_name="langgenius/agent/agent",
                agent_strategy_name=strategy, agent_strategy_label=strategy, tool_node_version="2",
                agent_parameters={
                    "model": {"type": "constant", "value": model},
                    "tools": {"type": "constant", "value": list(tools)},
                    "instruction": {"type": "constant", "value": "You are a clock."},
                    "query": {"type": "mixed", "value": "Question: {{#start.q#}}"},
                    "maximum_iterations": {"type": "constant", "value": iterations}})


@pytest.fixture
def alpha(world_tx, fake_openai):  # type: ignore[no-untyped-def]
    with schema_context(world_tx.alpha.schema_name):
        setup_model(fake_openai)
    return world_tx.alpha


def _tool_result(request) -> str | None:  # type: ignore[no-untyped-def]
    last = request.json["messages"][-1]
    return last["content"] if last["role"] == "tool" else None


async def test_function_calling_agent_node_uses_the_tool(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script(Reply(tool_calls=[FakeToolCall("current_time", {})], usage=(20, 3)))
    fake_openai.responder = lambda request: Reply(f"It is {_tool_result(request)}.", usage=(40, 6))
    result = await arun(graph([START, agent(), END], chain("start", "agent", "end")), {"q": "time?"}, tenant=alpha)
    assert result.status == "succeeded", result.error
    assert CLOCK.fullmatch(result.outputs["text"][6:-1])
    first = fake_openai.requests_to("chat")[0].json
    assert first["messages"] == [{"role": "system", "content": "You are a clock."},
                                 {"role": "user", "content": "Question: time?"}]
    assert [t["function"]["name"] for t in first["tools"]] == ["current_time"]
    assert first["temperature"] == 0.1
    logs = [d["data"] for e, d in result.events if e == "agent_log"]
    assert {log["node_id"] for log in logs} == {"agent"}
    assert logs[-1]["status"] == "success" and logs[1]["label"] == "current_time"
    assert logs[0]["node_execution_id"] == result.finished("agent")["id"]
    steps = result.outputs["steps"]
    assert [s["tool"] for s in steps] == ["current_time", ""]
    assert CLOCK.fullmatch(json.loads(steps[0]["observation"])["current_time"])
    finished = result.finished("agent")
    assert finished["execution_metadata"]["total_tokens"] == 69 and result.ctx.total_tokens == 69


async def test_react_agent_node(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script(Reply('Thought: check\n```json\n{"action": "current_time", "action_input": {}}\n```'))
    fake_openai.responder = lambda request: Reply("Final Answer: done at "
                                                  + request.json["messages"][-1]["content"][len("Observation: "):])
    result = await arun(graph([START, agent("ReAct"), END], chain("start", "agent", "end")), {"q": "t"},
                        tenant=alpha)
    assert result.status == "succeeded", result.error
    assert result.outputs["text"].startswith("done at ") and CLOCK.search(result.outputs["text"])
    assert "tools" not in fake_openai.requests_to("chat")[0].json


async def test_a_tool_of_another_workspace_is_not_available(world_tx, alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """An api tool id of alpha named in a graph run for beta resolves to nothing there."""
    from apps.tools.models import ApiToolProvider

    def create() -> ApiToolProvider:
        with schema_context(world_tx.alpha.schema_name):
            return ApiToolProvider.objects.create(name="Secret API", schema_type="openapi", schema="{}", tools=[])

    def beta_model() -> None:
        with schema_context(world_tx.beta.schema_name):
            setup_model(fake_openai)

    provider = await asyncio.to_thread(create)
    await asyncio.to_thread(beta_model)
    foreign = {"enabled": True, "type": "api", "provider_id": str(provider.pk), "provider_name": "Secret API",
               "tool_name": "anything", "parameters": {}}
    fake_openai.script(Reply("No tools here."))
    result = await arun(graph([START, agent(tools=[foreign]), END], chain("start", "agent", "end")), {"q": "x"},
                        tenant=world_tx.beta)
    assert result.status == "succeeded" and result.outputs["text"] == "No tools here."
    assert "tools" not in fake_openai.requests_to("chat")[-1].json


async def test_the_agent_node_stops(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.responder = lambda request: Reply(tool_calls=[FakeToolCall("current_time", {})])
    # stop once the start node has finished: the agent sees the stop at its first check
    result = await arun(graph([START, agent(), END], chain("start", "agent", "end")), {"q": "x"}, tenant=alpha,
                        stop_after=1)
    assert result.status == "stopped"
    assert len(fake_openai.requests_to("chat")) <= 1


async def test_the_agent_node_is_supported() -> None:
    assert unsupported_reason("agent") is None


def _import_agent_workflow(world, fake):  # type: ignore[no-untyped-def]
    from pathlib import Path

    from apps.applications import dsl
    from apps.applications import services as apps
    from apps.providers import services as providers
    from apps.workflows import services

    with schema_context(world.alpha.schema_name):
        providers.credential_save(provider_id="openai", validate=False,
                                  data={"api_key": "sk-agent-flow-1234", "base_url": fake.base_url})
        result = dsl.import_app((Path(__file__).parent / "fixtures" / "workflow_agent.yml").read_text())
        assert result.ok, result.error
        services.publish(app=result.app)
        _, key = apps.api_key_create(app=result.app)
    return result, key


async def test_an_imported_agent_workflow_runs_through_the_api(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.workflows.test_api import call, sse

    result, key = await asyncio.to_thread(_import_agent_workflow, world_tx, fake_openai)
    assert not any("unsupported" in w.lower() for w in result.warnings), result.warnings
    fake_openai.script(Reply(tool_calls=[FakeToolCall("current_time", {})]))
    fake_openai.responder = lambda request: Reply(f"Now: {_tool_result(request)}")
    events = await sse(await call("POST", "/v1/workflows/run", key,
                                  {"inputs": {"q": "time?"}, "user": "u", "response_mode": "streaming"}))
    finished = events[-1]["data"]
    assert finished["status"] == "succeeded", finished
    assert finished["outputs"]["answer"].startswith("Now: ") and CLOCK.search(finished["outputs"]["answer"])
    assert "agent_log" in [e["event"] for e in events]
    assert fake_openai.requests_to("chat")[0].json["model"] == "gpt-4o-mini"
