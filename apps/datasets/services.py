"""Writes of Knowledge: datasets, documents, segments and metadata. Views, tasks and the Knowledge
API all call these; they validate, write in a transaction and queue indexing once it commits."""

import datetime
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.errors import ServiceError, invalid_param
from apps.datasets import indexing, retrieval, tasks
from apps.datasets.models import Dataset, Document, MetadataField, Segment
from apps.datasets.pipeline import extract, rules
from apps.providers import selectors as model_selectors
from apps.providers.runtime.entities import ModelType

DOC_FORMS = ("text_model", "qa_model")
DATASET_IN_USE = ("The dataset is being used by some apps. Please remove the dataset from the apps before "
                  "deleting it.")


def _name(name: Any) -> str:
    if name is not None and not isinstance(name, str):  # never store [1, 'a'] as "[1, 'a']"
        raise invalid_param("name must be a string.", params="name")
    name = (name or "").strip()
    if not 1 <= len(name) <= 40:
        raise invalid_param("Name must be between 1 to 40 characters.", params="name")
    return name


def _check_unique(name: str, exclude: Any = None) -> None:
    if Dataset.objects.filter(name=name).exclude(pk=exclude).exists():
        raise ServiceError("dataset_name_duplicate",
                           "The dataset name already exists. Please modify your dataset name.", 409)


def _embedding_choice(provider: str, model: str) -> tuple[str, str]:
    """The embedding model to use: the one given, else the workspace default, else the built-in
    local model (no key needed). Raises provider_not_initialize when the given one is unusable."""
    if not model:
        default = model_selectors.default_model(ModelType.TEXT_EMBEDDING)
        provider, model = (default.provider, default.model) if default else indexing.LOCAL_EMBEDDING
    model_selectors.resolve(ModelType.TEXT_EMBEDDING, provider, model)
    return provider, model


def dataset_create(*, name: str, actor_id: int | None, description: str = "",
                   permission: str = Dataset.Permission.ONLY_ME, indexing_technique: str | None = None,
                   embedding_model_provider: str = "", embedding_model: str = "",
                   retrieval_model: dict | None = None) -> Dataset:
    """Create an empty dataset (documents come later)."""
    name = _name(name)
    _check_unique(name)
    if permission not in Dataset.Permission.values:
        raise invalid_param("permission is invalid.", params="permission")
    if indexing_technique not in (None, "", *Dataset.Technique.values):
        raise invalid_param("indexing_technique is invalid.", params="indexing_technique")
    provider, model = "", ""
    if indexing_technique == Dataset.Technique.HIGH_QUALITY:
        provider, model = _embedding_choice(embedding_model_provider, embedding_model)
    return Dataset.objects.create(
        name=name, description=(description or "")[:400], permission=permission,
        indexing_technique=indexing_technique or None, embedding_model_provider=provider, embedding_model=model,
        retrieval_model=retrieval.validate_retrieval_model(retrieval_model, indexing_technique),
        created_by_id=actor_id, updated_by_id=actor_id)


