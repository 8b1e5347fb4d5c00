"""The console in a real browser (Debian's Chromium via Playwright) against Daphne."""

import re

import pytest

from apps.workspaces.models import Invitation, Membership
from tests.browser import SHOTS
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/alpha/$"))


def test_owner_signs_in_invites_and_the_invitee_joins(live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    owner = browser.new_context()
    page = owner.new_page()
    _login(page, live_url, "olivia@alpha.test")
    assert "Alpha" in page.inner_text("body")
    page.screenshot(path=str(SHOTS / "console-home.png"), full_page=True)

    # The navigation leads to the members page.
    page.click("nav a[href='/console/alpha/settings/members/']")
    page.wait_for_url(re.compile(r".*/settings/members/$"))
    assert "edith@alpha.test" in page.inner_text("body")

    # Invite an editor; the copyable link appears on the page.
    page.fill("input[name=email]", "pat@alpha.test")
    page.select_option("select[name=role]", "editor")
    page.click("form:has(input[name=email]) button[type=submit]")
    page.wait_for_selector("text=pat@alpha.test")
    page.screenshot(path=str(SHOTS / "console-members.png"), full_page=True)
    link = re.search(r"http://[^\s\"']+/invite/[^\s\"'/]+/", page.content()).group(0)
    assert Invitation.objects.get(email="pat@alpha.test").role == "editor"

    # The invitee opens the link in another browser, sets a password and lands in the workspace.
    invitee = browser.new_context().new_page()
    invitee.goto(link.replace("http://localhost:8000", live_url))
    invitee.fill("input[name=password1]", PASSWORD)
    invitee.fill("input[name=password2]", PASSWORD)
    invitee.click("form button[type=submit]")
    invitee.wait_for_url(re.compile(r".*/console/alpha/$"))
    assert Membership.objects.get(user__email="pat@alpha.test").role == "editor"

    # The owner switches the console to Japanese.
    with page.expect_navigation():
        page.select_option("select[name=language]", "ja")
    assert page.get_attribute("html", "lang") == "ja"
    assert "メンバー" in page.inner_text("body")
    page.screenshot(path=str(SHOTS / "console-members-ja.png"), full_page=True)


def test_wrong_password_shows_an_error(live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_context().new_page()
    page.goto(f"{live_url}/accounts/login/")
    page.fill("input[name=login]", "olivia@alpha.test")
    page.fill("input[name=password]", "not-the-password")
    page.click("form button[type=submit]")
    page.wait_for_selector(".alert--error, .field__error")
    assert "/accounts/login/" in page.url


def test_outsider_gets_the_404_page(live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_context().new_page()
    page.goto(f"{live_url}/accounts/login/")
    page.fill("input[name=login]", "bruno@beta.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/beta/$"))
    response = page.goto(f"{live_url}/console/alpha/settings/members/")
    assert response.status == 404
    assert "edith@alpha.test" not in page.inner_text("body")
