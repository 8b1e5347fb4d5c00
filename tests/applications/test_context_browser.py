"""Orchestrate → Context in a real browser: attach two knowledge bases, preview a turn, and see the
citations (retriever_resources of message_end) under the answer, with the context in the prompt log."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.applications.models import App
from apps.datasets import context
from tests.applications.test_orchestrate import _setup
from tests.applications.test_orchestrate_browser import _login
from tests.browser import SHOTS
from tests.datasets.conftest import add_text, make_dataset
from tests.fakes.base import Reply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RULE = {
    "mode": "custom",
    "rules": {
        "pre_processing_rules": [],
        "segmentation": {"separator": "\n\n", "max_tokens": 100, "chunk_overlap": 0},
    },
}


def _datasets(world):  # type: ignore[no-untyped-def]
    try:
        with schema_context("ws_alpha"):
            pets = make_dataset(world, name="Pets", permission="all_team_members")
            add_text(
                world,
                pets,
                "Our office cat is called Miso.\n\nThe office dog is called Rex.",
                name="pets.txt",
                process_rule=RULE,
            )
            hr = make_dataset(world, name="HR", permission="all_team_members")
            add_text(world, hr, "Employees get 25 days of paid leave.", name="leave.txt", process_rule=RULE)
        return pets, hr
    finally:
        connection.close()


def open_context(browser, live_url: str, app: App, *datasets):  # type: ignore[no-untyped-def]
    """Edith's orchestrate page of `app` with `datasets` ticked in the Context card."""
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    _login(page, live_url)
    page.goto(f"{live_url}/console/alpha/apps/{app.pk}/orchestrate/")
    card = page.locator("[data-testid=context-card]")
    for dataset in datasets:
        card.locator(f"#ctx-{dataset.pk}").check()
    return page


def test_attach_knowledge_and_see_citations_in_the_preview(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world_tx, fake_openai)
    # Indexing embeds through async_to_sync, which cannot run beside Playwright's event loop here.
    with ThreadPoolExecutor(1) as pool:
        pets, hr = pool.submit(_datasets, world_tx).result()
    fake_openai.script("chat", Reply("The cat is Miso."))
    page = open_context(browser, live_url, app, pets, hr)
    card = page.locator("[data-testid=context-card]")
    page.locator("input[name=retriever_resource]").check(force=True)
    assert card.locator("#ctx-mode-multiple").is_checked()
    card.locator("#ctx-rerank").select_option("weighted_score")  # multi-path needs a rerank step (PR-06)

    page.fill("#debug-query", "What is the office cat called?")
    page.click(".orch-composer button[type=submit]")
    citations = page.locator("[data-testid=citations]").last
    citations.wait_for()
    assert "pets.txt" in citations.inner_text()
    citations.locator("summary").first.click()
    assert "Miso" in citations.inner_text()
    page.click("button:has-text('Prompt log')")
    assert "Our office cat is called Miso." in page.locator("[data-testid=prompt-log]").last.inner_text()
    page.screenshot(path=str(SHOTS / "orchestrate-context-citations.png"), full_page=True)
    with schema_context("ws_alpha"):
        draft = App.objects.get(pk=app.pk).draft_config
        assert context.dataset_ids(draft) == [str(pets.pk), str(hr.pk)]
        assert draft["retriever_resource"]["enabled"] is True


def test_the_chat_webapp_shows_the_citations(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from apps.applications import services as app_services

    _setup(world_tx, fake_openai)
    with ThreadPoolExecutor(1) as pool:
        pets, hr = pool.submit(_datasets, world_tx).result()
    with schema_context("ws_alpha"):
        app = app_services.app_create(
            name="Office bot",
            mode="chat",
            config={
                "model": App.objects.get(name="Helper").draft_config["model"],
                "retriever_resource": {"enabled": True},
                "dataset_configs": context.config_for(
                    [str(pets.pk), str(hr.pk)], mode="multiple", top_k=2, reranking_mode="weighted_score",
                    weights={"vector_setting": {"vector_weight": 0.7},
                             "keyword_setting": {"keyword_weight": 0.3}},
                ),
            },
        )
        app_services.app_publish(app=app)
        code = app_services.site_get_or_create(app=app).code
    fake_openai.script("chat", Reply("The cat is called Miso."))
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_url}/chat/{code}")
    page.fill("[data-testid=query]", "What is the office cat called?")
    page.click("[data-testid=send]")
    citations = page.locator("[data-testid=citations]").last
    citations.wait_for()
    citations.locator("summary").click()
    text = citations.inner_text()
    assert "pets.txt" in text and "Miso" in text
    page.screenshot(path=str(SHOTS / "webapp-context-citations.png"), full_page=True)
