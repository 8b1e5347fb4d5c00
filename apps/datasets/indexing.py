"""Indexing one document: parse → clean → split → embed and keyword-index, in visible steps.

Idempotent and resumable by construction:
- segment ids are derived from (document, position) and rows are upserted on that pair, so running
  the same document twice (a second delivery, a restart after a killed worker) rewrites the same
  rows and never adds duplicates;
- a segment whose content hash is unchanged and which is already indexed is kept as it is, so a
  restarted run only embeds what the killed one had not finished;
- a session-level Postgres advisory lock per document keeps two workers off the same document; a
  killed worker's lock disappears with its connection, which is how `orphaned_documents` tells a
  stalled document from one that is still being worked on.

Every failure ends as status `error` with a readable reason; nothing here raises into the worker.
"""

import dataclasses
import hashlib
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.core.errors import ServiceError
from apps.datasets import vectors
from apps.datasets.models import Dataset, Document, Segment, VectorUsage
from apps.datasets.pipeline import cjk, clean, extract, qa, rules, split
from apps.datasets.pipeline.errors import ExtractionError
from apps.providers import selectors as model_selectors
from apps.providers.runtime import tokens
from apps.providers.runtime.errors import RuntimeModelError
from apps.providers.runtime.instance import ModelInstance

logger = logging.getLogger(__name__)
SEGMENT_NAMESPACE = uuid.UUID("6f1d8a52-5b7e-4d0c-9a51-3c2b1e7d9f10")
TS_CONFIG = "english"
LOCAL_EMBEDDING = ("local", "all-MiniLM-L6-v2")


class Paused(Exception):
    """The document was paused (or deleted) while this run worked on it."""


@dataclasses.dataclass
class Chunk:
    content: str
    answer: str = ""

    @property
    def hash(self) -> str:
        return hashlib.sha256(f"{self.content}\x00{self.answer}".encode()).hexdigest()


def segment_id(document_id: Any, position: int) -> uuid.UUID:
    """The deterministic id of a document's n-th segment."""
    return uuid.uuid5(SEGMENT_NAMESPACE, f"{document_id}:{position}")


# --- Locks ------------------------------------------------------------------------------------


