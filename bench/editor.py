"""The workflow editor in Chromium, each figure next to a baseline measured in the same run.

    .venv/bin/python bench/editor.py [--nodes 100] [--samples 5] [--saves 10]

Prints:
1. time until a --nodes draft is interactive: from navigation start until every node is drawn
   and measured by React Flow and a click on the Start node selects it (its inspector opens);
   baseline: the same for a two-node draft (Start → End), so the ratio is what the graph's size
   costs over the page, the bundle and the login session themselves;
2. the autosave round trip of that draft: the POST of the whole draft (base_updated_at check,
   checklist, response) as the browser's resource timing sees it, p50 over --saves renames;
   baseline: GET of the same draft through the same endpoint (same size, no write); and the
   time from the keystroke until the editor shows "saved" (includes the 0.8 s debounce).
Daphne runs with the dev settings (DEBUG off, embedded Postgres); Chromium is /usr/bin/chromium.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.applications.models import App  # noqa: E402
from apps.workflows import services  # noqa: E402
from apps.workspaces import services as workspaces  # noqa: E402
from apps.workspaces.models import Workspace  # noqa: E402
from bench.chat import ready, start_daphne, stop_daphne  # noqa: E402

EMAIL, PASSWORD = "bench-editor@tessera.local", "bench-password-1"  # noqa: S105 (a local bench user)
# The duration of the last request to the draft API, from the browser's resource timing.
LAST_DRAFT_TIMING = ("() => performance.getEntriesByType('resource')"
                     ".filter(e => e.name.endsWith('/workflow/draft/')).map(e => e.duration).pop()")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


def graph_of(size: int) -> dict:
    """Start, then size-2 templates in rows of ten (each reading the one before), then End."""
    def node(node_id: str, data: dict, i: int) -> dict:
        return {"id": node_id, "type": "custom", "data": data,
                "position": {"x": 80 + (i % 10) * 300, "y": 80 + (i // 10) * 140}}

    nodes = [node("start", {"type": "start", "title": "Start", "variables": []}, 0)]
    previous = "start"
    for i in range(1, size - 1):
        nodes.append(node(f"t{i}", {"type": "template-transform", "title": f"Step {i}", "template": "{{ x }}",
                                    "variables": [{"variable": "x",
                                                   "value_selector": [previous, "output"]}]}, i))
        previous = f"t{i}"
    nodes.append(node("end", {"type": "end", "title": "End", "outputs": []}, size - 1))
    ids = [n["id"] for n in nodes]
    edges = [{"id": f"{a}-source-{b}-target", "source": a, "sourceHandle": "source", "target": b,
              "targetHandle": "target"} for a, b in zip(ids, ids[1:], strict=False)]
    return {"nodes": nodes, "edges": edges}


def session_cookie(user) -> str:  # type: ignore[no-untyped-def]
    """A logged-in session for the browser (the login form is not what is measured here)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def setup(size: int) -> tuple[str, str, str, str]:
    user = get_user_model().objects.filter(email=EMAIL).first() or workspaces.user_create(
        email=EMAIL, password=PASSWORD)
    workspace = Workspace.objects.filter(slug="bench-editor").first() or workspaces.workspace_create(
        name="bench-editor", owner=user)
    with schema_context(workspace.schema_name):
        App.objects.filter(name__startswith="bench-editor-").delete()
        big = services.workflow_app_create(name="bench-editor-big", mode="workflow", graph=graph_of(size))
        small = services.workflow_app_create(name="bench-editor-small", mode="workflow", graph=graph_of(2))
    return workspace.slug, str(big.pk), str(small.pk), session_cookie(user)


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def measure(base: str, slug: str, big: str, small: str, cookie: str, nodes: int, samples: int,
            saves: int) -> None:
    from django.conf import settings
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
        page = context.new_page()

        def interactive(app_id: str, count: int) -> float:
            started = time.perf_counter()
            page.goto(f"{base}/console/{slug}/apps/{app_id}/workflow/")
            page.wait_for_function(
                "n => document.querySelectorAll('.react-flow__node[data-id]').length === n && "
                "[...document.querySelectorAll('.react-flow__node')]"
                ".every(e => e.style.visibility !== 'hidden')",
                arg=count)
            page.locator("[data-testid=wf-node][data-node-id=start]").click()
            page.wait_for_selector("[data-testid=inspector][data-node-id=start]")
            return time.perf_counter() - started

        interactive(small, 2)  # warm-up: bundle and templates cached, connections open
        interactive(big, nodes)
        big_times = [interactive(big, nodes) for _ in range(samples)]
        small_times = [interactive(small, 2) for _ in range(samples)]
        print(f"1. time until interactive, {nodes}-node draft: p50 {p50(big_times) * 1000:.0f} ms "
              f"(min {min(big_times) * 1000:.0f}); "
              f"two-node draft baseline: p50 {p50(small_times) * 1000:.0f} ms; "
              f"ratio {p50(big_times) / p50(small_times):.2f}")

        interactive(big, nodes)
        title = page.locator("[data-testid=inspector] [data-testid=field-title]")
        posts, visible = [], []
        for i in range(saves):
            page.evaluate("performance.clearResourceTimings()")
            started = time.perf_counter()
            title.fill(f"Start {i}")
            page.wait_for_selector("[data-testid=workflow-editor][data-dirty=false][data-save-state=saved]")
            visible.append(time.perf_counter() - started)
            posts.append(page.evaluate(
                LAST_DRAFT_TIMING) / 1000)
        draft_url = f"{base}/console/{slug}/apps/{big}/workflow/draft/"
        gets = []
        for _ in range(saves):
            page.evaluate("performance.clearResourceTimings()")
            page.evaluate("url => fetch(url, {headers: {Accept: 'application/json'}}).then(r => r.json())",
                          draft_url)
            gets.append(page.evaluate(
                LAST_DRAFT_TIMING) / 1000)
        print(f"2. autosave round trip, {nodes}-node draft: POST p50 {p50(posts) * 1000:.0f} ms "
              f"(max {max(posts) * 1000:.0f}); GET of the same draft baseline p50 {p50(gets) * 1000:.0f} ms; "
              f"ratio {p50(posts) / p50(gets):.2f}; "
              f"keystroke to 'saved' shown p50 {p50(visible) * 1000:.0f} ms "
              f"(0.8 s of it is the debounce)")
        browser.close()


async def serve_and_measure(args: argparse.Namespace, slug: str, big: str, small: str, cookie: str) -> None:
    procs, port, listener = start_daphne(1)
    base = f"http://localhost:{port}"
    try:
        await ready(base)
        await asyncio.to_thread(measure, base, slug, big, small, cookie, args.nodes, args.samples, args.saves)
    finally:
        stop_daphne(procs, listener)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--saves", type=int, default=10)
    arguments = parser.parse_args()
    asyncio.run(serve_and_measure(arguments, *setup(arguments.nodes)))
