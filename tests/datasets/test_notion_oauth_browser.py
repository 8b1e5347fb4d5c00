"""Connect with Notion in a real browser against Daphne: the owner presses the button in Settings →
Data sources, lands on (fake) Notion's consent page, cancels once (nothing connected), then allows
access and comes back connected; the shared page is then offered by the import picker."""

import pytest
from django_tenants.utils import schema_context

from apps.datasets.models import NotionConnection
from tests.browser import shot
from tests.datasets.test_notion_browser import open_data_sources
from tests.datasets.test_notion_oauth import CLIENT_ID, CLIENT_SECRET, oauth_notion  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def oauth_env(oauth_notion, monkeypatch):  # type: ignore[no-untyped-def]  # noqa: F811
    """Daphne (started after this) reads the Notion settings from its environment."""
    monkeypatch.setenv("NOTION_API_BASE", oauth_notion.base_url)
    monkeypatch.setenv("NOTION_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("NOTION_CLIENT_SECRET", CLIENT_SECRET)
    return oauth_notion


def test_connect_with_notion_in_the_browser(oauth_env, live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    page, dataset = open_data_sources(live_url, browser, world_tx)
    assert page.get_attribute("[data-notion]", "data-notion") == "not-connected"
    shot(page, "notion-oauth-button")
    page.click("[data-testid=notion-oauth] button[type=submit]")
    page.wait_for_selector("#allow")
    assert page.url.startswith(oauth_env.base_url + "/v1/oauth/authorize?")
    page.click("#cancel")
    page.wait_for_selector("[data-notion=not-connected]")
    assert "Notion access was not granted" in page.inner_text("main")

    page.click("[data-testid=notion-oauth] button[type=submit]")
    page.click("#allow")
    page.wait_for_selector("[data-notion=connected]")
    assert page.url.endswith("/console/alpha/settings/data-sources/")
    assert "Notion is connected." in page.inner_text("main") and "Reconnect with Notion" in page.inner_text("main")
    shot(page, "notion-oauth-connected")
    with schema_context(world_tx.alpha.schema_name):
        assert NotionConnection.objects.get().bot_name == "Tessera Public"
    with schema_context(world_tx.beta.schema_name):
        assert not NotionConnection.objects.exists()

    page.goto(f"{live_url}/console/alpha/datasets/{dataset.pk}/documents/notion/")
    page.wait_for_selector("#notion-pages")
    assert "Shared handbook" in page.inner_text("#notion-pages")