def dataset_update(*, dataset: Dataset, actor_id: int | None, **fields: Any) -> Dataset:
    """Change settings. Switching economy → high_quality embeds the existing segments (KN-27)."""
    if "name" in fields:
        fields["name"] = _name(fields["name"])
        _check_unique(fields["name"], exclude=dataset.pk)
    if "permission" in fields and fields["permission"] not in Dataset.Permission.values:
        raise invalid_param("permission is invalid.", params="permission")
    technique = fields.get("indexing_technique", dataset.indexing_technique)
    if technique not in (None, *Dataset.Technique.values):
        raise invalid_param("indexing_technique is invalid.", params="indexing_technique")
    needs_embedding = False
    if technique == Dataset.Technique.HIGH_QUALITY:
        provider = fields.get("embedding_model_provider", dataset.embedding_model_provider)
        model = fields.get("embedding_model", dataset.embedding_model)
        provider, model = _embedding_choice(provider, model)
        if (provider, model) != (dataset.embedding_model_provider, dataset.embedding_model) and \
                dataset.segments.filter(embedding_dim__isnull=False).exists():
            raise invalid_param("The embedding model cannot change once documents are embedded.")
        needs_embedding = dataset.indexing_technique != technique
        fields["embedding_model_provider"], fields["embedding_model"] = provider, model
    if "retrieval_model" in fields or "indexing_technique" in fields:
        fields["retrieval_model"] = retrieval.validate_retrieval_model(
            fields.get("retrieval_model", dataset.retrieval_model), technique)
    if "description" in fields:
        fields["description"] = (fields["description"] or "")[:400]
    allowed = {"name", "description", "permission", "indexing_technique", "embedding_model_provider",
               "embedding_model", "retrieval_model"}
    for key, value in fields.items():
        if key in allowed:
            setattr(dataset, key, value)
    dataset.updated_by_id = actor_id
    dataset.save()
    if needs_embedding:
        dataset_id = str(dataset.pk)
        transaction.on_commit(lambda: tasks.embed_dataset.apply_async(args=[dataset_id], queue="priority_dataset"))
    return dataset


def dataset_embed_missing(*, dataset_id: Any) -> int:
    """Embed the segments of a high_quality dataset that have no vector yet."""
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None or dataset.indexing_technique != Dataset.Technique.HIGH_QUALITY:
        return 0
    model = indexing.embedding_model(dataset)
    done = 0
    while True:
        batch = list(dataset.segments.filter(embedding_dim__isnull=True).order_by("document_id", "position")[:64])
        if not batch:
            break
        indexing.index_segments(dataset, batch, model)
        done += len(batch)
    indexing.refresh_vector_usage()
    return done


