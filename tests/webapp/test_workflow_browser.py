"""The workflow WebApp in a real browser (Daphne + Chromium + the fake model): one run with its
steps turning succeeded live and its outputs drawn (Markdown, a picture file, JSON), and a batch
from a CSV run by a real Celery worker. Pages are saved under var/screenshots/."""

import csv
import io
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from apps.logs.models import CompletionBatch
from tests.browser import alpine_ready, shot
from tests.core.test_celery_worker import _start_worker, _stop
from tests.datasets.test_browser import live_async_url  # noqa: F401 (a fixture)
from tests.fakes.base import Reply
from tests.webapp.workflow_setup import build_flow_site, file_graph, text_graph, workflow_graph
from tests.workflows.test_nodes_external import Echo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def picture_server(monkeypatch):  # type: ignore[no-untyped-def]
    """A web server with a picture (the HTTP Request node fetches it): loopback, so the operator's
    allowance goes to the Daphne started after this fixture; file links stay on the page's origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("FILES_URL", "")
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_one_run_shows_its_steps_and_outputs(picture_server, live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    flow = build_flow_site(world_tx, fake_openai, workflow_graph(picture_server + "/image/cat.png"))
    fake_openai.script("chat", Reply("Waves **roll** in.\n\n<script>window.pwned = 1</script>", chunk_size=3))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_url}/workflow/{flow.code}")
    alpine_ready(page)
    assert page.title() == "Flow ws_alpha"
    form = page.locator("[data-testid=variables-form]")
    assert "Topic" in form.inner_text() and "Style" in form.inner_text() and "Count" in form.inner_text()
    shot(page, "webapp-workflow-form")

    page.click("[data-testid=run]")
    assert "Please fill in “Topic”." in form.inner_text()
    page.fill("#var-topic", "the sea")
    page.fill("#var-n", "3")
    page.click("[data-testid=run]")
    result = page.locator("[data-testid=run-result]").first
    result.locator("[data-testid=run-status]").wait_for()
    page.wait_for_selector("[data-testid=run-result][data-status=succeeded]", timeout=60_000)
    steps = result.locator("[data-testid=step]")
    assert steps.count() == 5 and result.locator("[data-testid=step][data-status=succeeded]").count() == 5
    assert [steps.nth(i).inner_text().split("\n")[-1].strip() for i in range(5)][1:4] == [
        "Write", "Format", "Picture"]
    text = result.locator("[data-output=text]")
    assert text.locator("h2").inner_text() == "the sea" and text.locator("strong").inner_text() == "roll"
    assert "<script>window.pwned = 1</script>" in text.inner_text() and page.evaluate("window.pwned") is None
    picture = result.locator("[data-output=picture]")
    href = picture.locator("[data-testid=output-file]").get_attribute("href")
    assert href.startswith("/v1/files/") and "sign=" in href
    picture.locator("img").wait_for()
    page.wait_for_function("() => document.querySelector('[data-output=picture] img').naturalWidth === 1")
    assert result.locator("[data-output=n] pre").inner_text() == "3"
    shot(page, "webapp-workflow-result")
    context.close()


def test_a_file_variable_is_uploaded_and_read(live_url, browser, world_tx, fake_openai, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    flow = build_flow_site(world_tx, fake_openai, file_graph())
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_url}/workflow/{flow.code}")
    alpine_ready(page)
    page.click("[data-testid=run]")
    assert "Please fill in “Document”." in page.inner_text("[data-testid=variables-form]")
    notes = tmp_path / "notes.txt"
    notes.write_text("Tide tables for the bay.\n")
    page.set_input_files("#var-doc", str(notes))
    page.wait_for_function("() => !document.querySelector('[data-testid=run]').disabled")
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=run-result][data-status=succeeded]", timeout=60_000)
    assert "Tide tables for the bay." in page.inner_text("[data-output=text]")
    shot(page, "webapp-workflow-file")
    context.close()


@pytest.mark.worker
@pytest.mark.redis
def test_a_batch_from_a_csv(live_async_url, browser, world_tx, fake_openai, redis_url, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811, E501
    flow = build_flow_site(world_tx, fake_openai, text_graph())
    fake_openai.responder = lambda request: Reply(
        "A text about " + request.json["messages"][-1]["content"][12:-1])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_async_url}/workflow/{flow.code}")
    alpine_ready(page)
    page.click("[data-testid=tab-batch]")
    with page.expect_download() as template:
        page.click("[data-testid=download-template]")
    header = Path(template.value.path()).read_bytes()
    assert header.decode("utf-8-sig").strip() == "Topic"
    upload = tmp_path / "topics.csv"
    upload.write_bytes(header + "the sea\nどこかの森\n".encode())
    page.set_input_files("[data-testid=batch-file]", str(upload))
    page.click("[data-testid=run-batch]")
    page.locator("[data-testid=batch-row]").nth(1).wait_for()
    shot(page, "webapp-workflow-batch-queued")
    worker = _start_worker(tmp_path, {"REDIS_URL": redis_url})
    try:
        page.locator("[data-testid=download-results]").wait_for(timeout=90_000)
    finally:
        output = _stop(worker, tmp_path)
    assert page.locator("[data-testid=batch-row][data-status=succeeded]").count() == 2, output
    assert "A text about どこかの森" in page.inner_text("[data-testid=batch]")
    shot(page, "webapp-workflow-batch-done")
    with page.expect_download() as results:
        page.click("[data-testid=download-results]")
    rows = list(csv.reader(io.StringIO(Path(results.value.path()).read_bytes().decode("utf-8-sig"))))
    assert rows == [["Topic", "Output", "Status", "Error"],
                    ["the sea", "A text about the sea", "succeeded", ""],
                    ["どこかの森", "A text about どこかの森", "succeeded", ""]]
    with schema_context("ws_alpha"):
        assert CompletionBatch.objects.get().status == "finished"
    context.close()
