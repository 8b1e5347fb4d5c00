"""The chat hot path through one Daphne process, against the fake OpenAI server, in one run.

    .venv/bin/python bench/chat.py [--concurrency 32] [--requests 256] [--streams 500,1000,2000]

Prints:
1. time to first token of streaming /v1/chat-messages vs. streaming straight from the fake server,
   32 at a time, each client asking again as soon as its answer ends: p50 and p95 of both, and
   what Tessera adds. (a) with a fake model that answers instantly, which saturates the machine,
   so the figure is mostly queueing behind other turns' CPU; (b) with a fake model that streams at
   a model's pace (20 tokens, one every 20 ms), all 32 clients starting at once, so requests keep
   arriving in waves of 32 and queue behind each other; (c) the same with the clients' starts
   spread over one answer's length: 32 streams evenly under way, a steady state;
2. blocking /v1/chat-messages requests per second (the fake server's own rate alongside);
3. slow streams (one token every 0.5 s for --stream-seconds) held open at once by one Daphne
   process: errors, and Daphne's memory (RSS) at the peak;
4. database queries on the hot path of one chat turn.
With --workers N (default: the CPU count) the blocking rate and the paced time to first token are
measured again with N Daphne processes sharing the socket, as `manage.py serve` runs them.
Everything runs on this machine, each in its own process: Daphne (dev settings, DEBUG off,
embedded Postgres), the fake servers (bench/fake_server.py) and the client (aiohttp, this process;
httpx costs ~2.3 ms of client CPU per request here against aiohttp's ~0.3 ms, CPU the 2 cores
would otherwise give the server). The client's own CPU per request is printed.
"""

import argparse
import asyncio
import collections
import os
import random
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
# The fake provider listens on loopback: allowed for model providers, as for a local Ollama (README).
os.environ.setdefault("PROVIDER_ALLOWED_NETWORKS", "127.0.0.0/8")
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

import aiohttp  # noqa: E402
import psutil  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.applications import services as apps  # noqa: E402
from apps.applications.models import App  # noqa: E402
from apps.providers import services as providers  # noqa: E402
from apps.workspaces import services as workspaces  # noqa: E402
from apps.workspaces.models import Workspace  # noqa: E402


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Fake:
    """A fake OpenAI server process (bench/fake_server.py)."""

    def __init__(self, tokens: int, delay: float) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_server.py"), "--tokens", str(tokens),
                                      "--delay", str(delay)], stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()
        self.process = psutil.Process(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def point_model_at(schema: str, fake: Fake) -> None:
    with schema_context(schema):
        providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
            "base_url": fake.base_url, "model": "fake-chat", "model_type": "llm"})


async def repoint(schema: str, fake: Fake) -> None:
    """Point the bench model at ``fake`` and wait until running Daphne processes, which cache
    resolved models for HOT_CACHE_SECONDS, use it."""
    from django.conf import settings

    await asyncio.to_thread(point_model_at, schema, fake)
    await asyncio.sleep(settings.HOT_CACHE_SECONDS + 0.5)


