"""The agent loop and the ReAct parser on their own: tolerant parsing of what models write, a stop
while a tool runs, and a tool that raises. The model is the fake OpenAI server over HTTP."""

import asyncio
import json

import pytest
from django_tenants.utils import schema_context

from apps.applications.agent import react
from apps.applications.agent.runner import AgentRun, Delta, Thought
from apps.providers import selectors
from apps.providers import services as providers
from apps.providers.runtime.entities import PromptMessage
from apps.tools.runtime import ToolInvokeError, ToolMessage
from tests.fakes.base import FakeToolCall, Reply

TOOLS = {"search": ["query"], "convert": ["amount", "currency"]}


@pytest.mark.parametrize(("text", "action", "arguments"), [
    ("Thought: look it up\nAction: search\nAction Input: {\"query\": \"tallest tower\"}", "search",
     {"query": "tallest tower"}),
    ("thought:look\naction:SEARCH\naction input: tallest tower", "search", {"query": "tallest tower"}),
    ("I will search.\n```json\n{\"action\": \"search\", \"action_input\": {\"query\": \"x\"}}\n```", "search",
     {"query": "x"}),
    ("Action: `convert`\nAction Input: {'amount': 3, 'currency': 'EUR'}\nObservation: 4 dollars (made up)",
     "convert", {"amount": 3, "currency": "EUR"}),
    ("Action: \"search\"\nAction Input: ```json\n{\"query\": \"fenced\"}\n```", "search", {"query": "fenced"}),
    ("Action: search\nAction Input: \"quoted words\"", "search", {"query": "quoted words"}),
    ("Action: convert\nAction Input: 3 EUR", "convert", {"input": "3 EUR"}),
])
def test_react_parser_reads_tool_calls_in_many_shapes(text: str, action: str, arguments: dict) -> None:
    step = react.parse(text, TOOLS)
    assert (step.action, step.arguments, step.final) == (action, arguments, None)


@pytest.mark.parametrize(("text", "final", "thought"), [
    ("Thought: done\nFinal Answer: It is 42.", "It is 42.", "done"),
    ("final answer:It is 42.", "It is 42.", ""),
    ("Just an answer without any format.", "Just an answer without any format.", ""),
    ('{"action": "Final Answer", "action_input": "Paris"}', "Paris", ""),
    ("Thought: x\nAction: Final Answer\nAction Input: Rome", "Rome", "x"),
])
def test_react_parser_reads_final_answers(text: str, final: str, thought: str) -> None:
    step = react.parse(text, TOOLS)
    assert (step.action, step.final, step.thought) == (None, final, thought)


def test_final_answer_start_waits_for_the_marker() -> None:
    assert react.final_answer_start("Thought: hm\nFinal Ans") is None
    assert react.final_answer_start("Thought: hm\nAction: search\nFinal Answer: x") is None
    text = "Thought: hm\nFinal Answer: Par"
    assert text[react.final_answer_start(text):] == "Par"


class SlowTool:
    """A tool that takes as long as the test wants (an external service that hangs)."""

    name, label, description = "slow", "Slow", "Takes its time."

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False

    def parameters_schema(self) -> dict:
        return {"type": "object", "properties": {}, "required": []}

    async def invoke(self, arguments: dict, *, context=None) -> list[ToolMessage]:  # type: ignore[no-untyped-def]
        self.started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return [ToolMessage("text", "never")]


class BrokenTool(SlowTool):
    name = "broken"

    async def invoke(self, arguments: dict, *, context=None) -> list[ToolMessage]:  # type: ignore[no-untyped-def]
        if arguments.get("mode") == "error":
            raise ToolInvokeError("The service said no.")
        raise RuntimeError("a bug in the tool")


@pytest.fixture
def model(world, fake_openai):  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake_openai.base_url, "model": "fake-chat", "model_type": "llm", "function_calling": True})
        return selectors.resolve("llm", "openai_api_compatible", "fake-chat")


def _run(model, tool, stop=lambda: False) -> AgentRun:  # type: ignore[no-untyped-def]
    return AgentRun(model=model, messages=[PromptMessage("user", "Go")], tools=[tool], strategy="function_call",
                    max_iteration=3, should_stop=stop)


@pytest.mark.django_db
def test_a_stop_ends_the_turn_while_a_tool_runs(model, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script(Reply("Working.", tool_calls=[FakeToolCall("slow", {})]))
    tool = SlowTool()
    stopped = {"now": False}
    run = _run(model, tool, lambda: stopped["now"])

    async def go() -> list:
        events = []

        async def stop_when_started() -> None:
            await tool.started.wait()
            stopped["now"] = True

        stopper = asyncio.ensure_future(stop_when_started())
        async for event in run.events():
            events.append(event)
        await stopper
        return events

    events = asyncio.run(asyncio.wait_for(go(), 10))
    assert run.stopped and tool.cancelled
    assert len(fake_openai.requests_to("chat")) == 1  # no further model call
    last = [e for e in events if isinstance(e, Thought)][-1]
    assert json.loads(last.observation) == {"slow": "The user stopped the turn while the tool was running."}
    assert run.text == "Working." and [e.text for e in events if isinstance(e, Delta)] == ["Working."]


@pytest.mark.django_db
def test_tool_failures_and_unknown_tools_are_observations(model, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script(
        Reply(tool_calls=[FakeToolCall("broken", {"mode": "error"}), FakeToolCall("broken", {})]),
        Reply(tool_calls=[FakeToolCall("broken", "{not json")]),
    )
    fake_openai.responder = lambda request: Reply("Recovered.")
    run = _run(model, BrokenTool())

    async def go() -> None:
        async for _ in run.events():
            pass

    asyncio.run(go())
    assert run.text == "Recovered." and not run.stopped
    second, third = fake_openai.requests_to("chat")[1:]
    results = [m["content"] for m in second.json["messages"] if m["role"] == "tool"]
    assert results == ["The tool failed: The service said no.", "The tool failed: a bug in the tool"]
    assert third.json["messages"][-1]["content"].startswith("The tool arguments were not valid JSON")
    assert run.usage.total_tokens == sum(t.tokens for t in run.thoughts)
