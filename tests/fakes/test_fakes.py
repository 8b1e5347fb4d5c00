"""The fakes speak the real wire protocols: the real SDKs, untouched, talk to them over HTTP."""

# The SDKs type their params as TypedDicts and their results as wide unions; these tests pass plain
# dicts and know which member of a union comes back.
# mypy: disable-error-code="arg-type, call-overload, union-attr, index, misc, attr-defined, operator"

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import cohere
import cohere.errors
import httpx
import openai
import pytest
import pytest_asyncio

from .anthropic_server import FakeAnthropic
from .base import Disconnect, Fail, FakeToolCall, Hang, Reply, echo_responder
from .cohere_server import FakeCohere
from .openai_server import FakeOpenAI

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = FakeToolCall("get_weather", {"city": "Paris", "unit": "celsius", "days": 3})
_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
OAI_TOOLS = [
    {"type": "function", "function": {"name": name, "description": name, "parameters": _SCHEMA}}
    for name in ("get_weather", "get_time")
]
CLAUDE_TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": _SCHEMA}]


_open_clients: list[openai.AsyncOpenAI | anthropic.AsyncAnthropic] = []


@pytest_asyncio.fixture(autouse=True)
async def _close_sdk_clients() -> AsyncIterator[None]:
    """Close the SDK clients a test opened, on the test's own event loop."""
    yield
    while _open_clients:
        await _open_clients.pop().close()


def oai(fake: FakeOpenAI, **kwargs: Any) -> openai.AsyncOpenAI:
    client = openai.AsyncOpenAI(
        base_url=fake.base_url, api_key=kwargs.pop("api_key", "sk-test"), max_retries=0, **kwargs
    )
    _open_clients.append(client)
    return client


def azure(fake: FakeOpenAI, api_key: str = "azure-key") -> openai.AsyncAzureOpenAI:
    client = openai.AsyncAzureOpenAI(
        azure_endpoint=fake.azure_endpoint, api_version="2024-10-21", api_key=api_key, max_retries=0
    )
    _open_clients.append(client)
    return client


def co(fake: FakeCohere, api_key: str = "co-test") -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(api_key=api_key, base_url=fake.base_url, max_retries=0)


def claude(fake: FakeAnthropic, **kwargs: Any) -> anthropic.AsyncAnthropic:
    client = anthropic.AsyncAnthropic(
        base_url=fake.base_url, api_key=kwargs.pop("api_key", "sk-ant-test"), max_retries=0, **kwargs
    )
    _open_clients.append(client)
    return client


# -- OpenAI ----------------------------------------------------------------------------------------


def test_openai_sync_default_reply_and_recording(fake_openai: FakeOpenAI) -> None:
    with openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-sync", max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert completion.choices[0].message.content == "Hello from fake"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (6, 3)
    request = fake_openai.last_request
    assert (request.endpoint, request.path, request.api_key) == ("chat", "/v1/chat/completions", "sk-sync")
    assert request.json["messages"] == USER


@pytest.mark.asyncio
async def test_openai_stream_text_with_usage(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(text="The quick brown fox jumps", chunk_size=2, usage=(11, 5)))
    stream = await oai(fake_openai).chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].object == "chat.completion.chunk"
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The quick brown fox jumps"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (
        chunks[-1].usage.prompt_tokens,
        chunks[-1].usage.completion_tokens,
        chunks[-1].usage.total_tokens,
    ) == (
        11,
        5,
        16,
    )


@pytest.mark.asyncio
async def test_openai_streamed_tool_calls_are_reassembled(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        Reply(text="Let me check.", tool_calls=[WEATHER, FakeToolCall("get_time", '{"tz": "CET"}')])
    )
    async with oai(fake_openai).chat.completions.stream(
        model="gpt-4o-mini", messages=USER, tools=OAI_TOOLS
    ) as stream:
        final = await stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert calls[0].function.arguments == WEATHER.arguments_json
    assert calls[0].id.startswith("call_")
    # the arguments really were split over several deltas
    assert fake_openai.last_request.json["stream"] is True


