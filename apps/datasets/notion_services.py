"""Writes for Notion in Knowledge: the workspace's integration token (validated with Notion, then
stored encrypted with the workspace's key), importing pages as documents, and re-syncing them. The
token is pasted (internal integration) or comes from Notion's OAuth flow (public integration,
connection_save_oauth); both are stored the same way and used the same way afterwards. A workspace
may instead use the deployment's own internal integration (NOTION_INTERNAL_SECRET,
connection_save_deployment), whose token stays in the settings.

A Notion page becomes a Document with data_source_type "notion_import" whose text is stored as a
Markdown file, so it goes through the same cleaning, splitting and indexing as an upload. A
re-sync replaces that file through services.document_update: segments are upserted by position
and the extra ones dropped, so syncing twice never duplicates anything.
"""

import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.core.errors import ServiceError, invalid_param
from apps.datasets import notion, services
from apps.datasets.models import Dataset, Document, NotionConnection
from apps.providers import crypto

logger = logging.getLogger(__name__)
SOURCE = "notion_import"
MAX_IMPORT = 20


def connection_get() -> NotionConnection | None:
    return NotionConnection.objects.filter(pk=1).first()


def token() -> str:
    """The decrypted token; a ServiceError when none is saved or it cannot be read."""
    row = connection_get()
    if row is None:
        raise ServiceError("notion_not_connected",
                           "Notion is not connected. An owner or admin can connect it "
                           "in Settings → Data sources.", 400)
    try:
        stored = crypto.decrypt(connection.schema_name, row.secret)
    except crypto.CredentialsUnreadable as exc:
        raise ServiceError("notion_token_unreadable", str(exc), 400) from exc
    if stored.get("deployment"):
        if not settings.NOTION_INTERNAL_SECRET:
            raise ServiceError("notion_not_connected",
                               "This workspace used the deployment's Notion integration, which is no longer "
                               "configured (NOTION_INTERNAL_SECRET). Connect Notion again in Settings → Data sources.",
                               400)
        return str(settings.NOTION_INTERNAL_SECRET)
    return str(stored.get("token") or "")


def connection_save(*, token_value: str, actor_id: int | None) -> NotionConnection:
    """Check the token with Notion (GET /v1/users/me), then store it encrypted."""
    token_value = str(token_value or "").strip()
    if not token_value:
        raise invalid_param("The integration token is required.", params="token")
    return _connect(token_value, {"token": token_value}, actor_id)


def connection_save_deployment(*, actor_id: int | None) -> NotionConnection:
    """KN-32: connect the workspace to the deployment's internal integration (NOTION_INTERNAL_SECRET),
    checked with Notion like a pasted token. The token itself is not copied into the workspace: the
    row records the choice and token() reads the setting at each call, so rotating the secret needs
    no reconnecting, and unsetting it disconnects every workspace that used it."""
    if not settings.NOTION_INTERNAL_SECRET:
        raise ServiceError("notion_not_configured",
                           "This deployment has no Notion integration of its own (NOTION_INTERNAL_SECRET).", 400)
    return _connect(str(settings.NOTION_INTERNAL_SECRET), {"deployment": True}, actor_id)


def uses_deployment_integration(row: NotionConnection | None) -> bool:
    if row is None:
        return False
    try:
        return bool(crypto.decrypt(connection.schema_name, row.secret).get("deployment"))
    except crypto.CredentialsUnreadable:
        return False


def _connect(token_value: str, stored: dict[str, Any], actor_id: int | None) -> NotionConnection:
    try:
        with notion.Client(token_value) as client:
            me = client.me()
    except notion.NotionError as exc:
        raise ServiceError("notion_token_invalid", exc.message, 400) from exc
    bot = me.get("bot") or {}
    row, _ = NotionConnection.objects.update_or_create(pk=1, defaults={
        "secret": crypto.encrypt(connection.schema_name, stored),
        "bot_name": str(me.get("name") or "")[:255],
        "notion_workspace": str(bot.get("workspace_name") or "")[:255], "created_by_id": actor_id})
    return row


def connection_save_oauth(*, code: str, redirect_uri: str, actor_id: int | None) -> NotionConnection:
    """The end of the OAuth flow: exchange Notion's code for the access token, then store it like a
    pasted token (checked with Notion, encrypted with the current workspace's key)."""
    code = str(code or "").strip()
    if not code:
        raise invalid_param("Notion sent no authorisation code.", params="code")
    try:
        granted = notion.exchange_code(code, redirect_uri)
    except notion.NotionError as exc:
        raise ServiceError("notion_oauth_failed", exc.message, 400) from exc
    return connection_save(token_value=granted["access_token"], actor_id=actor_id)


