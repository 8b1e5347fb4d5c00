"""The model runtime's overhead, as ratios to the raw SDKs against the same fake server, in one run.

    .venv/bin/python bench/providers.py [--runs 30] [--chunks 200] [--texts 512]

Measures, each as a median:
- streaming: time to first token and total time of a chat stream through ModelInstance.stream vs
  the openai SDK's own stream against the fake OpenAI server (the same bytes on the wire);
- embeddings: texts per second through ModelInstance.embed (batched) vs embeddings.create;
- local embeddings: sentences per second of the built-in model (no server involved).
The fake server runs in this process's background thread; both sides pay for it equally.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
# The fake provider listens on loopback: allowed for model providers, as for a local Ollama (README).
os.environ.setdefault("PROVIDER_ALLOWED_NETWORKS", "127.0.0.0/8")

import django  # noqa: E402

django.setup()

import openai  # noqa: E402

from apps.providers.catalog import provider  # noqa: E402
from apps.providers.runtime.entities import ModelType, PromptMessage  # noqa: E402
from apps.providers.runtime.instance import ModelInstance  # noqa: E402
from apps.providers.runtime.resolved import Price, ResolvedModel  # noqa: E402
from tests.fakes.base import Reply  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

KEY = "sk-bench"


def instance(fake: FakeOpenAI, model: str, model_type: ModelType) -> ModelInstance:
    spec = provider("openai").model(model, model_type)
    assert spec is not None
    return ModelInstance(ResolvedModel(
        provider="openai", model=model, model_type=model_type, spec=spec,
        price=Price(spec.input_price, spec.output_price, spec.price_unit),
        config={"api_key": KEY, "base_url": fake.base_url}, credential_version="bench", schema="bench"))


async def stream_raw(client: openai.AsyncOpenAI, messages: list[dict]) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True,
                                                  stream_options={"include_usage": True})
    async for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


async def stream_runtime(model: ModelInstance, messages: list[PromptMessage]) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    async for chunk in model.stream(messages):
        if first is None and chunk.delta:
            first = time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


async def transports(fake: FakeOpenAI, runs: int) -> None:
    """CPU of this process per streamed answer: the SDK's typed stream vs the raw response the
    runtime reads (parsed with orjson), over the SDK's httpx and aiohttp transports. The fake
    server shares the process, so every figure includes its cost alike."""
    import httpx
    import orjson

    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say many words."}], "stream": True,
            "stream_options": {"include_usage": True}}

    async def raw_response(client: openai.AsyncOpenAI) -> None:
        response = await client.post("/chat/completions", cast_to=httpx.Response, body=body, stream=True)
        async for line in response.aiter_lines():
            if line.startswith("data:") and "[DONE]" not in line:
                orjson.loads(line[5:])
        await response.aclose()

    async def typed(client: openai.AsyncOpenAI) -> None:
        async for _ in await client.chat.completions.create(**body):
            pass

    async def cpu(fn, client: openai.AsyncOpenAI) -> float:  # type: ignore[no-untyped-def]
        for _ in range(3):
            await fn(client)
        started = time.process_time()
        for _ in range(runs):
            await fn(client)
        return (time.process_time() - started) / runs * 1000

    from apps.providers.runtime import clients

    def sdk_client(http) -> openai.AsyncOpenAI:  # type: ignore[no-untyped-def]
        return openai.AsyncOpenAI(api_key=KEY, base_url=fake.base_url, http_client=http)

    httpx_client = sdk_client(openai.DefaultAsyncHttpxClient())
    aiohttp_client = sdk_client(openai.DefaultAioHttpClient())
    # What Tessera runs: the same transports behind the SSRF guard (apps/core/outbound_sdk.py).
    guarded_httpx = sdk_client(openai.DefaultAsyncHttpxClient(transport=clients.guarded_transport()))
    guarded_aiohttp = sdk_client(openai.DefaultAsyncHttpxClient(transport=clients.guarded_transport(aiohttp=True)))
    sdk = await cpu(typed, httpx_client)
    over_httpx = await cpu(raw_response, httpx_client)
    over_aiohttp = await cpu(raw_response, aiohttp_client)
    over_guarded_httpx = await cpu(raw_response, guarded_httpx)
    over_guarded_aiohttp = await cpu(raw_response, guarded_aiohttp)
    print("CPU per streamed answer in this process (the in-process fake server included in all)")
    print(f"  SDK typed stream (httpx): {sdk:6.2f} ms   raw + orjson (httpx): {over_httpx:6.2f} ms "
          f"({over_httpx / sdk:.2f}x)   raw + orjson (aiohttp): {over_aiohttp:6.2f} ms ({over_aiohttp / sdk:.2f}x)")
    print(f"  guarded: raw + orjson (httpx2): {over_guarded_httpx:6.2f} ms ({over_guarded_httpx / over_httpx:.2f}x "
          f"unguarded)   raw + orjson (aiohttp): {over_guarded_aiohttp:6.2f} ms "
          f"({over_guarded_aiohttp / over_aiohttp:.2f}x unguarded)")
    for client in (guarded_aiohttp, guarded_httpx, aiohttp_client, httpx_client):
        await client.close()


async def main(runs: int, chunks: int, texts: int) -> None:
    fake = FakeOpenAI()
    fake.start()
    words = " ".join(f"w{i}" for i in range(chunks))
    fake.responder = lambda request: Reply(words, chunk_size=1)
    raw_client = openai.AsyncOpenAI(api_key=KEY, base_url=fake.base_url)
    chat = instance(fake, "gpt-4o-mini", ModelType.LLM)
    messages = [PromptMessage("system", "You are helpful."), PromptMessage("user", "Say many words.")]
    raw_messages = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Say many words."}]

    for _ in range(3):  # warm both paths (connections, imports, tokenizer)
        await stream_raw(raw_client, raw_messages)
        await stream_runtime(chat, messages)
    raw, ours = [], []
    for _ in range(runs):  # interleaved, so drift hits both sides alike
        raw.append(await stream_raw(raw_client, raw_messages))
        ours.append(await stream_runtime(chat, messages))

    def med(samples: list[tuple[float, float]], i: int) -> float:
        return statistics.median(s[i] for s in samples) * 1000

    print(f"chat stream of {chunks} chunks, {runs} runs (median)")
    print(f"  raw SDK:  first token {med(raw, 0):7.2f} ms   total {med(raw, 1):7.2f} ms")
    print(f"  runtime:  first token {med(ours, 0):7.2f} ms   total {med(ours, 1):7.2f} ms")
    print(f"  runtime / raw: first token {med(ours, 0) / med(raw, 0):.2f}x   total {med(ours, 1) / med(raw, 1):.2f}x")

    await transports(fake, runs)

    corpus = [f"document {i} about topic {i % 17} with some more words" for i in range(texts)]
    embedder = instance(fake, "text-embedding-3-small", ModelType.TEXT_EMBEDDING)

    async def raw_embed() -> float:
        started = time.perf_counter()
        for i in range(0, len(corpus), 64):
            await raw_client.embeddings.create(model="text-embedding-3-small", input=corpus[i:i + 64],
                                               encoding_format="float")
        return len(corpus) / (time.perf_counter() - started)

    async def runtime_embed() -> float:
        started = time.perf_counter()
        await embedder.embed(corpus, batch_size=64)
        return len(corpus) / (time.perf_counter() - started)

    await raw_embed()
    await runtime_embed()
    raw_rates = [await raw_embed() for _ in range(max(3, runs // 5))]
    our_rates = [await runtime_embed() for _ in range(max(3, runs // 5))]
    raw_rate, our_rate = statistics.median(raw_rates), statistics.median(our_rates)
    print(f"embeddings of {texts} texts in batches of 64 (median)")
    print(f"  raw SDK: {raw_rate:8.0f} texts/s   runtime: {our_rate:8.0f} texts/s   runtime / raw: "
          f"{our_rate / raw_rate:.2f}x")

    from apps.providers.runtime.local_embedding import LocalEmbeddingModel

    local = LocalEmbeddingModel()
    sentences = [f"How do I reset the password of account number {i}?" for i in range(256)]
    local.embed_sync(sentences[:32])
    started = time.perf_counter()
    local.embed_sync(sentences)
    print(f"built-in all-MiniLM-L6-v2: {len(sentences) / (time.perf_counter() - started):.0f} sentences/s")
    fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--texts", type=int, default=512)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.chunks, args.texts))