@pytest.mark.asyncio
async def test_openai_non_stream_tool_calls_and_max_tokens(fake_openai: FakeOpenAI) -> None:
    client = oai(fake_openai)
    fake_openai.script(Reply(tool_calls=[WEATHER]), Reply(text="one two three four five"))
    first = await client.chat.completions.create(model="gpt-4o", messages=USER, tools=OAI_TOOLS)
    assert first.choices[0].message.content is None
    assert first.choices[0].message.tool_calls[0].function.arguments == WEATHER.arguments_json
    cut = await client.chat.completions.create(model="gpt-4o", messages=USER, max_completion_tokens=2)
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == ("one two ", "length")


@pytest.mark.asyncio
async def test_openai_legacy_completions(fake_openai: FakeOpenAI) -> None:
    client = oai(fake_openai)
    fake_openai.script("completions", Reply(text="once upon a time"), Reply(text="the end"))
    plain = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Tell a story")
    assert plain.object == "text_completion" and plain.choices[0].text == "once upon a time"
    stream = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt="x", stream=True)
    assert "".join([c.choices[0].text async for c in stream]) == "the end"


@pytest.mark.asyncio
async def test_openai_embeddings_sdk_default_and_float(fake_openai: FakeOpenAI) -> None:
    client = oai(fake_openai)
    default = await client.embeddings.create(
        model="text-embedding-3-small", input=["red apple", "red apples"]
    )
    assert fake_openai.last_request.json["encoding_format"] == "base64"  # what the SDK asks for by default
    explicit = await client.embeddings.create(
        model="text-embedding-3-small", input=["red apple", "red apples"], encoding_format="float"
    )
    a, b = (d.embedding for d in default.data)
    assert len(a) == fake_openai.embedding_dims == 16
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-5)
    assert all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(a, explicit.data[0].embedding, strict=True))
    assert default.usage.prompt_tokens == 4
    sized = await client.embeddings.create(model="text-embedding-3-large", input="red apple", dimensions=64)
    assert len(sized.data[0].embedding) == 64
    fake_openai.script("embeddings", Fail(500))
    with pytest.raises(openai.InternalServerError):
        await client.embeddings.create(model="text-embedding-3-small", input="x")


@pytest.mark.asyncio
async def test_openai_moderation(fake_openai: FakeOpenAI) -> None:
    client = oai(fake_openai)
    result = await client.moderations.create(input=["I will kill the process", "hello there"])
    flagged, clean = result.results
    assert flagged.flagged and flagged.categories.violence and flagged.category_scores.violence > 0.9
    assert not clean.flagged and not clean.categories.harassment
    fake_openai.moderation_triggers = {"spam": "harassment"}
    again = await client.moderations.create(input="buy spam now")
    assert again.results[0].flagged and again.results[0].categories.harassment


@pytest.mark.asyncio
async def test_openai_audio(fake_openai: FakeOpenAI) -> None:
    client = oai(fake_openai)
    fake_openai.script("transcriptions", Reply(text="Bonjour tout le monde"))
    transcript = await client.audio.transcriptions.create(
        model="whisper-1", file=("clip.mp3", b"\xff\xfb" * 50)
    )
    assert transcript.text == "Bonjour tout le monde"
    assert fake_openai.last_request.form is not None
    assert fake_openai.last_request.form["file"]["filename"] == "clip.mp3"
    speech = await client.audio.speech.create(model="tts-1", voice="alloy", input="Hi there")
    assert speech.response.headers["content-type"] == "audio/mpeg"
    assert speech.content.startswith(b"ID3") and speech.content.endswith(b"Hi there")


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank"])
def test_openai_compatible_rerank(fake_openai: FakeOpenAI, path: str) -> None:
    documents = ["Paris is in France", "Bananas are yellow", "The weather in Paris is mild"]
    fake_openai.serve("jina-reranker-v2")
    response = httpx.post(
        fake_openai.root_url + path,
        headers={"Authorization": "Bearer jina-key"},
        json={"model": "jina-reranker-v2", "query": "weather in Paris", "documents": documents, "top_n": 2},
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["index"] for r in results] == [2, 0]
    assert results[0]["relevance_score"] > results[1]["relevance_score"]
    assert results[0]["document"] == {"text": documents[2]}


