"""What the indexing writes store: vectors sent binary come back exactly as the model returned them
(to float4), keyword vectors are Postgres's own to_tsvector of the segment text, for both the
document pipeline's batched upsert and the segment-edit path; vectors.binary's wire format; each
batch commits with its progress, a failed batch ends the document in error and a retry finishes it,
a pause or delete between batches stops the run; the next batch's embedding overlaps the write."""

import struct
import time
from contextlib import closing

import numpy as np
import pytest
from django.db import connection

from apps.datasets import indexing, services, vectors
from apps.datasets.models import Document, Segment
from tests.datasets.conftest import FAKE_EMBED, add_text, fake_models, make_dataset
from tests.fakes.base import Fail, Hang, fake_embedding

pytestmark = pytest.mark.django_db

CUSTOM = {"mode": "custom", "rules": {"pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
                                      "segmentation": {"separator": "###", "max_tokens": 60, "chunk_overlap": 0}}}
TEXT = "###".join(f"Lighthouse {i} guides ships past reef number {i} at night." for i in range(10))


def stored(segment: Segment) -> tuple[np.ndarray, bool]:
    """(the stored vector as float4s, whether the stored keyword vector is exactly the one Postgres
    makes from the segment's text and keywords)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT embedding::text, search_vector = setweight(to_tsvector('english', %s), 'A') "
            "|| to_tsvector('english', content) FROM datasets_segment WHERE id = %s",
            [" ".join(segment.keywords or []), segment.pk])
        text, same_keywords = cursor.fetchone()
    return np.array(text.strip("[]").split(","), dtype=np.float32), same_keywords


def test_batched_pipeline_writes_store_the_models_vectors_and_keyword_vectors(alpha, fake_openai, settings) -> None:  # type: ignore[no-untyped-def]
    fake_models(fake_openai)
    settings.DATASET_INDEXING_BATCH = 4  # 10 segments: batches of 4, 4 and 2
    dataset = make_dataset(alpha, **FAKE_EMBED)
    document = add_text(alpha, dataset, TEXT, process_rule=CUSTOM)
    assert document.indexing_status == "completed", document.error
    segments = list(document.segments.all())
    assert len(segments) == 10 and {s.embedding_dim for s in segments} == {16}
    for segment in segments:
        vector, _ = stored(segment)
        expected = np.asarray(fake_embedding(segment.content, 16), dtype=np.float32)
        assert np.array_equal(vector, expected), segment.position
        with connection.cursor() as cursor:
            cursor.execute("SELECT search_vector = to_tsvector('english', content) FROM datasets_segment "
                           "WHERE id = %s", [segment.pk])
            assert cursor.fetchone()[0] is True


def test_segment_edits_store_the_models_vector_and_keywords(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_models(fake_openai)
    dataset = make_dataset(alpha, **FAKE_EMBED)
    document = add_text(alpha, dataset, "Kettles boil water.")
    segment = services.segment_update(segment=document.segments.get(), content="Submarines dive deep.",
                                      keywords=["sonar", "hull"])
    (added,) = services.segments_add(document=document, items=[{"content": "Rockets fly.", "keywords": ["orbit"]}],
                                     actor_id=None)
    for item in (segment, added):
        vector, same_keywords = stored(item)
        assert np.array_equal(vector, np.asarray(fake_embedding(item.content, 16), dtype=np.float32))
        assert same_keywords is True


def test_binary_vector_is_pgvectors_wire_format_and_round_trips() -> None:
    value = vectors.binary([0.5, -0.25, 1.0])
    assert bytes(value) == struct.pack(">HH3f", 3, 0, 0.5, -0.25, 1.0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE binary_vectors (v vector)")
    assert vectors.execute_binary("INSERT INTO binary_vectors VALUES (%s::vector), (%s::vector)",
                                  [value, None]) == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT v::text FROM binary_vectors ORDER BY v NULLS LAST")
        assert cursor.fetchall() == [("[0.5,-0.25,1]",), (None,)]


def test_a_failed_batch_ends_in_error_and_a_retry_completes_the_rest(alpha, fake_openai, settings) -> None:  # type: ignore[no-untyped-def]
    fake_models(fake_openai)
    settings.DATASET_INDEXING_BATCH = 4
    dataset = make_dataset(alpha, **FAKE_EMBED)
    fake_openai.script("embeddings", Hang(0), Fail(400, "Input is too long for this model."))
    document = add_text(alpha, dataset, TEXT, process_rule=CUSTOM)
    assert document.indexing_status == Document.Status.ERROR
    assert "Input is too long" in document.error and document.stopped_at is not None
    # The first batch is stored with its progress; the failed one left nothing half-written.
    assert (document.total_segments, document.completed_segments) == (10, 4)
    assert list(document.segments.values_list("position", flat=True)) == [1, 2, 3, 4]
    assert not document.segments.filter(embedding_dim__isnull=True).exists()
    services.document_retry(document=document)
    assert indexing.index_document(document_id=document.pk) == Document.Status.COMPLETED
    document.refresh_from_db()
    assert (document.completed_segments, document.segments.count(), document.error) == (10, 10, None)
    assert len(fake_openai.requests) == 2 + 2  # the retry embedded only the 6 missing segments
    for segment in document.segments.all():
        assert np.array_equal(stored(segment)[0], np.asarray(fake_embedding(segment.content, 16), dtype=np.float32))


def test_write_batch_stops_a_paused_or_deleted_document(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    document = add_text(alpha, dataset, TEXT, process_rule=CUSTOM, index=False)
    chunks = [(1, indexing.Chunk("Lighthouse one.")), (2, indexing.Chunk("Lighthouse two."))]
    counter = indexing.token_counter(dataset)
    assert indexing.write_batch(document, chunks[:1], counter, None, 1) is True
    Document.objects.filter(pk=document.pk).update(is_paused=True)
    # Paused meanwhile: the finished batch and its progress are kept, and the run is told to stop.
    assert indexing.write_batch(document, chunks[1:], counter, None, 2) is False
    assert Document.objects.get(pk=document.pk).completed_segments == 2
    assert list(Segment.objects.filter(document=document).values_list("position", flat=True)) == [1, 2]
    Document.objects.filter(pk=document.pk).delete()
    assert indexing.write_batch(document, chunks, counter, None, 2) is False  # gone: nothing written
    assert not Segment.objects.filter(document_id=document.pk).exists()


def test_the_next_batch_is_requested_while_one_is_written_but_not_after_a_pause(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_models(fake_openai)
    dataset = make_dataset(alpha, **FAKE_EMBED)
    document = add_text(alpha, dataset, TEXT, process_rule=CUSTOM, index=False)
    batches = [[(p, indexing.Chunk(f"Lighthouse {p}."))] for p in (1, 2, 3)]
    with closing(indexing.embedded_batches(document, batches, indexing.embedding_model(dataset))) as embedded:
        items, vectors_ = next(embedded)
        assert items == batches[0]
        assert np.array_equal(np.asarray(vectors_[0], dtype=np.float32),
                              np.asarray(fake_embedding("Lighthouse 1.", 16), dtype=np.float32))
        # Batch 2's request is under way before the caller has written batch 1.
        deadline = time.monotonic() + 30
        while len(fake_openai.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(fake_openai.requests) == 2
        Document.objects.filter(pk=document.pk).update(is_paused=True)
        items, _ = next(embedded)
        assert items == batches[1]
        assert len(fake_openai.requests) == 2  # paused: batch 3 was never requested


def test_binary_statement_errors_are_djangos_database_errors() -> None:
    from django.db import DataError, transaction

    with pytest.raises(DataError), transaction.atomic():
        vectors.execute_binary("SELECT %s::vector(2)", [vectors.binary([1.0, 2.0, 3.0])])
