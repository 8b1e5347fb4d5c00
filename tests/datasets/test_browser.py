"""Knowledge in a real browser: upload a file, watch its progress bar reach completed without
reloading the page (Daphne hands the work to a real Celery worker over Redis), then run a hit test."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from apps.datasets.models import Dataset, Document
from tests.browser import CHROMIUM, SHOTS, test_database_url
from tests.conftest import PASSWORD, free_port, wait_for_port
from tests.core.test_celery_worker import _start_worker, _stop
from tests.datasets.conftest import LOCAL

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live_async_url(world_tx, redis_url, tmp_path):  # type: ignore[no-untyped-def]
    """Daphne that queues tasks on Redis instead of running them in the request."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": test_database_url(),
           "REDIS_URL": redis_url, "CELERY_TASK_ALWAYS_EAGER": "false"}
    log = open(tmp_path / "daphne.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "config.asgi:application"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30)
        yield f"http://localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_upload_watch_progress_and_hit_test(live_async_url, browser, world_tx, redis_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert Path(CHROMIUM).exists()
    with schema_context(world_tx.alpha.schema_name):
        dataset = Dataset.objects.create(name="Ocean facts", indexing_technique="high_quality",
                                         permission="all_team_members", created_by_id=world_tx.owner.user_id,
                                         embedding_model_provider=LOCAL["embedding_model_provider"],
                                         embedding_model=LOCAL["embedding_model"])
    lines = [f"Fact {i}: the ocean zone number {i} holds its own kind of fish and plankton." for i in range(300)]
    lines[137] = "Fact 137: giant squid live in the deep midnight zone of the ocean."
    upload = tmp_path / "ocean.txt"
    upload.write_text("###".join(lines))
    worker = _start_worker(tmp_path, {"REDIS_URL": redis_url})
    try:
        page = browser.new_context().new_page()
        page.goto(f"{live_async_url}/accounts/login/")
        page.fill("input[name=login]", "olivia@alpha.test")
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(re.compile(r".*/console/alpha/$"))
        page.click("nav a[href='/console/alpha/datasets/']")
        page.click("text=Ocean facts")
        page.wait_for_url(re.compile(r".*/documents/$"))

        page.set_input_files("input[name=files]", str(upload))
        page.select_option("select[name=mode]", "custom")
        page.fill("input[name=separator]", "###")
        page.fill("input[name=max_tokens]", "60")
        page.fill("input[name=chunk_overlap]", "0")
        page.click("button:has-text('Preview segments')")
        page.wait_for_selector("#preview >> text=300 segments")
        with page.expect_navigation():
            page.click("button:has-text('Save & process')")
        assert page.locator("tr[data-document]").count() == 1, page.inner_text("main")
        assert "ocean.txt" in page.inner_text("tr[data-document]")
        # From here on the page is never reloaded: the rows poll, and a marker on window survives.
        page.evaluate("window.__stillHere = true")
        seen = set()
        for _ in range(600):
            seen.add(page.get_attribute("tr[data-document]", "data-status"))
            if "completed" in seen:
                break
            page.wait_for_timeout(200)
        assert "completed" in seen, seen
        page.wait_for_selector("tr[data-document] [aria-valuenow='100']")
        assert page.evaluate("window.__stillHere") is True
        assert "300 / 300 segments" in page.inner_text("tr[data-document]")
        assert len(seen) >= 2, seen  # at least one intermediate state was shown before completed
        page.screenshot(path=str(SHOTS / "knowledge-documents.png"), full_page=True)

        page.click("a:has-text('Hit testing')")
        page.fill("textarea[name=query]", "where do giant squid live")
        page.click("button:has-text('Test')")
        page.wait_for_selector("#hit-results article.segment")
        first = page.inner_text("#hit-results article.segment >> nth=0")
        assert "giant squid" in first
        score = float(page.inner_text("#hit-results .score >> nth=0"))
        assert 0 < score <= 1
        assert "where do giant squid live" in page.inner_text("#hit-history")
        page.screenshot(path=str(SHOTS / "knowledge-hit-testing.png"), full_page=True)
    finally:
        output = _stop(worker, tmp_path)
    with schema_context(world_tx.alpha.schema_name):
        document = Document.objects.get(dataset=dataset)
        assert (document.indexing_status, document.total_segments) == ("completed", 300), output
