"""Built-in embeddings and token counting, measured on this machine.

    .venv/bin/python bench/local_embedding.py [--n 256] [--repeat 3]

Prints, each as the best of REPEAT runs:
- local embedding throughput (sentences/s) at batch 32 and at batch 1, and their ratio: what
  batching buys (indexing embeds in batches, a retrieval query embeds one text);
- token counting of a 10 KB text: exact (cl100k_base, o200k_base) and the approximation, for
  English and Chinese, in microseconds per call and MB/s, and as a ratio to encoding the same text
  to UTF-8 in the same run (the least any counter must do); plus the one-time load of each encoding;
- the event loop while a batch embeds asynchronously: the longest gap between 5 ms ticks, as a
  ratio to the longest gap of the idle loop in the same run (near 1: embedding never blocks it).
Needs no database and no network.
"""

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.providers.runtime import tokens  # noqa: E402
from apps.providers.runtime.local_embedding import LocalEmbeddingModel  # noqa: E402

SENTENCES = [
    "How do I reset my password?",
    "Tessera indexes uploaded documents into a knowledge base with visible progress.",
    "The weather in Paris is sunny today.",
    "Workflows run typed nodes over a variable pool and stream their events to the console.",
    "Invoices are available under billing in the workspace settings.",
    "Hybrid retrieval combines vector search with Postgres full-text search.",
    "A short one.",
    "Which models can I use without an API key, and do they need the internet?",
]
ENGLISH_10KB = (Path(__file__).resolve().parents[1] / "README.md").read_text()
CHINESE_10KB = "我们的平台支持多租户的大语言模型应用，包括知识库、工作流和智能体。"


def _best(repeat: int, work: Callable[[], object]) -> float:
    """The fastest of `repeat` runs, in seconds: the least disturbed by other load."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def _text_of(size: int, seed: str) -> str:
    text = seed
    while len(text.encode()) < size:
        text += " " + seed
    return text.encode()[:size].decode(errors="ignore")


def bench_embeddings(n: int, repeat: int) -> None:
    model = LocalEmbeddingModel()
    texts = [f"{SENTENCES[i % len(SENTENCES)]} (#{i})" for i in range(n)]
    started = time.perf_counter()
    model.embed_sync(texts[:1])
    print(f"model load + first text: {(time.perf_counter() - started) * 1000:.0f} ms")
    batched = n / _best(repeat, lambda: model.embed_sync(texts, batch_size=32))
    single = n / _best(repeat, lambda: [model.embed_sync([text]) for text in texts])
    print(f"embeddings, {n} sentences ({model.count_tokens(texts) / n:.1f} word-pieces each):")
    print(f"  batch 32: {batched:7.0f} sentences/s")
    print(f"  batch 1:  {single:7.0f} sentences/s")
    print(f"  batch 32 / batch 1: {batched / single:.2f}x")


def bench_tokens(repeat: int) -> None:
    for model in ("gpt-4", "gpt-4o"):
        started = time.perf_counter()
        tokens.count_tokens("warm up", provider="openai", model=model)
        print(f"load {tokens.encoding_for(provider='openai', model=model)[0]}: "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
    calls = 200
    for label, seed in (("English", ENGLISH_10KB), ("Chinese", CHINESE_10KB)):
        text = _text_of(10 * 1024, seed)
        print(f"token counting, 10 KB of {label} ({len(text)} characters):")
        baseline = _best(repeat, lambda t=text: [t.encode() for _ in range(calls)]) / calls
        targets = (("openai", "gpt-4"), ("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4"))
        for provider, model in targets:
            count, exact = tokens.count_tokens(text, provider=provider, model=model)
            seconds = _best(repeat, lambda p=provider, m=model: [
                tokens.count_tokens(text, provider=p, model=m) for _ in range(calls)
            ]) / calls
            kind = "exact" if exact else "approximate"
            print(f"  {model:16} {count:6} tokens ({kind:11}) {seconds * 1e6:8.1f} us/call "
                  f"{10 * 1024 / seconds / 1e6:8.1f} MB/s  {seconds / baseline:7.1f}x UTF-8 encoding")


def bench_event_loop(n: int) -> None:
    import asyncio

    model = LocalEmbeddingModel()
    texts = [f"{SENTENCES[i % len(SENTENCES)]} (#{i})" for i in range(n)]
    model.embed_sync(texts[:1])

    async def longest_gap(work: Callable[[], object]) -> float:
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        await work()  # type: ignore[misc]
        task.cancel()
        return max((b - a for a, b in zip(ticks, ticks[1:], strict=False)), default=0.0)

    idle = asyncio.run(longest_gap(lambda: asyncio.sleep(0.5)))
    busy = asyncio.run(longest_gap(lambda: model.embed(texts)))
    print(f"event loop during async embed of {n} sentences: longest gap {busy * 1000:.1f} ms, idle "
          f"{idle * 1000:.1f} ms, ratio {busy / idle:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="sentences to embed")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench_embeddings(args.n, args.repeat)
    bench_tokens(args.repeat)
    bench_event_loop(2 * args.n)


if __name__ == "__main__":
    main()
