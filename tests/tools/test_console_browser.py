"""The Tools page in a real browser (Debian's Chromium via Playwright) against Daphne: reached from
the navigation, Google authorised against the fake SerpApi over HTTP, the key shown masked."""

import re

import pytest
from django_tenants.utils import tenant_context

from apps.tools import services
from tests.browser import log_in, shot
from tests.tools.fakes import SERPAPI_KEY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tool_env(monkeypatch, search_server):  # type: ignore[no-untyped-def]
    """Daphne's own settings (it runs in its own process): loopback allowed, SerpApi is the fake."""
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("TOOL_SERPAPI_BASE_URL", search_server.url)


def test_owner_authorises_google_from_the_tools_page(tool_env, live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(page, live_url, "olivia@alpha.test")
    page.click("nav a:has-text('Tools')")
    page.wait_for_url(re.compile(r".*/console/alpha/tools/$"))
    assert page.get_attribute("nav a[aria-current=page]", "href") == "/console/alpha/tools/"
    card = page.locator("#tool-google")
    assert card.locator(".badge:has-text('Not authorised')").count() == 1

    card.locator("input[name=serpapi_api_key]").fill("wrong-key")
    card.locator("button:has-text('Authorise')").click()
    page.wait_for_load_state()
    assert "Invalid API key" in page.locator(".content").inner_text()

    page.locator("#tool-google input[name=serpapi_api_key]").fill(SERPAPI_KEY)
    page.locator("#tool-google button:has-text('Authorise')").click()
    page.wait_for_load_state()
    card = page.locator("#tool-google")
    assert card.locator(".badge:has-text('Authorised')").count() == 1
    shown = card.locator("input[name=serpapi_api_key]").input_value()
    assert shown != SERPAPI_KEY and shown.endswith(SERPAPI_KEY[-4:]) and SERPAPI_KEY not in page.content()
    shot(page, "tools-authorised")
    with tenant_context(world_tx.alpha):
        assert services.builtin_credentials("google") == {"serpapi_api_key": SERPAPI_KEY}