def _delete_files(paths: list[str]) -> None:
    for path in paths:
        if path and default_storage.exists(path):
            default_storage.delete(path)


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete a dataset with its documents, segments and files. Refused (409 dataset_in_use) while
    an app uses it: its turns or runs would lose their knowledge silently."""
    from apps.datasets import context

    if context.apps_using(dataset.pk):
        raise ServiceError("dataset_in_use", DATASET_IN_USE, 409)
    paths = list(dataset.documents.values_list("file", flat=True))
    dataset.delete()
    transaction.on_commit(lambda: _delete_files(paths))
    indexing.refresh_vector_usage()


# --- Documents ----------------------------------------------------------------------------------


@dataclass
class Upload:
    """A file to add: its name and bytes (validated before anything is stored)."""

    name: str
    data: bytes


def new_batch() -> str:
    return timezone.now().strftime("%Y%m%d%H%M%S") + f"{uuid.uuid4().int % 1000000:06d}"


def _prepare(dataset: Dataset, *, indexing_technique: str | None, process_rule: dict | None,
             doc_form: str) -> dict[str, Any]:
    technique = indexing_technique or dataset.indexing_technique
    if technique not in Dataset.Technique.values:
        raise invalid_param("indexing_technique is required.", params="indexing_technique")
    if doc_form not in DOC_FORMS:
        raise invalid_param("doc_form is invalid.", params="doc_form")
    rule = rules.normalize(process_rule if process_rule is not None else (dataset.process_rule or None))
    changes: dict[str, Any] = {"process_rule": rule}
    if dataset.indexing_technique is None:
        changes["indexing_technique"] = technique
        if technique == Dataset.Technique.HIGH_QUALITY and not dataset.embedding_model:
            changes["embedding_model_provider"], changes["embedding_model"] = _embedding_choice("", "")
    return {"rule": rule, "dataset_changes": changes}


def _store(dataset: Dataset, ext: str, data: bytes) -> str:
    path = f"datasets/{connection.schema_name}/{dataset.pk}/{uuid.uuid4().hex}.{ext}"
    return default_storage.save(path, ContentFile(data))


def _schedule(documents: list[Document]) -> None:
    ids = [str(d.pk) for d in documents]
    transaction.on_commit(lambda: [tasks.index_document.apply_async(args=[i], queue="dataset") for i in ids])


def documents_create(*, dataset: Dataset, uploads: list[Upload], actor_id: int | None,
                     process_rule: dict | None = None, indexing_technique: str | None = None,
                     doc_form: str = "text_model", doc_language: str = "English",
                     created_from: str = "web", batch_limit: int | None = None,
                     metadata: dict | None = None) -> tuple[str, list[Document]]:
    """Add documents from files (or texts as .txt files) and queue their indexing. Every file is
    checked (count, size, type from content) before any is stored."""
    if batch_limit is not None and len(uploads) > batch_limit:
        from apps.datasets.pipeline.errors import too_many_files

        raise too_many_files(batch_limit)
    extract.check_batch(uploads)
    checked = []
    for upload in uploads:
        extract.check_size(len(upload.data))
        checked.append((upload, extract.sniff(upload.name, upload.data)))
    prepared = _prepare(dataset, indexing_technique=indexing_technique, process_rule=process_rule,
                        doc_form=doc_form)
    batch = new_batch()
    documents = []
    with transaction.atomic():
        Dataset.objects.filter(pk=dataset.pk).update(**prepared["dataset_changes"])
        for key, value in prepared["dataset_changes"].items():
            setattr(dataset, key, value)
        position = (dataset.documents.aggregate(p=Max("position"))["p"] or 0)
        for upload, ext in checked:
            position += 1
            documents.append(Document.objects.create(
                dataset=dataset, position=position, name=upload.name[:255], file=_store(dataset, ext, upload.data),
                file_size=len(upload.data), extension=ext, created_from=created_from,
                process_rule=prepared["rule"], doc_form=doc_form, doc_language=doc_language or "English",
                batch=batch, metadata=metadata or {}, created_by_id=actor_id))
        _schedule(documents)
    return batch, documents


def document_create_from_text(*, dataset: Dataset, name: str, text: str, actor_id: int | None,
                              **options: Any) -> tuple[str, Document]:
    """A document from text, stored as a .txt file named `name` (like an upload)."""
    name = str(name or "").strip()
    if not name:
        raise invalid_param("name is required.", params="name")
    if not str(text or "").strip():
        raise invalid_param("text is required.", params="text")
    filename = name if extract.extension_of(name) in ("txt", "md", "markdown") else f"{name}.txt"
    batch, documents = documents_create(dataset=dataset, uploads=[Upload(filename, text.encode())],
                                        actor_id=actor_id, **options)
    document = documents[0]
    if document.name != name:
        Document.objects.filter(pk=document.pk).update(name=name[:255])
        document.name = name[:255]
    return batch, document


def _editable(document: Document) -> None:
    if document.archived:
        raise ServiceError("archived_document_immutable", "The archived document is not editable.", 403)


def document_pause(*, document: Document) -> Document:
    """Ask the worker to stop after its current batch; the document shows as paused at once."""
    if not document.is_running:
        raise ServiceError("document_already_finished", "The document has been processed. Please refresh the "
                           "page or go to the document details.", 400)
    now = timezone.now()
    Document.objects.filter(pk=document.pk).update(is_paused=True, indexing_status=Document.Status.PAUSED,
                                                   paused_at=now, updated_at=now)
    document.refresh_from_db()
    return document


def document_resume(*, document: Document) -> Document:
    """Continue a paused document where it stopped (indexed segments are kept)."""
    if document.indexing_status != Document.Status.PAUSED:
        raise ServiceError("invalid_action", "Invalid action.", 400)
    Document.objects.filter(pk=document.pk).update(is_paused=False, indexing_status=Document.Status.WAITING,
                                                   paused_at=None, updated_at=timezone.now())
    document.refresh_from_db()
    _schedule([document])
    return document


def document_retry(*, document: Document) -> Document:
    """Run a failed document again."""
    _editable(document)
    if document.indexing_status != Document.Status.ERROR:
        raise ServiceError("invalid_action", "Invalid action.", 400)
    Document.objects.filter(pk=document.pk).update(indexing_status=Document.Status.WAITING, error=None,
                                                   stopped_at=None, updated_at=timezone.now())
    document.refresh_from_db()
    _schedule([document])
    return document


def document_set_status(*, document: Document, action: str) -> Document:
    """enable, disable, archive or un_archive a document (service-api.md §5.1 documents/status)."""
    now = timezone.now()
    if action in ("enable", "disable"):
        _editable(document)
        if document.is_running:
            raise ServiceError("document_indexing", "The document is being processed and cannot be edited.", 400)
        document.enabled = action == "enable"
        document.disabled_at = None if document.enabled else now
    elif action == "archive":
        document.archived, document.archived_at = True, now
    elif action == "un_archive":
        document.archived, document.archived_at = False, None
    else:
        raise ServiceError("invalid_action", "Invalid action.", 400)
    document.save(update_fields=["enabled", "disabled_at", "archived", "archived_at", "updated_at"])
    return document


def document_delete(*, document: Document) -> None:
    if document.is_running and document.indexing_status != Document.Status.WAITING:
        raise ServiceError("document_indexing", "Cannot delete document during indexing.", 400)
    path = document.file
    document.delete()
    transaction.on_commit(lambda: _delete_files([path]))
    indexing.refresh_vector_usage()


def document_update(*, document: Document, actor_id: int | None, upload: Upload | None = None,
                    name: str | None = None, process_rule: dict | None = None, doc_form: str | None = None,
                    doc_language: str | None = None) -> tuple[str, Document]:
    """Replace a document's file and/or rules and index it again under the same id, in a new batch
    (Knowledge API update-by-text and update-by-file). Segments are upserted by position, so
    unchanged ones keep their vectors."""
    _editable(document)
    if document.is_running and document.indexing_status != Document.Status.WAITING:
        raise ServiceError("document_indexing", "The document is being processed and cannot be edited.", 400)
    if doc_form is not None and doc_form not in DOC_FORMS:
        raise invalid_param("doc_form is invalid.", params="doc_form")
    now = timezone.now()
    batch = new_batch()
    changes: dict[str, Any] = {
        "batch": batch, "indexing_status": Document.Status.WAITING, "error": None, "is_paused": False,
        "completed_segments": 0, "processing_started_at": None, "parsing_completed_at": None,
        "cleaning_completed_at": None, "splitting_completed_at": None, "indexing_started_at": None,
        "completed_at": None, "paused_at": None, "stopped_at": None, "updated_at": now}
    old_file = ""
    if upload is not None:
        extract.check_size(len(upload.data))
        ext = extract.sniff(upload.name, upload.data)
        old_file = document.file
        changes.update(file=_store(document.dataset, ext, upload.data), file_size=len(upload.data), extension=ext)
    if name:
        changes["name"] = name[:255]
    if process_rule is not None:
        changes["process_rule"] = rules.normalize(process_rule)
    if doc_form:
        changes["doc_form"] = doc_form
    if doc_language:
        changes["doc_language"] = doc_language
    with transaction.atomic():
        Document.objects.filter(pk=document.pk).update(**changes)
        if "process_rule" in changes:
            Dataset.objects.filter(pk=document.dataset_id).update(process_rule=changes["process_rule"])
        _schedule([document])
        if old_file:
            transaction.on_commit(lambda: _delete_files([old_file]))
    document.refresh_from_db()
    return batch, document


def metadata_field_rename(*, field: MetadataField, name: str) -> MetadataField:
    name = str(name or "").strip()
    if not name or len(name) > 64:
        raise ServiceError("invalid_metadata", "The metadata content is incorrect. Please check and verify.", 400)
    if name in retrieval.BUILT_IN_FIELDS or field.dataset.metadata_fields.filter(name=name).exclude(pk=field.pk).exists():
        raise invalid_param(f"The metadata name {name!r} already exists.", params="name")
    field.name = name
    field.save(update_fields=["name"])
    return field


def document_resegment(*, document: Document, process_rule: dict | None, actor_id: int | None,
                       doc_form: str | None = None) -> Document:
    """New rules make a new document from the same file; the old one is archived and disabled
    (KN-26), so its segments stay viewable but leave retrieval."""
    _editable(document)
    with default_storage.open(document.file, "rb") as handle:
        data = handle.read()
    with transaction.atomic():
        _, documents = documents_create(
            dataset=document.dataset, uploads=[Upload(document.name if "." in document.name else
                                                      f"{document.name}.{document.extension}", data)],
            actor_id=actor_id, process_rule=process_rule, doc_form=doc_form or document.doc_form,
            doc_language=document.doc_language, metadata=document.metadata)
        new = documents[0]
        if new.name != document.name:
            Document.objects.filter(pk=new.pk).update(name=document.name)
            new.name = document.name
        now = timezone.now()
        Document.objects.filter(pk=document.pk).update(archived=True, archived_at=now, enabled=False,
                                                       disabled_at=now)
    return new


def document_metadata_set(*, document: Document, values: dict[str, Any]) -> Document:
    """Set metadata values ({field id or name: value}); values are checked against the field type."""
    fields = {str(f.pk): f for f in document.dataset.metadata_fields.all()}
    by_name = {f.name: f for f in fields.values()}
    cleaned = dict(document.metadata or {})
    for key, value in values.items():
        field = fields.get(str(key)) or by_name.get(str(key))
        if field is None:
            raise ServiceError("invalid_metadata", "The metadata content is incorrect. Please check and verify.", 400)
        if value in (None, ""):
            cleaned.pop(str(field.pk), None)
            continue
        cleaned[str(field.pk)] = _typed(field, value)
    document.metadata = cleaned
    document.save(update_fields=["metadata", "updated_at"])
    return document


def _typed(field: MetadataField, value: Any) -> Any:
    try:
        if field.type == MetadataField.Type.NUMBER:
            number = float(value)
            return int(number) if number.is_integer() else number
        if field.type == MetadataField.Type.TIME:
            if isinstance(value, int | float):
                return int(value)
            return int(datetime.datetime.fromisoformat(str(value)).replace(
                tzinfo=datetime.UTC).timestamp()) if "T" in str(value) or "-" in str(value) else int(value)
        return str(value)
    except (TypeError, ValueError):
        raise ServiceError("invalid_metadata", "The metadata content is incorrect. Please check and verify.",
                           400) from None


def metadata_field_create(*, dataset: Dataset, name: str, type: str) -> MetadataField:
    name = str(name or "").strip()
    if not name or len(name) > 64 or type not in MetadataField.Type.values:
        raise ServiceError("invalid_metadata", "The metadata content is incorrect. Please check and verify.", 400)
    if name in retrieval.BUILT_IN_FIELDS or dataset.metadata_fields.filter(name=name).exists():
        raise invalid_param(f"The metadata name {name!r} already exists.", params="name")
    return MetadataField.objects.create(dataset=dataset, name=name, type=type)


def metadata_field_delete(*, field: MetadataField) -> None:
    """Drop a field and its values from every document of the dataset."""
    key = str(field.pk)
    with transaction.atomic():
        for document in field.dataset.documents.filter(metadata__has_key=key):
            document.metadata.pop(key, None)
            document.save(update_fields=["metadata"])
        field.delete()


# --- Segments -------------------------------------------------------------------------------------


def _clean_keywords(keywords: Any) -> list[str]:
    if keywords is None:
        return []
    if isinstance(keywords, str):
        keywords = [k for k in keywords.split(",")]
    if not isinstance(keywords, list):
        raise invalid_param("keywords must be a list of strings.", params="keywords")
    return [str(k).strip()[:64] for k in keywords if str(k).strip()][:20]


def _segment_ready(document: Document) -> None:
    _editable(document)
    if document.indexing_status != Document.Status.COMPLETED:
        raise ServiceError("document_indexing", "The document is being processed and cannot be edited.", 400)


def segment_update(*, segment: Segment, content: str | None = None, answer: str | None = None,
                   keywords: Any = None, enabled: bool | None = None) -> Segment:
    """Edit a segment and index it again at once (KN-22): the next search sees the new text."""
    document = segment.document
    _segment_ready(document)
    if content is not None:
        if not content.strip():
            raise invalid_param("Content is empty", params="content")
        segment.content = content
    if answer is not None:
        if document.doc_form == "qa_model" and not answer.strip():
            raise invalid_param("Answer is required", params="answer")
        segment.answer = answer
    if keywords is not None:
        segment.keywords = _clean_keywords(keywords)
    if enabled is not None:
        segment.enabled = bool(enabled)
        segment.disabled_at = None if segment.enabled else timezone.now()
    counter = indexing.token_counter(document.dataset)
    segment.word_count = len(segment.content) + len(segment.answer)
    segment.tokens = counter(segment.content + segment.answer)
    segment.index_node_hash = indexing.Chunk(segment.content, segment.answer).hash
    segment.save()
    indexing.index_segments(document.dataset, [segment])
    segment.refresh_from_db()
    return segment


def segments_add(*, document: Document, items: list[dict[str, Any]], actor_id: int | None) -> list[Segment]:
    """Add segments after the last one and index them now (KN-23, Knowledge API segments)."""
    _segment_ready(document)
    if not document.enabled:
        raise ServiceError("not_found", "Document is disabled.", 404)
    counter = indexing.token_counter(document.dataset)
    position = document.segments.aggregate(p=Max("position"))["p"] or 0
    created = []
    with transaction.atomic():
        for item in items:
            content = str(item.get("content") or "")
            answer = str(item.get("answer") or "")
            if not content.strip():
                raise invalid_param("Content is empty", params="content")
            if document.doc_form == "qa_model" and not answer.strip():
                raise invalid_param("Answer is required", params="answer")
            position += 1
            sid = uuid.uuid4()
            created.append(Segment.objects.create(
                id=sid, dataset_id=document.dataset_id, document=document, position=position, content=content,
                answer=answer, keywords=_clean_keywords(item.get("keywords")),
                word_count=len(content) + len(answer), tokens=counter(content + answer),
                index_node_id=str(sid), index_node_hash=indexing.Chunk(content, answer).hash,
                created_by_id=actor_id))
        indexing.index_segments(document.dataset, created)
        Document.objects.filter(pk=document.pk).update(
            total_segments=document.segments.count(), completed_segments=document.segments.count())
    indexing.refresh_vector_usage()
    return [Segment.objects.get(pk=s.pk) for s in created]


def segment_delete(*, segment: Segment) -> None:
    document = segment.document
    _segment_ready(document)
    segment.delete()
    count = document.segments.count()
    Document.objects.filter(pk=document.pk).update(total_segments=count, completed_segments=count)
    indexing.refresh_vector_usage()


# --- Preview ----------------------------------------------------------------------------------------

PREVIEW_SEGMENTS = 10


def documents_preview(*, dataset: Dataset, uploads: list[Upload], process_rule: dict | None,
                      doc_form: str = "text_model", indexing_technique: str | None = None) -> dict[str, Any]:
    """What Save & Process would produce, without storing or calling a model: the first segments
    of each file and an estimate (segments, tokens, model calls, embedding price)."""
    extract.check_batch(uploads)
    rule = rules.normalize(process_rule)
    technique = indexing_technique or dataset.indexing_technique or Dataset.Technique.HIGH_QUALITY
    counter = indexing.token_counter(dataset)
    files, total_segments, total_tokens = [], 0, 0
    for upload in uploads:
        extract.check_size(len(upload.data))
        try:  # both bounded (DATASET_MAX_TEXT_CHARACTERS, DATASET_MAX_SEGMENTS): this is a web request
            text = extract.extract(upload.name, upload.data)
            chunks = indexing.chunks_for(text, rule=rule, counter=counter)
        except extract.ExtractionError as exc:
            files.append({"name": upload.name, "error": str(exc), "segments": [], "count": 0})
            continue
        tokens = sum(counter(c.content) for c in chunks)
        total_segments += len(chunks)
        total_tokens += tokens
        files.append({"name": upload.name, "error": "", "count": len(chunks), "characters": len(text),
                      "segments": [{"content": c.content, "tokens": counter(c.content)}
                                   for c in chunks[:PREVIEW_SEGMENTS]]})
    estimate: dict[str, Any] = {"segments": total_segments, "tokens": total_tokens,
                                "qa_calls": total_segments if doc_form == "qa_model" else 0,
                                "embedding_price": None, "currency": ""}
    if technique == Dataset.Technique.HIGH_QUALITY and dataset.embedding_model:
        try:
            usage = indexing.embedding_model(dataset).price(total_tokens, 0, 0.0)
            estimate["embedding_price"], estimate["currency"] = usage.total_price, usage.currency
        except Exception:  # an estimate must not fail the preview
            pass
    return {"files": files, "estimate": estimate, "rule": rule}


# --- The description written for a dataset that has none (KN-20) ----------------------------------

logger = logging.getLogger(__name__)
DESCRIPTION_PREFIX = "Useful only when the question you want to answer is about the following: "
DESCRIBE_SAMPLE_CHARS = 4000
DESCRIBE_PROMPT = (
    "You write the description of a knowledge base. From the excerpts below, say in one or two "
    "sentences what its documents are about: their subject and the kinds of questions they answer. "
    "Write in the language of the excerpts. Reply with the description only."
)


def dataset_describe(*, dataset_id: Any) -> str:
    """KN-20: when a dataset's first documents are indexed and it has no description, the
    workspace's default LLM summarises its first segments into one, written with the recommended
    prefix. N-to-1 retrieval offers each dataset to the model by its description. Nothing happens
    without a default LLM, and a description someone wrote meanwhile is never replaced. Returns
    what happened; never raises (it runs in a worker)."""
    from apps.providers.runtime.entities import PromptMessage

    dataset = Dataset.objects.filter(pk=dataset_id, description="").first()
    if dataset is None:
        return "kept"
    if model_selectors.default_model(ModelType.LLM) is None:
        return "no model"
    sample, size = [], 0
    for content in (Segment.objects.filter(dataset=dataset, enabled=True)
                    .order_by("document__created_at", "position").values_list("content", flat=True)[:40]):
        sample.append(content)
        size += len(content)
        if size >= DESCRIBE_SAMPLE_CHARS:
            break
    if not sample:
        return "empty"
    try:
        llm = model_selectors.resolve_default(ModelType.LLM)
        result = async_to_sync(llm.invoke)([PromptMessage("system", DESCRIBE_PROMPT),
                                            PromptMessage("user", "\n\n".join(sample)[:DESCRIBE_SAMPLE_CHARS])])
    except Exception:  # a provider error must not fail the worker; the description stays empty
        logger.exception("describing dataset %s failed", dataset_id)
        return "failed"
    summary = " ".join(result.text.split())
    if not summary:
        return "empty"
    limit = Dataset._meta.get_field("description").max_length - len(DESCRIPTION_PREFIX)
    summary = summary if len(summary) <= limit else summary[:limit - 1].rstrip() + "…"
    updated = Dataset.objects.filter(pk=dataset_id, description="").update(description=DESCRIPTION_PREFIX + summary)
    return "described" if updated else "kept"
