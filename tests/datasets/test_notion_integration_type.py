"""KN-32: NOTION_INTEGRATION_TYPE ("public" | "internal"; unset: public when NOTION_CLIENT_ID and
NOTION_CLIENT_SECRET are set, else internal). Settings → Data sources offers only that way to
connect, the other way's views refuse with the reason, and disconnecting works either way. With
NOTION_INTERNAL_SECRET, a workspace can connect to the deployment's own internal integration."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django_tenants.utils import schema_context

from apps.core.errors import ServiceError
from apps.datasets import notion, notion_services
from apps.datasets.models import Document, NotionConnection
from apps.providers import crypto
from tests.conftest import client_for
from tests.datasets.conftest import make_dataset
from tests.datasets.test_notion import TOKEN, _index_waiting, fake_notion  # noqa: F401 (the fixture)
from tests.datasets.test_notion_oauth import (  # noqa: F401 (oauth_notion: the fixture)
    ACCESS_TOKEN,
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    SOURCES,
    _start,
    oauth_notion,
)

ALPHA = SOURCES.format(ws="alpha")
CONNECT = ALPHA + "notion/connect/"


def _connected(schema: str = "ws_alpha") -> bool:
    with schema_context(schema):
        return NotionConnection.objects.exists()


def test_the_default_follows_the_oauth_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.NOTION_INTEGRATION_TYPE = ""
    settings.NOTION_CLIENT_ID = settings.NOTION_CLIENT_SECRET = ""
    assert notion.integration_type() == "internal"
    settings.NOTION_CLIENT_ID = CLIENT_ID
    assert notion.integration_type() == "internal"  # both are needed
    settings.NOTION_CLIENT_SECRET = CLIENT_SECRET
    assert notion.integration_type() == "public"
    settings.NOTION_INTEGRATION_TYPE = "internal"
    assert notion.integration_type() == "internal"  # the operator's choice wins


def test_an_unknown_value_stops_the_settings_loading(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import runpy

    from django.conf import settings as django_settings

    monkeypatch.setenv("NOTION_INTEGRATION_TYPE", "both")
    path = __import__("config.settings.base", fromlist=["x"]).__file__
    with pytest.raises(ImproperlyConfigured, match="public.*internal"):
        runpy.run_path(path)
    assert django_settings.NOTION_INTEGRATION_TYPE in ("", "public", "internal")


def test_internal_offers_the_token_form_and_refuses_oauth(world, fake_notion, settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    settings.NOTION_INTEGRATION_TYPE = "internal"
    settings.NOTION_CLIENT_ID, settings.NOTION_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET  # set, but not chosen
    owner = client_for(world.owner.user)
    page = owner.get(ALPHA).content.decode()
    assert 'name="token"' in page and 'data-notion-integration="internal"' in page
    assert 'data-testid="notion-oauth"' not in page and "notion/connect/" not in page

    refused = owner.post(CONNECT, follow=True)
    assert refused.redirect_chain == [(ALPHA, 302)]
    assert "internal integration token" in refused.content.decode()
    callback = owner.get(CALLBACK, {"code": "any", "state": "any"})
    assert callback.status_code == 403 and "internal integration token" in callback.content.decode()

    assert owner.post(ALPHA, {"token": TOKEN}).status_code == 302  # the internal way works
    assert _connected() and not _connected("ws_beta")


def test_public_offers_oauth_and_refuses_pasted_tokens(world, oauth_notion, settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    settings.NOTION_INTEGRATION_TYPE = "public"
    owner = client_for(world.owner.user)
    page = owner.get(ALPHA).content.decode()
    assert 'data-testid="notion-oauth"' in page and 'data-notion-integration="public"' in page
    assert 'name="token"' not in page and "Or paste" not in page

    refused = owner.post(ALPHA, {"token": ACCESS_TOKEN}, follow=True)
    assert refused.redirect_chain == [(ALPHA, 302)]
    assert "public integration" in refused.content.decode() and not _connected()

    done = owner.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), "state": _start(owner)})
    assert done.status_code == 302 and _connected()  # the public way works
    # Disconnecting is not a way to connect: allowed whichever type is chosen.
    assert owner.post(ALPHA, {"action": "disconnect"}).status_code == 302 and not _connected()


def test_public_without_client_credentials_says_what_is_missing(world, fake_notion, settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    settings.NOTION_INTEGRATION_TYPE = "public"
    settings.NOTION_CLIENT_ID = settings.NOTION_CLIENT_SECRET = ""
    owner = client_for(world.owner.user)
    page = owner.get(ALPHA).content.decode()
    assert 'data-testid="notion-oauth-unset"' in page and "NOTION_CLIENT_ID" in page
    assert 'name="token"' not in page
    refused = owner.post(CONNECT, follow=True)
    assert refused.redirect_chain == [(ALPHA, 302)] and "NOTION_CLIENT_SECRET" in refused.content.decode()
    assert owner.post(ALPHA, {"token": TOKEN}).status_code == 302 and not _connected()


def test_refusals_keep_roles_and_workspaces(world, fake_notion, settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    settings.NOTION_INTEGRATION_TYPE = "public"
    settings.NOTION_CLIENT_ID, settings.NOTION_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    # Members without the right get 403 and another workspace's member 404, before any refusal.
    assert client_for(world.editor.user).post(ALPHA, {"token": TOKEN}).status_code == 403
    assert client_for(world.other.user).post(ALPHA, {"token": TOKEN}).status_code == 404
    settings.NOTION_INTEGRATION_TYPE = "internal"
    assert client_for(world.editor.user).post(CONNECT).status_code == 403
    assert client_for(world.other.user).post(CONNECT).status_code == 404
    assert not _connected() and not _connected("ws_beta")


def test_the_reasons_are_translated(world, fake_notion, settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    owner = client_for(world.owner.user)
    settings.NOTION_INTEGRATION_TYPE = "public"
    for lang, word in (("zh-hans", "公共集成"), ("ja", "公開インテグレーション")):
        page = owner.post(ALPHA, {"token": TOKEN}, follow=True,
                          headers={"Accept-Language": lang}).content.decode()
        assert word in page, lang
    settings.NOTION_INTEGRATION_TYPE = "internal"
    for lang, word in (("zh-hans", "内部集成令牌"), ("ja", "内部インテグレーショントークン")):
        page = owner.post(CONNECT, follow=True, headers={"Accept-Language": lang}).content.decode()
        assert word in page, lang


def test_the_deployments_own_internal_integration(world, fake_notion, settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """KN-32: with NOTION_INTERNAL_SECRET set, an owner connects the workspace to the deployment's
    integration with one button (no token to paste) and imports pages; the token stays in the
    settings, other workspaces are not connected by it, and unsetting it disconnects."""
    settings.NOTION_INTEGRATION_TYPE = "internal"
    owner = client_for(world.owner.user)
    assert 'data-testid="notion-deployment"' not in owner.get(ALPHA).content.decode()  # none set up
    refused = owner.post(ALPHA, {"action": "deployment"})
    assert refused.status_code == 400 and "NOTION_INTERNAL_SECRET" in refused.content.decode()

    settings.NOTION_INTERNAL_SECRET = TOKEN
    page = owner.get(ALPHA).content.decode()
    assert 'data-testid="notion-deployment"' in page and "Use this deployment" in page
    assert owner.post(ALPHA, {"action": "deployment"}).status_code == 302
    assert _connected() and not _connected("ws_beta")
    assert "In use: the operator" in owner.get(ALPHA).content.decode()
    with schema_context("ws_alpha"):
        row = NotionConnection.objects.get()
        assert TOKEN not in row.secret and crypto.decrypt("ws_alpha", row.secret) == {"deployment": True}
        assert {p["title"] for p in notion_services.search()} >= {"Onboarding guide", "FAQ"}
        dataset = make_dataset(world, technique="economy")
        notion_services.pages_import(dataset=dataset, page_ids=["page-guide"], actor_id=world.owner.user_id)
        _index_waiting()
        assert Document.objects.get(dataset=dataset).indexing_status == "completed"
        settings.NOTION_INTERNAL_SECRET = ""
        with pytest.raises(ServiceError, match="no longer configured"):
            notion_services.token()