@pytest.mark.asyncio
async def test_openai_models_and_keys(fake_openai: FakeOpenAI) -> None:
    models = await oai(fake_openai).models.list()
    assert "gpt-4o-mini" in [m.id for m in models.data]
    fake_openai.valid_keys = frozenset({"sk-good"})
    with pytest.raises(openai.AuthenticationError) as caught:
        await oai(fake_openai, api_key="sk-bad-key-123456").models.list()
    assert caught.value.code == "invalid_api_key"
    assert caught.value.body["type"] == "invalid_request_error"
    assert (await oai(fake_openai, api_key="sk-good").models.list()).data


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fail", "error", "code"),
    [
        (Fail(400), openai.BadRequestError, None),
        (Fail(401), openai.AuthenticationError, "invalid_api_key"),
        (Fail(404), openai.NotFoundError, "model_not_found"),
        (Fail(429), openai.RateLimitError, "rate_limit_exceeded"),
        (Fail(429, code="insufficient_quota"), openai.RateLimitError, "insufficient_quota"),
        (Fail(500), openai.InternalServerError, None),
        (Fail(503), openai.InternalServerError, None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_openai_errors(
    fake_openai: FakeOpenAI, fail: Fail, error: type[openai.APIStatusError], code: str | None, stream: bool
) -> None:
    fake_openai.script(fail)
    with pytest.raises(error) as caught:
        await oai(fake_openai).chat.completions.create(model="gpt-4o", messages=USER, stream=stream)
    assert caught.value.status_code == fail.status
    assert caught.value.code == code


@pytest.mark.asyncio
async def test_openai_timeout_and_broken_streams(fake_openai: FakeOpenAI) -> None:
    client = oai(fake_openai, timeout=0.2)
    fake_openai.script(Hang(5), Disconnect(after_chunks=3), Fail(500, after_chunks=2), Disconnect())
    with pytest.raises(openai.APITimeoutError):  # the client gives up; the hang does not hold it
        await client.chat.completions.create(model="gpt-4o", messages=USER)
    received = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in await client.chat.completions.create(model="gpt-4o", messages=USER, stream=True):
            received.append(chunk)
    assert len(received) == 3
    with pytest.raises(openai.APIError, match="processing your request"):
        async for _ in await client.chat.completions.create(model="gpt-4o", messages=USER, stream=True):
            pass
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="gpt-4o", messages=USER)


@pytest.mark.asyncio
async def test_openai_twenty_concurrent_streams(fake_openai: FakeOpenAI) -> None:
    """The fake serves streams at the same time: every stream has its first chunk before any reads
    on (a barrier all 20 must reach; a server taking one stream at a time would never fill it).
    Timings are in bench/fakes.py."""
    fake_openai.responder = lambda request: Reply(text="a b c d e", delay_between_chunks=0.05)
    client = oai(fake_openai)
    everyone_started = asyncio.Barrier(20)

    async def one(i: int) -> str:
        messages = [{"role": "user", "content": f"n{i}"}]
        stream = await client.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
        chunks = aiter(stream)
        first = await anext(chunks)
        await asyncio.wait_for(everyone_started.wait(), 60)  # a failure guard, not a threshold
        rest = [c.choices[0].delta.content or "" async for c in chunks]
        return "".join([first.choices[0].delta.content or "", *rest])

    texts = await asyncio.gather(*(one(i) for i in range(20)))
    assert texts == ["a b c d e"] * 20


@pytest.mark.asyncio
async def test_openai_scripting_rules_and_echo(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(TypeError):
        fake_openai.script("embeddings", Reply(text="no"))
    with pytest.raises(ValueError, match="unknown endpoint"):
        fake_openai.script("chats", Reply())
    fake_openai.responder = echo_responder
    fake_openai.script("embeddings", Fail(500))
    reply = await oai(fake_openai).chat.completions.create(model="gpt-4o", messages=USER)
    assert reply.choices[0].message.content == "Echo: What is the weather in Paris?"
    assert fake_openai.pending("embeddings") == 1 and fake_openai.errors == []


@pytest.mark.asyncio
async def test_azure_openai(fake_openai: FakeOpenAI) -> None:
    client = azure(fake_openai)
    fake_openai.script(Reply(text="Hi from Azure", tool_calls=[WEATHER]))
    fake_openai.serve("my-gpt4o", "my-embedder")  # Azure deployment names
    async with client.chat.completions.stream(model="my-gpt4o", messages=USER, tools=OAI_TOOLS) as stream:
        final = await stream.get_final_completion()
    assert final.choices[0].message.content == "Hi from Azure"
    assert final.choices[0].message.tool_calls[0].function.arguments == WEATHER.arguments_json
    request = fake_openai.last_request
    assert request.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert request.query["api-version"] == "2024-10-21" and request.headers["api-key"] == "azure-key"
    embedded = await client.embeddings.create(model="my-embedder", input="hello")
    assert len(embedded.data[0].embedding) == 16
    fake_openai.valid_keys = frozenset({"azure-key"})
    with pytest.raises(openai.AuthenticationError) as caught:
        await azure(fake_openai, api_key="wrong").chat.completions.create(model="my-gpt4o", messages=USER)
    assert caught.value.body["code"] == "401"


# -- Cohere ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_cohere_chat_and_stream(fake_cohere: FakeCohere) -> None:
    client = co(fake_cohere)
    response = await client.chat(model="command-a-03-2025", messages=USER)
    assert response.message.content[0].text == "Hello from fake"
    assert response.finish_reason == "COMPLETE"
    assert response.usage.billed_units.input_tokens == 6

    fake_cohere.script(Reply(text="Bonjour de Cohere", usage=(7, 3)))
    events = [event async for event in client.chat_stream(model="command-a-03-2025", messages=USER)]
    kinds = [event.type for event in events]
    assert kinds[:2] == ["message-start", "content-start"] and kinds[-2:] == ["content-end", "message-end"]
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    assert text == "Bonjour de Cohere"
    end = events[-1].delta
    assert end.finish_reason == "COMPLETE"
    assert (end.usage.billed_units.input_tokens, end.usage.billed_units.output_tokens) == (7, 3)


@pytest.mark.asyncio
async def test_cohere_streamed_tool_calls(fake_cohere: FakeCohere) -> None:
    fake_cohere.script(Reply(text="I will look up the weather.", tool_calls=[WEATHER]))
    events = [
        e
        async for e in co(fake_cohere).chat_stream(
            model="command-a-03-2025", messages=USER, tools=OAI_TOOLS[:1]
        )
    ]
    plan = "".join(e.delta.message.tool_plan for e in events if e.type == "tool-plan-delta")
    assert plan == "I will look up the weather."
    start = next(e for e in events if e.type == "tool-call-start")
    assert start.delta.message.tool_calls.function.name == "get_weather"
    arguments = "".join(
        e.delta.message.tool_calls.function.arguments for e in events if e.type == "tool-call-delta"
    )
    assert arguments == WEATHER.arguments_json
    assert sum(e.type == "tool-call-delta" for e in events) > 1
    assert events[-1].delta.finish_reason == "TOOL_CALL"


@pytest.mark.asyncio
async def test_cohere_embed_rerank_key_check(fake_cohere: FakeCohere) -> None:
    client = co(fake_cohere)
    embedded = await client.embed(
        model="embed-v4.0",
        texts=["red apple", "pear"],
        input_type="search_document",
        embedding_types=["float", "int8"],
    )
    assert len(embedded.embeddings.float_) == 2 and len(embedded.embeddings.float_[0]) == 16
    assert all(-128 <= v <= 127 for v in embedded.embeddings.int8[0])
    assert fake_cohere.last_request.json["input_type"] == "search_document"
    ranked = await client.rerank(
        model="rerank-v3.5", query="red apple", documents=["pear", "a red apple"], top_n=1
    )
    assert [(r.index, r.relevance_score > 0) for r in ranked.results] == [(1, True)]
    assert ranked.meta.billed_units.search_units == 1
    assert "command-a-03-2025" in [m.name for m in (await client.models.list()).models]
    # the SDK's check_api_key() is a deprecated stub; raw callers still get the endpoint
    checked = httpx.post(
        fake_cohere.root_url + "/v1/check-api-key", headers={"Authorization": "Bearer co-test"}
    )
    assert checked.json()["valid"] is True


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fail", "error"),
    [
        (Fail(400), cohere.errors.BadRequestError),
        (Fail(401), cohere.errors.UnauthorizedError),
        (Fail(404), cohere.errors.NotFoundError),
        (Fail(429), cohere.errors.TooManyRequestsError),
        (Fail(500), cohere.errors.InternalServerError),
    ],
)
async def test_cohere_errors(fake_cohere: FakeCohere, fail: Fail, error: type[Exception]) -> None:
    fake_cohere.script(fail)
    with pytest.raises(error) as caught:
        await co(fake_cohere).chat(model="command-a-03-2025", messages=USER)
    assert "message" in caught.value.body


@pytest.mark.asyncio
async def test_cohere_wrong_key(fake_cohere: FakeCohere) -> None:
    fake_cohere.valid_keys = frozenset({"right"})
    with pytest.raises(cohere.errors.UnauthorizedError) as caught:
        await co(fake_cohere, api_key="wrong").models.list()
    assert caught.value.body == {"id": caught.value.body["id"], "message": "invalid api token"}


# -- Anthropic -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_anthropic_messages_and_stream(fake_anthropic: FakeAnthropic) -> None:
    client = claude(fake_anthropic)
    message = await client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=USER)
    assert message.content[0].text == "Hello from fake"
    assert (message.stop_reason, message.usage.input_tokens, message.usage.output_tokens) == (
        "end_turn",
        6,
        3,
    )
    assert fake_anthropic.last_request.api_key == "sk-ant-test"

    fake_anthropic.script(Reply(text="Streaming from Claude"))
    async with client.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=USER) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert pieces == ["Streaming ", "from ", "Claude"]
    assert final.usage.output_tokens == 3 and final.stop_reason == "end_turn"


