"""Orchestrate in a real browser: edit the prompt, preview a streamed answer, publish."""

import re

import pytest
from django_tenants.utils import schema_context

from apps.applications.models import App
from tests.applications.test_orchestrate import _setup
from tests.browser import SHOTS
from tests.conftest import PASSWORD
from tests.fakes.base import Reply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_edit_preview_and_publish(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world_tx, fake_openai)
    fake_openai.script("chat", Reply("Arr! Here is <script>alert(1)</script>\nNew line.", chunk_size=4))
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live_url}/accounts/login/")
    page.fill("input[name=login]", "edith@alpha.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/alpha/.*"))

    page.goto(f"{live_url}/console/alpha/apps/{app.pk}/orchestrate/")
    page.fill("#pre-prompt", "You are a pirate. Greet {{crew}}.")
    # Typing an undeclared {{crew}} offers to add it as a variable.
    page.click("button:has-text('Add as variable')")
    page.fill("#in-crew", "Jack")

    # Preview: the unsaved edit is saved as the draft, then the answer streams into the panel.
    page.fill("#debug-query", "Hello")
    page.click(".orch-composer button[type=submit]")
    answer = page.locator(".orch-turn--assistant [data-testid=bubble]").last
    answer.filter(has_text="New line.").wait_for()
    text = answer.inner_text()
    assert "<script>alert(1)</script>" in text and "\nNew line." in text  # shown as text, lines kept
    assert page.locator("[data-testid=thread] script").count() == 0 and not dialogs
    page.click("button:has-text('Prompt log')")
    log = page.locator("[data-testid=prompt-log]").last.inner_text()
    assert "You are a pirate. Greet Jack." in log
    assert fake_openai.requests[-1].json["messages"][0]["content"] == "You are a pirate. Greet Jack."
    page.screenshot(path=str(SHOTS / "orchestrate-preview.png"), full_page=True)

    with schema_context("ws_alpha"):
        current = App.objects.select_related("published").get(pk=app.pk)
        assert current.draft_config["pre_prompt"] == "You are a pirate. Greet {{crew}}."
        assert current.live_config["pre_prompt"] == "Be brief."

    # Publish: the live config changes and the page says which version is live.
    with page.expect_navigation():
        page.click("button:has-text('Publish')")
    assert "Published v2" in page.inner_text("body")
    with schema_context("ws_alpha"):
        current = App.objects.select_related("published").get(pk=app.pk)
        assert current.published.number == 2
        assert current.live_config["pre_prompt"] == "You are a pirate. Greet {{crew}}."
        assert current.live_config["user_input_form"][0]["text-input"]["variable"] == "crew"
    page.screenshot(path=str(SHOTS / "orchestrate-published.png"), full_page=True)
