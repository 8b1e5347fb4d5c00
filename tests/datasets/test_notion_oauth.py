"""Notion public integrations (KN-29/32): an operator sets NOTION_CLIENT_ID/NOTION_CLIENT_SECRET, and
Settings → Data sources offers "Connect with Notion": Notion's authorize page, the callback, the
token exchange (POST /v1/oauth/token with HTTP basic auth), the access token stored encrypted like
an internal token, then the page picker, import and sync work with it. The state parameter is
checked (one use, this member's session, this workspace); a callback can attach only to the
workspace the flow started in.

Notion is the fake Notion server of test_notion.py, extended with the OAuth token endpoint; the
consent page itself is Notion's UI, so the test plays the browser: it reads the authorize URL and
comes back to the callback with the code the fake issued."""

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.datasets import notion_services
from apps.datasets.models import Document, NotionConnection
from apps.providers import crypto
from apps.workspaces.models import Membership
from tests.conftest import client_for
from tests.datasets.conftest import make_dataset
from tests.datasets.test_notion import FakeNotion, _block, _index_waiting, _text

pytestmark = pytest.mark.django_db

CLIENT_ID, CLIENT_SECRET = "tessera-public-client", "tessera-public-secret"
ACCESS_TOKEN = "ntn_oauth_access_token_alpha"
CALLBACK = "/console/oauth/notion/callback/"
REDIRECT_URI = "http://testserver" + CALLBACK
SOURCES = "/console/{ws}/settings/data-sources/"


class FakeOAuthNotion(FakeNotion):
    """FakeNotion plus POST /v1/oauth/token: basic auth with the client id and secret, one-use codes
    bound to their redirect_uri, granting an access token the API then accepts."""

    def __init__(self) -> None:
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (access token, redirect_uri)
        self.exchanges: list[dict[str, Any]] = []
        super().__init__()

    def grant(self, access_token: str, redirect_uri: str = REDIRECT_URI) -> str:
        """What Notion does when the user clicks "Allow access": a code for the callback."""
        code = f"code-{len(self.codes) + 1}"
        self.codes[code] = (access_token, redirect_uri)
        return code

    def _handler(self):  # type: ignore[no-untyped-def]
        fake = self
        base = super()._handler()

        class Handler(base):  # type: ignore[misc, valid-type]
            def do_GET(self) -> None:  # noqa: N802
                """Notion's consent page: "Allow access" goes back to redirect_uri with a code."""
                url = urlparse(self.path)
                if url.path != "/v1/oauth/authorize":
                    return super().do_GET()
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
                    return self._send(400, {"error": "invalid_request"})
                code = fake.grant(ACCESS_TOKEN, query["redirect_uri"])
                back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
                denied = f"{query['redirect_uri']}?{urlencode({'error': 'access_denied', 'state': query.get('state', '')})}"
                html = (f'<html><body><h1>Tessera Public wants to access your Notion</h1>'
                        f'<a id="allow" href="{back}">Allow access</a> <a id="cancel" href="{denied}">Cancel</a>'
                        f'</body></html>').encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

            def do_POST(self) -> None:  # noqa: N802
                if self.path != "/v1/oauth/token":
                    return super().do_POST()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                basic = (self.headers.get("Authorization") or "").removeprefix("Basic ")
                fake.exchanges.append({"auth": base64.b64decode(basic).decode() if basic else "", **body})
                if basic != base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode():
                    return self._send(401, {"error": "invalid_client"})
                granted = fake.codes.pop(str(body.get("code")), None)
                if body.get("grant_type") != "authorization_code" or granted is None or \
                        granted[1] != body.get("redirect_uri"):
                    return self._send(400, {"error": "invalid_grant"})
                fake.tokens[granted[0]] = "Tessera Public"
                self._send(200, {"access_token": granted[0], "token_type": "bearer", "bot_id": "bot-1",
                                 "workspace_name": "Acme Notion", "workspace_id": "ws-1",
                                 "owner": {"type": "user", "user": {"id": "u-1"}}})

        return Handler


@pytest.fixture
def oauth_notion(settings) -> Any:  # type: ignore[no-untyped-def]
    fake = FakeOAuthNotion()
    settings.NOTION_API_BASE = fake.base_url
    settings.NOTION_CLIENT_ID, settings.NOTION_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    settings.NOTION_REDIRECT_URI = ""
    fake.add_page("page-shared", "Shared handbook", [_block("h1", "paragraph", "Parking is free on Fridays.")],
                  token=ACCESS_TOKEN)
    yield fake
    fake.close()


