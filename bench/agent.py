"""An agent turn with two tool rounds through one Daphne process, against the same model calls made
directly, in one run.

    .venv/bin/python bench/agent.py [--turns 40] [--concurrency 4] [--delay 0.02]

An agent-chat app (function calling, the built-in time tool) on a fake OpenAI-compatible model
(bench/fake_server.py --tool-rounds 2): each turn is three model calls, two answered by a tool call
and the last with 20 words, every chunk `--delay` seconds apart (a model's pace). The baseline
makes the same three streaming calls straight to the fake server, one after another, with the
messages an agent would send (the tool calls and results included). Prints the time per turn of
both (p50, p95) and their ratio, blocking and streaming, and the database statements of one turn.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ["DEBUG"] = "false"

from bench.chat import Fake, pct, ready, session, start_daphne, stop_daphne  # noqa: E402 (sets Django up)
from django_tenants.utils import schema_context  # noqa: E402

from apps.applications import services as apps  # noqa: E402
from apps.applications.models import App  # noqa: E402
from apps.providers import services as providers  # noqa: E402
from apps.workspaces import services as workspaces  # noqa: E402
from apps.workspaces.models import Workspace  # noqa: E402

TIME_TOOL = {"enabled": True, "provider_type": "builtin", "provider_id": "time", "provider_name": "time",
             "tool_name": "current_time", "tool_parameters": {"timezone": "UTC"}}


class ToolFake(Fake):
    """The fake server answering agent requests with tool calls for the first two rounds."""

    def __init__(self, delay: float) -> None:
        import subprocess

        import psutil

        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_server.py"), "--tokens", "20",
                                      "--delay", str(delay), "--tool-rounds", "2"], stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()
        self.process = psutil.Process(self.proc.pid)


def setup(fake: Fake) -> tuple[str, str]:
    """A bench workspace with an agent app on the fake model; returns (schema, api key)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(email="bench@tessera.local").first() or workspaces.user_create(
        email="bench@tessera.local", password="bench-password-1")
    workspace = Workspace.objects.filter(slug="bench-agent").first() or workspaces.workspace_create(
        name="bench-agent", owner=user)
    with schema_context(workspace.schema_name):
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake.base_url, "model": "fake-chat", "model_type": "llm", "function_calling": True})
        config = {"model": {"provider": "openai_api_compatible", "name": "fake-chat", "mode": "chat",
                            "completion_params": {"max_tokens": 64}},
                  "pre_prompt": "You tell the time.",
                  "agent_mode": {"enabled": True, "strategy": "function_call", "max_iteration": 5,
                                 "tools": [TIME_TOOL]}}
        app = App.objects.filter(name="bench agent").first()
        if app is None:
            app = apps.app_create(name="bench agent", mode="agent-chat", config=config)
        else:
            app.draft_config = {**app.draft_config, **config}
            app.save()
        apps.app_publish(app=app)
        for old in app.api_keys.all():
            apps.api_key_revoke(key=old)
        _, key = apps.api_key_create(app=app)
    return workspace.schema_name, key


def direct_bodies() -> list[dict]:
    """The three requests of one turn as the agent sends them (tool calls and results included)."""
    tool = {"type": "function", "function": {"name": "current_time", "description": "current time",
                                             "parameters": {"type": "object", "properties": {}, "required": []}}}
    messages: list[dict] = [{"role": "system", "content": "You tell the time."},
                            {"role": "user", "content": "What time is it?"}]
    bodies = []
    for round_ in range(3):
        bodies.append({"model": "fake-chat", "stream": True, "stream_options": {"include_usage": True},
                       "max_tokens": 64, "messages": list(messages), "tools": [tool]})
        call = {"id": f"call_{round_}", "type": "function", "function": {"name": "current_time", "arguments": "{}"}}
        messages += [{"role": "assistant", "content": "", "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": f"call_{round_}", "content": "2026-01-01 00:00:00"}]
    return bodies


async def main(args: argparse.Namespace) -> None:
    fake = ToolFake(args.delay)
    schema, key = await asyncio.to_thread(setup, fake)
    procs, port, listener = start_daphne(1)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    bodies = direct_bodies()
    try:
        await ready(base)
        async with session(args.concurrency * 2, timeout=120) as client:
            async def through_tessera(streaming: bool) -> float:
                body = {"inputs": {}, "query": "What time is it?", "user": "bench",
                        "response_mode": "streaming" if streaming else "blocking"}
                started = time.perf_counter()
                async with client.post(f"{base}/v1/chat-messages", json=body, headers=headers) as response:
                    text = await response.read()
                    if response.status != 200 or b"current_time" not in text and streaming:
                        raise RuntimeError(f"agent turn failed: {response.status} {text[:300]!r}")
                    if not streaming and not json.loads(text)["answer"]:
                        raise RuntimeError("empty answer")
                return time.perf_counter() - started

            async def direct(_streaming: bool) -> float:
                started = time.perf_counter()
                for body in bodies:
                    async with client.post(f"{fake.base_url}/chat/completions", json=body,
                                           headers={"Authorization": "Bearer x"}) as response:
                        await response.read()
                        response.raise_for_status()
                return time.perf_counter() - started

            async def measure(fn, streaming: bool) -> list[float]:  # type: ignore[no-untyped-def]
                async def worker() -> list[float]:
                    return [await fn(streaming) for _ in range(max(1, args.turns // args.concurrency))]
                return [t for times in await asyncio.gather(*(worker() for _ in range(args.concurrency)))
                        for t in times]

            await measure(through_tessera, True)  # warm-up: caches, pooled clients
            await measure(direct, True)
            print(f"Agent turns with two tool rounds (3 model calls each, chunks {args.delay * 1000:.0f} ms apart), "
                  f"{args.concurrency} concurrent, {args.turns} turns per figure, one Daphne process")
            for streaming in (False, True):
                ours = await measure(through_tessera, streaming)
                raw = await measure(direct, streaming)
                label = "streaming" if streaming else "blocking "
                print(f"   {label}: the model calls directly p50 {pct(raw, .5):7.1f} ms  p95 {pct(raw, .95):7.1f} ms; "
                      f"through Tessera p50 {pct(ours, .5):7.1f} ms  p95 {pct(ours, .95):7.1f} ms; "
                      f"ratio p50 {pct(ours, .5) / pct(raw, .5):.2f}x  p95 {pct(ours, .95) / pct(raw, .95):.2f}x")
    finally:
        stop_daphne(procs, listener)
        fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.02)
    asyncio.run(main(parser.parse_args()))
