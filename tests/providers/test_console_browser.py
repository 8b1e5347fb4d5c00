"""Settings → Model providers in a real browser (Debian's Chromium via Playwright) against Daphne,
validating against the fake OpenAI server over HTTP."""

import re
from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from apps.providers import crypto
from apps.providers.models import DefaultModel, ModelPrice, ProviderCredential
from tests.browser import SHOTS
from tests.fakes.base import Hang
from tests.workspaces.test_console_browser import _login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEY = "sk-local-5e7a1c9d3b2f4a60"
LABELS = ("OpenAI", "Anthropic", "Cohere", "Azure OpenAI", "OpenAI-API-compatible", "Built-in embeddings")


def _clear(world) -> None:  # type: ignore[no-untyped-def]
    for workspace in (world.alpha, world.beta):
        with schema_context(workspace.schema_name):
            for model in (ProviderCredential, DefaultModel, ModelPrice):
                model.objects.all().delete()


@pytest.fixture
def clean_providers(world_tx) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Workspace schemas survive the flush of a transactional test: leave their provider tables empty."""
    _clear(world_tx)
    yield
    _clear(world_tx)


def test_owner_adds_an_openai_compatible_model_and_makes_it_the_default(  # type: ignore[no-untyped-def]
        live_url, browser, world_tx, fake_openai, clean_providers) -> None:
    fake_openai.valid_keys = frozenset({KEY})
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _login(page, live_url, "olivia@alpha.test")

    # Settings → Model providers, from the navigation.
    page.click("nav a:has-text('Model providers')")
    page.wait_for_url(re.compile(r".*/console/alpha/settings/providers/$"))
    assert page.get_attribute("nav a[aria-current=page]", "href") == "/console/alpha/settings/providers/"
    for label in LABELS:
        assert page.locator(f"h3.card__title:text-is('{label}')").count() == 1, label
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "providers.png"), full_page=True)

    # Add a model on the OpenAI-API-compatible card.
    page.click("#provider-openai_api_compatible a:has-text('Add model')")
    page.wait_for_url(re.compile(r".*/settings/providers/openai_api_compatible/new/$"))
    page.fill("input[name=display_name]", "Llama 3 (local)")
    page.fill("input[name=base_url]", fake_openai.base_url)
    page.fill("input[name=model]", "llama3:8b")
    page.fill("input[name=api_key]", "sk-wrong-key-000000000000")
    page.select_option("select[name=model_type]", "llm")
    page.fill("input[name=context_length]", "8192")

    # A wrong key: the provider's own message, swapped in by htmx; the non-secret values stay.
    page.click("button:has-text('Validate & save')")
    page.wait_for_selector("#credential-form .alert--error")
    assert "Validation failed: Incorrect API key provided" in page.inner_text("#credential-form")
    assert page.input_value("input[name=model]") == "llama3:8b"
    assert page.input_value("input[name=api_key]") == ""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "providers-credential-error.png"), full_page=True)
    with schema_context(world_tx.alpha.schema_name):
        assert not ProviderCredential.objects.exists()

    # The right key: a slow provider shows the progress indicator and disables the button meanwhile;
    # then saved, back on the providers page with the entry listed.
    fake_openai.script("chat", Hang(1.5))
    page.fill("input[name=api_key]", KEY)
    page.click("button:has-text('Validate & save')")
    page.wait_for_selector("#credential-progress.htmx-request", timeout=1400)
    assert page.is_disabled("#credential-form button[type=submit]")
    assert page.is_visible("text=Checking the credentials with OpenAI-API-compatible…")
    page.wait_for_url(re.compile(r".*/console/alpha/settings/providers/(#.*)?$"))
    page.wait_for_selector("text=Llama 3 (local) was validated and saved.")
    card = page.locator("#provider-openai_api_compatible")
    assert "llama3:8b" in card.inner_text()
    assert crypto.mask(KEY) in card.inner_text()
    assert KEY not in page.content()
    with schema_context(world_tx.alpha.schema_name):
        entry = ProviderCredential.objects.get(provider="openai_api_compatible")
        assert crypto.decrypt(world_tx.alpha.schema_name, entry.secret_config)["api_key"] == KEY

    # Make it the default LLM.
    page.select_option("select[name=llm]", "openai_api_compatible:llama3:8b")
    page.click("#defaults button[type=submit]")
    page.wait_for_selector("text=Default models saved.")
    assert page.input_value("select[name=llm]") == "openai_api_compatible:llama3:8b"
    assert page.locator("select[name=llm] option:checked").inner_text() == "Llama 3 (local)"
    with schema_context(world_tx.alpha.schema_name):
        default = DefaultModel.objects.get(model_type="llm")
        assert (default.provider, default.model) == ("openai_api_compatible", "llama3:8b")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "providers-configured.png"), full_page=True)

    # The prices page lists the new model.
    page.click("a:has-text('Prices')")
    page.wait_for_url(re.compile(r".*/settings/providers/prices/$"))
    assert page.locator("code:text-is('llama3:8b')").count() == 1
    assert page.get_attribute("nav a[aria-current=page]", "href") == "/console/alpha/settings/providers/"
    page.locator("tbody:has(code:text-is('llama3:8b')) button:has-text('Edit')").click()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "providers-prices.png"), full_page=True)
