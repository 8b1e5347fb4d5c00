"""WebApp foundation: sites and their public routes, the share pages, end-user cookies, rate limits,
and the console's WebApp page."""

import json

import pytest
from asgiref.sync import ThreadSensitiveContext
from django.core.cache import cache
from django.test import AsyncClient, Client
from django_tenants.utils import schema_context

from apps.applications import services
from apps.applications.models import App, Site
from apps.applications.webapp import identity
from apps.applications.webapp.ratelimit import check_rate_limit
from apps.core.errors import ServiceError
from apps.logs.models import Conversation, EndUser, Message, Source
from apps.workspaces.models import SiteRoute
from tests.conftest import client_for
from tests.fakes.base import Reply

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = {"X-Tessera-WebApp": "1"}


# --- Services ---------------------------------------------------------------------------------------

def test_new_app_gets_a_site_and_a_public_route(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        site = Site.objects.get(app=web.chat)
        assert site.title == "Helper" and len(site.code) == 16 and site.default_language == "en"
    route = SiteRoute.objects.get(code=site.code)
    assert (route.workspace_id, route.app_id) == (world_tx.alpha.pk, web.chat.pk)


def test_an_app_without_a_site_gets_one_on_first_use(web) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        Site.objects.filter(app=web.chat).delete()
        SiteRoute.objects.filter(app_id=web.chat.pk).delete()
        site = services.site_get_or_create(app=web.chat)
        assert services.site_get_or_create(app=web.chat).pk == site.pk
    assert SiteRoute.objects.filter(code=site.code, app_id=web.chat.pk).exists()


def test_regenerate_moves_the_route_and_the_old_code_stops_resolving(web) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        site = services.site_regenerate_code(site=Site.objects.get(app=web.chat))
    assert site.code != web.chat_code
    assert not SiteRoute.objects.filter(code=web.chat_code).exists()
    assert SiteRoute.objects.filter(code=site.code, app_id=web.chat.pk).exists()
    with pytest.raises(identity.SiteUnavailable):
        identity.resolve_site(web.chat_code)
    assert identity.resolve_site(site.code).app.pk == web.chat.pk


def test_deleting_the_app_removes_its_route(web) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        services.app_delete(app=App.objects.get(pk=web.chat.pk))
    assert not SiteRoute.objects.filter(code=web.chat_code).exists()
    assert SiteRoute.objects.filter(code=web.completion_code).exists()


def test_site_update_checks_fields_and_language(web) -> None:  # type: ignore[no-untyped-def]
    from django.core.exceptions import ValidationError

    with schema_context("ws_alpha"):
        site = Site.objects.get(app=web.chat)
        with pytest.raises(ValueError):
            services.site_update(site=site, code="mine")
        with pytest.raises(ValidationError):
            services.site_update(site=site, default_language="fr")
        services.site_update(site=site, title="Helpdesk", default_language="ja", copyright="© Alpha")
        site.refresh_from_db()
        assert (site.title, site.default_language, site.copyright) == ("Helpdesk", "ja", "© Alpha")


# --- Pages ------------------------------------------------------------------------------------------

def test_share_page_opens_without_login_and_sets_an_end_user_cookie(web) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    response = client.get(f"/chat/{web.chat_code}")
    assert response.status_code == 200
    assert "Helper" in response.content.decode()
    cookie = response.cookies[identity.cookie_name(web.chat)]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    with schema_context("ws_alpha"):
        assert EndUser.objects.filter(app=web.chat, type=EndUser.Type.BROWSER).count() == 1
    # The same browser comes back as the same end user: no new cookie, no new row.
    again = client.get(f"/chat/{web.chat_code}")
    assert identity.cookie_name(web.chat) not in again.cookies
    with schema_context("ws_alpha"):
        assert EndUser.objects.filter(app=web.chat, type=EndUser.Type.BROWSER).count() == 1


def test_unknown_disabled_or_wrong_mode_links_are_404(web) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    assert client.get("/chat/nope-not-a-code").status_code == 404
    assert client.get(f"/completion/{web.chat_code}").status_code == 404  # a chat app
    assert client.get(f"/chat/{web.completion_code}").status_code == 404  # a completion app
    assert client.get(f"/completion/{web.completion_code}").status_code == 200
    with schema_context("ws_alpha"):
        services.app_update(app=App.objects.get(pk=web.chat.pk), enable_site=False)
    response = client.get(f"/chat/{web.chat_code}")
    assert response.status_code == 404 and "not available" in response.content.decode()
    assert client.get(f"/webapp/{web.chat_code}/api/site").json()["code"] == "site_unavailable"


def test_regenerated_code_answers_404_and_the_new_one_works(web) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        new = services.site_regenerate_code(site=Site.objects.get(app=web.chat)).code
    client = Client()
    assert client.get(f"/chat/{web.chat_code}").status_code == 404
    assert client.get(f"/webapp/{web.chat_code}/api/site").status_code == 404
    assert client.get(f"/chat/{new}").status_code == 200


def test_page_uses_the_site_language_unless_the_visitor_chose_one(web) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        services.site_update(site=Site.objects.get(app=web.chat), default_language="ja")
    response = Client().get(f"/chat/{web.chat_code}", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "ja" and '<html lang="ja">' in response.content.decode()
    client = Client()
    client.cookies["django_language"] = "en"
    assert client.get(f"/chat/{web.chat_code}")["Content-Language"] == "en"


# --- Identity ---------------------------------------------------------------------------------------

def test_a_token_of_one_app_does_not_name_an_end_user_of_another(web) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        user, token = identity.end_user_for_token(web.chat, None)
        assert token and identity.end_user_for_token(web.chat, token) == (user, None)
        other, new_token = identity.end_user_for_token(web.completion, token)
        assert other.pk != user.pk and new_token
        forged, forged_token = identity.end_user_for_token(web.chat, token[:-2] + "xx")
        assert forged.pk != user.pk and forged_token


def test_end_user_from_a_channels_scope_cookie(web) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        user, token = identity.end_user_for_token(web.chat, None)
        scope = {"cookies": {identity.cookie_name(web.chat): token}}
        assert identity.end_user_for_scope(web.chat, scope) == (user, None)
        assert identity.end_user_for_scope(web.chat, {"cookies": {}}, token) == (user, None)


# --- Rate limits ------------------------------------------------------------------------------------

def test_rate_limit_per_end_user_and_per_ip(web, cache_backend) -> None:  # type: ignore[no-untyped-def]
    cache.clear()
    with schema_context("ws_alpha"):
        site = Site.objects.get(app=web.chat)
        services.site_update(site=site, rate_limit_per_user=2, rate_limit_per_ip=3)
    check_rate_limit(site=site, end_user_id="a", ip="10.0.0.1")
    check_rate_limit(site=site, end_user_id="a", ip="10.0.0.1")
    with pytest.raises(ServiceError) as refused:
        check_rate_limit(site=site, end_user_id="a", ip="10.0.0.1")
    assert refused.value.as_body()["code"] == "too_many_requests" and refused.value.status == 429
    # Another end user on the same address has its own count, but the address has a limit too.
    check_rate_limit(site=site, end_user_id="b", ip="10.0.0.1")
    with pytest.raises(ServiceError) as refused:
        check_rate_limit(site=site, end_user_id="b", ip="10.0.0.1")
    assert "per IP address" in refused.value.message
    check_rate_limit(site=site, end_user_id="c", ip="10.0.0.2")
    with schema_context("ws_alpha"):
        services.site_update(site=site, rate_limit_per_user=0, rate_limit_per_ip=0)
    for _ in range(5):
        check_rate_limit(site=site, end_user_id="a", ip="10.0.0.1")


@pytest.mark.asyncio
async def test_chat_messages_answer_429_beyond_the_limit(web, fake_openai, cache_backend) -> None:  # type: ignore[no-untyped-def]
    from asgiref.sync import sync_to_async

    await sync_to_async(cache.clear)()

    def limit() -> None:
        with schema_context("ws_alpha"):
            services.site_update(site=Site.objects.get(app=web.chat), rate_limit_per_user=1)

    await sync_to_async(limit)()
    fake_openai.script("chat", Reply("Hi"), Reply("Hi again"))
    client = AsyncClient()
    body = json.dumps({"inputs": {"name": "Ada"}, "query": "Hello", "response_mode": "blocking"})
    async with ThreadSensitiveContext():
        first = await client.post(f"/webapp/{web.chat_code}/api/chat-messages", data=body,
                                  content_type="application/json", headers=HEADERS)
    assert first.status_code == 200, first.content
    async with ThreadSensitiveContext():
        second = await client.post(f"/webapp/{web.chat_code}/api/chat-messages", data=body,
                                   content_type="application/json", headers=HEADERS)
    assert second.status_code == 429
    assert second.json()["code"] == "too_many_requests" and second.json()["status"] == 429


# --- Console ----------------------------------------------------------------------------------------

def test_console_webapp_page_saves_settings_and_regenerates(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world_tx.editor.user)
    url = f"/console/alpha/apps/{web.chat.pk}/webapp/"
    page = client.get(url)
    assert page.status_code == 200 and f"/chat/{web.chat_code}" in page.content.decode()
    response = client.post(url, {
        "enable_site": "on", "title": "Support desk", "icon": "🤖", "icon_background": "#E4EEF9",
        "description": "Ask us", "default_language": "zh-Hans", "privacy_policy": "https://alpha.test/privacy",
        "copyright": "Alpha Inc.", "custom_disclaimer": "Answers may be wrong.", "show_prompt": "on",
        "allowed_origins_text": "https://www.alpha.test\nhttp://localhost:8001/", "rate_limit_per_user": "10",
        "rate_limit_per_ip": "0"})
    assert response.status_code == 302, response.content.decode()[:2000]
    with schema_context("ws_alpha"):
        site = Site.objects.get(app=web.chat)
    assert (site.title, site.default_language, site.copyright, site.show_prompt) == (
        "Support desk", "zh-Hans", "Alpha Inc.", True)
    assert site.allowed_origins == ["https://www.alpha.test", "http://localhost:8001"]
    assert (site.rate_limit_per_user, site.rate_limit_per_ip) == (10, 0)
    body = Client().get(f"/chat/{web.chat_code}").content.decode()
    assert "Support desk" in body and "Alpha Inc." in body and "https://alpha.test/privacy" in body

    response = client.post(url + "regenerate/")
    assert response.status_code == 302
    with schema_context("ws_alpha"):
        new_code = Site.objects.get(app=web.chat).code
    assert new_code != web.chat_code and Client().get(f"/chat/{web.chat_code}").status_code == 404


def test_console_webapp_page_can_switch_the_webapp_off(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world_tx.editor.user)
    url = f"/console/alpha/apps/{web.chat.pk}/webapp/"
    response = client.post(url, {"title": "Helper", "icon": "🤖", "icon_background": "#E4EEF9",
                                 "default_language": "en", "rate_limit_per_user": "5", "rate_limit_per_ip": "5"})
    assert response.status_code == 302
    with schema_context("ws_alpha"):
        assert not App.objects.get(pk=web.chat.pk).enable_site
    assert Client().get(f"/chat/{web.chat_code}").status_code == 404


def test_console_webapp_bad_origin_is_refused(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world_tx.editor.user)
    response = client.post(f"/console/alpha/apps/{web.chat.pk}/webapp/", {
        "enable_site": "on", "title": "Helper", "icon": "🤖", "icon_background": "#E4EEF9",
        "default_language": "en", "allowed_origins_text": "javascript:alert(1)", "rate_limit_per_user": "5",
        "rate_limit_per_ip": "5"})
    assert response.status_code == 200 and "is not an origin" in response.content.decode()


def test_normal_members_see_the_page_but_cannot_change_it(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world_tx.normal.user)
    url = f"/console/alpha/apps/{web.chat.pk}/webapp/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"title": "Hacked", "icon": "🤖", "icon_background": "#E4EEF9",
                             "default_language": "en", "rate_limit_per_user": "0",
                             "rate_limit_per_ip": "0"}).status_code == 403
    assert client.post(url + "regenerate/").status_code == 403
    with schema_context("ws_alpha"):
        site = Site.objects.get(app=web.chat)
    assert site.title == "Helper" and site.code == web.chat_code


def test_console_webapp_page_of_another_workspace_is_404(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world_tx.other.user)  # Bruno, owner of beta
    assert client.get(f"/console/beta/apps/{web.chat.pk}/webapp/").status_code == 404
    assert client.post(f"/console/beta/apps/{web.chat.pk}/webapp/regenerate/").status_code == 404
    assert client.get(f"/console/alpha/apps/{web.chat.pk}/webapp/").status_code == 404


def test_webapp_conversations_land_in_logs_as_webapp(web) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        assert not Conversation.objects.filter(from_source=Source.WEBAPP).exists()
        assert not Message.objects.exists()


def test_overview_shows_the_share_link(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    body = client_for(world_tx.normal.user).get(f"/console/alpha/apps/{web.chat.pk}/").content.decode()
    assert f"/chat/{web.chat_code}" in body and f"/console/alpha/apps/{web.chat.pk}/webapp/" in body
