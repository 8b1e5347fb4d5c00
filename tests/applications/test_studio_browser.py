"""The Studio in a real browser (Debian's Chromium via Playwright) against Daphne: the owner creates an
app from a template, opens API access, creates a key and sees it once."""

import re
from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from apps.applications.models import ApiKey, App
from apps.workspaces.models import hash_secret
from tests.browser import SHOTS
from tests.workspaces.test_console_browser import _login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_apps(world_tx) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with schema_context(world_tx.alpha.schema_name):
        App.objects.all().delete()
    yield


def test_owner_creates_an_app_from_a_template_and_a_key(live_url, browser, world_tx, no_apps) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _login(page, live_url, "olivia@alpha.test")

    # Studio, from the navigation: empty, then "Create app".
    page.click("nav a:has-text('Studio')")
    page.wait_for_url(re.compile(r".*/console/alpha/apps/$"))
    assert page.get_attribute("nav a[aria-current=page]", "href") == "/console/alpha/apps/"
    page.click(".page-header a:has-text('Create app')")
    page.wait_for_url(re.compile(r".*/console/alpha/apps/new/$"))

    # Picking the Translator template fills in its type, name, icon and description.
    page.click("label.choice:has-text('Translator')")
    assert page.is_checked("input[name=mode][value=completion]")
    assert page.input_value("input[name=name]") == "Translator"
    assert page.is_checked("input[name=icon][value='🌐']")
    page.fill("input[name=name]", "Docs translator")
    page.screenshot(path=str(SHOTS / "studio-create.png"), full_page=True)
    page.click("form button[type=submit]:has-text('Create app')")
    page.wait_for_url(re.compile(r".*/console/alpha/apps/[0-9a-f-]{36}/$"))
    assert page.inner_text("h1.app-header__name") == "Docs translator"
    assert "Text generator" in page.inner_text(".app-header")
    with schema_context(world_tx.alpha.schema_name):
        app = App.objects.get()
    assert app.mode == "completion" and "{{target_language}}" in app.draft_config["pre_prompt"]

    # The Studio lists it; the live search finds it and hides it again.
    page.click("nav a:has-text('Studio')")
    page.wait_for_selector("text=Docs translator")
    page.fill("input[name=q]", "nothing")
    page.wait_for_selector("text=No app matches this search.")
    page.fill("input[name=q]", "docs")
    page.wait_for_selector(".app-card:has-text('Docs translator')")
    page.screenshot(path=str(SHOTS / "studio.png"), full_page=True)

    # API access: create a key, shown once with a warning, in a copy field.
    page.click(".app-card a.app-card__name")
    page.click(".tabs a:has-text('API access')")
    page.wait_for_url(re.compile(r".*/apps/[0-9a-f-]{36}/api/$"))
    assert "&quot;target_language&quot;" in page.content() or "\"target_language\"" in page.inner_text("pre >> nth=0")
    page.click("button:has-text('Create key')")
    page.wait_for_selector("#new-api-key")
    raw = page.input_value("#new-api-key")
    assert raw.startswith("app-") and "only time it is shown" in page.inner_text(".secret-callout")
    with schema_context(world_tx.alpha.schema_name):
        key = ApiKey.objects.get(app=app)
    assert key.key_hash == hash_secret(raw)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "studio-api-key.png"), full_page=True)

    # Never again: reloading the API page shows the prefix only.
    page.click(".tabs a:has-text('API access')")
    page.wait_for_selector(f"code:text-is('{key.prefix}…')")
    assert page.locator("#new-api-key").count() == 0 and raw not in page.content()

    # The overview, for the design check.
    page.click(".tabs a:has-text('Overview')")
    page.wait_for_selector("#access")
    page.screenshot(path=str(SHOTS / "studio-overview.png"), full_page=True)
