"""KN-32 in a real browser against Daphne: with NOTION_INTEGRATION_TYPE=public an owner sees only
"Connect with Notion" on Settings → Data sources, no token form; with internal, only the token form,
and posting to the OAuth start anyway brings them back with the reason."""

import pytest

from tests.browser import log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SOURCES = "/console/alpha/settings/data-sources/"


@pytest.fixture
def public(monkeypatch):  # type: ignore[no-untyped-def]
    """Daphne (started after this) reads the Notion settings from its environment."""
    monkeypatch.setenv("NOTION_INTEGRATION_TYPE", "public")
    monkeypatch.setenv("NOTION_CLIENT_ID", "tessera-public-client")
    monkeypatch.setenv("NOTION_CLIENT_SECRET", "tessera-public-secret")


@pytest.fixture
def internal(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NOTION_INTEGRATION_TYPE", "internal")
    monkeypatch.setenv("NOTION_CLIENT_ID", "tessera-public-client")  # set, but not the chosen way
    monkeypatch.setenv("NOTION_CLIENT_SECRET", "tessera-public-secret")


def test_public_shows_only_connect_with_notion(public, live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_context().new_page()
    log_in(page, live_url, "olivia@alpha.test")
    page.click(f"nav a[href='{SOURCES}']")
    page.wait_for_selector("[data-testid=notion-oauth] button")
    assert "Connect with Notion" in page.inner_text("[data-testid=notion-oauth]")
    assert page.locator("#notion-token").count() == 0
    shot(page, "notion-data-sources-public")


def test_internal_shows_only_the_token_form(internal, live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_context().new_page()
    log_in(page, live_url, "olivia@alpha.test")
    page.click(f"nav a[href='{SOURCES}']")
    page.wait_for_selector("#notion-token")
    assert page.locator("[data-testid=notion-oauth]").count() == 0
    # A crafted post to the OAuth start (the button is not there) comes back with the reason.
    page.evaluate("""() => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = "notion/connect/";
        const token = document.querySelector("#notion-form input[name=csrfmiddlewaretoken]").cloneNode();
        form.appendChild(token);
        document.body.appendChild(form);
        form.submit();
    }""")
    page.wait_for_selector(".flash-stack .alert--error >> text=internal integration token")
    assert page.url.endswith(SOURCES)
    shot(page, "notion-data-sources-internal")
