"""Notion in a real browser against Daphne (tasks run eagerly in the request, as the test settings
do): an owner connects Notion from Settings → Data sources, an import picks pages from the fake
Notion server, the documents are indexed, and Sync brings a changed page's text in."""

import re

import pytest
from django_tenants.utils import schema_context

from apps.datasets.models import Dataset
from tests.browser import log_in, shot
from tests.datasets.test_notion import TOKEN, _block, fake_notion  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def notion_env(fake_notion, monkeypatch):  # type: ignore[no-untyped-def]  # noqa: F811
    """Daphne (started after this) reads NOTION_API_BASE from its environment."""
    monkeypatch.setenv("NOTION_API_BASE", fake_notion.base_url)
    return fake_notion


def open_data_sources(live_url, browser, world):  # type: ignore[no-untyped-def]
    """A shared economy dataset to import into, and the owner's page on Settings → Data sources,
    reached through the navigation."""
    with schema_context(world.alpha.schema_name):
        dataset = Dataset.objects.create(name="Team wiki", indexing_technique="economy",
                                         permission="all_team_members", created_by_id=world.owner.user_id)
    page = browser.new_context().new_page()
    log_in(page, live_url, "olivia@alpha.test")
    page.click("nav a[href='/console/alpha/settings/data-sources/']")
    return page, dataset


def test_connect_import_and_sync_in_the_browser(notion_env, live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    page, dataset = open_data_sources(live_url, browser, world_tx)
    page.fill("#notion-token", "secret_not_valid")
    page.click("#notion-form button[type=submit]")
    assert "Notion refused the integration token" in page.inner_text("[role=alert]")
    page.fill("#notion-token", TOKEN)
    page.click("#notion-form button[type=submit]")
    page.wait_for_selector("[data-notion=connected]")
    assert "Alpha Notion space" in page.inner_text("main")
    shot(page, "notion-data-sources")

    page.goto(f"{live_url}/console/alpha/datasets/{dataset.pk}/documents/")
    page.click("text=Import from Notion")
    page.wait_for_selector("#notion-pages")
    assert "Beta secrets" not in page.inner_text("#notion-pages")
    page.check("input[value=page-guide]")
    page.check("input[value=page-faq]")
    shot(page, "notion-import")
    page.click("#notion-import-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/datasets/{dataset.pk}/documents/$"))
    guide_row = page.locator("tr", has_text="Onboarding guide")
    assert guide_row.get_attribute("data-status") == "completed"
    assert "Notion" in guide_row.inner_text()

    notion_env.pages["page-guide"]["last_edited_time"] = "2026-11-09T12:00:00.000Z"
    notion_env.blocks["page-guide"] = [_block("g1", "paragraph", "Badges now come by post.")]
    guide_row.locator("[data-action=notion-sync]").click()
    page.wait_for_url(re.compile(rf".*/datasets/{dataset.pk}/documents/$"))
    page.locator("tr", has_text="Onboarding guide").locator("a").first.click()
    assert "Badges now come by post." in page.inner_text("main")
    assert "front desk" not in page.inner_text("main")
    shot(page, "notion-synced-document")