@pytest.mark.asyncio
async def test_anthropic_streamed_tool_use(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(Reply(text="Checking.", tool_calls=[WEATHER]))
    client = claude(fake_anthropic)
    async with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=100, messages=USER, tools=CLAUDE_TOOLS
    ) as stream:
        final = await stream.get_final_message()
    assert [block.type for block in final.content] == ["text", "tool_use"]
    tool = final.content[1]
    assert (tool.name, tool.input, final.stop_reason) == ("get_weather", WEATHER.arguments, "tool_use")
    assert tool.id.startswith("toolu_")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fail", "error"),
    [
        (Fail(400), anthropic.BadRequestError),
        (Fail(401), anthropic.AuthenticationError),
        (Fail(404), anthropic.NotFoundError),
        (Fail(429), anthropic.RateLimitError),
        (Fail(500), anthropic.InternalServerError),
        (Fail(529), anthropic.OverloadedError),
    ],
)
async def test_anthropic_errors(
    fake_anthropic: FakeAnthropic, fail: Fail, error: type[anthropic.APIStatusError]
) -> None:
    fake_anthropic.script(fail)
    with pytest.raises(error) as caught:
        await claude(fake_anthropic).messages.create(model="claude-haiku-4-5", max_tokens=10, messages=USER)
    assert caught.value.body["type"] == "error"