def connection_delete() -> None:
    NotionConnection.objects.filter(pk=1).delete()


def search(query: str = "") -> list[dict[str, Any]]:
    """Pages the integration can see (id, title, last_edited_time, url)."""
    try:
        with notion.Client(token()) as client:
            return client.search_pages(query)
    except notion.NotionError as exc:
        raise ServiceError("notion_error", exc.message, 400) from exc


def _fetch(client: notion.Client, page_id: str) -> tuple[dict[str, Any], str]:
    page = client.page(page_id)
    return page, notion.page_text(client, page)


def _info(page: dict[str, Any]) -> dict[str, Any]:
    return {"notion_page_id": str(page.get("id") or ""),
            "last_edited_time": str(page.get("last_edited_time") or ""),
            "title": notion.page_title(page), "url": str(page.get("url") or "")}


def pages_import(*, dataset: Dataset, page_ids: list[str], actor_id: int | None,
                 process_rule: dict | None = None) -> list[Document]:
    """Import pages as documents and queue their indexing. Every page is fetched before anything
    is written, so a Notion failure leaves the dataset unchanged."""
    page_ids = [str(p).strip() for p in page_ids if str(p).strip()]
    if not page_ids:
        raise invalid_param("Choose at least one Notion page.", params="page_ids")
    if len(page_ids) > MAX_IMPORT:
        raise invalid_param(f"Import at most {MAX_IMPORT} pages at a time.", params="page_ids")
    fetched = []
    try:
        with notion.Client(token()) as client:
            for page_id in dict.fromkeys(page_ids):
                fetched.append(_fetch(client, page_id))
    except notion.NotionError as exc:
        raise ServiceError("notion_error", exc.message, 400) from exc
    documents = []
    with transaction.atomic():
        for page, text in fetched:
            title = (notion.page_title(page) or "Untitled")[:200]
            _, created = services.documents_create(
                dataset=dataset, uploads=[services.Upload(f"{title}.md", text.encode())], actor_id=actor_id,
                process_rule=process_rule)
            document = created[0]
            Document.objects.filter(pk=document.pk).update(name=title, data_source_type=SOURCE,
                                                           data_source_info=_info(page))
            document.refresh_from_db()
            documents.append(document)
    return documents


def _mark_error(document: Document, reason: str) -> None:
    Document.objects.filter(pk=document.pk).update(
        indexing_status=Document.Status.ERROR, error=f"Notion sync failed: {reason}"[:2000],
        stopped_at=timezone.now(), updated_at=timezone.now())


def document_sync(*, document: Document, force: bool = False) -> str:
    """Re-fetch a Notion document. Returns "updated" (content replaced and re-indexing queued),
    "unchanged" (same last_edited_time, nothing done), "skipped" (archived or being indexed) or
    "error" (the reason is on the document; nothing raises, so a periodic run goes on)."""
    if document.data_source_type != SOURCE:
        raise ServiceError("invalid_action", "Only documents imported from Notion can be synced.", 400)
    if document.archived or (document.is_running and document.indexing_status != Document.Status.WAITING):
        return "skipped"
    page_id = str((document.data_source_info or {}).get("notion_page_id") or "")
    try:
        with notion.Client(token()) as client:
            page = client.page(page_id)
            known = (document.data_source_info or {}).get("last_edited_time")
            if not force and known == page.get("last_edited_time") and \
                    document.indexing_status == Document.Status.COMPLETED:
                return "unchanged"
            text = notion.page_text(client, page)
    except notion.NotionError as exc:
        _mark_error(document, exc.message)
        return "error"
    except ServiceError as exc:
        _mark_error(document, exc.message)
        return "error"
    title = (notion.page_title(page) or document.name)[:200]
    with transaction.atomic():
        services.document_update(document=document, actor_id=document.created_by_id,
                                 upload=services.Upload(f"{title}.md", text.encode()), name=title)
        Document.objects.filter(pk=document.pk).update(data_source_info=_info(page))
    document.refresh_from_db()
    return "updated"


def sync_all() -> dict[str, int]:
    """Sync every Notion document of the current workspace (the periodic task, per schema)."""
    counts: dict[str, int] = {}
    if connection_get() is None:
        return counts
    documents = Document.objects.filter(data_source_type=SOURCE, archived=False).select_related("dataset")
    for document in documents:
        try:
            outcome = document_sync(document=document)
        except Exception as exc:  # one bad document must not stop the others
            logger.exception("syncing Notion document %s failed", document.pk)
            _mark_error(document, f"{exc.__class__.__name__}: {exc}")
            outcome = "error"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
