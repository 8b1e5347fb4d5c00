"""The workflow engine and /v1/workflows/run, each next to a baseline measured in the same run.

    .venv/bin/python bench/workflow.py [--chain 100] [--runs 50] [--concurrency 16] [--seconds 10]

Prints:
1. the engine's overhead per node: a chain of --chain cheap nodes (variable aggregators) run
   in-process, per node; baseline: one bare asyncio task per node doing nothing;
2. empty-workflow runs per second (Start → End) through /v1/workflows/run, blocking, --concurrency
   at a time, against one Daphne process; baseline: GET /v1/ (no key, no database) through the
   same process;
3. time to the first event of a streaming run (workflow_started), p50/p95; baseline: the time to
   the first byte of GET /v1/.
Daphne runs with the dev settings (DEBUG off, embedded Postgres); the client is this process.
"""

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.applications import services as apps  # noqa: E402
from apps.applications.models import App  # noqa: E402
from apps.workflows import services  # noqa: E402
from apps.workflows.engine.engine import GraphEngine, RunContext  # noqa: E402
from apps.workflows.engine.graph import Graph  # noqa: E402
from apps.workflows.engine.variables import VariablePool  # noqa: E402
from apps.workspaces import services as workspaces  # noqa: E402
from apps.workspaces.models import Workspace  # noqa: E402
from bench.chat import pct, ready, start_daphne, stop_daphne  # noqa: E402


def chain_graph(length: int) -> dict:
    nodes = [{"id": "start", "data": {"type": "start", "title": "Start", "variables": []}}]
    edges = []
    previous = "start"
    for i in range(length):
        nodes.append({"id": f"n{i}", "data": {"type": "variable-aggregator", "title": f"n{i}",
                                              "variables": [["sys", "x"]]}})
        edges.append({"id": f"e{i}", "source": previous, "target": f"n{i}"})
        previous = f"n{i}"
    return {"nodes": nodes, "edges": edges}


async def engine_overhead(length: int, runs: int) -> None:
    raw = chain_graph(length)
    graph = Graph.parse(raw)

    async def one() -> None:
        pool = VariablePool({"sys": {"x": 1}})
        ctx = RunContext(mode="workflow", app_id="a", workflow_id="w", run_id="r", raw_graph=raw,
                         emit=lambda e, d: None, pool=pool)
        await GraphEngine(ctx, graph, pool).run()

    async def noop() -> None:
        return None

    async def baseline() -> None:
        for _ in range(length + 1):
            await asyncio.ensure_future(noop())

    await one()
    started = time.perf_counter()
    for _ in range(runs):
        await one()
    per_node = (time.perf_counter() - started) / (runs * (length + 1))
    started = time.perf_counter()
    for _ in range(runs):
        await baseline()
    base = (time.perf_counter() - started) / (runs * (length + 1))
    print(f"1. engine overhead per node ({length}-node chain, {runs} runs): {per_node * 1000:.3f} ms "
          f"(target ≤ 0.5 ms); a bare asyncio task: {base * 1000:.4f} ms; ratio {per_node / base:.0f}x")


def setup() -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(email="bench@tessera.local").first() or workspaces.user_create(
        email="bench@tessera.local", password="bench-password-1")
    workspace = Workspace.objects.filter(slug="bench-workflow").first() or workspaces.workspace_create(
        name="bench-workflow", owner=user)
    with schema_context(workspace.schema_name):
        app = App.objects.filter(name="bench-empty").first()
        if app is None:
            graph = {"nodes": [{"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
                               {"id": "end", "data": {"type": "end", "title": "End", "outputs": []}}],
                     "edges": [{"id": "e", "source": "start", "target": "end"}]}
            app = services.workflow_app_create(name="bench-empty", mode="workflow", graph=graph)
            services.publish(app=app)
        for old in app.api_keys.all():
            apps.api_key_revoke(key=old)
        _, key = apps.api_key_create(app=app)
    return key


async def runs_per_second(base: str, key: str, concurrency: int, seconds: float) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"inputs": {}, "user": "bench"}
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        async def rate(send) -> tuple[float, int]:  # type: ignore[no-untyped-def]
            done, errors = 0, 0
            deadline = time.perf_counter() + seconds

            async def worker() -> None:
                nonlocal done, errors
                while time.perf_counter() < deadline:
                    response = await send()
                    ok = response.status_code == 200 and (response.url.path == "/v1/" or
                                                          response.json()["data"]["status"] == "succeeded")
                    done, errors = (done + 1, errors) if ok else (done, errors + 1)
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return done / (time.perf_counter() - started), errors

        def run():  # type: ignore[no-untyped-def]
            return client.post(f"{base}/v1/workflows/run", json=body, headers=headers)

        def welcome():  # type: ignore[no-untyped-def]
            return client.get(f"{base}/v1/")

        await rate(run)  # warm-up
        ours, errors = await rate(run)
        baseline, _ = await rate(welcome)
    print(f"2. empty workflow runs, blocking, {concurrency} concurrent for {seconds:.0f} s: {ours:.1f} runs/s "
          f"({errors} errors; target ≥ 150/s on 2 cores); GET /v1/ baseline {baseline:.1f}/s; "
          f"ratio {ours / baseline:.2f}")


async def first_event(base: str, key: str, samples: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"inputs": {}, "user": "bench", "response_mode": "streaming"}
    ours, baseline = [], []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(samples):
            started = time.perf_counter()
            async with client.stream("POST", f"{base}/v1/workflows/run", json=body, headers=headers) as response:
                first = None
                async for line in response.aiter_lines():
                    if first is None and "workflow_started" in line:
                        first = time.perf_counter() - started
            ours.append(first or 0.0)
            started = time.perf_counter()
            async with client.stream("GET", f"{base}/v1/") as response:
                async for _ in response.aiter_bytes():
                    baseline.append(time.perf_counter() - started)
                    break
    print(f"3. time to first event (workflow_started), {samples} sequential runs: p50 {pct(ours, .5):.1f} ms, "
          f"p95 {pct(ours, .95):.1f} ms; GET /v1/ first byte p50 {pct(baseline, .5):.1f} ms; "
          f"ratio {pct(ours, .5) / pct(baseline, .5):.1f}x")


async def main(args: argparse.Namespace) -> None:
    await engine_overhead(args.chain, args.runs)
    key = await asyncio.to_thread(setup)
    procs, port, listener = start_daphne(1)
    try:
        base = f"http://127.0.0.1:{port}"
        await ready(base)
        print(f"   ({os.cpu_count()} CPUs; one Daphne process; the client in this process)")
        await runs_per_second(base, key, args.concurrency, args.seconds)
        await first_event(base, key, args.samples)
    finally:
        stop_daphne(procs, listener)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--samples", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