@pytest.mark.asyncio
async def test_anthropic_keys_timeouts_and_stream_errors(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.valid_keys = frozenset({"sk-ant-good"})
    with pytest.raises(anthropic.AuthenticationError):
        await claude(fake_anthropic, api_key="sk-ant-bad").models.list()
    fake_anthropic.valid_keys = None
    client = claude(fake_anthropic, timeout=0.2)
    fake_anthropic.script(Hang(5), Fail(529, after_chunks=4))
    with pytest.raises(anthropic.APITimeoutError):
        await client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=USER)
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        async with client.messages.stream(model="claude-haiku-4-5", max_tokens=10, messages=USER) as stream:
            async for _ in stream:
                pass
    assert (await client.messages.count_tokens(model="claude-haiku-4-5", messages=USER)).input_tokens == 6
    assert [m.id async for m in client.models.list()][0] == "claude-haiku-4-5"


@pytest.mark.asyncio
async def test_client_hang_up_is_recorded(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(text="one two three four five six", delay_between_chunks=0.05))
    stream = await oai(fake_openai).chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    await stream.__anext__()
    await stream.close()
    deadline = time.monotonic() + 2
    while not fake_openai.last_request.client_disconnected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert fake_openai.last_request.client_disconnected


@pytest.mark.asyncio
async def test_cohere_mid_stream_failure(fake_cohere: FakeCohere) -> None:
    fake_cohere.script(Fail(500, after_chunks=3))
    events = [e async for e in co(fake_cohere).chat_stream(model="command-a-03-2025", messages=USER)]
    assert [e.type for e in events] == ["message-start", "content-start", "content-delta", "message-end"]
    assert events[-1].delta.finish_reason == "ERROR"
    assert "internal server error" in events[-1].delta.error


