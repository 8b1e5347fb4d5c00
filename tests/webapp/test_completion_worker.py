"""A WebApp batch (WEB-09) through a real Celery worker: the upload only queues the batch, and a
separate worker process runs its rows against the fake model over HTTP. A failing row is reported
on its own row while the others complete."""

import io

import pytest
from django_tenants.utils import schema_context

from apps.logs.models import CompletionBatch, Message
from tests.core.test_celery_worker import _start_worker, _stop, _wait_for, real_broker  # noqa: F401
from tests.webapp.test_completion_api import HEADERS, _browser, _responder

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _status(batch_id: str) -> str:
    with schema_context("ws_alpha"):
        return CompletionBatch.objects.get(pk=batch_id).status


def test_worker_runs_the_batch_and_reports_the_failing_row(web, fake_openai, real_broker, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    fake_openai.responder = _responder
    end_user, client = _browser("ws_alpha", web.completion)
    upload = io.BytesIO("Topic\nthe sea\nBROKEN\nthe hills\n".encode())
    upload.name = "rows.csv"
    created = client.post(
        f"/webapp/{web.completion_code}/api/completion-batches", {"file": upload}, headers=HEADERS
    )
    assert created.status_code == 201, created.content
    batch_id = created.json()["id"]
    # Queued, not run: every row waits for the worker.
    assert created.json()["status"] == "queued"
    assert [r["status"] for r in created.json()["rows"]] == ["pending"] * 3
    assert fake_openai.requests == []

    worker = _start_worker(tmp_path)
    try:
        finished = _wait_for(lambda: _status(batch_id) == "finished", timeout=90)
    finally:
        output = _stop(worker, tmp_path)
    assert finished, output
    assert "apps.applications.tasks.run_completion_batch" in output
    detail = client.get(f"/webapp/{web.completion_code}/api/completion-batches/{batch_id}")
    rows = detail.json()["rows"]
    assert [(r["status"], r["answer"]) for r in rows] == [
        ("succeeded", "A text about the sea"),
        ("failed", ""),
        ("succeeded", "A text about the hills"),
    ]
    assert "The model refused this row." in rows[1]["error"]
    assert len(fake_openai.requests_to("chat")) == 3
    with schema_context("ws_alpha"):
        assert Message.objects.filter(app=web.completion, end_user=end_user).count() == 3
    with schema_context("ws_beta"):
        assert CompletionBatch.objects.count() == 0
