"""Notion as a Knowledge data source: the workspace's integration token (validated, stored
encrypted), importing pages as documents through the normal pipeline, manual and periodic re-sync,
Notion errors, roles and isolation between workspaces.

The only stand-in is Notion itself: a real HTTP server on 127.0.0.1 (FakeNotion) speaking the
parts of the Notion API Tessera uses, checking the bearer token and the Notion-Version header."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from apps.datasets import indexing, keys, notion_services, tasks
from apps.datasets.models import Document, NotionConnection, Segment
from apps.providers import crypto
from tests.conftest import client_for
from tests.datasets.conftest import make_dataset

pytestmark = pytest.mark.django_db
TOKEN = "secret_alpha_integration_token"
OTHER_TOKEN = "secret_beta_integration_token"


def _rt(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "plain_text": text}]


def _block(block_id: str, kind: str, text: str = "", children: bool = False, **extra: Any) -> dict[str, Any]:
    body = {"rich_text": _rt(text), **extra} if kind != "table_row" else extra
    return {"object": "block", "id": block_id, "type": kind, "has_children": children, kind: body}


class FakeNotion:
    """Pages, their blocks (paginated two per response) and who asked what."""

    def __init__(self) -> None:
        self.tokens = {TOKEN: "Alpha Notion", OTHER_TOKEN: "Beta Notion"}
        self.pages: dict[str, dict[str, Any]] = {}
        self.blocks: dict[str, list[dict[str, Any]]] = {}
        self.owner: dict[str, str] = {}  # page id -> token that may see it
        self.failing: dict[str, int] = {}  # page id -> status to answer
        self.requests: list[tuple[str, str, str]] = []  # (method, path, notion-version)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_page(self, page_id: str, title: str, blocks: list[dict[str, Any]], token: str = TOKEN,
                 edited: str = "2026-11-01T10:00:00.000Z", **properties: Any) -> None:
        props: dict[str, Any] = {"Name": {"type": "title", "title": _rt(title)}, **properties}
        self.pages[page_id] = {"object": "page", "id": page_id, "last_edited_time": edited,
                               "url": f"https://notion.so/{page_id}", "properties": props}
        self.blocks[page_id] = blocks
        self.owner[page_id] = token

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _auth(self) -> str | None:
                fake.requests.append((self.command, self.path, self.headers.get("Notion-Version", "")))
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if token not in fake.tokens:
                    self._send(401, {"object": "error", "status": 401, "code": "unauthorized",
                                     "message": "API token is invalid."})
                    return None
                if not self.headers.get("Notion-Version"):
                    self._send(400, {"object": "error", "status": 400, "code": "missing_version",
                                     "message": "Notion-Version header failed validation."})
                    return None
                return token

            def _visible(self, token: str, page_id: str) -> bool:
                if fake.owner.get(page_id) != token:
                    self._send(404, {"object": "error", "status": 404, "code": "object_not_found",
                                     "message": f"Could not find page with ID: {page_id}."})
                    return False
                if page_id in fake.failing:
                    status = fake.failing[page_id]
                    self._send(status, {"object": "error", "status": status, "code": "rate_limited",
                                        "message": "Slow down."})
                    return False
                return True

            def do_GET(self) -> None:  # noqa: N802
                token = self._auth()
                if token is None:
                    return
                url = urlparse(self.path)
                parts = url.path.strip("/").split("/")
                if url.path == "/v1/users/me":
                    return self._send(200, {"object": "user", "type": "bot", "name": fake.tokens[token],
                                            "bot": {"workspace_name": f"{fake.tokens[token]} space"}})
                if parts[:2] == ["v1", "pages"] and len(parts) == 3:
                    if self._visible(token, parts[2]):
                        self._send(200, fake.pages[parts[2]])
                    return
                if parts[:2] == ["v1", "blocks"] and len(parts) == 4 and parts[3] == "children":
                    block_id = parts[2]
                    root = block_id if block_id in fake.pages else None
                    if root is not None and not self._visible(token, root):
                        return
                    blocks = fake.blocks.get(block_id, [])
                    start = int((parse_qs(url.query).get("start_cursor") or ["0"])[0])
                    chunk = blocks[start:start + 2]
                    more = start + 2 < len(blocks)
                    return self._send(200, {"object": "list", "results": chunk, "has_more": more,
                                            "next_cursor": str(start + 2) if more else None})
                self._send(404, {"object": "error", "status": 404, "message": "no route"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                token = self._auth()
                if token is None:
                    return
                if self.path != "/v1/search" or body.get("filter") != {"property": "object", "value": "page"}:
                    return self._send(400, {"object": "error", "status": 400, "message": "bad search"})
                query = str(body.get("query") or "").lower()
                results = [p for pid, p in fake.pages.items() if fake.owner[pid] == token and
                           query in json.dumps(p["properties"]).lower()]
                self._send(200, {"object": "list", "results": results, "has_more": False,
                                 "next_cursor": None})

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_notion(settings) -> Any:  # type: ignore[no-untyped-def]
    fake = FakeNotion()
    settings.NOTION_API_BASE = fake.base_url
    fake.add_page("page-guide", "Onboarding guide", [
        _block("b1", "heading_1", "Welcome aboard"),
        _block("b2", "paragraph", "Badges are collected at the front desk."),
        _block("b3", "bulleted_list_item", "Laptop setup", children=True),
        _block("b4", "to_do", "Sign the NDA", checked=True),
        _block("b5", "code", "make install", language="bash"),
        _block("b6", "table", children=True),
        _block("b7", "image"),
    ])
    fake.blocks["b3"] = [_block("b3a", "bulleted_list_item", "Install the VPN client"),
                         _block("b3b", "toggle", "Details", children=True)]
    fake.blocks["b3b"] = [_block("b3c", "paragraph", "The VPN password rotates monthly.")]
    fake.blocks["b6"] = [_block("r1", "table_row", cells=[_rt("Desk"), _rt("Floor 3")])]
    fake.add_page("page-faq", "FAQ", [_block("f1", "quote", "Lunch is served at noon.")],
                  Status={"type": "select", "select": {"name": "Published"}})
    fake.add_page("page-beta", "Beta secrets", [_block("s1", "paragraph", "Beta only text.")],
                  token=OTHER_TOKEN)
    yield fake
    fake.close()


def _connect(world, token: str = TOKEN) -> NotionConnection:  # type: ignore[no-untyped-def]
    return notion_services.connection_save(token_value=token, actor_id=world.owner.user_id)


def _index_waiting() -> None:
    for document_id in Document.objects.filter(indexing_status="waiting").values_list("pk", flat=True):
        indexing.index_document(document_id=document_id)


def _text(document: Document) -> str:
    rows = Segment.objects.filter(document=document).order_by("position")
    return "\n".join(rows.values_list("content", flat=True))


def test_token_is_validated_and_stored_encrypted(world, fake_notion) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    bad = owner.post("/console/alpha/settings/data-sources/", {"token": "secret_wrong"})
    assert bad.status_code == 400 and "Notion refused the integration token" in bad.content.decode()
    with schema_context(world.alpha.schema_name):
        assert not NotionConnection.objects.exists()
    ok = owner.post("/console/alpha/settings/data-sources/", {"token": TOKEN})
    assert ok.status_code == 302
    with schema_context(world.alpha.schema_name):
        row = NotionConnection.objects.get()
        assert TOKEN not in row.secret and row.bot_name == "Alpha Notion"
        assert crypto.decrypt(connection.schema_name, row.secret) == {"token": TOKEN}
        with connection.cursor() as cursor:
            cursor.execute("SELECT secret FROM datasets_notionconnection")
            assert TOKEN not in cursor.fetchone()[0]
    # The ciphertext is bound to alpha's key: beta's key cannot read it.
    with pytest.raises(crypto.CredentialsUnreadable):
        crypto.decrypt(world.beta.schema_name, row.secret)
    page = owner.get("/console/alpha/settings/data-sources/").content.decode()
    assert 'data-notion="connected"' in page and TOKEN not in page and "Alpha Notion space" in page
    assert ("GET", "/v1/users/me", "2022-06-28") in fake_notion.requests
    assert owner.post("/console/alpha/settings/data-sources/", {"action": "disconnect"}).status_code == 302
    with schema_context(world.alpha.schema_name):
        assert not NotionConnection.objects.exists()


def test_data_sources_is_in_the_settings_nav_for_admins_only(world, fake_notion) -> None:  # type: ignore[no-untyped-def]
    html = client_for(world.admin.user).get("/console/alpha/").content.decode()
    assert 'href="/console/alpha/settings/data-sources/"' in html
    normal = client_for(world.normal.user)
    assert 'settings/data-sources/' not in normal.get("/console/alpha/").content.decode()
    assert normal.get("/console/alpha/settings/data-sources/").status_code == 403
    assert normal.post("/console/alpha/settings/data-sources/", {"token": TOKEN}).status_code == 403
    assert client_for(world.editor.user).post("/console/alpha/settings/data-sources/",
                                              {"token": TOKEN}).status_code == 403
    assert client_for(world.admin.user).post("/console/alpha/settings/data-sources/",
                                             {"token": TOKEN}).status_code == 302
    with schema_context(world.alpha.schema_name):
        assert NotionConnection.objects.get().created_by_id == world.admin.user_id


def test_import_pages_through_the_console_and_index_them(world, fake_notion) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        _connect(world)
        dataset = make_dataset(world, technique="economy", permission="all_team_members")
    editor = client_for(world.editor.user)
    url = f"/console/alpha/datasets/{dataset.pk}/documents/notion/"
    assert url in editor.get(f"/console/alpha/datasets/{dataset.pk}/documents/").content.decode()
    picker = editor.get(url).content.decode()
    assert "Onboarding guide" in picker and "FAQ" in picker and "Beta secrets" not in picker
    assert "Onboarding guide" not in editor.get(url + "?q=faq").content.decode()
    response = editor.post(url, {"page_ids": ["page-guide", "page-faq"]})
    assert response.status_code == 302
    with schema_context(world.alpha.schema_name):
        _index_waiting()
        guide = Document.objects.get(dataset=dataset, name="Onboarding guide")
        faq = Document.objects.get(dataset=dataset, name="FAQ")
        assert guide.data_source_type == "notion_import" and guide.indexing_status == "completed"
        assert guide.data_source_info["notion_page_id"] == "page-guide"
        text = _text(guide)
        for expected in ("# Onboarding guide", "# Welcome aboard", "Badges are collected at the front desk.",
                         "- Laptop setup", "Install the VPN client", "The VPN password rotates monthly.",
                         "[x] Sign the NDA", "make install", "Desk | Floor 3"):
            assert expected in text, expected
        assert "Status: Published" in _text(faq) and "> Lunch is served at noon." in _text(faq)
        _, raw_key = keys.api_key_create(actor_id=world.owner.user_id)
    # The Knowledge API shows where the document came from.
    listed = Client().get(f"/v1/datasets/{dataset.pk}/documents",
                          headers={"Authorization": f"Bearer {raw_key}"})
    row = next(d for d in listed.json()["data"] if d["name"] == "FAQ")
    assert row["data_source_type"] == "notion_import"
    assert row["data_source_info"]["notion_page_id"] == "page-faq"
    # The block listing was paginated and nested children were fetched.
    paths = [p for _, p, _ in fake_notion.requests]
    assert "/v1/blocks/page-guide/children?page_size=100&start_cursor=2" in paths
    assert any(p.startswith("/v1/blocks/b3b/children") for p in paths)
    normal = client_for(world.normal.user)
    assert normal.get(url).status_code == 403
    assert normal.post(url, {"page_ids": ["page-faq"]}).status_code == 403


def test_resync_replaces_content_and_skips_unchanged_pages(world, fake_notion,  # type: ignore[no-untyped-def]
                                                           django_capture_on_commit_callbacks) -> None:
    with schema_context(world.alpha.schema_name):
        _connect(world)
        dataset = make_dataset(world, technique="economy", permission="all_team_members")
        document = notion_services.pages_import(dataset=dataset, page_ids=["page-faq"], actor_id=None)[0]
        _index_waiting()
        document.refresh_from_db()
        assert notion_services.document_sync(document=document) == "unchanged"
        fake_notion.pages["page-faq"]["last_edited_time"] = "2026-11-02T09:00:00.000Z"
        fake_notion.blocks["page-faq"] = [_block("f2", "paragraph", "Lunch moved to one o'clock.")]
        assert notion_services.document_sync(document=document) == "updated"
        _index_waiting()
        document.refresh_from_db()
        text = _text(document)
        assert "one o'clock" in text and "noon" not in text
        assert document.indexing_status == "completed"
        assert document.data_source_info["last_edited_time"] == "2026-11-02T09:00:00.000Z"
        count = Segment.objects.filter(document=document).count()
        assert notion_services.document_sync(document=document, force=True) == "updated"
        _index_waiting()
        assert Segment.objects.filter(document=document).count() == count
        assert Document.objects.filter(dataset=dataset).count() == 1
    # The console's Sync button queues the task after the commit.
    editor = client_for(world.editor.user)
    rows = editor.get(f"/console/alpha/datasets/{dataset.pk}/documents/").content.decode()
    assert 'data-action="notion-sync"' in rows
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = editor.post(f"/console/alpha/datasets/{dataset.pk}/documents/{document.pk}/notion-sync/")
    assert response.status_code == 302 and len(callbacks) == 1
    assert client_for(world.normal.user).post(
        f"/console/alpha/datasets/{dataset.pk}/documents/{document.pk}/notion-sync/").status_code == 403


def test_notion_errors_mark_the_document_and_do_not_raise(world, fake_notion) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        _connect(world)
        dataset = make_dataset(world, technique="economy", permission="all_team_members")
        document = notion_services.pages_import(dataset=dataset, page_ids=["page-faq"], actor_id=None)[0]
        _index_waiting()
        fake_notion.failing["page-faq"] = 429
        assert tasks.sync_notion_document.run(str(document.pk)) == "error"
        document.refresh_from_db()
        assert document.indexing_status == "error" and "rate limiting" in document.error
        fake_notion.failing["page-faq"] = 503
        assert notion_services.document_sync(document=document) == "error"
        document.refresh_from_db()
        assert "Notion is unavailable (HTTP 503)" in document.error
        assert Segment.objects.filter(document=document).exists()  # the old content stays searchable
        fake_notion.failing.clear()
        assert notion_services.document_sync(document=document) == "updated"  # an errored doc syncs again
        _index_waiting()
        document.refresh_from_db()
        assert document.indexing_status == "completed"
        # A page that is not shared with the integration: the import is refused, nothing is created.
        with pytest.raises(Exception) as excinfo:
            notion_services.pages_import(dataset=dataset, page_ids=["page-beta"], actor_id=None)
        assert "share it with the integration" in str(excinfo.value.message)
        assert Document.objects.filter(dataset=dataset).count() == 1


def test_periodic_sync_covers_every_workspace(world, fake_notion) -> None:  # type: ignore[no-untyped-def]
    from django.conf import settings

    from config.celery import app as celery_app

    entry = settings.CELERY_BEAT_SCHEDULE["sync-notion"]
    assert entry["task"] == "apps.datasets.tasks.sync_notion" and entry["task"] in celery_app.tasks
    documents = {}
    for workspace, token, page in ((world.alpha, TOKEN, "page-faq"), (world.beta, OTHER_TOKEN, "page-beta")):
        with schema_context(workspace.schema_name):
            notion_services.connection_save(token_value=token, actor_id=None)
            dataset = make_dataset(world, name=f"Notion {workspace.slug}", technique="economy")
            documents[workspace.slug] = notion_services.pages_import(dataset=dataset, page_ids=[page],
                                                                     actor_id=None)[0]
            _index_waiting()
    # Nothing changed: every page is skipped, nothing is re-indexed.
    assert tasks.sync_notion() == {"ws_alpha": {"unchanged": 1}, "ws_beta": {"unchanged": 1}}
    fake_notion.pages["page-faq"]["last_edited_time"] = "2026-11-03T00:00:00.000Z"
    fake_notion.blocks["page-faq"] = [_block("f3", "paragraph", "Alpha changed.")]
    fake_notion.pages["page-beta"]["last_edited_time"] = "2026-11-03T00:00:00.000Z"
    fake_notion.blocks["page-beta"] = [_block("s2", "paragraph", "Beta changed.")]
    result = tasks.sync_notion()
    assert result["ws_alpha"] == {"updated": 1} and result["ws_beta"] == {"updated": 1}
    for workspace, expected in ((world.alpha, "Alpha changed."), (world.beta, "Beta changed.")):
        with schema_context(workspace.schema_name):
            _index_waiting()
            assert expected in _text(Document.objects.get(pk=documents[workspace.slug].pk))
    assert tasks.sync_notion() == {"ws_alpha": {"unchanged": 1}, "ws_beta": {"unchanged": 1}}


def test_other_workspaces_cannot_see_the_connection_or_pages(world, fake_notion) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        _connect(world)
        dataset = make_dataset(world, technique="economy", permission="all_team_members")
        document = notion_services.pages_import(dataset=dataset, page_ids=["page-guide"], actor_id=None)[0]
    with schema_context(world.beta.schema_name):
        assert notion_services.connection_get() is None
        with pytest.raises(Exception) as excinfo:
            notion_services.search()
        assert excinfo.value.code == "notion_not_connected"
    bruno = client_for(world.other.user)  # owner of beta
    beta_page = bruno.get("/console/beta/settings/data-sources/").content.decode()
    assert 'data-notion="not-connected"' in beta_page and "Alpha Notion" not in beta_page
    for path in (f"datasets/{dataset.pk}/documents/notion/",
                 f"datasets/{dataset.pk}/documents/{document.pk}/notion-sync/"):
        assert bruno.get(f"/console/beta/{path}").status_code in (404, 405), path
        assert bruno.post(f"/console/beta/{path}", {"page_ids": ["page-guide"]}).status_code == 404, path
    for path in ("settings/data-sources/", f"datasets/{dataset.pk}/documents/notion/"):
        assert bruno.get(f"/console/alpha/{path}").status_code == 404, path
        assert client_for(world.outsider).get(f"/console/alpha/{path}").status_code == 404, path
    assert bruno.post("/console/alpha/settings/data-sources/", {"token": OTHER_TOKEN}).status_code == 404
    with schema_context(world.alpha.schema_name):
        assert crypto.decrypt(connection.schema_name, NotionConnection.objects.get().secret)["token"] == TOKEN
