"""Indexing through a real Celery worker (Redis broker started by the suite, so no other test run
shares the queue): a document completes, a malformed file ends in error without hurting the
worker, and a worker killed mid-document leaves it to the next worker, which finishes it with no
duplicate segments and adds its vectors to the HNSW graph."""

import uuid

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from kombu import pools

from apps.datasets import indexing, services
from apps.datasets.models import Document, Segment
from config.celery import app as celery_app
from tests.core.test_celery_worker import _start_worker, _stop, _wait_for
from tests.datasets.conftest import FAKE_EMBED, fake_models
from tests.fakes.base import Hang

pytestmark = [pytest.mark.worker, pytest.mark.redis]
CUSTOM = {"mode": "custom", "rules": {"pre_processing_rules": [],
                                      "segmentation": {"separator": "###", "max_tokens": 60, "chunk_overlap": 0}}}


@pytest.fixture
def redis_broker(redis_url, monkeypatch):  # type: ignore[no-untyped-def]
    """Send for real, to this session's own Redis (the workers started below listen there)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "broker_url", redis_url)
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {})
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield redis_url
    pools.reset()  # closes and forgets the producer pools bound to this Redis
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _status(document_id) -> tuple[str, int, int, str | None]:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        return tuple(Document.objects.filter(pk=document_id).values_list(
            "indexing_status", "completed_segments", "total_segments", "error").first() or ("gone", 0, 0, None))


def _tail(document_id) -> int:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        return Segment.objects.filter(document_id=document_id, vector_indexed=False).count()


def _embedding_calls(fake) -> int:  # type: ignore[no-untyped-def]
    return len([r for r in fake.requests if r.endpoint == "embeddings"])


def test_the_worker_indexes_documents_and_survives_a_malformed_file(world_tx, redis_broker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world_tx.alpha.schema_name):
        dataset = services.dataset_create(name=f"W {uuid.uuid4().hex[:6]}", actor_id=None,
                                          indexing_technique="economy")
        _, (broken,) = services.documents_create(
            dataset=dataset, uploads=[services.Upload("broken.pdf", b"%PDF-1.7 no objects at all")], actor_id=None)
        _, good = services.document_create_from_text(dataset=dataset, name="good.txt", actor_id=None,
                                                     text="###".join(f"Part {i}." for i in range(5)),
                                                     process_rule=CUSTOM)
    worker = _start_worker(tmp_path, {"REDIS_URL": redis_broker})
    try:
        done = _wait_for(lambda: _status(good.pk)[0] == "completed" and _status(broken.pk)[0] == "error", 60)
    finally:
        output = _stop(worker, tmp_path)
    assert done, output
    assert _status(good.pk)[1:3] == (5, 5)
    assert _status(broken.pk)[3].startswith("The PDF could not be read")
    assert "apps.datasets.tasks.index_document" in output and "Traceback" not in output


def test_a_killed_worker_leaves_the_document_to_the_next_one(world_tx, redis_broker, fake_openai, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Batches of 4: the first two embed, the third hangs, and the worker is killed while it waits.
    fake_openai.script("embeddings", Hang(0), Hang(0), Hang(300))
    env = {"REDIS_URL": redis_broker, "DATASET_INDEXING_BATCH": "4"}
    with schema_context(world_tx.alpha.schema_name):
        fake_models(fake_openai)
        dataset = services.dataset_create(name=f"K {uuid.uuid4().hex[:6]}", actor_id=None,
                                          indexing_technique="high_quality", **FAKE_EMBED)
        _, document = services.document_create_from_text(
            dataset=dataset, name="long.txt", actor_id=None, process_rule=CUSTOM,
            text="###".join(f"Chapter {i} tells part {i} of the story." for i in range(12)))
    worker = _start_worker(tmp_path, env)
    try:
        stuck = _wait_for(lambda: _status(document.pk)[:2] == ("indexing", 8) and _embedding_calls(fake_openai) == 3,
                          60)
    finally:
        worker.kill()  # SIGKILL: no cleanup, no ack, the database session just disappears
        worker.wait(timeout=15)
        first_log = (tmp_path / "worker.log").read_text()
    assert stuck, first_log
    assert _status(document.pk)[:3] == ("indexing", 8, 12)
    restarted = _start_worker(tmp_path, env)  # recovers orphaned documents when it is ready
    try:
        # The document completes, then the worker's merge_vectors adds its vectors to the HNSW graph.
        finished = _wait_for(lambda: _status(document.pk)[0] == "completed" and _tail(document.pk) == 0, 60)
    finally:
        output = _stop(restarted, tmp_path)
    assert finished, output
    assert "apps.datasets.tasks.merge_vectors" in output
    assert _status(document.pk)[:3] == ("completed", 12, 12)
    with schema_context("ws_alpha"):
        segments = list(Segment.objects.filter(document_id=document.pk).order_by("position"))
        assert [s.position for s in segments] == list(range(1, 13))
        assert [s.id for s in segments] == [indexing.segment_id(document.pk, p) for p in range(1, 13)]
        assert all(s.embedding_dim == 16 and s.status == "completed" for s in segments)
    assert _embedding_calls(fake_openai) == 4  # only the unfinished batch was embedded again
    assert "re-queued 1 orphaned documents" in output
    assert settings.CELERY_TASK_ROUTES["apps.datasets.tasks.index_document"] == {"queue": "dataset"}


def test_pausing_mid_document_stops_after_the_current_batch_and_resume_finishes(world_tx, redis_broker, fake_openai, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The second batch's embedding request is held long enough for the test to pause meanwhile.
    fake_openai.script("embeddings", Hang(0), Hang(8))
    with schema_context(world_tx.alpha.schema_name):
        fake_models(fake_openai)
        dataset = services.dataset_create(name=f"P {uuid.uuid4().hex[:6]}", actor_id=None,
                                          indexing_technique="high_quality", **FAKE_EMBED)
        _, document = services.document_create_from_text(
            dataset=dataset, name="long.txt", actor_id=None, process_rule=CUSTOM,
            text="###".join(f"Chapter {i} tells part {i} of the story." for i in range(12)))
    worker = _start_worker(tmp_path, {"REDIS_URL": redis_broker, "DATASET_INDEXING_BATCH": "4"})
    try:
        held = _wait_for(lambda: _embedding_calls(fake_openai) == 2, 60)
        with schema_context("ws_alpha"):
            services.document_pause(document=Document.objects.get(pk=document.pk))
        stopped = _wait_for(lambda: _status(document.pk)[1] == 8, 60)  # the held batch still lands
        paused_state = _status(document.pk)
        with schema_context("ws_alpha"):
            services.document_resume(document=Document.objects.get(pk=document.pk))
        finished = _wait_for(lambda: _status(document.pk)[0] == "completed", 60)
    finally:
        output = _stop(worker, tmp_path)
    assert held and stopped and finished, output
    assert paused_state[:3] == ("paused", 8, 12)
    assert _status(document.pk)[:3] == ("completed", 12, 12)
    assert _embedding_calls(fake_openai) == 3  # nothing embedded twice
    with schema_context("ws_alpha"):
        assert Segment.objects.filter(document_id=document.pk).count() == 12


def _finished(schema: str, document_id) -> tuple[str, object, object, str | None]:  # type: ignore[no-untyped-def]
    with schema_context(schema):
        return Document.objects.filter(pk=document_id).values_list(
            "indexing_status", "processing_started_at", "completed_at", "error").first()


def test_a_large_document_does_not_hold_the_worker_from_other_workspaces(world_tx, redis_broker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 20: alpha's document at the text size limit (2,000 segments, indexed 100 a run) and
    one over it are queued first, beta's small document after them, and one worker serves all.
    Beta's completes while alpha's large one is still mid-way: each slice of it goes back in the
    queue behind beta's. The order is read from the documents' own timestamps."""
    limit = 200_000
    # The worker sends the rest of a document to the broker as production does (the test settings
    # would run it inline, nested in the slice that queued it).
    env = {"REDIS_URL": redis_broker, "CELERY_TASK_ALWAYS_EAGER": "false",
           "DATASET_MAX_TEXT_CHARACTERS": str(limit), "DATASET_INDEXING_SLICE": "100"}
    with schema_context(world_tx.alpha.schema_name):
        dataset = services.dataset_create(name=f"Big {uuid.uuid4().hex[:6]}", actor_id=None,
                                          indexing_technique="economy")
        _, large = services.document_create_from_text(dataset=dataset, name="large.txt", actor_id=None,
                                                      text=("Part of a long manual. " * 4 + "x" * 5 + "###") * 2_000,
                                                      process_rule=CUSTOM)
        _, too_large = services.document_create_from_text(dataset=dataset, name="too-large.txt", actor_id=None,
                                                          text="y" * (limit + 1), process_rule=CUSTOM)
    with schema_context(world_tx.beta.schema_name):
        small_set = services.dataset_create(name=f"Small {uuid.uuid4().hex[:6]}", actor_id=None,
                                            indexing_technique="economy")
        _, small = services.document_create_from_text(dataset=small_set, name="small.txt", actor_id=None,
                                                      text="A short note.###Another line.", process_rule=CUSTOM)
    assert len(("Part of a long manual. " * 4 + "x" * 5 + "###") * 2_000) == limit
    worker = _start_worker(tmp_path, env)
    try:
        done = _wait_for(lambda: _finished("ws_alpha", large.pk)[0] == "completed"
                         and _finished("ws_beta", small.pk)[0] == "completed"
                         and _finished("ws_alpha", too_large.pk)[0] == "error", 120)
    finally:
        output = _stop(worker, tmp_path)
    assert done, output
    large_state, small_state = _finished("ws_alpha", large.pk), _finished("ws_beta", small.pk)
    assert large_state[1] < small_state[1], "alpha's large document started first"
    assert small_state[2] < large_state[2], "beta's document finished while alpha's was still indexing"
    assert "more than 200,000 characters" in _finished("ws_alpha", too_large.pk)[3]
    with schema_context("ws_alpha"):
        assert Segment.objects.filter(document_id=large.pk).count() == 2_000
    assert output.count("apps.datasets.tasks.index_document[") >= 2 * 21  # 20 slices + the others, received and done


