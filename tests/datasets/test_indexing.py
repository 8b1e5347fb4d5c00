"""Indexing a document: the status steps, progress, segments upserted (idempotent, resumable),
embeddings and keyword vectors, errors that end in a readable status, pause/resume/retry, Q&A
mode, uploads and their limits, re-segmenting, segment edits, vector usage."""

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from apps.core.errors import ServiceError
from apps.datasets import indexing, retrieval, selectors, services, tasks, vectors
from apps.datasets.models import Dataset, Document, Segment
from tests.datasets import files
from tests.datasets.conftest import FAKE_EMBED, add_text, fake_models, make_dataset
from tests.fakes.base import Reply

pytestmark = pytest.mark.django_db

CUSTOM = {"mode": "custom", "rules": {"pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
                                      "segmentation": {"separator": "###", "max_tokens": 60, "chunk_overlap": 0}}}
TEXT = "###".join(f"Paragraph {i} is about topic number {i} and nothing else at all." for i in range(12))


def test_a_document_moves_through_every_step_to_completed(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha)
    document = add_text(alpha, dataset, TEXT, process_rule=CUSTOM)
    assert document.indexing_status == Document.Status.COMPLETED, document.error
    for stamp in ("processing_started_at", "parsing_completed_at", "cleaning_completed_at",
                  "splitting_completed_at", "completed_at"):
        assert getattr(document, stamp) is not None, stamp
    assert document.total_segments == document.completed_segments == 12
    assert selectors.progress(document) == {"done": 12, "total": 12, "percent": 100, "eta_seconds": None}
    segments = list(document.segments.all())
    assert [s.position for s in segments] == list(range(1, 13))
    assert {s.embedding_dim for s in segments} == {384} and all(s.search_vector for s in segments)
    assert [s.id for s in segments] == [indexing.segment_id(document.pk, p) for p in range(1, 13)]
    dataset.refresh_from_db()
    assert dataset.embedding_dim == 384 and dataset.indexing_technique == "high_quality"
    usage = selectors.vector_usage()
    assert (usage.segments, usage.vectors, usage.bytes) == (12, 12, 12 * (384 * 4 + 8))