def _start(client, ws: str = "alpha") -> str:  # type: ignore[no-untyped-def]
    """Press "Connect with Notion"; returns the state Notion was sent."""
    response = client.post(SOURCES.format(ws=ws) + "notion/connect/")
    assert response.status_code == 302, response.status_code
    location = urlparse(response["Location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert location.path == "/v1/oauth/authorize"
    assert (query["client_id"], query["response_type"], query["owner"], query["redirect_uri"]) == \
        (CLIENT_ID, "code", "user", REDIRECT_URI)
    assert len(query["state"]) >= 32
    return query["state"]


def _connection(schema: str) -> NotionConnection | None:
    with schema_context(schema):
        return NotionConnection.objects.first()


def test_connect_with_notion_stores_the_token_and_imports_pages(world, oauth_notion) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    page = owner.get(SOURCES.format(ws="alpha")).content.decode()
    assert 'data-testid="notion-oauth"' in page and "Connect with Notion" in page
    state = _start(owner)
    done = owner.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), "state": state}, follow=True)
    assert done.redirect_chain[-1][0] == SOURCES.format(ws="alpha")
    assert "Notion is connected." in done.content.decode()
    [exchange] = oauth_notion.exchanges
    assert exchange["auth"] == f"{CLIENT_ID}:{CLIENT_SECRET}" and exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == REDIRECT_URI

    row = _connection(world.alpha.schema_name)
    assert row is not None and row.bot_name == "Tessera Public" and row.created_by_id == world.owner.user_id
    assert ACCESS_TOKEN not in row.secret
    with schema_context(world.alpha.schema_name):
        assert crypto.decrypt(connection.schema_name, row.secret) == {"token": ACCESS_TOKEN}  # like a pasted one
    assert _connection(world.beta.schema_name) is None

    # The page picker, import and sync use the OAuth token like any other.
    with schema_context(world.alpha.schema_name):
        dataset = make_dataset(world, technique="economy", permission="all_team_members")
    url = f"/console/alpha/datasets/{dataset.pk}/documents/notion/"
    assert "Shared handbook" in owner.get(url).content.decode()
    assert owner.post(url, {"page_ids": ["page-shared"]}).status_code == 302
    with schema_context(world.alpha.schema_name):
        _index_waiting()
        document = Document.objects.get(dataset=dataset, name="Shared handbook")
        assert "Parking is free on Fridays." in _text(document)
        oauth_notion.blocks["page-shared"] = [_block("h2", "paragraph", "Parking costs 2 euros now.")]
        oauth_notion.pages["page-shared"]["last_edited_time"] = "2026-11-20T10:00:00.000Z"
        assert notion_services.document_sync(document=document) == "updated"
        _index_waiting()
        assert "Parking costs 2 euros now." in _text(document)


def test_the_state_is_checked_and_used_once(world, oauth_notion) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    for forged in ({}, {"state": "made-up"}, {"state": ""}):
        refused = owner.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), **forged})
        assert refused.status_code == 400 and "Notion was not connected" in refused.content.decode()
    state = _start(owner)
    assert owner.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), "state": state}).status_code == 302
    replay = owner.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), "state": state})
    assert replay.status_code == 400
    assert len(oauth_notion.exchanges) == 1  # nothing was exchanged without a valid state

    # An expired state (older than ten minutes) is refused too.
    _connection_delete(world.alpha.schema_name)
    state = _start(owner)
    session = owner.session
    session["notion_oauth_states"][state]["at"] -= 601
    session.save()
    assert owner.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), "state": state}).status_code == 400
    assert _connection(world.alpha.schema_name) is None
    # Signed-out visitors are sent to sign in first.
    from django.test import Client

    anonymous = Client().get(CALLBACK, {"code": "x", "state": state})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def _connection_delete(schema: str) -> None:
    with schema_context(schema):
        notion_services.connection_delete()


