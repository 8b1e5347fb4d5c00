"""The fake model servers' own timing (tests/fakes/), which the tests only check by behaviour.

    .venv/bin/python bench/fakes.py [--streams 20]

Prints, against baselines measured in the same run:
- N concurrent chat streams of 5 chunks 50 ms apart, as a ratio to one such stream alone
  (1.0: fully concurrent; N: one at a time);
- how long the openai SDK with a 0.2 s timeout takes to give up on a hanging request, as a ratio
  to that timeout (near 1: the hang never holds the client past it).
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai  # noqa: E402

from tests.fakes.base import Hang, Reply  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

USER = [{"role": "user", "content": "hi"}]


async def _stream(client: openai.AsyncOpenAI, i: int) -> str:
    stream = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"n{i}"}],
                                                  stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in stream])


async def main(streams: int) -> None:
    fake = FakeOpenAI()
    fake.start()
    try:
        client = openai.AsyncOpenAI(api_key="sk-fake", base_url=fake.base_url, max_retries=0)
        fake.responder = lambda request: Reply(text="a b c d e", delay_between_chunks=0.05)
        await _stream(client, -1)  # warm up the connection pool
        started = time.perf_counter()
        await _stream(client, 0)
        alone = time.perf_counter() - started
        started = time.perf_counter()
        await asyncio.gather(*(_stream(client, i) for i in range(streams)))
        together = time.perf_counter() - started
        print(f"{streams} concurrent streams: {together:.3f}s, one alone {alone:.3f}s, ratio {together / alone:.2f}")
        fake.responder = None
        fake.script(Hang(5))
        timeout = 0.2
        started = time.perf_counter()
        try:
            await openai.AsyncOpenAI(api_key="sk-fake", base_url=fake.base_url, max_retries=0,
                                     timeout=timeout).chat.completions.create(model="gpt-4o", messages=USER)
        except openai.APITimeoutError:
            pass
        waited = time.perf_counter() - started
        print(f"timeout {timeout}s on a hanging request: gave up after {waited:.3f}s, ratio {waited / timeout:.2f}")
    finally:
        fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=20)
    asyncio.run(main(parser.parse_args().streams))