def test_a_completed_documents_vectors_join_the_hnsw_graph_in_bounded_merges(alpha, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATASET_VECTOR_MERGE_LIMIT = 5  # 12 vectors: the merge task runs, then queues itself twice
    dataset = make_dataset(alpha)
    document = add_text(alpha, dataset, TEXT, process_rule=CUSTOM)
    assert document.segments.filter(vector_indexed=True).count() == 12 and vectors.tail_size() == 0
    # A merge lost with its worker: the periodic recovery queues one for a workspace with a tail.
    document.segments.update(vector_indexed=False)
    assert vectors.tail_size() == 12
    tasks.recover_indexing()
    assert vectors.tail_size() == 0
    # Writing a segment's vector again puts it back in the tail until the next merge.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    Document.objects.filter(pk=document.pk).update(indexing_status=Document.Status.INDEXING)
    Segment.objects.filter(document=document, position=3).update(index_node_hash="stale")
    assert indexing.index_document(document_id=document.pk) == Document.Status.COMPLETED
    assert vectors.tail_size() == 0 and document.segments.count() == 12


def test_running_again_after_a_partial_run_adds_no_duplicates(alpha, fake_openai, settings) -> None:  # type: ignore[no-untyped-def]
    fake_models(fake_openai)
    settings.DATASET_INDEXING_BATCH = 4
    dataset = make_dataset(alpha, **FAKE_EMBED)
    document = add_text(alpha, dataset, TEXT, process_rule=CUSTOM)
    ids = list(document.segments.values_list("id", flat=True))
    assert len(fake_openai.requests) == 3  # 12 segments, 4 per batch
    # As if a worker died after the first batch: statuses back, the later vectors never written.
    Document.objects.filter(pk=document.pk).update(indexing_status=Document.Status.INDEXING, completed_segments=4)
    Segment.objects.filter(document=document, position__gt=4).update(status="waiting", embedding=None,
                                                                     embedding_dim=None)
    assert indexing.index_document(document_id=document.pk) == Document.Status.COMPLETED
    document.refresh_from_db()
    assert list(document.segments.values_list("id", flat=True)) == ids
    assert document.segments.count() == 12 == document.completed_segments
    assert not document.segments.filter(embedding_dim__isnull=True).exists()
    assert len(fake_openai.requests) == 3 + 2  # only the 8 missing segments were embedded again
    # A duplicate delivery of a finished document does nothing.
    assert indexing.index_document(document_id=document.pk) == Document.Status.COMPLETED
    assert len(fake_openai.requests) == 5


def test_a_second_worker_leaves_a_locked_document_alone(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    document = add_text(alpha, dataset, TEXT, index=False)
    from django.db import connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [indexing._lock_key(document.pk)])
        assert indexing.index_document(document_id=document.pk) == "busy"
        assert indexing.orphaned_documents() == []
    finally:
        other.close()
    assert [d.pk for d in indexing.orphaned_documents()] == [document.pk]
    assert indexing.index_document(document_id=document.pk) == Document.Status.COMPLETED


def test_malformed_files_end_in_error_with_a_reason(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    _, (document,) = services.documents_create(
        dataset=dataset, uploads=[services.Upload("broken.pdf", b"%PDF-1.7\n%%garbage without objects")],
        actor_id=None)
    assert indexing.index_document(document_id=document.pk) == Document.Status.ERROR
    document.refresh_from_db()
    assert document.error.startswith("The PDF could not be read") and document.stopped_at is not None
    with pytest.raises(ServiceError, match="text is required"):
        add_text(alpha, dataset, "   \n ")


def test_retry_and_pause_resume(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    document = add_text(alpha, dataset, TEXT, index=False, process_rule=CUSTOM)
    services.document_pause(document=document)
    assert document.indexing_status == "paused" and document.display_status == "paused"
    assert indexing.index_document(document_id=document.pk) == "paused"  # a queued run stops at once
    assert not document.segments.exists()
    services.document_resume(document=document)
    assert document.indexing_status == "waiting" and not document.is_paused
    assert indexing.index_document(document_id=document.pk) == "completed"
    with pytest.raises(ServiceError) as caught:
        services.document_pause(document=Document.objects.get(pk=document.pk))
    assert caught.value.code == "document_already_finished"
    Document.objects.filter(pk=document.pk).update(indexing_status="error", error="boom")
    document.refresh_from_db()
    services.document_retry(document=document)
    assert document.indexing_status == "waiting" and document.error is None


def test_economy_makes_no_embedding_calls_and_is_searchable(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_models(fake_openai)
    dataset = make_dataset(alpha, technique="economy")
    document = add_text(alpha, dataset, "The SKU TX-4471 is the blue kettle.\n\nOther text about tea.")
    assert document.indexing_status == "completed"
    assert fake_openai.requests == []
    assert not document.segments.filter(embedding_dim__isnull=False).exists()
    hits = retrieval.retrieve(datasets=dataset, query="TX-4471")
    assert hits and "TX-4471" in hits[0].segment.content


def test_qa_mode_writes_question_answer_segments(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_models(fake_openai, llm=True)
    fake_openai.script("chat", Reply("Q1: ¿Qué vende Tessera?\nA1: Teteras azules.\nQ2: ¿Dónde?\nA2: En línea."))
    dataset = make_dataset(alpha, **FAKE_EMBED)
    document = add_text(alpha, dataset, "Tessera sells blue kettles online.", doc_form="qa_model",
                        doc_language="Spanish")
    assert document.indexing_status == "completed", document.error
    assert list(document.segments.values_list("content", "answer")) == [
        ("¿Qué vende Tessera?", "Teteras azules."), ("¿Dónde?", "En línea.")]
    chat = [r for r in fake_openai.requests if r.endpoint == "chat"]
    assert "Spanish" in str(chat[0].json["messages"][0]["content"])


def test_uploads_are_checked_before_anything_is_stored(alpha, settings) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    settings.UPLOAD_FILE_BATCH_LIMIT = 2
    settings.UPLOAD_FILE_SIZE_LIMIT = 1
    good = services.Upload("a.txt", b"hello")
    cases = [
        ([good, good, good], "too_many_files", 400),
        ([good, services.Upload("big.txt", b"x" * (1024 * 1024 + 1))], "file_too_large", 413),
        ([good, services.Upload("tool.exe", b"MZ")], "unsupported_file_type", 415),
        ([good, services.Upload("fake.pdf", b"not a pdf")], "unsupported_file_type", 415),
        ([], "no_file_uploaded", 400),
    ]
    for uploads, code, status in cases:
        with pytest.raises(ServiceError) as caught:
            services.documents_create(dataset=dataset, uploads=uploads, actor_id=None)
        assert (caught.value.code, caught.value.status) == (code, status)
    assert not dataset.documents.exists()


def test_every_format_indexes(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    uploads = [
        services.Upload("a.txt", b"alpha text file"),
        services.Upload("b.md", b"# Beta\n\nmarkdown file"),
        services.Upload("c.html", b"<p>gamma html file</p>"),
        services.Upload("d.pdf", files.pdf("delta pdf file")),
        services.Upload("e.docx", files.docx(["epsilon docx file"])),
    ]
    batch, documents = services.documents_create(dataset=dataset, uploads=uploads, actor_id=None)
    more_batch, more = services.documents_create(dataset=dataset, uploads=[
        services.Upload("f.xlsx", files.xlsx([["word"], ["zeta"]])), services.Upload("g.csv", b"word\neta\n")],
        actor_id=None)
    assert batch != more_batch and {d.batch for d in documents} == {batch}
    for document in [*documents, *more]:
        assert indexing.index_document(document_id=document.pk) == "completed", document.name
        assert default_storage.exists(document.file)
    for word in ("alpha", "markdown", "gamma", "delta", "epsilon", "zeta", "eta"):
        hits = retrieval.retrieve(datasets=dataset, query=word)
        assert hits and word in hits[0].segment.content.lower(), word


def test_resegmenting_makes_a_new_document_and_archives_the_old(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    old = add_text(alpha, dataset, TEXT, name="guide.txt")
    assert old.segments.count() == 1
    new = services.document_resegment(document=old, process_rule=CUSTOM, actor_id=None)
    indexing.index_document(document_id=new.pk)
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.archived and not old.enabled and old.display_status == "archived"
    assert new.name == "guide.txt" and new.segments.count() == 12
    hits = retrieval.retrieve(datasets=dataset, query="Paragraph topic")
    assert {h.segment.document_id for h in hits} == {new.pk}
    with pytest.raises(ServiceError) as caught:
        services.document_set_status(document=old, action="enable")
    assert caught.value.code == "archived_document_immutable"


def test_segment_edit_add_disable_reindex_at_once(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha)
    document = add_text(alpha, dataset, "Kettles boil water.\n\nTeapots brew tea.")
    segment = document.segments.get()
    services.segment_update(segment=segment, content="Submarines dive deep underwater.", keywords=["sonar"])
    hits = retrieval.retrieve(datasets=dataset, query="sonar", retrieval_model={"search_method": "full_text_search"})
    assert [h.segment.pk for h in hits] == [segment.pk]
    assert retrieval.retrieve(datasets=dataset, query="underwater submarine")[0].segment.content.startswith("Sub")
    (added,) = services.segments_add(document=document, items=[{"content": "Rockets fly to orbit.",
                                                                 "keywords": ["space"]}], actor_id=None)
    assert added.position == 2 and added.embedding_dim == 384
    # Segments written one at a time go straight into the HNSW graph, not the tail.
    assert Segment.objects.get(pk=added.pk).vector_indexed and vectors.tail_size() == 0
    assert retrieval.retrieve(datasets=dataset, query="space",
                              retrieval_model={"search_method": "full_text_search"})[0].segment.pk == added.pk
    services.segment_update(segment=added, enabled=False)
    assert added.pk not in [h.segment.pk for h in retrieval.retrieve(datasets=dataset, query="rockets orbit")]
    with pytest.raises(ServiceError, match="Content is empty"):
        services.segments_add(document=document, items=[{"content": "  "}], actor_id=None)
    services.segment_delete(segment=added)
    assert selectors.vector_usage().segments == 1


def test_disabled_and_archived_documents_leave_retrieval(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    document = add_text(alpha, dataset, "Lighthouses guide ships.")
    assert retrieval.retrieve(datasets=dataset, query="lighthouses")
    services.document_set_status(document=document, action="disable")
    assert retrieval.retrieve(datasets=dataset, query="lighthouses") == []
    services.document_set_status(document=document, action="enable")
    services.document_set_status(document=document, action="archive")
    assert retrieval.retrieve(datasets=dataset, query="lighthouses") == []
    services.document_set_status(document=document, action="un_archive")
    assert len(retrieval.retrieve(datasets=dataset, query="lighthouses")) == 1
    with pytest.raises(ServiceError) as caught:
        services.document_set_status(document=document, action="explode")
    assert caught.value.code == "invalid_action"


def test_switching_economy_to_high_quality_embeds_existing_segments(alpha, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha, technique="economy")
    add_text(alpha, dataset, "Glaciers move slowly.\n\nDeserts are dry.")
    with django_capture_on_commit_callbacks(execute=True):
        services.dataset_update(dataset=dataset, actor_id=None, indexing_technique="high_quality",
                                embedding_model_provider="local", embedding_model="all-MiniLM-L6-v2")
    assert not Segment.objects.filter(dataset=dataset, embedding_dim__isnull=True).exists()
    dataset.refresh_from_db()
    assert dataset.embedding_dim == 384
    assert retrieval.retrieve(datasets=dataset, query="ice sheets flowing",
                              retrieval_model={"search_method": "semantic_search"})


def test_dataset_names_are_unique_and_validated(alpha) -> None:  # type: ignore[no-untyped-def]
    make_dataset(alpha, name="Docs")
    with pytest.raises(ServiceError) as caught:
        make_dataset(alpha, name="Docs")
    assert (caught.value.code, caught.value.status) == ("dataset_name_duplicate", 409)
    with pytest.raises(ServiceError) as caught:
        make_dataset(alpha, name="x" * 41)
    assert caught.value.code == "invalid_param"
    empty = services.dataset_create(name="Empty", actor_id=None)
    assert empty.indexing_technique is None
    with pytest.raises(ServiceError, match="indexing_technique is required"):
        services.document_create_from_text(dataset=empty, name="n", text="t", actor_id=None)
    assert Dataset.objects.filter(name="Empty").exists()
    assert connection.schema_name == "ws_alpha"


def test_vector_usage_follows_each_document_and_a_recount_agrees(alpha) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(alpha)
    add_text(alpha, dataset, TEXT, process_rule=CUSTOM)
    economy = make_dataset(alpha, name="Keywords", technique="economy")
    add_text(alpha, economy, "Only keywords here.\n\nAnd here.")
    usage = selectors.vector_usage()
    assert (usage.segments, usage.vectors, usage.bytes) == (13, 12, 12 * (384 * 4 + 8))
    recount = indexing.refresh_vector_usage()
    assert (recount.segments, recount.vectors, recount.bytes) == (13, 12, 12 * (384 * 4 + 8))


def test_a_dataset_without_a_description_gets_one_from_the_default_llm(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """KN-20: the first indexed documents of a dataset with no description are summarised by the
    workspace's default LLM, with the recommended prefix; a written description is never replaced,
    and without a default LLM nothing is asked."""
    plain = make_dataset(alpha, name="No model yet")
    add_text(alpha, plain, "Kettles boil water.")
    plain.refresh_from_db()
    assert plain.description == "" and fake_openai.requests_to("chat") == []  # no default LLM

    fake_models(fake_openai, embedding=False, llm=True)
    fake_openai.script("chat", Reply("  Kitchen appliances:\n how kettles and teapots work. "))
    dataset = make_dataset(alpha, name="Kitchen")
    add_text(alpha, dataset, "Kettles boil water.\n\nTeapots brew tea.")
    dataset.refresh_from_db()
    assert dataset.description == (services.DESCRIPTION_PREFIX + "Kitchen appliances: how kettles and teapots work.")
    (request,) = fake_openai.requests_to("chat")
    assert "Kettles boil water." in request.json["messages"][1]["content"]
    assert "language of the excerpts" in request.json["messages"][0]["content"]
    # A second document asks nothing: the dataset has a description now.
    add_text(alpha, dataset, "Toasters brown bread.")
    written = make_dataset(alpha, name="Written", description="Our own words.")
    add_text(alpha, written, "Ovens bake.")
    written.refresh_from_db()
    assert written.description == "Our own words." and len(fake_openai.requests_to("chat")) == 1