# -- Strictness ------------------------------------------------------------------------------------


CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("messages", "extra", "param", "message"),
    [
        ([{"role": "robot", "content": "hi"}], {}, "messages[0].role", "Invalid value: 'robot'"),
        ([*USER, {"role": "tool", "tool_call_id": "call_9", "content": "x"}], {}, "messages.[1].role",
         "must be a response to a preceeding message with 'tool_calls'"),
        ([*USER, {"role": "assistant", "content": None, "tool_calls": [CALL]}, *USER], {},
         "messages.[2].role", "did not have response messages: call_1"),
        (USER, {"temperature": 2.5}, "temperature", "Expected a value <= 2, but got 2.5 instead."),
        (USER, {"max_tokens": 0}, "max_tokens", "Expected a value >= 1, but got 0 instead."),
        (USER, {"tool_choice": "auto"}, "tool_choice", "only allowed when 'tools' are specified"),
    ],
)
async def test_openai_refuses_malformed_requests(
    fake_openai: FakeOpenAI, messages: list, extra: dict, param: str, message: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await oai(fake_openai).chat.completions.create(model="gpt-4o", messages=messages, **extra)
    assert caught.value.param == param and message in caught.value.message


@pytest.mark.asyncio
async def test_openai_tool_result_round_trip_is_accepted(fake_openai: FakeOpenAI) -> None:
    messages = [*USER, {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18 degrees"}]
    fake_openai.script(Reply("It is 18 degrees."))
    reply = await oai(fake_openai).chat.completions.create(model="gpt-4o", messages=messages, tools=OAI_TOOLS)
    assert reply.choices[0].message.content == "It is 18 degrees."


@pytest.mark.asyncio
async def test_anthropic_refuses_unpaired_tool_blocks(fake_anthropic: FakeAnthropic) -> None:
    client = claude(fake_anthropic)
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18"}
    with pytest.raises(anthropic.BadRequestError, match="without `tool_result` blocks immediately after: toolu_1"):
        await client.messages.create(model="claude-haiku-4-5", max_tokens=10, tools=CLAUDE_TOOLS,
                                     messages=[*USER, {"role": "assistant", "content": [use]}, *USER])
    with pytest.raises(anthropic.BadRequestError, match="unexpected `tool_use_id`"):
        await client.messages.create(model="claude-haiku-4-5", max_tokens=10, tools=CLAUDE_TOOLS,
                                     messages=[*USER, {"role": "user", "content": [result]}])
    with pytest.raises(anthropic.BadRequestError, match="must define tools"):
        await client.messages.create(model="claude-haiku-4-5", max_tokens=10,
                                     messages=[*USER, {"role": "assistant", "content": [use]},
                                               {"role": "user", "content": [result]}])
    with pytest.raises(anthropic.BadRequestError, match="temperature: Input should be less than or equal to 1"):
        await client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=USER,
                                     extra_body={"temperature": 1.5})
    with pytest.raises(anthropic.BadRequestError, match='Unexpected role "system"'):
        await client.messages.create(model="claude-haiku-4-5", max_tokens=10,
                                     messages=[{"role": "system", "content": "x"}, *USER])
    answered = await client.messages.create(
        model="claude-haiku-4-5", max_tokens=10, tools=CLAUDE_TOOLS,
        messages=[*USER, {"role": "assistant", "content": [use]}, {"role": "user", "content": [result]}])
    assert answered.stop_reason == "end_turn"


@pytest.mark.asyncio
async def test_cohere_refuses_unpaired_tool_messages(fake_cohere: FakeCohere) -> None:
    client = co(fake_cohere)
    with pytest.raises(cohere.errors.BadRequestError) as caught:
        await client.chat(model="command-a-03-2025", messages=[
            *USER, {"role": "tool", "tool_call_id": "x", "content": "18"}])
    assert "does not follow an assistant message" in caught.value.body["message"]
    with pytest.raises(cohere.errors.BadRequestError):
        await client.chat(model="command-a-03-2025", messages=USER, temperature=1.5)


@pytest.mark.asyncio
async def test_tool_calls_only_for_declared_tools(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(tool_calls=[WEATHER]))
    with pytest.raises(openai.InternalServerError):
        await oai(fake_openai).chat.completions.create(model="gpt-4o", messages=USER)
    assert "scripted tool call(s) ['get_weather'] but the request declared []" in fake_openai.errors[0]
    fake_openai.errors.clear()  # the failure was the point of this test


@pytest.mark.asyncio
async def test_unknown_models_are_not_served(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="The model `llama3` does not exist"):
        await oai(fake_openai).chat.completions.create(model="llama3", messages=USER)
    fake_openai.serve("llama3")
    assert (await oai(fake_openai).chat.completions.create(model="llama3", messages=USER)).choices


@pytest.mark.asyncio
async def test_split_streams_reassemble(fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic,
                                        fake_cohere: FakeCohere) -> None:
    text = "Zürich — 東京 and naïve café ☕ twice over"
    for fake in (fake_openai, fake_anthropic, fake_cohere):
        fake.split_events, fake.split_seed = True, 7
        fake.script(Reply(text))
    stream = await oai(fake_openai).chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == text
    async with claude(fake_anthropic).messages.stream(model="claude-haiku-4-5", max_tokens=100,
                                                      messages=USER) as claude_stream:
        assert "".join([t async for t in claude_stream.text_stream]) == text
    events = [e async for e in co(fake_cohere).chat_stream(model="command-a-03-2025", messages=USER)]
    assert "".join(e.delta.message.content.text for e in events if e.type == "content-delta") == text
