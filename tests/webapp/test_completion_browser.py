"""The text-generation WebApp in a real browser (Daphne + Chromium + the fake model): run once
streams a result, copy, like, save and the Saved tab after a reload, more like this only where
enabled, stop, and a batch from a 3-row CSV watched row by row while a real Celery worker runs it.
Every page visited is saved under var/screenshots/."""

import csv
import io
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from apps.applications import services
from apps.applications.models import Site
from apps.logs.models import CompletionBatch, MessageFeedback, SavedMessage, Source
from tests.browser import shot
from tests.core.test_celery_worker import _start_worker, _stop
from tests.datasets.test_browser import live_async_url  # noqa: F401 (a fixture)
from tests.fakes.base import Reply
from tests.webapp.conftest import build_web_setup
from tests.webapp.test_completion_api import _responder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _page(browser, live_url: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    return context, context.new_page()


def test_run_once_copy_like_save_and_saved_after_reload(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    web = build_web_setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        services.site_update(
            site=Site.objects.get(app=web.completion),
            description="Short texts on any topic.",
            copyright="Alpha Inc.",
            custom_disclaimer="Texts may be wrong.",
            privacy_policy="https://alpha.test/privacy",
        )
    fake_openai.script(
        "chat", Reply("# The sea\n\nWaves **roll** in.\n\n<script>window.pwned = 1</script>", chunk_size=2)
    )
    context, page = _page(browser, live_url)
    page.goto(f"{live_url}/completion/{web.completion_code}")
    assert page.title() == "Writer"
    body = page.inner_text("body")
    assert "Short texts on any topic." in body and "Alpha Inc." in body and "Texts may be wrong." in body
    assert page.get_attribute("footer a[href='https://alpha.test/privacy']", "href")
    shot(page, "webapp-completion-form")

    # The required variable first; then Run streams the result, rendered as sanitised Markdown.
    page.click("[data-testid=run]")
    assert "Please fill in “Topic”." in page.inner_text("[data-testid=variables-form]")
    page.fill("#var-topic", "the sea")
    page.click("[data-testid=run]")
    result = page.locator("[data-testid=result]").first
    result.locator("[data-testid=like]").wait_for()
    assert result.locator("h1").inner_text() == "The sea"
    assert result.locator("strong").inner_text() == "roll"
    assert "<script>window.pwned = 1</script>" in result.inner_text()
    assert page.evaluate("window.pwned") is None
    assert fake_openai.requests[-1].json["stream"] is True
    assert "Write about the sea." in str(fake_openai.requests[-1].json["messages"])
    # More like this is off for this app: no button (WEB-10).
    assert result.locator("[data-testid=more-like-this]").count() == 0

    result.locator("[data-testid=copy]").click()
    assert page.evaluate("navigator.clipboard.readText()").startswith("# The sea")
    result.locator("[data-testid=like]").click()
    result.locator("[data-testid=like][aria-pressed=true]").wait_for()
    result.locator("[data-testid=save]").click()
    result.locator("[data-testid=save][aria-pressed=true]").wait_for()
    shot(page, "webapp-completion-result")
    message_id = result.get_attribute("data-message-id")
    with schema_context("ws_alpha"):
        feedback = MessageFeedback.objects.get(message_id=message_id)
        assert (feedback.rating, feedback.message.from_source) == ("like", Source.WEBAPP)
        assert SavedMessage.objects.filter(message_id=message_id).count() == 1

    # The Saved tab lists it after a reload (WEB-08), and it can be removed.
    page.reload()
    page.click("[data-testid=tab-saved]")
    saved = page.locator("[data-testid=saved-item]")
    saved.first.wait_for()
    assert saved.count() == 1 and "Waves roll in." in saved.first.inner_text()
    assert "Topic: the sea" in saved.first.inner_text()
    shot(page, "webapp-completion-saved")

    # Another browser has its own (empty) Saved tab.
    other_context, other = _page(browser, live_url)
    other.goto(f"{live_url}/completion/{web.completion_code}")
    other.click("[data-testid=tab-saved]")
    other.get_by_text("Nothing saved yet.").wait_for()
    assert other.locator("[data-testid=saved-item]").count() == 0
    shot(other, "webapp-completion-saved-other-browser")
    other_context.close()

    saved.first.locator("[data-testid=unsave]").click()
    page.get_by_text("Nothing saved yet.").wait_for()
    with schema_context("ws_alpha"):
        assert SavedMessage.objects.count() == 0
    context.close()


def test_more_like_this_and_stop(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    web = build_web_setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        app = services.app_create(
            name="Writer plus",
            mode="completion",
            config={**web.completion.live_config, "more_like_this": {"enabled": True}},
        )
        services.app_publish(app=app)
        code = services.site_get_or_create(app=app).code
    fake_openai.script(
        "chat",
        Reply("First take."),
        Reply("Second take."),
        Reply(" ".join(f"word{i}" for i in range(400)), delay_between_chunks=0.05),
    )
    context, page = _page(browser, live_url)
    page.goto(f"{live_url}/completion/{code}")
    page.fill("#var-topic", "autumn")
    page.click("[data-testid=run]")
    first = page.locator("[data-testid=result]").first
    first.locator("[data-testid=more-like-this]").wait_for()
    first.locator("[data-testid=more-like-this]").click()
    page.locator("[data-testid=result]").nth(1).wait_for()
    newest = page.locator("[data-testid=result]").first
    newest.get_by_text("Second take.").wait_for()
    assert newest.locator(".wa-result__label").is_visible()
    assert "More like this" in newest.locator(".wa-result__label").text_content()
    assert fake_openai.requests[-1].json["temperature"] == 0.9
    shot(page, "webapp-completion-more-like-this")

    # Stop keeps what was generated so far.
    page.click("[data-testid=run]")
    page.locator("[data-testid=result]").first.get_by_text("word3").wait_for()
    page.click("[data-testid=stop]")
    page.locator("[data-testid=run]").wait_for()
    stopped = page.locator("[data-testid=result]").first
    assert "Stopped." in stopped.inner_text() and "word399" not in stopped.inner_text()
    shot(page, "webapp-completion-stopped")
    context.close()


@pytest.mark.worker
@pytest.mark.redis
def test_batch_from_a_three_row_csv(live_async_url, browser, world_tx, fake_openai, redis_url, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811, E501
    """WEB-09: template → 3-row CSV → 3 results watched live → exported CSV with 3 rows."""
    web = build_web_setup(world_tx, fake_openai)
    fake_openai.responder = _responder
    context, page = _page(browser, live_async_url)
    page.goto(f"{live_async_url}/completion/{web.completion_code}")
    page.click("[data-testid=tab-batch]")
    with page.expect_download() as template:
        page.click("[data-testid=download-template]")
    header = Path(template.value.path()).read_bytes()
    assert header.decode("utf-8-sig").strip() == "Topic"
    shot(page, "webapp-completion-batch")

    upload = tmp_path / "topics.csv"
    upload.write_bytes(header + "the sea\nthe hills\nどこかの森\n".encode())
    page.set_input_files("[data-testid=batch-file]", str(upload))
    page.click("[data-testid=run-batch]")
    page.locator("[data-testid=batch-row]").nth(2).wait_for()
    # Queued while no worker runs: the rows wait, and the page keeps polling.
    assert page.locator("[data-testid=batch-row][data-status=pending]").count() == 3
    page.evaluate("window.__stillHere = true")
    shot(page, "webapp-completion-batch-queued")
    worker = _start_worker(tmp_path, {"REDIS_URL": redis_url})
    try:
        page.locator("[data-testid=download-results]").wait_for(timeout=90_000)
    finally:
        output = _stop(worker, tmp_path)
    assert page.evaluate("window.__stillHere") is True, output  # no reload: the rows were polled
    assert page.locator("[data-testid=batch-row][data-status=succeeded]").count() == 3
    assert "3 / 3" in page.inner_text("[data-testid=batch-progress]")
    assert "A text about どこかの森" in page.inner_text("[data-testid=batch]")
    shot(page, "webapp-completion-batch-done")

    with page.expect_download() as results:
        page.click("[data-testid=download-results]")
    rows = list(csv.reader(io.StringIO(Path(results.value.path()).read_bytes().decode("utf-8-sig"))))
    assert rows[0] == ["Topic", "Output", "Status", "Error"]
    assert rows[1:] == [
        ["the sea", "A text about the sea", "succeeded", ""],
        ["the hills", "A text about the hills", "succeeded", ""],
        ["どこかの森", "A text about どこかの森", "succeeded", ""],
    ]
    with schema_context("ws_alpha"):
        assert CompletionBatch.objects.get().status == "finished"
    context.close()


def test_phone_layout_in_the_sites_language(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    web = build_web_setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        services.site_update(site=Site.objects.get(app=web.completion), default_language="ja", show_prompt=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_url}/completion/{web.completion_code}")
    assert page.get_attribute("html", "lang") == "ja"
    assert page.inner_text("[data-testid=tab-once]") == "1 回実行"
    assert "Write about {{topic}}." in page.text_content(".wa-prompt pre")  # "show the prompt" is on
    page.click("[data-testid=run]")
    assert "Topic" in page.inner_text("[data-testid=variables-form] [role=alert]")
    shot(page, "webapp-completion-phone-ja")
    page.click("[data-testid=tab-batch]")
    assert "テンプレートをダウンロード" in page.inner_text("[data-testid=download-template]")
    # The form and the results stack on a phone: nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "webapp-completion-phone-ja-batch")
    context.close()