def test_a_callback_attaches_only_to_the_workspace_it_started_in(world, oauth_notion) -> None:  # type: ignore[no-untyped-def]
    alpha_owner, beta_owner = client_for(world.owner.user), client_for(world.other.user)
    beta_state = _start(beta_owner, "beta")
    alpha_state = _start(alpha_owner)
    # Another member's state (another session, another workspace) attaches nothing anywhere.
    assert alpha_owner.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), "state": beta_state}).status_code \
        == 400
    assert beta_owner.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), "state": alpha_state}).status_code \
        == 400
    assert _connection(world.alpha.schema_name) is None and _connection(world.beta.schema_name) is None
    # Each owner's own state connects their own workspace only.
    done = beta_owner.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), "state": beta_state})
    assert done.status_code == 302 and done["Location"] == SOURCES.format(ws="beta")
    assert _connection(world.beta.schema_name) is not None and _connection(world.alpha.schema_name) is None
    # Beta's member cannot start a flow for alpha at all (not a member: no such workspace).
    assert beta_owner.post(SOURCES.format(ws="alpha") + "notion/connect/").status_code == 404


def test_only_data_source_managers_connect_and_losing_the_role_stops_the_callback(world, oauth_notion) -> None:  # type: ignore[no-untyped-def]
    for member in (world.editor, world.normal):
        assert client_for(member.user).post(SOURCES.format(ws="alpha") + "notion/connect/").status_code == 403
    admin = client_for(world.admin.user)
    state = _start(admin)
    Membership.objects.filter(pk=world.admin.pk).update(role="normal")
    refused = admin.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), "state": state})
    assert refused.status_code == 400 and _connection(world.alpha.schema_name) is None
    assert oauth_notion.exchanges == []


def test_denied_or_bad_codes_connect_nothing(world, oauth_notion) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    denied = owner.get(CALLBACK, {"error": "access_denied", "state": _start(owner)}, follow=True)
    assert "Notion access was not granted" in denied.content.decode()
    bad = owner.get(CALLBACK, {"code": "not-issued", "state": _start(owner)}, follow=True)
    assert "did not accept the authorisation code" in bad.content.decode()
    wrong_uri = oauth_notion.grant(ACCESS_TOKEN, redirect_uri="https://elsewhere.example/cb")
    assert "did not accept" in owner.get(CALLBACK, {"code": wrong_uri, "state": _start(owner)},
                                         follow=True).content.decode()
    assert _connection(world.alpha.schema_name) is None


def test_wrong_client_secret_and_unconfigured_oauth(world, oauth_notion, settings) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    state = _start(owner)
    settings.NOTION_CLIENT_SECRET = "wrong"
    wrong = owner.get(CALLBACK, {"code": oauth_notion.grant(ACCESS_TOKEN), "state": state}, follow=True)
    assert "NOTION_CLIENT_SECRET" in wrong.content.decode() and _connection(world.alpha.schema_name) is None
    settings.NOTION_CLIENT_ID = settings.NOTION_CLIENT_SECRET = ""
    page = owner.get(SOURCES.format(ws="alpha")).content.decode()
    assert 'data-testid="notion-oauth"' not in page and 'name="token"' in page  # internal tokens still work
    # Unset, the deployment connects with internal tokens (KN-32): the OAuth start sends the member back.
    refused = owner.post(SOURCES.format(ws="alpha") + "notion/connect/", follow=True)
    assert refused.redirect_chain[-1][0] == SOURCES.format(ws="alpha")
    assert "internal integration token" in refused.content.decode()


def test_operator_redirect_uri_is_sent_and_exchanged(world, oauth_notion, settings) -> None:  # type: ignore[no-untyped-def]
    settings.NOTION_REDIRECT_URI = "https://tessera.example/console/oauth/notion/callback/"
    owner = client_for(world.owner.user)
    response = owner.post(SOURCES.format(ws="alpha") + "notion/connect/")
    query = parse_qs(urlparse(response["Location"]).query)
    assert query["redirect_uri"] == [settings.NOTION_REDIRECT_URI]
    code = oauth_notion.grant(ACCESS_TOKEN, redirect_uri=settings.NOTION_REDIRECT_URI)
    assert owner.get(CALLBACK, {"code": code, "state": query["state"][0]}).status_code == 302
    assert oauth_notion.exchanges[-1]["redirect_uri"] == settings.NOTION_REDIRECT_URI
    assert _connection(world.alpha.schema_name) is not None


def test_data_sources_oauth_strings_are_translated(world, oauth_notion) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    for lang, word in (("zh-hans", "连接 Notion"), ("ja", "Notion と接続")):
        page = owner.get(SOURCES.format(ws="alpha"), headers={"Accept-Language": lang}).content.decode()
        assert word in page, lang
