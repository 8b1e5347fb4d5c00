"""Real-browser fixtures: Daphne serving the test database, and Debian's Chromium via Playwright."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SHOTS = ROOT / "test-results"


def test_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def live_url(world_tx, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Daphne running config.asgi against the test database, as in production."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": test_database_url()}
    log = open(tmp_path / "daphne.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "config.asgi:application"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30)
        yield f"http://localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does it when run as root)")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls in the test are still
    # plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


SCREENSHOTS = ROOT / "var" / "screenshots"


def shot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a full-page screenshot of what the user sees now as var/screenshots/<name>.png (ignored by
    git), so anyone can look at the pages a browser test visited."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, base: str, email: str = "edith@alpha.test") -> None:  # type: ignore[no-untyped-def]
    """Sign in through the real login form (default: Edith, an editor of alpha) and wait for the
    console."""
    import re

    from tests.conftest import PASSWORD

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/.*"))


def wait_until(page, expression: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until the JavaScript ``expression`` is truthy in the page.

    Playwright's wait_for_function compiles its predicate with eval inside the page, which the
    pages' Content-Security-Policy refuses (no 'unsafe-eval', apps/core/headers.py); page.evaluate
    goes through the DevTools protocol, which the policy does not govern, so it polls with that.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:g} s: {expression}")
        page.wait_for_timeout(50)


def alpine_ready(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until Alpine has bound every x-data component on the page: a click before that (its
    script is deferred) reaches no handler, e.g. a form then submits natively."""
    wait_until(page, "() => !!window.Alpine && [...document.querySelectorAll('[x-data]')]"
                     ".every((el) => el._x_dataStack !== undefined)")