def setup(fake: Fake) -> tuple[str, str]:
    """A bench workspace with a chat app on the fake model; returns (schema, api key)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(email="bench@tessera.local").first() or workspaces.user_create(
        email="bench@tessera.local", password="bench-password-1")
    workspace = Workspace.objects.filter(slug="bench-chat").first() or workspaces.workspace_create(
        name="bench-chat", owner=user)
    point_model_at(workspace.schema_name, fake)
    with schema_context(workspace.schema_name):
        app = App.objects.filter(name="bench").first() or apps.app_create(name="bench", mode="chat", config={
            "model": {"provider": "openai_api_compatible", "name": "fake-chat", "mode": "chat",
                      "completion_params": {"max_tokens": 64}},
            "pre_prompt": "You are a helpful assistant."})
        apps.app_publish(app=app)
        for old in app.api_keys.all():
            apps.api_key_revoke(key=old)
        _, key = apps.api_key_create(app=app)
    return workspace.schema_name, key


async def first_token(session: aiohttp.ClientSession, url: str, headers: dict, body: dict, marker: bytes,
                      skip: bytes | None = None) -> float:
    started = time.perf_counter()
    first = None
    async with session.post(url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for line in response.content:  # read to the end, as a real client would
            if first is None and marker in line and not (skip and skip in line):
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("no token")
    return first


def session(connections: int, timeout: float = 60) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections),
                                 timeout=aiohttp.ClientTimeout(total=timeout))


def cpu_ms(*procs: psutil.Process) -> float:
    return sum(t.user + t.system for t in (p.cpu_times() for p in procs)) * 1000


CLIENT = psutil.Process()
PACED_ANSWER_SECONDS = 20 * 0.02  # the paced fake: 20 tokens, 20 ms apart


async def ttft(base: str, key: str, fake: Fake, concurrency: int, total: int, *daphne: psutil.Process,
               label: str, spread: float = 0.0) -> None:
    """``concurrency`` clients, each streaming answers one after another. With ``spread`` each
    client starts at a random moment within that many seconds (one answer's length, so the
    streams are evenly under way: a steady state); without, all start at once and, as every
    answer takes as long, keep arriving in waves of ``concurrency``."""
    headers = {"Authorization": f"Bearer {key}"}
    body = {"inputs": {}, "query": "Say something", "user": "bench", "response_mode": "streaming"}
    direct_body = {"model": "fake-chat", "stream": True, "messages": [{"role": "user", "content": "Say something"}]}
    async with session(concurrency * 2) as client:
        async def batch(fn, n):  # type: ignore[no-untyped-def]
            async def client_loop() -> list[float]:
                await asyncio.sleep(random.uniform(0, spread))
                return [await fn() for _ in range(max(1, n // concurrency))]
            return [t for times in await asyncio.gather(*(client_loop() for _ in range(concurrency))) for t in times]

        async def ours() -> float:
            return await first_token(client, f"{base}/v1/chat-messages", headers, body, b'"event":"message"')

        async def direct() -> float:
            # The first non-empty delta: the role chunk before it carries "content":"" (and, from the
            # paced fake, comes one interval earlier), which is not a token.
            return await first_token(client, f"{fake.base_url}/chat/completions", {"Authorization": "Bearer x"},
                                     direct_body, b'"content":"', skip=b'"content":""')

        await batch(ours, concurrency)  # warm-up
        await batch(direct, concurrency)
        cpu, client_cpu = cpu_ms(*daphne), cpu_ms(CLIENT)
        tessera = await batch(ours, total)
        cpu, client_cpu = (cpu_ms(*daphne) - cpu) / total, (cpu_ms(CLIENT) - client_cpu) / total
        fake_cpu = cpu_ms(fake.process)
        raw = await batch(direct, total)
        fake_cpu = (cpu_ms(fake.process) - fake_cpu) / total
    start = f"clients start spread over {spread:.1f} s" if spread else "all clients start at once"
    print(f"1{label}, {concurrency} concurrent, {total} requests, {start}")
    print(f"   fake server directly: p50 {pct(raw, .5):7.1f} ms   p95 {pct(raw, .95):7.1f} ms")
    print(f"   through Tessera:      p50 {pct(tessera, .5):7.1f} ms   p95 {pct(tessera, .95):7.1f} ms")
    print(f"   added by Tessera:     p50 {pct(tessera, .5) - pct(raw, .5):7.1f} ms   "
          f"p95 {pct(tessera, .95) - pct(raw, .95):7.1f} ms")
    print(f"   CPU per streamed answer: Daphne {cpu:.2f} ms; the fake server alone {fake_cpu:.2f} ms "
          f"({cpu / fake_cpu:.1f}x); the client {client_cpu:.2f} ms")


async def blocking_rps(base: str, key: str, fake: Fake, concurrency: int, seconds: float,
                       *daphne: psutil.Process) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"inputs": {}, "query": "Say something", "user": "bench"}
    direct_body = {"model": "fake-chat", "messages": [{"role": "user", "content": "Say something"}]}
    async with session(concurrency) as client:
        async def run(url: str, hdrs: dict, payload: dict) -> tuple[float, int]:
            done, errors = 0, 0
            deadline = time.perf_counter() + seconds

            async def worker() -> None:
                nonlocal done, errors
                while time.perf_counter() < deadline:
                    async with client.post(url, json=payload, headers=hdrs) as response:
                        await response.read()
                        if response.status == 200:
                            done += 1
                        else:
                            errors += 1
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return done / (time.perf_counter() - started), errors

        await run(f"{base}/v1/chat-messages", headers, body)
        cpu, client_cpu, started = cpu_ms(*daphne), cpu_ms(CLIENT), time.perf_counter()
        ours, ours_errors = await run(f"{base}/v1/chat-messages", headers, body)
        served = ours * (time.perf_counter() - started)
        cpu, client_cpu = (cpu_ms(*daphne) - cpu) / served, (cpu_ms(CLIENT) - client_cpu) / served
        raw, _ = await run(f"{fake.base_url}/chat/completions", {"Authorization": "Bearer x"}, direct_body)
    print(f"2. blocking chat-messages, {concurrency} concurrent for {seconds:.0f} s: {ours:7.1f} requests/s "
          f"({ours_errors} errors); the fake server alone: {raw:7.1f} requests/s")
    print(f"   Daphne CPU per blocking request: {cpu:.2f} ms, so one core would serve at most {1000 / cpu:.0f}/s; "
          f"the client {client_cpu:.2f} ms")


async def slow_streams(base: str, key: str, schema: str, daphne: psutil.Process, counts: list[int],
                       stream_seconds: float) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    tokens = max(2, int(stream_seconds / 0.5))
    slow = Fake(tokens, 0.5)
    await repoint(schema, slow)
    print(f"3. slow streams held at once by one Daphne process ({tokens} tokens, one every 0.5 s)")
    for count in counts:
        errors, completed, peak = 0, 0, 0
        reasons: collections.Counter = collections.Counter()
        connector = aiohttp.TCPConnector(limit=count + 10, force_close=True)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as client:
            async def one(i: int) -> None:
                nonlocal errors, completed
                body = {"inputs": {}, "query": "Slowly", "user": f"slow-{i % 50}", "response_mode": "streaming"}
                try:
                    async with client.post(f"{base}/v1/chat-messages", json=body, headers=headers) as r:
                        if r.status != 200:
                            errors += 1
                            reasons[f"HTTP {r.status}"] += 1
                            return
                        async for line in r.content:
                            if b'"event":"error"' in line:
                                errors += 1
                                reasons[line[:120].decode()] += 1
                                return
                            if b'"event":"message_end"' in line:
                                completed += 1
                                return
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    errors += 1
                    reasons[type(exc).__name__] += 1

            async def sample() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, daphne.memory_info().rss)
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(count)))
            elapsed = time.perf_counter() - started
            sampler.cancel()
        print(f"   {count:5d} streams: {completed} completed, {errors} errors, {elapsed:5.1f} s, "
              f"Daphne RSS peak {peak / 2**20:6.0f} MiB" + (f"; errors: {dict(reasons)}" if reasons else ""))
        if errors:
            break
    slow.stop()


def hot_path_queries(key: str) -> None:
    """The database work of one chat turn as a warm process does it: authenticate and prepare
    (before the first token, one thread hop), then finish. The first turn warms the per-process
    caches (key route, app, resolved model, end user); the second is counted."""
    import orjson

    from apps.applications import generation
    from apps.applications.api import streaming

    body = orjson.dumps({"inputs": {}, "query": "count", "user": "queries"})
    for turn in ("cold", "warm"):
        with CaptureQueriesContext(connection) as before:
            prepared, _ = streaming._authenticate_and_begin(f"Bearer {key}", body, chat=True)
        with CaptureQueriesContext(connection) as after:
            generation._finish(prepared.message_id, prepared.conversation_id, "answer", "normal", "", None)
        print(f"4. database statements of one chat turn ({turn} process): {len(before.captured_queries)} before the "
              f"first token, {len(after.captured_queries)} to store the answer")
        for query in before.captured_queries + after.captured_queries:
            print("      ", query["sql"][:100])


def start_daphne(workers: int) -> tuple[list[subprocess.Popen], int, socket.socket]:
    """`workers` Daphne processes accepting on one listening socket (the kernel spreads the
    connections), as a production host runs one per core."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    fd = listener.fileno()
    procs = [subprocess.Popen([sys.executable, "-m", "daphne", "--fd", str(fd), "config.asgi:application"],
                              cwd=ROOT, env=env, pass_fds=(fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    port = listener.getsockname()[1]
    return procs, port, listener


def stop_daphne(procs: list[subprocess.Popen], listener: socket.socket) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=20)
    listener.close()


async def ready(base: str) -> None:
    async with aiohttp.ClientSession() as client:
        for _ in range(600):
            try:
                async with client.get(f"{base}/healthz") as response:
                    await response.read()
                return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
    raise RuntimeError("Daphne did not start")


async def main(args: argparse.Namespace) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fake = Fake(20, 0.0)
    schema, key = await asyncio.to_thread(setup, fake)
    procs, port, listener = start_daphne(1)
    try:
        base = f"http://127.0.0.1:{port}"
        await ready(base)
        proc = psutil.Process(procs[0].pid)
        print(f"Daphne pid {proc.pid}, RSS at start {proc.memory_info().rss / 2**20:.0f} MiB; "
              f"{os.cpu_count()} CPUs; Daphne, the fake servers and the client each in their own process")
        await ttft(base, key, fake, args.concurrency, args.requests, proc,
                   label="a. time to first token, streaming, a fake model that answers at once")
        paced = Fake(20, 0.02)
        await repoint(schema, paced)
        await ttft(base, key, paced, args.concurrency, args.requests, proc,
                   label="b. time to first token, streaming, a fake model at a model's pace (20 tokens, 20 ms apart)")
        await ttft(base, key, paced, args.concurrency, args.requests, proc, spread=PACED_ANSWER_SECONDS,
                   label="c. the same at a model's pace, in a steady state")
        paced.stop()
        await repoint(schema, fake)
        await blocking_rps(base, key, fake, args.concurrency // 2 or 1, args.seconds, proc)
        await slow_streams(base, key, schema, proc, [int(c) for c in args.streams.split(",") if c],
                           args.stream_seconds)
    finally:
        stop_daphne(procs, listener)
    if args.workers > 1:
        await asyncio.to_thread(point_model_at, schema, fake)  # before the processes start: nothing cached
        procs, port, listener = start_daphne(args.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            await ready(base)
            daphnes = [psutil.Process(p.pid) for p in procs]
            print(f"   with {args.workers} Daphne processes on one socket (one per core, as `serve` runs them):")
            await blocking_rps(base, key, fake, args.concurrency // 2 or 1, args.seconds, *daphnes)
            paced = Fake(20, 0.02)
            await repoint(schema, paced)
            await ttft(base, key, paced, args.concurrency, args.requests, *daphnes, spread=PACED_ANSWER_SECONDS,
                       label=f"c. time to first token at a model's pace, steady state, {args.workers} Daphne processes")
            paced.stop()
        finally:
            stop_daphne(procs, listener)
    fake.stop()
    await asyncio.to_thread(hot_path_queries, key)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--streams", default="250,500,1000,2000")
    parser.add_argument("--stream-seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="Daphne processes for a second blocking run (1: skip it)")
    asyncio.run(main(parser.parse_args()))
