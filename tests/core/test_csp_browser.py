"""Console and WebApp pages under the Content-Security-Policy in a real browser (Chromium via
Playwright, against Daphne): nothing is refused by the policy, Alpine (its CSP build) reports no
expression error, and the components that replaced inline scripts and handlers work."""

import re

import pytest
from django_tenants.utils import schema_context

from apps.applications import services
from apps.applications.models import App
from tests.browser import alpine_ready
from tests.webapp.conftest import build_web_setup
from tests.workspaces.test_console_browser import _login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Chromium reports a violation both as a console error and as a securitypolicyviolation event.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || "")));
"""


def _watch(page) -> list[str]:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    return problems


def _visit(page, url: str, problems: list[str]) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.wait_for_load_state("networkidle")
    alpine_ready(page)
    violations = page.evaluate("window.__csp")
    assert violations == [], (url, violations)
    assert problems == [], (url, problems)


def test_console_pages_load_without_csp_violations(live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world_tx.alpha.schema_name):
        App.objects.all().delete()
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    problems = _watch(page)
    _login(page, live_url, "olivia@alpha.test")
    console = f"{live_url}/console/alpha"
    for path in ("/", "/apps/", "/settings/members/", "/settings/providers/", "/datasets/"):
        _visit(page, console + path, problems)

    # Create app (its Alpine component replaced an inline object with methods): a template fills the form.
    _visit(page, f"{console}/apps/new/", problems)
    page.click("label.choice:has-text('Translator')")
    assert page.input_value("input[name=name]") == "Translator"
    assert page.is_checked("input[name=mode][value=completion]")
    page.click("label.choice:has-text('Blank app')")
    assert page.input_value("input[name=name]") == ""

    with schema_context(world_tx.alpha.schema_name):
        app = services.app_create(name="Helpdesk", mode="chat", actor_id=world_tx.owner.user_id)
    base = f"{console}/apps/{app.pk}"
    for path in ("/", "/orchestrate/", "/logs/"):
        _visit(page, base + path, problems)

    # The WebApp page: the Embed dialog opens from a data attribute, and its snippet follows the options.
    _visit(page, f"{base}/webapp/", problems)
    page.click("[data-testid=embed-open]")
    assert page.is_visible("[data-testid=embed-dialog]")
    page.select_option("[data-testid=embed-position]", "left")
    assert 'data-position="left"' in page.input_value("[data-testid=embed-script]")
    page.click("[data-testid=embed-copy-script]")
    page.wait_for_selector("[data-testid=embed-copy-script] >> text=Copied")
    page.click("#embed-dialog [data-close-dialog]")
    assert not page.is_visible("[data-testid=embed-dialog]")

    # The members page: a confirm() before a removal (a data attribute, not an inline handler).
    _visit(page, f"{console}/settings/members/", problems)
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("form[data-confirm] button[type=submit] >> nth=0")
    assert asked and asked[0].startswith("Remove ")
    assert re.search(r"/settings/members/$", page.url)  # dismissed: nothing was submitted
    assert page.evaluate("window.__csp") == [] and problems == []


def test_webapp_chat_loads_without_csp_violations(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    code = build_web_setup(world_tx, fake_openai).chat_code
    page = browser.new_context().new_page()
    problems = _watch(page)
    _visit(page, f"{live_url}/chat/{code}", problems)
    # The language select submits itself (a data attribute, not an inline handler).
    with page.expect_navigation():
        page.select_option("#wa-lang", "ja")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert page.evaluate("window.__csp") == [] and problems == []
