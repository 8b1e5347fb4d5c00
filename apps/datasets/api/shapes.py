"""The Knowledge API's response objects, field for field as service-api.md §5 gives them
(Dataset, Document, Segment, indexing status, retrieval record). Plain functions: the shapes are
fixed by the wire contract, not derived from the models."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum

from apps.datasets import retrieval
from apps.datasets.models import Dataset, Document, MetadataField, Segment
from apps.providers import selectors as model_selectors
from apps.providers.runtime.entities import ModelType


def ts(value: Any) -> int | None:
    return int(value.timestamp()) if value else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def author_names(ids: set[Any]) -> dict[Any, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    users = get_user_model().objects.filter(pk__in=ids)
    return {u.pk: (u.name or u.email) for u in users}


class DatasetContext:
    """What listing several datasets needs once: counts, app usage, usable embedding models."""

    def __init__(self, datasets: list[Dataset]) -> None:
        from apps.datasets import context

        ids = [d.pk for d in datasets]
        rows = (
            Dataset.objects.filter(pk__in=ids)
            .annotate(
                doc_count=Count("documents", distinct=True),
                available=Count(
                    "documents",
                    filter=Q(
                        documents__enabled=True,
                        documents__archived=False,
                        documents__indexing_status="completed",
                    ),
                    distinct=True,
                ),
                words=Sum("documents__word_count"),
            )
            .values_list("pk", "doc_count", "available", "words")
        )
        self.counts = {pk: (n, a, w or 0) for pk, n, a, w in rows}
        self.app_counts = context.app_counts()
        self.authors = author_names({d.created_by_id for d in datasets} | {d.updated_by_id for d in datasets})
        self._embedding: dict[tuple[str, str], bool] = {}
        self.fields: dict[Any, list[MetadataField]] = {}
        for field in MetadataField.objects.filter(dataset_id__in=ids):
            self.fields.setdefault(field.dataset_id, []).append(field)

    def embedding_available(self, dataset: Dataset) -> bool:
        if dataset.indexing_technique != Dataset.Technique.HIGH_QUALITY:
            return True
        key = (dataset.embedding_model_provider, dataset.embedding_model)
        if key not in self._embedding:
            try:
                model_selectors.resolve(ModelType.TEXT_EMBEDDING, *key)
                self._embedding[key] = True
            except Exception:
                self._embedding[key] = False
        return self._embedding[key]


def dataset(ds: Dataset, ctx: DatasetContext | None = None) -> dict[str, Any]:
    """The Dataset object (fields/dataset_fields.py::dataset_detail_fields)."""
    ctx = ctx or DatasetContext([ds])
    documents, available, words = ctx.counts.get(ds.pk, (0, 0, 0))
    retrieval_model = retrieval.normalize_retrieval_model(ds.retrieval_model, ds.indexing_technique)
    return {
        "id": str(ds.pk),
        "name": ds.name,
        "description": ds.description,
        "provider": "vendor",
        "permission": ds.permission,
        "data_source_type": "upload_file" if documents else None,
        "indexing_technique": ds.indexing_technique,
        "app_count": ctx.app_counts.get(str(ds.pk), 0),
        "document_count": documents,
        "word_count": words,
        "created_by": _str(ds.created_by_id),
        "author_name": ctx.authors.get(ds.created_by_id),
        "created_at": ts(ds.created_at),
        "updated_by": _str(ds.updated_by_id),
        "updated_at": ts(ds.updated_at),
        "embedding_model": ds.embedding_model or None,
        "embedding_model_provider": ds.embedding_model_provider or None,
        "embedding_available": ctx.embedding_available(ds),
        "retrieval_model_dict": retrieval_model,
        "summary_index_setting": {
            "enable": False,
            "model_name": None,
            "model_provider_name": None,
            "summary_prompt": None,
        },
        "tags": [],
        "doc_form": ds.doc_form if documents else None,
        "external_knowledge_info": {
            "external_knowledge_id": None,
            "external_knowledge_api_id": None,
            "external_knowledge_api_name": None,
            "external_knowledge_api_endpoint": None,
        },
        "external_retrieval_model": None,
        "doc_metadata": [
            {"id": str(f.pk), "name": f.name, "type": f.type} for f in ctx.fields.get(ds.pk, [])
        ],
        "built_in_field_enabled": ds.built_in_field_enabled,
        "pipeline_id": None,
        "runtime_mode": "general",
        "chunk_structure": None,
        "icon_info": {"icon_type": None, "icon": None, "icon_background": None, "icon_url": None},
        "is_published": False,
        "total_documents": documents,
        "total_available_documents": available,
        "enable_api": ds.enable_api,
        "is_multimodal": False,
    }


def _doc_metadata(document: Document, fields: list[MetadataField]) -> list[dict[str, Any]]:
    values = document.metadata or {}
    return [
        {"id": str(f.pk), "name": f.name, "type": f.type, "value": values[str(f.pk)]}
        for f in fields
        if str(f.pk) in values
    ]


def _source_info(document: Document) -> dict[str, Any]:
    if document.data_source_type == "notion_import":
        info = document.data_source_info or {}
        return {"notion_page_id": info.get("notion_page_id", ""), "type": "page",
                "last_edited_time": info.get("last_edited_time", "")}
    return {"upload_file_id": str(document.pk)}


def _source_detail(document: Document) -> dict[str, Any]:
    if document.data_source_type == "notion_import":
        return {}
    return {
        "upload_file": {
            "id": str(document.pk),
            "name": document.name,
            "size": document.file_size,
            "extension": document.extension,
            "mime_type": None,
            "created_by": _str(document.created_by_id),
            "created_at": ts(document.created_at),
        }
    }


def document(doc: Document, fields: list[MetadataField] | None = None) -> dict[str, Any]:
    """The Document object (fields/document_fields.py::document_fields)."""
    fields = list(doc.dataset.metadata_fields.all()) if fields is None else fields
    return {
        "id": str(doc.pk),
        "position": doc.position,
        "data_source_type": doc.data_source_type,
        "data_source_info": _source_info(doc),
        "data_source_detail_dict": _source_detail(doc),
        "dataset_process_rule_id": None,
        "name": doc.name,
        "created_from": doc.created_from,
        "created_by": _str(doc.created_by_id),
        "created_at": ts(doc.created_at),
        "tokens": doc.tokens,
        "indexing_status": doc.indexing_status,
        "error": doc.error,
        "enabled": doc.enabled,
        "disabled_at": ts(doc.disabled_at),
        "disabled_by": None,
        "archived": doc.archived,
        "display_status": doc.display_status,
        "word_count": doc.word_count,
        "hit_count": 0,
        "doc_form": doc.doc_form,
        "doc_metadata": _doc_metadata(doc, fields),
        "summary_index_status": None,
        "need_summary": False,
    }


def document_detail(doc: Document, metadata: str) -> dict[str, Any]:
    """GET …/documents/{id}: metadata=all (everything), only (id, doc_type, doc_metadata), without."""
    fields = list(doc.dataset.metadata_fields.all())
    meta = {"id": str(doc.pk), "doc_type": None, "doc_metadata": _doc_metadata(doc, fields)}
    if metadata == "only":
        return meta
    stats = doc.segments.aggregate(count=Count("id"), words=Sum("word_count"), hits=Sum("hit_count"))
    count = stats["count"] or 0
    body = {
        "id": str(doc.pk),
        "position": doc.position,
        "data_source_type": doc.data_source_type,
        "data_source_info": _source_detail(doc),
        "dataset_process_rule_id": None,
        "dataset_process_rule": doc.dataset.process_rule or {},
        "document_process_rule": {"id": None, "dataset_id": str(doc.dataset_id), **(doc.process_rule or {})},
        "name": doc.name,
        "created_from": doc.created_from,
        "created_by": _str(doc.created_by_id),
        "created_at": ts(doc.created_at),
        "tokens": doc.tokens,
        "indexing_status": doc.indexing_status,
        "completed_at": ts(doc.completed_at),
        "updated_at": ts(doc.updated_at),
        "indexing_latency": (
            (doc.completed_at - doc.processing_started_at).total_seconds()
            if doc.completed_at and doc.processing_started_at
            else None
        ),
        "error": doc.error,
        "enabled": doc.enabled,
        "disabled_at": ts(doc.disabled_at),
        "disabled_by": None,
        "archived": doc.archived,
        "segment_count": count,
        "average_segment_length": round((stats["words"] or 0) / count) if count else 0,
        "hit_count": stats["hits"] or 0,
        "display_status": doc.display_status,
        "doc_form": doc.doc_form,
        "doc_language": doc.doc_language,
        "summary_index_status": None,
        "need_summary": False,
    }
    if metadata == "all":
        body.update(doc_type=None, doc_metadata=meta["doc_metadata"])
    return body


def indexing_status(doc: Document) -> dict[str, Any]:
    return {
        "id": str(doc.pk),
        "indexing_status": "paused" if doc.is_paused else doc.indexing_status,
        "processing_started_at": ts(doc.processing_started_at),
        "parsing_completed_at": ts(doc.parsing_completed_at),
        "cleaning_completed_at": ts(doc.cleaning_completed_at),
        "splitting_completed_at": ts(doc.splitting_completed_at),
        "completed_at": ts(doc.completed_at),
        "paused_at": ts(doc.paused_at),
        "error": doc.error,
        "stopped_at": ts(doc.stopped_at),
        "completed_segments": doc.completed_segments,
        "total_segments": doc.total_segments,
    }


def segment(seg: Segment, *, with_children: bool = True) -> dict[str, Any]:
    """The Segment object (service-api.md §5.3)."""
    body = {
        "id": str(seg.pk),
        "position": seg.position,
        "document_id": str(seg.document_id),
        "content": seg.content,
        "sign_content": seg.content,
        "answer": seg.answer or None,
        "word_count": seg.word_count,
        "tokens": seg.tokens,
        "keywords": list(seg.keywords or []),
        "index_node_id": seg.index_node_id,
        "index_node_hash": seg.index_node_hash,
        "hit_count": seg.hit_count,
        "enabled": seg.enabled,
        "disabled_at": ts(seg.disabled_at),
        "disabled_by": None,
        "status": seg.status,
        "created_by": _str(seg.created_by_id),
        "created_at": ts(seg.created_at),
        "updated_at": ts(seg.updated_at),
        "updated_by": None,
        "indexing_at": ts(seg.indexing_at),
        "completed_at": ts(seg.completed_at),
        "error": seg.error,
        "stopped_at": None,
    }
    if with_children:
        body.update(child_chunks=[], attachments=[], summary=None)
    return body


def record(hit: retrieval.Hit, fields: list[MetadataField]) -> dict[str, Any]:
    """One record of POST …/retrieve."""
    seg = hit.segment
    doc = seg.document
    body = segment(seg, with_children=False)
    body["document"] = {
        "id": str(doc.pk),
        "data_source_type": doc.data_source_type,
        "name": doc.name,
        "doc_type": None,
        "doc_metadata": _doc_metadata(doc, fields),
    }
    return {
        "segment": body,
        "child_chunks": [],
        "score": round(hit.score, 6),
        "tsne_position": None,
        "files": [],
        "summary": None,
    }
