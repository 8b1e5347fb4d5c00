"""Notion import and the console's Sync button through a real Celery worker (the suite's own
Redis): the import is indexed by the worker, and Sync re-fetches the changed page on the worker,
which then re-indexes it without duplicate segments. Notion is the fake server of test_notion."""

import uuid

import pytest
from django_tenants.utils import schema_context

from apps.datasets import notion_services, services
from apps.datasets.models import Document, Segment
from tests.conftest import client_for
from tests.core.test_celery_worker import _start_worker, _stop, _wait_for
from tests.datasets.test_notion import TOKEN, _block, fake_notion  # noqa: F401 (the fixture)
from tests.datasets.test_worker import redis_broker  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.worker, pytest.mark.redis]


def _state(document_id) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        status = Document.objects.filter(pk=document_id).values_list("indexing_status", flat=True).first()
        return str(status), list(Segment.objects.filter(document_id=document_id).order_by("position")
                                 .values_list("content", flat=True))


def test_import_and_sync_run_on_the_worker(world_tx, redis_broker, fake_notion, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with schema_context(world_tx.alpha.schema_name):
        notion_services.connection_save(token_value=TOKEN, actor_id=world_tx.owner.user_id)
        dataset = services.dataset_create(name=f"N {uuid.uuid4().hex[:6]}", actor_id=world_tx.owner.user_id,
                                          indexing_technique="economy", permission="all_team_members")
        document = notion_services.pages_import(dataset=dataset, page_ids=["page-faq"], actor_id=None)[0]
    worker = _start_worker(tmp_path, {"REDIS_URL": redis_broker, "NOTION_API_BASE": fake_notion.base_url})
    try:
        assert _wait_for(lambda: _state(document.pk)[0] == "completed", 60), _state(document.pk)
        assert "> Lunch is served at noon." in "\n".join(_state(document.pk)[1])
        fake_notion.pages["page-faq"]["last_edited_time"] = "2026-11-05T08:00:00.000Z"
        fake_notion.blocks["page-faq"] = [_block("n1", "paragraph", "Lunch is now at half past twelve.")]
        response = client_for(world_tx.editor.user).post(
            f"/console/alpha/datasets/{dataset.pk}/documents/{document.pk}/notion-sync/")
        assert response.status_code == 302
        assert _wait_for(lambda: _state(document.pk)[0] == "completed" and
                         "half past twelve" in "\n".join(_state(document.pk)[1]), 60), _state(document.pk)
        contents = _state(document.pk)[1]
        assert not any("noon" in c for c in contents) and len(contents) == len(set(contents))
    finally:
        log = _stop(worker, tmp_path)
    assert "sync_notion_document" in log and "Traceback" not in log
