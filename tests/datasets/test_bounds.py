"""Issue 20, item 4: one upload cannot tie up indexing. A document's extracted text and its
segment count are bounded (settings, with the reason on the document and in the Knowledge API);
.docx text is read as a stream; splitting counts each character a bounded number of times; a
large document is indexed in slices that queue the rest behind other documents; and
documents/metadata takes a bounded number of operations. (The real worker's fairness test is in
test_worker.py; the figures are in bench/pipeline.py.)"""

import uuid

import pytest
from django_tenants.utils import schema_context

from apps.datasets import indexing, keys
from apps.datasets.models import Document
from apps.datasets.pipeline import extract, split
from apps.datasets.pipeline.errors import ExtractionError
from apps.providers.runtime.tokens import approximate_tokens
from tests.datasets import files
from tests.datasets.conftest import add_text, make_dataset
from tests.datasets.test_api import Api, error

pytestmark = pytest.mark.django_db


@pytest.fixture
def kapi(world):  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        _, raw = keys.api_key_create(actor_id=world.owner.user_id)
    return Api(raw)
CUSTOM = {"mode": "custom", "rules": {"pre_processing_rules": [],
                                      "segmentation": {"separator": "###", "max_tokens": 60, "chunk_overlap": 0}}}


def test_docx_text_is_read_in_document_order_and_stops_at_the_limit(settings) -> None:  # type: ignore[no-untyped-def]
    data = files.docx(["First.", "Second."], table=[["Name", "Role"], ["Ada", "Admin"]])
    assert extract.extract("a.docx", data) == "First.\nSecond.\nName | Role\nAda | Admin"
    settings.DATASET_MAX_TEXT_CHARACTERS = len("First.\nSecond.\nName | Role\nAda | Admin")
    assert extract.extract("a.docx", data).endswith("Ada | Admin")  # exactly at the limit
    settings.DATASET_MAX_TEXT_CHARACTERS -= 1
    with pytest.raises(ExtractionError, match="more than 37 characters of text.*DATASET_MAX_TEXT_CHARACTERS"):
        extract.extract("a.docx", data)
    # The other formats are bounded the same way.
    with pytest.raises(ExtractionError, match="DATASET_MAX_TEXT_CHARACTERS"):
        extract.extract("a.txt", b"x" * 38)
    with pytest.raises(ExtractionError, match="DATASET_MAX_TEXT_CHARACTERS"):
        extract.extract("a.xlsx", files.xlsx([["h"], ["y" * 40]]))


def test_splitting_counts_each_character_a_bounded_number_of_times() -> None:
    """The greedy join recounted the growing segment after each word (~500x the text for 500-token
    segments of short words); galloping over a window counts it O(log) times."""
    counted = 0

    def count(text: str) -> int:
        nonlocal counted
        counted += len(text)
        return approximate_tokens(text)

    text = "word " * 200_000  # one line, no sentence ends: every word is a piece
    chunks = split.split(text, separator="\n", max_tokens=500, overlap=50, count=count, fixed=False)
    assert len(chunks) > 400 and all(approximate_tokens(c) <= 500 for c in chunks)
    assert counted < 40 * len(text), counted / len(text)
    counted = 0
    split.split("x" * 1_000_000, separator="\n", max_tokens=500, overlap=0, count=count)  # one long "word"
    assert counted < 40 * 1_000_000, counted / 1_000_000


def test_a_segment_limit_stops_splitting(settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(split.TooManySegments):
        split.split("###".join(["part"] * 10), separator="###", max_tokens=60, overlap=0,
                    count=approximate_tokens, limit=9)
    assert len(split.split("###".join(["part"] * 10), separator="###", max_tokens=60, overlap=0,
                           count=approximate_tokens, limit=10)) == 10


def test_documents_over_the_limits_end_in_error_with_the_reason_in_the_api(world, kapi, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATASET_MAX_TEXT_CHARACTERS = 2_000
    settings.DATASET_MAX_SEGMENTS = 20
    with schema_context(world.alpha.schema_name):
        dataset = make_dataset(world, technique="economy")
        at_limit = add_text(world, dataset, ("x" * 97 + "###") * 20, name="limit.txt", process_rule=CUSTOM)
        long = add_text(world, dataset, "y" * 2_001, name="long.txt", process_rule=CUSTOM)
        many = add_text(world, dataset, "###".join(["z"] * 21), name="many.txt", process_rule=CUSTOM)
        assert many.segments.count() == 0
    assert len(("x" * 97 + "###") * 20) == 2_000  # both limits exactly
    assert (at_limit.indexing_status, at_limit.total_segments) == ("completed", 20)
    assert long.indexing_status == "error" and "more than 2,000 characters" in long.error
    assert many.indexing_status == "error" and "more than 20 segments" in many.error
    assert "DATASET_MAX_SEGMENTS" in many.error
    body = kapi.get(f"/v1/datasets/{dataset.pk}/documents/{long.pk}").json()
    assert body["indexing_status"] == "error" and "DATASET_MAX_TEXT_CHARACTERS" in body["error"]
    status = kapi.get(f"/v1/datasets/{dataset.pk}/documents/{many.batch}/indexing-status").json()
    assert status["data"][0]["indexing_status"] == "error" and "more than 20 segments" in status["data"][0]["error"]


def test_a_large_document_is_indexed_in_slices_without_going_back_a_step(alpha, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings.DATASET_INDEXING_SLICE, settings.DATASET_INDEXING_BATCH = 5, 2
    runs: list[tuple[str, int]] = []
    real = indexing._run

    def watched(document, model=None):  # type: ignore[no-untyped-def]
        runs.append((document.indexing_status, document.completed_segments))
        return real(document, model)

    monkeypatch.setattr(indexing, "_run", watched)
    dataset = make_dataset(alpha, technique="economy")
    document = add_text(alpha, dataset, "###".join(f"Part {i}." for i in range(12)), process_rule=CUSTOM)
    assert document.indexing_status == "completed" and document.completed_segments == 12
    # Three runs (5 + 5 + 2 segments): each later run was a re-queued task that continued in
    # `indexing` where the previous one stopped, without parsing the file again.
    assert runs == [("waiting", 0), ("indexing", 5), ("indexing", 10)]
    assert [s.position for s in document.segments.order_by("position")] == list(range(1, 13))


def test_metadata_operations_per_request_are_capped(world, kapi, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATASET_METADATA_MAX_OPERATIONS = 3
    with schema_context(world.alpha.schema_name):
        dataset = make_dataset(world, technique="economy")
        document = add_text(world, dataset, "Some text.", process_rule=CUSTOM)
    field = kapi.post(f"/v1/datasets/{dataset.pk}/metadata", {"type": "string", "name": "team"}).json()
    op = {"document_id": str(document.pk), "partial_update": True,
          "metadata_list": [{"id": field["id"], "name": "team", "value": "sales"}]}
    body = error(kapi.post(f"/v1/datasets/{dataset.pk}/documents/metadata", {"operation_data": [op] * 4}),
                 "invalid_param", 400)
    assert "4 operations; at most 3" in body["message"]
    with schema_context(world.alpha.schema_name):
        assert Document.objects.get(pk=document.pk).metadata == {}  # nothing applied
    assert kapi.post(f"/v1/datasets/{dataset.pk}/documents/metadata",
                     {"operation_data": [op] * 3}).json() == {"result": "success"}
    assert uuid.UUID(field["id"])
