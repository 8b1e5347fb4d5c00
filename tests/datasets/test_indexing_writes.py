"""What the indexing writes store: vectors sent binary come back exactly as the model returned them
(to float4), keyword vectors are Postgres's own to_tsvector of the segment text, for both the
document pipeline's batched upsert and the segment-edit path; vectors.binary's wire format."""

import struct

import numpy as np
import pytest
from django.db import connection

from apps.datasets import services, vectors
from apps.datasets.models import Segment
from tests.datasets.conftest import FAKE_EMBED, add_text, fake_models, make_dataset
from tests.fakes.base import fake_embedding

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