def _lock_key(document_id: Any) -> int:
    digest = hashlib.sha1(f"{connection.schema_name}:{document_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def document_lock(document_id: Any) -> Iterator[bool]:
    """Hold the document's advisory lock for the block; yields False if another session has it."""
    key = _lock_key(document_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def orphaned_documents() -> list[Document]:
    """Documents left mid-pipeline with nobody working on them (their worker died): the ones in a
    running status whose advisory lock is free."""
    found = []
    for document in Document.objects.filter(indexing_status__in=Document.RUNNING, is_paused=False,
                                            archived=False):
        with document_lock(document.pk) as free:
            if free:
                found.append(document)
    return found


# --- Models -------------------------------------------------------------------------------------


def embedding_model(dataset: Dataset) -> ModelInstance:
    """The dataset's embedding model (sync; in the workspace's schema)."""
    provider = dataset.embedding_model_provider or LOCAL_EMBEDDING[0]
    name = dataset.embedding_model or LOCAL_EMBEDDING[1]
    return model_selectors.resolve("text-embedding", provider, name)


def token_counter(dataset: Dataset) -> split.Counter:
    """Counts with the dataset's embedding model's tokenizer (an approximation for most models)."""
    if dataset.indexing_technique == Dataset.Technique.HIGH_QUALITY and dataset.embedding_model:
        provider, model = dataset.embedding_model_provider, dataset.embedding_model
        return lambda text: tokens.count_tokens(text, provider=provider, model=model)[0]
    return tokens.approximate_tokens


def embed(model: ModelInstance, texts: list[str]) -> list[list[float]]:
    return async_to_sync(model.embed)(texts).vectors


# --- Stages ---------------------------------------------------------------------------------------


def document_text(document: Document) -> str:
    """The extracted text of a document's stored file."""
    with default_storage.open(document.file, "rb") as handle:
        data = handle.read()
    return extract.extract(f"document.{document.extension or 'txt'}", data)


def too_many_segments() -> ExtractionError:
    limit = settings.DATASET_MAX_SEGMENTS
    return ExtractionError(f"The document splits into more than {limit:,} segments, the most one document "
                           "may have (DATASET_MAX_SEGMENTS). Split it into smaller documents or use longer "
                           "segments.")


def chunks_for(text: str, *, rule: dict[str, Any], counter: split.Counter) -> list[Chunk]:
    """Clean and split `text` with a (normalized) process rule; ExtractionError past
    DATASET_MAX_SEGMENTS (splitting stops there)."""
    cleaned = clean.clean(text, rules.enabled_cleaning(rule))
    separator, max_tokens, overlap = rules.segmentation(rule)
    try:
        parts = split.split(cleaned, separator=separator, max_tokens=max_tokens, overlap=overlap,
                            count=counter, fixed=rule["mode"] == "custom",
                            limit=settings.DATASET_MAX_SEGMENTS)
    except split.TooManySegments:
        raise too_many_segments() from None
    return [Chunk(c) for c in parts]


def qa_chunks(chunks: list[Chunk], language: str) -> list[Chunk]:
    """Q&A mode: the workspace's default LLM writes question–answer pairs for each chunk."""
    llm = model_selectors.resolve_default("llm")
    pairs: list[Chunk] = []
    for chunk in chunks:
        result = async_to_sync(llm.invoke)(qa.messages(chunk.content, language))
        pairs += [Chunk(q, a) for q, a in qa.parse(result.text)]
    return pairs


def _advance(document: Document, status: str, **fields: Any) -> None:
    """Move to `status` unless the document was paused or deleted meanwhile (then stop)."""
    updated = Document.objects.filter(pk=document.pk, is_paused=False).update(
        indexing_status=status, updated_at=timezone.now(), **fields)
    if not updated:
        raise Paused
    document.indexing_status = status
    for key, value in fields.items():
        setattr(document, key, value)


def pending_chunks(document: Document, chunks: list[Chunk]) -> list[tuple[int, Chunk]]:
    """(position, chunk) still to index: a segment already indexed with the same content is kept.
    Segments past the new end are deleted."""
    existing = dict(Segment.objects.filter(document=document, status=Segment.Status.COMPLETED)
                    .values_list("position", "index_node_hash"))
    Segment.objects.filter(document=document, position__gt=len(chunks)).delete()
    return [(p, c) for p, c in enumerate(chunks, start=1) if existing.get(p) != c.hash]


_UPSERT_COLUMNS = ("id, dataset_id, document_id, position, content, answer, keywords, word_count, tokens, enabled, "
                   "status, index_node_id, index_node_hash, hit_count, embedding, embedding_dim, vector_indexed, search_vector, "
                   "created_by_id, created_at, updated_at, indexing_at, completed_at")
_UPSERT_ROW = ("(%s, %s, %s, %s, %s, %s, '[]'::jsonb, %s, %s, true, 'completed', %s, %s, 0, %s::vector, %s, false, "
               f"to_tsvector('{TS_CONFIG}', %s), %s, now(), now(), now(), now())")


def upsert_indexed(document: Document, items: list[tuple[int, Chunk]], counter: split.Counter,
                   vectors_: list[list[float]] | None) -> None:
    """Write a batch of finished segments (content, vector, keyword vector) in one statement, keyed
    by (document, position): a second run overwrites the same rows instead of adding new ones.
    Vectors travel binary (vectors.execute_binary), not as text literals, and go to the tail
    (`vector_indexed` false): searchable at once, added to the HNSW graph later (vectors.merge_tail)."""
    rows, params = [], []
    for i, (position, chunk) in enumerate(items):
        sid = str(segment_id(document.pk, position))
        vector = vectors_[i] if vectors_ is not None else None
        rows.append(_UPSERT_ROW)
        params += [sid, str(document.dataset_id), str(document.pk), position, chunk.content, chunk.answer,
                   len(chunk.content) + len(chunk.answer), counter(chunk.content + chunk.answer), sid, chunk.hash,
                   vectors.binary(vector) if vector is not None else None,
                   len(vector) if vector is not None else None,
                   cjk.tokenize(f"{chunk.content}\n{chunk.answer}" if chunk.answer else chunk.content),
                   document.created_by_id]
    sql = (f"INSERT INTO datasets_segment ({_UPSERT_COLUMNS}) VALUES {', '.join(rows)} "
           "ON CONFLICT (document_id, position) DO UPDATE SET content = EXCLUDED.content, answer = EXCLUDED.answer, "
           "keywords = EXCLUDED.keywords, word_count = EXCLUDED.word_count, tokens = EXCLUDED.tokens, "
           "status = EXCLUDED.status, index_node_id = EXCLUDED.index_node_id, "
           "index_node_hash = EXCLUDED.index_node_hash, embedding = EXCLUDED.embedding, "
           "embedding_dim = EXCLUDED.embedding_dim, vector_indexed = false, search_vector = EXCLUDED.search_vector, "
           "error = NULL, "
           "updated_at = now(), indexing_at = now(), completed_at = now()")
    vectors.execute_binary(sql, params)


def embedded_batches(document: Document, batches: list[list[tuple[int, Chunk]]],
                     model: ModelInstance | None) -> Iterator[tuple[list[tuple[int, Chunk]], list[list[float]] | None]]:
    """Each batch with its vectors (None without a model). While the caller writes one batch, the
    next batch's embedding request already runs in a helper thread: the model call waits on the
    network or the model, the write on the database, so the two overlap instead of adding up. The
    next request is sent only while the document is not paused (or deleted), so pausing between
    batches wastes no embedding call. The helper thread only calls the model, never the database."""
    if model is None:
        yield from ((items, None) for items in batches)
        return
    if not batches:
        return

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    def request(items: list[tuple[int, Chunk]]) -> Future[list[list[float]]]:
        return pool.submit(embed, model, [chunk.content for _, chunk in items])

    try:
        upcoming: Future[list[list[float]]] | None = request(batches[0])
        for k, items in enumerate(batches):
            vectors_ = (upcoming or request(items)).result()  # None: resumed right after a pause check
            running = k + 1 < len(batches) and Document.objects.filter(pk=document.pk, is_paused=False).exists()
            upcoming = request(batches[k + 1]) if running else None
            yield items, vectors_
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def write_batch(document: Document, items: list[tuple[int, Chunk]], counter: split.Counter,
                vectors_: list[list[float]] | None, done: int) -> bool:
    """Store a batch and the document's progress in one transaction; False when the document was
    paused (the batch is kept: it is finished work, and the run stops) or deleted meanwhile
    (nothing is written). The progress row is updated first, so it stays locked against a
    concurrent delete until the batch is in.

    The transaction commits with synchronous_commit off: Postgres acknowledges it before its WAL
    reaches the disk. A crash of the server in that window (well under a second) can lose the
    last batches, never corrupt anything, and the document is then still `indexing` with its
    lock free, so the recovery task re-queues it and the pipeline re-embeds only the segments
    whose rows are missing. Indexing is re-runnable by design; the rest of the platform keeps
    full durability (the setting is local to this transaction)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("UPDATE datasets_document SET completed_segments = %s, updated_at = %s WHERE id = %s "
                       "RETURNING is_paused", [done, timezone.now(), document.pk])
        row = cursor.fetchone()
        if row is None:
            return False
        upsert_indexed(document, items, counter, vectors_)
    return not row[0]


def index_text(segment: Segment) -> str:
    """What the keyword index sees: content and answer, CJK runs as bigrams."""
    return cjk.tokenize(f"{segment.content}\n{segment.answer}" if segment.answer else segment.content)


def write_index(segments: list[Segment], vectors_: list[list[float]] | None) -> None:
    """Store embeddings and keyword vectors of a batch in one statement. These few segments (edits,
    additions, re-embedding) go straight into the HNSW graph rather than the tail."""
    if not segments:
        return
    values, params = [], []
    for i, segment in enumerate(segments):
        vector = vectors_[i] if vectors_ is not None else None
        values.append("(%s::uuid, %s::vector, %s::int, %s, %s)")
        params += [str(segment.pk), vectors.binary(vector) if vector is not None else None,
                   len(vector) if vector is not None else None,
                   cjk.tokenize(" ".join(map(str, segment.keywords or []))), index_text(segment)]
    sql = (
        "UPDATE datasets_segment AS s SET embedding = v.e, embedding_dim = v.d, vector_indexed = true, "
        f"search_vector = setweight(to_tsvector('{TS_CONFIG}', v.k), 'A') || to_tsvector('{TS_CONFIG}', v.t), "
        "status = 'completed', error = NULL, indexing_at = now(), completed_at = now(), updated_at = now() "
        f"FROM (VALUES {', '.join(values)}) AS v(id, e, d, k, t) WHERE s.id = v.id"
    )
    if vectors_ is not None:
        vectors.ready_for_inserts()
    vectors.execute_binary(sql, params)


def index_segments(dataset: Dataset, segments: list[Segment], model: ModelInstance | None = None) -> None:
    """Embed (high_quality) and keyword-index some segments now. Q&A segments embed the question."""
    vectors_ = None
    if dataset.indexing_technique == Dataset.Technique.HIGH_QUALITY:
        model = model or embedding_model(dataset)
        vectors_ = embed(model, [s.content for s in segments])
        _remember_dimension(dataset, len(vectors_[0]) if vectors_ else 0)
    write_index(segments, vectors_)


def _remember_dimension(dataset: Dataset, dim: int) -> None:
    if dim and dataset.embedding_dim != dim:
        Dataset.objects.filter(pk=dataset.pk).update(embedding_dim=dim)
        dataset.embedding_dim = dim
        vectors.ensure_index(dim)


def _vector_totals(**filters: Any) -> tuple[int, int, int]:
    """(segments, vectors, bytes) of the segments matching `filters`: 4 bytes a dimension plus
    pgvector's 8-byte header per vector."""
    totals = Segment.objects.filter(**filters).aggregate(
        segments=Count("id"), vectors=Count("id", filter=Q(embedding_dim__isnull=False)), dims=Sum("embedding_dim"))
    vectors_ = totals["vectors"] or 0
    return totals["segments"] or 0, vectors_, 4 * (totals["dims"] or 0) + 8 * vectors_


def add_vector_usage(before: tuple[int, int, int], after: tuple[int, int, int]) -> None:
    """Apply one document's change to the workspace counter without recounting everything (a
    periodic full recount, refresh_vector_usage, corrects any drift from interrupted runs)."""
    segments, vectors_, size = (a - b for a, b in zip(after, before, strict=True))
    VectorUsage.objects.get_or_create(pk=1)
    VectorUsage.objects.filter(pk=1).update(
        segments=Greatest(F("segments") + segments, 0), vectors=Greatest(F("vectors") + vectors_, 0),
        bytes=Greatest(F("bytes") + size, 0), updated_at=timezone.now())


def refresh_vector_usage() -> VectorUsage:
    """Recount this workspace's stored vectors (4 bytes a dimension plus pgvector's 8-byte header)."""
    segments, vectors_, size = _vector_totals()
    usage, _ = VectorUsage.objects.update_or_create(pk=1, defaults={
        "segments": segments, "vectors": vectors_, "bytes": size})
    return usage


# The chunks of the documents this process indexed last, so the next slice of a document (below)
# does not extract and split its file again. Keyed by everything the chunks depend on; a miss
# (another worker took the slice, a restart) just recomputes them, identically.
_CHUNK_CACHE: "OrderedDict[tuple, list[Chunk]]" = OrderedDict()
_CHUNK_CACHE_SIZE = 2


def _chunk_key(document: Document) -> tuple:
    dataset = document.dataset
    return (connection.schema_name, str(document.pk), document.file,
            json.dumps(document.process_rule, sort_keys=True), document.doc_form, document.doc_language,
            dataset.indexing_technique, dataset.embedding_model_provider, dataset.embedding_model)


def _document_chunks(document: Document, counter: split.Counter, *, continuing: bool) -> list[Chunk]:
    """Parse, clean and split (and for Q&A, write the pairs), showing each stage unless this run
    continues a document already in `indexing`."""
    key = _chunk_key(document)
    if (chunks := _CHUNK_CACHE.get(key)) is not None:
        _CHUNK_CACHE.move_to_end(key)
        return chunks
    if not continuing:
        _advance(document, Document.Status.PARSING,
                 processing_started_at=document.processing_started_at or timezone.now(), error=None)
    text = document_text(document)
    if not continuing:
        _advance(document, Document.Status.CLEANING, parsing_completed_at=timezone.now(),
                 word_count=len(text))
    chunks = chunks_for(text, rule=rules.normalize(document.process_rule or None), counter=counter)
    del text
    if not continuing:
        _advance(document, Document.Status.SPLITTING, cleaning_completed_at=timezone.now())
    if document.doc_form == "qa_model":
        chunks = qa_chunks(chunks, document.doc_language)
        if len(chunks) > settings.DATASET_MAX_SEGMENTS:
            raise too_many_segments()
    if not chunks:
        raise ExtractionError("The document has no text to index.")
    _CHUNK_CACHE[key] = chunks
    while len(_CHUNK_CACHE) > _CHUNK_CACHE_SIZE:
        _CHUNK_CACHE.popitem(last=False)
    return chunks


def _slice_size(document: Document) -> int | None:
    """Segments this run indexes before handing the rest back to the queue. Q&A documents are not
    sliced: a later slice on another worker would have to ask the LLM for every pair again."""
    return None if document.doc_form == "qa_model" else max(settings.DATASET_INDEXING_SLICE, 1)


def _run(document: Document, model: ModelInstance | None = None) -> bool:
    """Index the document, or its next slice; False when segments remain for another run."""
    dataset = document.dataset
    continuing = document.indexing_status == Document.Status.INDEXING and document.total_segments > 0
    counter = token_counter(dataset)
    chunks = _document_chunks(document, counter, continuing=continuing)
    usage_before = _vector_totals(document=document)
    pending = pending_chunks(document, chunks)
    done = len(chunks) - len(pending)
    now = timezone.now()
    stages = {} if continuing else {"splitting_completed_at": now, "indexing_started_at": now}
    _advance(document, Document.Status.INDEXING, total_segments=len(chunks), completed_segments=done,
             **stages)
    if dataset.indexing_technique == Dataset.Technique.HIGH_QUALITY:
        model = model or embedding_model(dataset)
    else:
        model = None
    size, limit = settings.DATASET_INDEXING_BATCH, _slice_size(document)
    current, rest = (pending, []) if limit is None else (pending[:limit], pending[limit:])
    batches = [current[start:start + size] for start in range(0, len(current), size)]
    with closing(embedded_batches(document, batches, model)) as embedded:
        for items, vectors_ in embedded:
            if vectors_:
                _remember_dimension(dataset, len(vectors_[0]))
            done += len(items)
            if not write_batch(document, items, counter, vectors_, done):
                raise Paused
    if rest:
        add_vector_usage(usage_before, _vector_totals(document=document))
        return False
    totals = Segment.objects.filter(document=document).aggregate(tokens=Sum("tokens"))
    _advance(document, Document.Status.COMPLETED, completed_at=timezone.now(), completed_segments=done,
             tokens=totals["tokens"] or 0, error=None)
    add_vector_usage(usage_before, _vector_totals(document=document))
    if model is not None:
        schedule_merge()
    if not dataset.description:
        from apps.datasets import tasks

        tasks.describe_dataset.apply_async(args=[str(dataset.pk)], queue="default")
    return True


def schedule_merge() -> None:
    """Queue the Celery task that adds this workspace's tail vectors to the HNSW graphs."""
    from apps.datasets import tasks

    tasks.merge_vectors.apply_async(queue="priority_dataset")


def _fail(document: Document, reason: str) -> None:
    Document.objects.filter(pk=document.pk).update(
        indexing_status=Document.Status.ERROR, error=reason[:2000], stopped_at=timezone.now(),
        updated_at=timezone.now())


def index_document(*, document_id: Any, model: ModelInstance | None = None, requeue: bool = True) -> str:
    """Run a document's indexing, or its next DATASET_INDEXING_SLICE segments; returns the status
    it ended in. Never raises. With segments left, the rest is queued again behind whatever
    other documents wait: large documents take turns with everyone else's instead of holding a
    worker until they finish. `model` replaces the dataset's embedding model (bench/indexing.py
    passes an instant one, with requeue=False, and calls again while the status is `indexing`)."""
    status = _index_document(document_id, model)
    if status == "more" and not requeue:
        return Document.Status.INDEXING
    if status == "more":
        from apps.datasets import tasks

        # Queued only now that the lock is released, so the next worker does not find it busy.
        tasks.index_document.apply_async(args=[str(document_id)], queue="dataset")
        return Document.Status.INDEXING
    return status


def _index_document(document_id: Any, model: ModelInstance | None) -> str:
    document = Document.objects.select_related("dataset").filter(pk=document_id).first()
    if document is None:
        return "gone"
    with document_lock(document.pk) as acquired:
        if not acquired:
            return "busy"  # another worker has it; it will finish the job
        document.refresh_from_db()
        if document.archived or document.is_paused or document.indexing_status not in Document.RUNNING:
            return document.indexing_status
        started = time.perf_counter()
        try:
            if not _run(document, model):
                return "more"
        except Paused:
            return Document.Status.PAUSED
        except ExtractionError as exc:
            _fail(document, str(exc))
        except (ServiceError, RuntimeModelError) as exc:
            _fail(document, exc.message)
        except Exception as exc:  # a malformed file must never take the worker down
            logger.exception("indexing document %s failed", document.pk)
            _fail(document, f"Unexpected error while indexing: {exc.__class__.__name__}: {exc}")
        else:
            logger.info("document %s indexed in %.2fs", document.pk, time.perf_counter() - started)
        return Document.objects.filter(pk=document.pk).values_list("indexing_status", flat=True).first() or "gone"
