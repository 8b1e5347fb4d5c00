"""Run the fake OpenAI server in a process of its own, for benchmarks.

    .venv/bin/python bench/fake_server.py [--tokens N] [--delay SECONDS] [--tool-rounds R]

Prints its base URL on the first line, then serves until killed. Every chat reply has N words,
streamed one per chunk with DELAY seconds between chunks (0: as fast as possible). It serves the
model `fake-chat`. With --tool-rounds R, a request that declares tools and has had fewer than R
tool results gets a call of its first tool instead (an agent's loop; bench/agent.py).
"""

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.base import FakeToolCall, Reply  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--tool-rounds", type=int, default=0)
    args = parser.parse_args()
    words = " ".join(f"w{i}" for i in range(args.tokens))
    fake = FakeOpenAI()
    fake.serve("fake-chat")

    def respond(request):  # type: ignore[no-untyped-def]
        body = request.json or {}
        results = sum(1 for m in body.get("messages") or [] if m.get("role") == "tool")
        if body.get("tools") and results < args.tool_rounds:
            return Reply(tool_calls=[FakeToolCall(body["tools"][0]["function"]["name"], {})],
                         delay_between_chunks=args.delay)
        return Reply(words, chunk_size=1, delay_between_chunks=args.delay)

    fake.responder = respond
    fake.start()
    print(fake.base_url, flush=True)
    threading.Event().wait()
