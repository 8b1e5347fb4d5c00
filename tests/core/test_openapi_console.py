"""The console leads to the complete API reference: an app's API access page and the Knowledge API
page link Swagger UI, Redoc and the OpenAPI document (translated), and in a real browser Swagger UI
and Redoc render the document from this server alone."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.applications import services as apps
from tests.browser import shot
from tests.conftest import client_for
from tests.workspaces.test_console_browser import _login

LINKS = {"en": ("Try it in Swagger UI", "Read it in Redoc", "OpenAPI schema"),
         "zh-hans": ("在 Swagger UI 中试用", "在 Redoc 中阅读", "OpenAPI 架构"),
         "ja": ("Swagger UI で試す", "Redoc で読む", "OpenAPI スキーマ")}


def _app(world):
    with schema_context(world.alpha.schema_name):
        return apps.app_create(name="Helper", mode="chat", config={})


@pytest.mark.django_db
@pytest.mark.parametrize("language", list(LINKS))
def test_api_pages_link_the_complete_reference_in_each_language(world, language) -> None:
    app = _app(world)
    client = client_for(world.owner.user)
    for page in (f"/console/alpha/apps/{app.pk}/api/", "/console/alpha/datasets/api/"):
        html = client.get(page, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        for text in LINKS[language]:
            assert text in html, (page, text)
        assert 'href="/v1/docs/swagger"' in html and 'href="/v1/docs/redoc"' in html
        assert 'href="/v1/openapi.json"' in html


@pytest.mark.django_db
def test_the_links_are_the_same_for_every_workspace(world) -> None:
    """The reference is the product's: beta's owner gets the same links, and they need no session."""
    with schema_context(world.beta.schema_name):
        beta_app = apps.app_create(name="Beta bot", mode="chat", config={})
    html = client_for(world.other.user).get(f"/console/beta/apps/{beta_app.pk}/api/").content.decode()
    assert 'href="/v1/docs/swagger"' in html
    alpha_page = f"/console/alpha/apps/{_app(world).pk}/api/"
    assert client_for(world.other.user).get(alpha_page).status_code in (403, 404)
    for page in ("/v1/docs/swagger", "/v1/docs/redoc", "/v1/openapi.json"):
        assert Client().get(page).status_code == 200


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_and_redoc_render_offline_from_the_api_page(live_url, browser, world_tx) -> None:
    app = _app(world_tx)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    blocked: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    context.on("requestfailed", lambda request: blocked.append(f"{request.url} {request.failure}"))
    errors: list[str] = []
    missing: list[str] = []
    context.on("response", lambda response: missing.append(response.url) if response.status >= 400 else None)
    context.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page = context.new_page()
    _login(page, live_url, "olivia@alpha.test")
    page.goto(f"{live_url}/console/alpha/apps/{app.pk}/api/")

    with context.expect_page() as opened:
        page.click("#api-docs-swagger")
    swagger = opened.value
    swagger.wait_for_selector(".opblock-summary-path[data-path='/v1/chat-messages']")
    assert swagger.locator(".opblock").count() > 60
    swagger.click(".opblock-summary-path[data-path='/v1/chat-messages']")
    swagger.wait_for_selector("text=text/event-stream")
    shot(swagger, "api-docs-swagger")

    with context.expect_page() as opened:
        page.click("#api-docs-redoc")
    redoc = opened.value
    redoc.wait_for_selector("h2:has-text('Send a chat message')")
    redoc.wait_for_selector("h2:has-text('Add a document from text')")
    shot(redoc, "api-docs-redoc")

    # Nothing leaves this server: Redoc's one outside image (its credit's logo) is stopped by the
    # page's Content-Security-Policy before any connection is made.
    outside = [url for url in requested if not url.startswith((live_url, "data:", "blob:"))]
    assert all(f"{url} csp" in blocked for url in outside), (outside, blocked)
    assert any(re.search(r"/static/drf_spectacular_sidecar/swagger-ui-dist/", url) for url in requested)
    assert any(url.endswith("/v1/openapi.json") for url in requested)
    # No script of the pages was refused (the policy allows scripts from this server only).
    assert missing == []
    assert [e for e in errors if "cdn.redoc.ly" not in e] == [], errors
