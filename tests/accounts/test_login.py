"""Email + password login, logout, throttling, password reset by email, profile language."""

import re

import pytest
from django.core import mail
from django.core.cache import cache

from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_throttles():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


def test_login_with_email_and_password(world, client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/accounts/login/", {"login": "olivia@alpha.test", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/console/alpha/").status_code == 200


def test_wrong_password_is_rejected(world, client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/accounts/login/", {"login": "olivia@alpha.test", "password": "nope-nope-nope"})
    assert response.status_code == 200
    assert client.get("/console/alpha/").status_code == 302


def test_logout_is_a_post(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/console/alpha/").status_code == 302


def test_login_is_throttled_after_repeated_failures(world, client) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        client.post("/accounts/login/", {"login": "olivia@alpha.test", "password": "wrong-password"})
    # Even the right password is refused while the account is throttled.
    response = client.post("/accounts/login/", {"login": "olivia@alpha.test", "password": PASSWORD})
    assert response.status_code in (200, 429)
    assert "too many" in response.content.decode().lower()
    assert client.get("/console/alpha/").status_code == 302


def test_password_reset_by_email(world, client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/accounts/password/reset/", {"email": "noor@alpha.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^\s]+/accounts/password/reset/key/[^\s]+", mail.outbox[0].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form_page = client.get("/" + path, follow=True)
    assert form_page.status_code == 200
    new_password = "Brand-New-Secret-77"
    done = client.post(form_page.redirect_chain[-1][0] if form_page.redirect_chain else "/" + path,
                       {"password1": new_password, "password2": new_password})
    assert done.status_code == 302
    client.logout()
    assert client.post("/accounts/login/", {"login": "noor@alpha.test", "password": new_password}).status_code == 302


def test_profile_language_switches_the_console(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    assert client.post("/accounts/profile/", {"name": "Olivia", "language": "ja"}).status_code == 302
    page = client.get("/console/alpha/settings/members/").content.decode()
    assert 'lang="ja"' in page


def test_language_switcher_sets_chinese(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/console/alpha/"})
    page = client.get("/console/alpha/").content.decode()
    assert 'lang="zh-hans"' in page
    assert "成员" in page  # "Members" in the navigation
