"""Agent apps through the Service API (AG-01..AG-07, service-api.md §4.3): function calling and
ReAct against the fake OpenAI server, with the built-in time tool of apps.tools; thoughts streamed,
stored and listed; usage summed; the iteration limit; tool failures as observations; isolation."""

import asyncio
import json
import pathlib
import re

import pytest
from django_tenants.utils import schema_context

from apps.applications import dsl
from apps.applications import services as apps
from apps.logs.models import Message, MessageAgentThought
from apps.providers import services as providers
from tests.applications.test_generation_api import post, sse_events
from tests.fakes.base import FakeToolCall, Reply, last_user_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
CLOCK = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
CONVERT = {"enabled": True, "provider_type": "builtin", "provider_id": "time", "provider_name": "time",
           "tool_name": "timezone_conversion", "tool_parameters": {}}


def last_tool_result(request) -> str | None:  # type: ignore[no-untyped-def]
    messages = request.json.get("messages") or []
    return messages[-1]["content"] if messages and messages[-1]["role"] == "tool" else None


def import_clock_agent(world, fake, *, tools=None, strategy="function_call", max_iteration=5,
                  schema=None, dataset_ids=()):  # type: ignore[no-untyped-def]
    """The reference's exported agent app, imported and published; returns (app, key)."""
    with schema_context(schema or world.alpha.schema_name):
        providers.credential_save(provider_id="openai", validate=False,
                                  data={"api_key": "sk-agent-test-123456", "base_url": fake.base_url})
        result = dsl.import_app((FIXTURES / "agent_current_time.yml").read_text())
        assert result.ok, result.error
        app = result.app
        config = dict(app.draft_config)
        agent = dict(config["agent_mode"], strategy=strategy, max_iteration=max_iteration)
        if tools is not None:
            agent["tools"] = [*agent["tools"], *tools]
        config["agent_mode"] = agent
        config["dataset_configs"] = {**config["dataset_configs"], "datasets": {"datasets": [
            {"dataset": {"enabled": True, "id": i}} for i in dataset_ids]}}
        app.draft_config = config
        app.save()
        apps.app_publish(app=app)
        _, key = apps.api_key_create(app=app)
    return app, key