def test_describe_dataset_runs_on_the_worker_after_indexing(world_tx, redis_broker, fake_openai, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """KN-20 on a real worker: the document's last step queues describe_dataset through the broker
    (not inline), and the worker writes the description in the sender's workspace only."""
    from tests.fakes.base import Reply

    fake_openai.script("chat", Reply("Kitchen appliances: kettles and teapots."))
    with schema_context(world_tx.alpha.schema_name):
        fake_models(fake_openai, embedding=False, llm=True)
        dataset = services.dataset_create(name=f"D {uuid.uuid4().hex[:6]}", actor_id=None,
                                          indexing_technique="economy")
        services.document_create_from_text(dataset=dataset, name="kitchen.txt", actor_id=None,
                                           text="Kettles boil water.###Teapots brew tea.", process_rule=CUSTOM)
    worker = _start_worker(tmp_path, {"REDIS_URL": redis_broker, "CELERY_TASK_ALWAYS_EAGER": "false"})

    def description() -> str:
        with schema_context("ws_alpha"):
            return type(dataset).objects.get(pk=dataset.pk).description

    try:
        described = _wait_for(lambda: bool(description()), 60)
    finally:
        output = _stop(worker, tmp_path)
    assert described, output
    assert description() == services.DESCRIPTION_PREFIX + "Kitchen appliances: kettles and teapots."
    assert "Task apps.datasets.tasks.describe_dataset[" in output and " received" in output
    (request,) = fake_openai.requests_to("chat")
    assert "Kettles boil water." in request.json["messages"][1]["content"]
    with schema_context("ws_beta"):
        assert not type(dataset).objects.filter(pk=dataset.pk).exists()