async def test_the_reference_agent_app_answers_with_the_tools_result(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _app, key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai)

    def model(request):  # type: ignore[no-untyped-def]
        result = last_tool_result(request)
        if result is None:
            return Reply(tool_calls=[FakeToolCall("current_time", {})], usage=(30, 5))
        return Reply(f"The time is {result}.", usage=(50, 8))

    fake_openai.responder = model
    response = await post("/v1/chat-messages", key, {"inputs": {}, "query": "What time is it?", "user": "u-1"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mode"] == "agent-chat"
    assert CLOCK.search(body["answer"]) and body["answer"].startswith("The time is ")
    usage = body["metadata"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (80, 13, 93)
    first, second = fake_openai.requests_to("chat")
    assert [t["function"]["name"] for t in first.json["tools"]] == ["current_time"]
    assert first.json["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}, "required": []}
    assert first.json["messages"][0] == {"role": "system", "content": "You are a clock. Use your tools to answer."}
    call = second.json["messages"][-2]
    assert call["role"] == "assistant" and call["tool_calls"][0]["function"]["name"] == "current_time"
    assert second.json["messages"][-1]["tool_call_id"] == call["tool_calls"][0]["id"]
    # The form values of the app were used: UTC in the configured format.
    assert CLOCK.fullmatch(second.json["messages"][-1]["content"])
    stored = await asyncio.to_thread(_stored, "ws_alpha", body["message_id"])
    assert stored[0] == ("normal", body["answer"], 93)
    assert [(t.position, t.tool, t.tool_input) for t in stored[1]] == [
        (1, "current_time", '{"current_time": {}}'), (2, "", "")]
    assert json.loads(stored[1][0].observation)["current_time"] == second.json["messages"][-1]["content"]
    assert stored[1][1].thought == body["answer"]


def _stored(schema: str, message_id: str) -> tuple[tuple, list[MessageAgentThought]]:
    with schema_context(schema):
        message = Message.objects.get(pk=message_id)
        return ((message.status, message.answer, message.usage["total_tokens"]),
                list(MessageAgentThought.objects.filter(message=message).order_by("position")))


async def test_two_tools_in_sequence_stream_the_reference_events(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _app, key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai, tools=[CONVERT])
    fake_openai.split_events = True  # the stream parser sees what networks deliver
    fake_openai.script(
        Reply("Let me look.", tool_calls=[FakeToolCall("current_time", {})]),
        Reply(tool_calls=[FakeToolCall("timezone_conversion", {
            "current_time": "2026-01-02 03:04:05", "current_timezone": "UTC", "target_timezone": "Asia/Tokyo"})]),
    )
    fake_openai.responder = lambda request: Reply(f"In Tokyo it is {last_tool_result(request)}.")
    response = await post("/v1/chat-messages", key, {"inputs": {}, "query": "Time in Tokyo?", "user": "u-1",
                                                     "response_mode": "streaming"})
    events = [e for e in await sse_events(response) if e["event"] != "ping"]
    kinds = [e["event"] for e in events]
    runs = [k for i, k in enumerate(kinds) if k != "agent_message" or kinds[i - 1] != "agent_message"]
    assert runs == ["agent_thought", "agent_message", "agent_thought", "agent_thought",  # step 1: text, call, result
                    "agent_thought", "agent_thought", "agent_thought",  # step 2: a call without text, its result
                    "agent_thought", "agent_message", "agent_thought", "message_end"]  # step 3: the answer
    thoughts = [e for e in events if e["event"] == "agent_thought"]
    assert [t["position"] for t in thoughts] == [1, 1, 1, 2, 2, 2, 3, 3]
    assert len({t["id"] for t in thoughts}) == 3  # the same id repeats as a step grows
    assert set(thoughts[0]) >= {"id", "position", "thought", "observation", "tool", "tool_labels", "tool_input",
                                "message_files", "task_id", "message_id", "conversation_id", "created_at"}
    assert (thoughts[1]["thought"], thoughts[1]["tool"], thoughts[1]["observation"]) == (
        "Let me look.", "current_time", "")
    assert thoughts[4]["tool"] == "timezone_conversion"
    assert json.loads(thoughts[5]["observation"]) == {"timezone_conversion": "2026-01-02 12:04:05"}
    answer = "".join(e["answer"] for e in events if e["event"] == "agent_message")
    assert answer == "Let me look.In Tokyo it is 2026-01-02 12:04:05."
    messages = [e for e in events if e["event"] == "agent_message"]
    assert all(e["id"] == e["message_id"] for e in messages)
    end = events[-1]
    assert end["metadata"]["usage"]["total_tokens"] == sum(
        _words(r) for r in fake_openai.requests_to("chat")) + end["metadata"]["usage"]["completion_tokens"]

    listed = await _get(f"/v1/messages?conversation_id={end['conversation_id']}&user=u-1", key)
    assert listed.status_code == 200
    [message] = listed.json()["data"]
    assert message["answer"] == answer
    assert [(t["position"], t["tool"]) for t in message["agent_thoughts"]] == [
        (1, "current_time"), (2, "timezone_conversion"), (3, "")]
    first = message["agent_thoughts"][0]
    assert first["id"] == thoughts[0]["id"] and first["message_id"] == end["message_id"]
    assert set(first) == {"id", "chain_id", "message_id", "position", "thought", "tool", "tool_labels", "tool_input",
                          "created_at", "observation", "files"}


def _words(request) -> int:  # type: ignore[no-untyped-def]
    from tests.fakes.base import prompt_words

    return prompt_words(request.json)


async def _get(path: str, key: str):  # type: ignore[no-untyped-def]
    from asgiref.sync import ThreadSensitiveContext
    from django.test import AsyncClient

    async with ThreadSensitiveContext():
        return await AsyncClient().get(path, headers={"Authorization": f"Bearer {key}"})


async def test_the_iteration_limit_ends_the_loop(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _app, key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai, max_iteration=2)
    fake_openai.responder = lambda request: (
        Reply(tool_calls=[FakeToolCall("current_time", {})]) if request.json.get("messages")[-1]["role"] != "user"
        or "used all the tool calls" not in last_user_text(request.json) else Reply("Enough: it is late."))
    fake_openai.script(Reply(tool_calls=[FakeToolCall("current_time", {})]))
    response = await post("/v1/chat-messages", key, {"inputs": {}, "query": "Keep checking", "user": "u-1"})
    assert response.status_code == 200, response.content
    assert response.json()["answer"] == "Enough: it is late."
    requests = fake_openai.requests_to("chat")
    assert len(requests) == 3  # two rounds of tools, then one call told to answer
    assert "used all the tool calls" in requests[-1].json["messages"][-1]["content"]
    _, thoughts = await asyncio.to_thread(_stored, "ws_alpha", response.json()["message_id"])
    assert [t.tool for t in thoughts] == ["current_time", "current_time", ""]


async def test_a_failing_tool_is_an_observation_not_an_error(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _app, key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai, tools=[CONVERT])
    fake_openai.script(Reply(tool_calls=[FakeToolCall("timezone_conversion", {
        "current_time": "2026-01-02 03:04:05", "current_timezone": "UTC", "target_timezone": "Mars/Olympus"})]))
    fake_openai.responder = lambda request: Reply(f"Sorry: {last_tool_result(request)}")
    response = await post("/v1/chat-messages", key, {"inputs": {}, "query": "Time on Mars?", "user": "u-1"})
    assert response.status_code == 200, response.content
    answer = response.json()["answer"]
    assert answer.startswith("Sorry: The tool failed:") and "Mars/Olympus" in answer


async def test_react_for_a_model_without_function_calling(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _app, key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai)
    await asyncio.to_thread(_use_model_without_function_calling, world_tx, fake_openai)
    fake_openai.script(Reply("Thought: I should check the clock.\nAction: `Current_Time`\nAction Input: {}\n"))
    fake_openai.responder = lambda request: Reply(
        "Thought: I know it now.\nFinal Answer: It is " + last_user_text(request.json).split("Observation: ")[-1])
    response = await post("/v1/chat-messages", key, {"inputs": {}, "query": "Time?", "user": "u-1",
                                                     "response_mode": "streaming"})
    events = [e for e in await sse_events(response) if e["event"] != "ping"]
    answer = "".join(e["answer"] for e in events if e["event"] == "agent_message")
    assert CLOCK.search(answer) and answer.startswith("It is ")
    first, second = fake_openai.requests_to("chat")
    assert "tools" not in first.json and first.json["stop"] == ["Observation:"]
    system = first.json["messages"][0]["content"]
    assert system.startswith("You are a clock. Use your tools to answer.") and "current_time" in system
    assert second.json["messages"][-2]["role"] == "assistant"
    assert second.json["messages"][-1]["content"].startswith("Observation: ")
    thoughts = [e for e in events if e["event"] == "agent_thought"]
    assert thoughts[1]["thought"] == "I should check the clock." and thoughts[1]["tool"] == "current_time"
    assert thoughts[-1]["thought"] == "I know it now."


def _use_model_without_function_calling(world, fake) -> None:  # type: ignore[no-untyped-def]
    fake.serve("plain-llm")
    with schema_context(world.alpha.schema_name):
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake.base_url, "model": "plain-llm", "model_type": "llm", "function_calling": False})
        from apps.applications.models import App

        app = App.objects.get(name="Clock agent")
        config = dict(app.draft_config)
        config["model"] = {**config["model"], "provider": "openai_api_compatible", "name": "plain-llm"}
        app.draft_config = config
        app.save()
        apps.app_publish(app=app)


async def test_another_workspace_sees_no_thoughts(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _app, key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai)
    _beta_app, beta_key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai,
                                                  schema=world_tx.beta.schema_name)
    fake_openai.script(Reply(tool_calls=[FakeToolCall("current_time", {})]), Reply("Done."))
    body = (await post("/v1/chat-messages", key, {"inputs": {}, "query": "Time?", "user": "u-1"})).json()
    foreign = await _get(f"/v1/messages?conversation_id={body['conversation_id']}&user=u-1", beta_key)
    assert foreign.status_code == 404

    def beta_thoughts() -> int:
        with schema_context(world_tx.beta.schema_name):
            return MessageAgentThought.objects.count()

    assert await asyncio.to_thread(beta_thoughts) == 0


def _use_anthropic(world, fake) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        providers.credential_save(provider_id="anthropic", validate=False,
                                  data={"api_key": "sk-ant-agent-test", "base_url": fake.base_url})
        from apps.applications.models import App

        app = App.objects.get(name="Clock agent")
        config = dict(app.draft_config)
        config["model"] = {**config["model"], "provider": "anthropic", "name": "claude-haiku-4-5"}
        config["agent_mode"] = {**config["agent_mode"], "max_iteration": 1}
        app.draft_config = config
        app.save()
        apps.app_publish(app=app)


async def test_an_anthropic_agent_uses_tool_use_blocks(world_tx, fake_openai, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    _app, key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai)
    await asyncio.to_thread(_use_anthropic, world_tx, fake_anthropic)
    fake_anthropic.split_events = True
    # One round of tools is allowed: a tool_use in the last call, told to answer, is not run.
    fake_anthropic.script(Reply("Let me see.", tool_calls=[FakeToolCall("current_time", {})]),
                          Reply("It is late.", tool_calls=[FakeToolCall("current_time", {})]))
    response = await post("/v1/chat-messages", key, {"inputs": {}, "query": "Time?", "user": "u-1"})
    assert response.status_code == 200, response.content
    assert response.json()["answer"] == "Let me see.It is late."
    first, second = fake_anthropic.requests_to("messages")
    assert first.json["system"] == "You are a clock. Use your tools to answer."
    assert [t["name"] for t in first.json["tools"]] == ["current_time"]
    result = second.json["messages"][2]["content"][0]
    assert result["type"] == "tool_result" and CLOCK.fullmatch(result["content"])
    assert "used all the tool calls" in json.dumps(second.json["messages"][-1])


def _pets(world):  # type: ignore[no-untyped-def]
    from tests.applications.test_context import RULE
    from tests.datasets.conftest import add_text, make_dataset

    with schema_context(world.alpha.schema_name):
        pets = make_dataset(world, name="Pets", description="The office pets.")
        add_text(world, pets, "Our office cat is called Miso.\n\nThe office dog is called Rex.", name="pets.txt",
                 process_rule=RULE)
    return pets


async def test_knowledge_bases_are_tools_the_agent_calls(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    pets = await asyncio.to_thread(_pets, world_tx)
    tool = f"dataset_{pets.pk.hex}"
    _app, key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai, dataset_ids=[str(pets.pk)])
    # beta names alpha's dataset: it is not found there, so no such tool is offered.
    _beta, beta_key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai,
                                              schema=world_tx.beta.schema_name, dataset_ids=[str(pets.pk)])
    fake_openai.script(Reply(tool_calls=[FakeToolCall(tool, {"query": "office cat name"})]))
    fake_openai.responder = lambda request: Reply(f"Found: {last_tool_result(request)}")
    response = await post("/v1/chat-messages", key, {"inputs": {}, "query": "What is the cat called?", "user": "u"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert "Miso" in body["answer"]
    first = fake_openai.requests_to("chat")[0].json
    assert sorted(t["function"]["name"] for t in first["tools"]) == sorted(["current_time", tool])
    assert "pets" in next(t for t in first["tools"] if t["function"]["name"] == tool)["function"][
        "description"].lower()
    assert [r["document_name"] for r in body["metadata"]["retriever_resources"]] == ["pets.txt"]
    fake_openai.script(Reply("No knowledge here."))
    await post("/v1/chat-messages", beta_key, {"inputs": {}, "query": "What is the cat called?", "user": "u"})
    assert [t["function"]["name"] for t in fake_openai.requests_to("chat")[-1].json["tools"]] == ["current_time"]


CHART = {"enabled": True, "provider_type": "builtin", "provider_id": "chart", "provider_name": "chart",
         "tool_name": "bar_chart", "tool_parameters": {}}


async def test_a_tools_image_reaches_the_user_as_a_message_file(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """AG-11: the chart tool's PNG is stored under the app, streamed as message_file with a signed
    URL, named in the step's message_files, and listed by /v1/messages as the assistant's file."""
    from urllib.parse import urlsplit

    from django.test import AsyncClient

    _app, key = await asyncio.to_thread(import_clock_agent, world_tx, fake_openai, tools=[CHART])
    fake_openai.script(Reply(tool_calls=[FakeToolCall("bar_chart", {"data": "3;5;2", "x_axis": "a;b;c"})]))
    fake_openai.responder = lambda request: Reply("Here is your chart.")
    response = await post("/v1/chat-messages", key, {"inputs": {}, "query": "Chart 3, 5, 2", "user": "u-1",
                                                     "response_mode": "streaming"})
    events = [e for e in await sse_events(response) if e["event"] != "ping"]
    [file] = [e for e in events if e["event"] == "message_file"]
    assert (file["type"], file["belongs_to"]) == ("image", "assistant") and "sign=" in file["url"]
    step = next(e for e in events if e["event"] == "agent_thought" and e["observation"])
    assert step["message_files"] == [file["id"]]
    assert "image has been created" in json.loads(step["observation"])["bar_chart"]
    signed = urlsplit(file["url"])
    image = await AsyncClient().get(f"{signed.path}?{signed.query}")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    listed = await _get(f"/v1/messages?conversation_id={events[-1]['conversation_id']}&user=u-1", key)
    [message] = listed.json()["data"]
    [kept] = message["message_files"]
    assert (kept["id"], kept["transfer_method"], kept["belongs_to"]) == (file["id"], "tool_file", "assistant")
    assert message["agent_thoughts"][0]["files"] == [file["id"]]
