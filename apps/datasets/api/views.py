"""The Knowledge API views (service-api.md §5) on DRF: thin adapters from the wire contract to
apps.datasets' services, selectors and retrieval.

Every view authenticates a dataset key (apps.datasets.api.auth), runs in the key's workspace
schema, acts as the workspace owner, and reaches only the datasets the key may use (all of the
workspace's, or the chosen ones of a limited key; anything else is "Dataset not found.").
Errors leave in the API format {code, message, status} through `exception_handler`.
"""

import logging
import re
import uuid
from typing import Any

from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context
from rest_framework import exceptions as drf
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import ServiceError, error_for_exception, internal_error, invalid_param, not_found
from apps.core.inputs import check_form, parse_json, text_arg
from apps.datasets import keys, retrieval, services
from apps.datasets.api import shapes
from apps.datasets.api.auth import DatasetCaller, authenticate_dataset
from apps.datasets.models import Dataset, Document, MetadataField, Segment
from apps.datasets.pipeline.errors import no_file_uploaded, too_many_files

logger = logging.getLogger(__name__)

def _deleted() -> Response:
    """What the reference server answers to dataset, document, segment and metadata DELETEs:
    HTTP 200 with the body `204` (service-api.md §5.1, §6 item 6). Existing clients read that
    body, so it is matched rather than "fixed" to a bodiless 204."""
    return Response(204, status=200)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def exception_handler(exc: Exception, context_: dict[str, Any]) -> Response:
    """Every error as {code, message, status} (service-api.md §1), 401s with WWW-Authenticate:
    the /v1 mapping (apps.core.errors.error_for_exception) plus DRF's own exceptions."""
    error = error_for_exception(exc)
    if error is not None:
        body = error.as_body()
    elif isinstance(exc, drf.ParseError):
        body = invalid_param(str(exc.detail)).as_body()
    elif isinstance(exc, drf.APIException):
        body = {"code": _snake(type(exc).__name__), "message": str(exc.detail), "status": exc.status_code}
    else:
        logger.exception("Knowledge API error")
        body = internal_error().as_body()
    response = Response(body, status=body["status"])
    if body["status"] == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


class CheckedJSONParser(JSONParser):
    """JSON through the /v1 validation layer (apps.core.inputs.parse_json)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        return parse_json(stream.read() if stream is not None else b"")


class CheckedMultiPartParser(MultiPartParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            parsed = super().parse(stream, media_type, parser_context)
        except drf.ParseError as exc:  # DRF's message names Django's parser error (no boundary …)
            raise ServiceError("bad_request", f"The multipart body could not be read: {exc.detail}") from None
        check_form(parsed.data)
        return parsed


class CheckedFormParser(FormParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        check_form(data)
        return data


class KnowledgeView(APIView):
    """Base: dataset-key authentication, the workspace schema, the key's dataset (when the path
    has one) and the error format."""

    renderer_classes = [JSONRenderer]
    parser_classes = [CheckedJSONParser, CheckedMultiPartParser, CheckedFormParser]
    authentication_classes: list = []
    permission_classes: list = []
    caller: DatasetCaller
    dataset: Dataset

    def get_exception_handler(self):  # type: ignore[no-untyped-def]
        return exception_handler

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # The key's workspace schema lasts for this request only; the caller's schema comes back.
        with schema_context(connection.schema_name):
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.caller = authenticate_dataset(request.headers.get("Authorization"))
        if "dataset_id" in kwargs:
            self.dataset = self._dataset(kwargs["dataset_id"])

    def _dataset(self, dataset_id: Any) -> Dataset:
        found = keys.reachable(self.caller.key).filter(pk=dataset_id).first()
        if found is None:
            raise not_found("Dataset not found.")
        if not found.enable_api:
            raise ServiceError("forbidden", "Dataset api access is not enabled.", 403)
        return found

    def _document(self, document_id: Any) -> Document:
        try:
            uuid.UUID(str(document_id))
        except ValueError:
            raise not_found("Document Not Exists.") from None
        found = (
            Document.objects.select_related("dataset").filter(pk=document_id, dataset=self.dataset).first()
        )
        if found is None:
            raise not_found("Document Not Exists.")
        return found

    @property
    def actor(self) -> int | None:
        return self.caller.owner_id

    def body(self) -> dict[str, Any]:
        data = self.request.data
        if not isinstance(data, dict):
            raise invalid_param("Invalid JSON payload received or JSON payload is empty.")
        return data


# --- Arguments ---------------------------------------------------------------------------------------


def _int(source: Any, name: str, default: int, low: int, high: int) -> int:
    raw = source.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid_param(f"{name} must be an integer", params=name) from None
    if not low <= value <= high:
        raise invalid_param(f"{name} must be between {low} and {high}", params=name)
    return value


def _opt_str(body: dict[str, Any], name: str, column: tuple[type, str] | None = None) -> str | None:
    """An optional string, no longer than ``column`` = (Model, field) when it is stored in one."""
    return text_arg(body, name, column=column)


def _opt_dict(body: dict[str, Any], name: str) -> dict | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise invalid_param(f"{name} must be an object", params=name)
    return value


def _page(queryset: Any, query: Any, *, limit_max: int = 100) -> tuple[list[Any], dict[str, Any]]:
    page = _int(query, "page", 1, 1, 100_000)
    limit = _int(query, "limit", 20, 1, limit_max)
    total = queryset.count()
    items = list(queryset[(page - 1) * limit : page * limit])
    return items, {"has_more": len(items) == limit, "limit": limit, "total": total, "page": page}


def _document_options(body: dict[str, Any], dataset: Dataset) -> dict[str, Any]:
    """create-by-text / create-by-file options → documents_create keyword arguments."""
    doc_form = _opt_str(body, "doc_form", (Document, "doc_form")) or dataset.doc_form or "text_model"
    process_rule = _opt_dict(body, "process_rule")
    technique = _opt_str(body, "indexing_technique")
    if not dataset.indexing_technique:
        if not technique:
            raise invalid_param("indexing_technique is required.", params="indexing_technique")
        _initialise(dataset, technique, body)
    return {
        "process_rule": process_rule,
        "indexing_technique": technique or dataset.indexing_technique,
        "doc_form": doc_form,
        "doc_language": _opt_str(body, "doc_language", (Document, "doc_language")) or "English",
        "created_from": "api",
    }


def _initialise(dataset: Dataset, technique: str, body: dict[str, Any]) -> None:
    """A dataset's first document fixes its technique, embedding model and retrieval settings."""
    if technique not in Dataset.Technique.values:
        raise invalid_param("indexing_technique is invalid.", params="indexing_technique")
    fields: dict[str, Any] = {"indexing_technique": technique}
    model = _opt_str(body, "embedding_model")
    if technique == Dataset.Technique.HIGH_QUALITY and model:
        fields["embedding_model_provider"] = _opt_str(body, "embedding_model_provider") or ""
        fields["embedding_model"] = model
    if _opt_dict(body, "retrieval_model"):
        fields["retrieval_model"] = body["retrieval_model"]
    services.dataset_update(dataset=dataset, actor_id=None, **fields)


def _upload_file(request: Request, *, required: bool) -> services.Upload | None:
    files = request.FILES.getlist("file")
    if len(request.FILES) > len(files) or len(files) > 1:
        raise too_many_files(1)
    if not files:
        if required:
            raise no_file_uploaded()
        return None
    upload = files[0]
    return services.Upload(upload.name, upload.read())


def _data_part(request: Request) -> dict[str, Any]:
    raw = request.data.get("data") if hasattr(request.data, "get") else None
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            data = parse_json(raw)
        except ServiceError:
            raise invalid_param("data must be a JSON string.", params="data") from None
    else:
        data = raw
    if not isinstance(data, dict):
        raise invalid_param("data must be a JSON object.", params="data")
    return data


def _document_response(batch: str, document: Document) -> Response:
    return Response({"document": shapes.document(document), "batch": batch})


# --- Datasets ------------------------------------------------------------------------------------------


class DatasetListView(KnowledgeView):
    def get(self, request: Request) -> Response:
        datasets = keys.reachable(self.caller.key).order_by("-created_at")
        keyword = request.query_params.get("keyword")
        if keyword:
            datasets = datasets.filter(name__icontains=keyword)
        items, page = _page(datasets, request.query_params)
        ctx = shapes.DatasetContext(items)
        return Response({"data": [shapes.dataset(d, ctx) for d in items], **page})

    def post(self, request: Request) -> Response:
        if self.caller.key.limited:
            raise ServiceError(
                "forbidden",
                "This API key is limited to chosen knowledge bases and cannot create new ones.",
                403,
            )
        body = self.body()
        if body.get("provider") not in (None, "vendor"):
            raise invalid_param("External knowledge bases are not supported.", params="provider")
        if body.get("permission") == "partial_members":
            raise invalid_param(
                "partial_members is not supported; use only_me or all_team_members.", params="permission"
            )
        ds = services.dataset_create(
            name=body.get("name"),
            actor_id=self.actor,
            description=_opt_str(body, "description") or "",
            permission=_opt_str(body, "permission") or Dataset.Permission.ONLY_ME,
            indexing_technique=_opt_str(body, "indexing_technique"),
            embedding_model_provider=_opt_str(body, "embedding_model_provider") or "",
            embedding_model=_opt_str(body, "embedding_model") or "",
            retrieval_model=_opt_dict(body, "retrieval_model"),
        )
        return Response(shapes.dataset(ds))


# The PATCH fields that hold text (must be strings when given).
DATASET_TEXT_FIELDS = ("name", "description", "indexing_technique", "permission", "embedding_model",
                       "embedding_model_provider")


class DatasetDetailView(KnowledgeView):
    def get(self, request: Request, dataset_id: Any) -> Response:
        return Response(shapes.dataset(self.dataset))

    def patch(self, request: Request, dataset_id: Any) -> Response:
        body = self.body()
        if body.get("permission") == "partial_members" or body.get("partial_member_list"):
            raise invalid_param(
                "partial_members is not supported; use only_me or all_team_members.", params="permission"
            )
        allowed = (
            "name",
            "description",
            "indexing_technique",
            "permission",
            "embedding_model",
            "embedding_model_provider",
            "retrieval_model",
        )
        fields = {k: body[k] for k in allowed if k in body}
        for name in DATASET_TEXT_FIELDS:  # lengths and choices are the service's to check
            _opt_str(fields, name)
        if fields.get("retrieval_model") is not None:
            _opt_dict(fields, "retrieval_model")
        services.dataset_update(dataset=self.dataset, actor_id=self.actor, **fields)
        return Response({**shapes.dataset(self.dataset), "partial_member_list": []})

    def delete(self, request: Request, dataset_id: Any) -> Response:
        services.dataset_delete(dataset=self.dataset)
        return _deleted()


class DocumentStatusView(KnowledgeView):
    def patch(self, request: Request, dataset_id: Any, action: str) -> Response:
        if action not in ("enable", "disable", "archive", "un_archive"):
            raise ServiceError("invalid_action", "Invalid action.", 400)
        ids = self.body().get("document_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise invalid_param("document_ids must be a list of strings.", params="document_ids")
        documents = [self._document(i) for i in ids]
        for document in documents:
            services.document_set_status(document=document, action=action)
        return Response({"result": "success"})


# --- Documents ---------------------------------------------------------------------------------------


class DocumentCreateByTextView(KnowledgeView):
    def post(self, request: Request, dataset_id: Any) -> Response:
        body = self.body()
        name, text = _opt_str(body, "name"), _opt_str(body, "text")
        if not name:
            raise invalid_param("name is required.", params="name")
        if text is None:
            raise invalid_param("text is required.", params="text")
        options = _document_options(body, self.dataset)
        batch, document = services.document_create_from_text(
            dataset=self.dataset, name=name, text=text, actor_id=self.actor, **options
        )
        return _document_response(batch, document)


class DocumentCreateByFileView(KnowledgeView):
    def post(self, request: Request, dataset_id: Any) -> Response:
        upload = _upload_file(request, required=True)
        data = _data_part(request)
        if (
            not self.dataset.process_rule
            and not data.get("process_rule")
            and not data.get("original_document_id")
        ):
            raise invalid_param("process_rule is required.", params="process_rule")
        options = _document_options(data, self.dataset)
        assert upload is not None
        batch, documents = services.documents_create(
            dataset=self.dataset, uploads=[upload], actor_id=self.actor, batch_limit=1, **options
        )
        return _document_response(batch, documents[0])


class DocumentUpdateByTextView(KnowledgeView):
    def post(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self._document(document_id)
        body = self.body()
        name, text = _opt_str(body, "name"), _opt_str(body, "text")
        if text is not None and not name:
            raise invalid_param("name is required when text is given.", params="name")
        upload = None
        if text is not None:
            if not text.strip():
                raise invalid_param("text is required.", params="text")
            upload = services.Upload(
                name if name.endswith((".txt", ".md", ".markdown")) else f"{name}.txt", text.encode()
            )
        batch, document = services.document_update(
            document=document,
            actor_id=self.actor,
            upload=upload,
            name=name,
            process_rule=_opt_dict(body, "process_rule"),
            doc_form=_opt_str(body, "doc_form", (Document, "doc_form")),
            doc_language=_opt_str(body, "doc_language", (Document, "doc_language")),
        )
        return _document_response(batch, document)


class DocumentUpdateByFileView(KnowledgeView):
    def post(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self._document(document_id)
        upload = _upload_file(request, required=False)
        data = _data_part(request)
        batch, document = services.document_update(
            document=document,
            actor_id=self.actor,
            upload=upload,
            name=_opt_str(data, "name") or (upload.name if upload else None),
            process_rule=_opt_dict(data, "process_rule"),
            doc_form=_opt_str(data, "doc_form", (Document, "doc_form")),
            doc_language=_opt_str(data, "doc_language", (Document, "doc_language")),
        )
        return _document_response(batch, document)


class DocumentListView(KnowledgeView):
    def get(self, request: Request, dataset_id: Any) -> Response:
        query = request.query_params
        documents = self.dataset.documents.select_related("dataset").order_by("-created_at", "-position")
        if query.get("keyword"):
            documents = documents.filter(name__icontains=query["keyword"])
        if query.get("status"):
            from apps.datasets import selectors

            documents = selectors.documents_with_display_status(documents, query["status"])
        items, page = _page(documents, query)
        fields = list(self.dataset.metadata_fields.all())
        return Response({"data": [shapes.document(d, fields) for d in items], **page})


class IndexingStatusView(KnowledgeView):
    def get(self, request: Request, dataset_id: Any, batch: str) -> Response:
        documents = list(self.dataset.documents.filter(batch=batch).order_by("position"))
        if not documents:
            raise not_found("Documents not found.")
        return Response({"data": [shapes.indexing_status(d) for d in documents]})


class DocumentDetailView(KnowledgeView):
    def get(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        metadata = request.query_params.get("metadata", "all")
        if metadata not in ("all", "only", "without"):
            raise ServiceError(
                "invalid_metadata", "The metadata content is incorrect. Please check and verify.", 400
            )
        return Response(shapes.document_detail(self._document(document_id), metadata))

    def delete(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self._document(document_id)
        if document.archived:
            raise ServiceError("archived_document_immutable", "The archived document is not editable.", 403)
        services.document_delete(document=document)
        return _deleted()


# --- Segments ----------------------------------------------------------------------------------------


class SegmentListView(KnowledgeView):
    def get(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self._document(document_id)
        segments = document.segments.order_by("position")
        statuses = request.query_params.getlist("status")
        if statuses:
            segments = segments.filter(status__in=statuses)
        if request.query_params.get("keyword"):
            segments = segments.filter(content__icontains=request.query_params["keyword"])
        items, page = _page(segments, request.query_params)
        return Response({"data": [shapes.segment(s) for s in items], "doc_form": document.doc_form, **page})

    def post(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self._document(document_id)
        items = self.body().get("segments")
        if items is None:
            raise invalid_param("Segments is required", params="segments")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise invalid_param("segments must be a non-empty list of objects.", params="segments")
        if document.indexing_status != Document.Status.COMPLETED:
            raise not_found("Document is not completed.")
        if not document.enabled:
            raise not_found("Document is disabled.")
        if not self.dataset.indexing_technique:
            raise ServiceError(
                "dataset_not_initialized",
                "The dataset is still being initialized or indexing. Please wait a moment.",
                400,
            )
        created = services.segments_add(document=document, items=items, actor_id=self.actor)
        return Response({"data": [shapes.segment(s) for s in created], "doc_form": document.doc_form})


class SegmentDetailView(KnowledgeView):
    def _segment(self, document_id: Any, segment_id: Any) -> Segment:
        document = self._document(document_id)
        found = (
            Segment.objects.select_related("document", "document__dataset")
            .filter(pk=segment_id, document=document)
            .first()
        )
        if found is None:
            raise not_found("Segment not found.")
        return found

    def get(self, request: Request, dataset_id: Any, document_id: Any, segment_id: Any) -> Response:
        seg = self._segment(document_id, segment_id)
        return Response({"data": shapes.segment(seg), "doc_form": seg.document.doc_form})

    def post(self, request: Request, dataset_id: Any, document_id: Any, segment_id: Any) -> Response:
        seg = self._segment(document_id, segment_id)
        args = self.body().get("segment")
        if not isinstance(args, dict):
            raise invalid_param("segment is required and must be an object.", params="segment")
        enabled = args.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise invalid_param("enabled must be a boolean.", params="enabled")
        seg = services.segment_update(
            segment=seg,
            content=_opt_str(args, "content"),
            answer=_opt_str(args, "answer"),
            keywords=args.get("keywords"),
            enabled=enabled,
        )
        return Response({"data": shapes.segment(seg), "doc_form": seg.document.doc_form})

    def delete(self, request: Request, dataset_id: Any, document_id: Any, segment_id: Any) -> Response:
        services.segment_delete(segment=self._segment(document_id, segment_id))
        return _deleted()


# --- Retrieval -----------------------------------------------------------------------------------------


class RetrieveView(KnowledgeView):
    def post(self, request: Request, dataset_id: Any) -> Response:
        body = self.body()
        query = _opt_str(body, "query")
        if not query or not query.strip():
            raise invalid_param("Query or attachment_ids is required", params="query")
        settings = _opt_dict(body, "retrieval_model")
        filters = None
        if settings:
            settings = dict(settings)
            filters = settings.pop("metadata_filtering_conditions", None)
        result = retrieval.hit_test(
            dataset=self.dataset,
            query=query,
            actor_id=self.actor,
            source="api",
            retrieval_model=settings or None,
            metadata_filtering_conditions=filters,
        )
        fields = list(self.dataset.metadata_fields.all())
        return Response(
            {"query": {"content": query}, "records": [shapes.record(hit, fields) for hit in result.hits]}
        )


# --- Metadata ------------------------------------------------------------------------------------------


def _field_body(field: MetadataField) -> dict[str, Any]:
    return {"id": str(field.pk), "type": field.type, "name": field.name}


class MetadataListView(KnowledgeView):
    def get(self, request: Request, dataset_id: Any) -> Response:
        fields = list(self.dataset.metadata_fields.all())
        documents = list(self.dataset.documents.values_list("metadata", flat=True))
        return Response(
            {
                "doc_metadata": [
                    {
                        "id": str(f.pk),
                        "name": f.name,
                        "type": f.type,
                        "count": sum(1 for m in documents if str(f.pk) in (m or {})),
                    }
                    for f in fields
                ],
                "built_in_field_enabled": self.dataset.built_in_field_enabled,
            }
        )

    def post(self, request: Request, dataset_id: Any) -> Response:
        body = self.body()
        field = services.metadata_field_create(
            dataset=self.dataset, name=body.get("name"), type=body.get("type")
        )
        return Response(_field_body(field), status=201)


class MetadataDetailView(KnowledgeView):
    def _field(self, metadata_id: Any) -> MetadataField:
        field = self.dataset.metadata_fields.filter(pk=metadata_id).first()
        if field is None:
            raise not_found("Metadata not found.")
        return field

    def patch(self, request: Request, dataset_id: Any, metadata_id: Any) -> Response:
        field = services.metadata_field_rename(field=self._field(metadata_id), name=self.body().get("name"))
        return Response(_field_body(field))

    def delete(self, request: Request, dataset_id: Any, metadata_id: Any) -> Response:
        services.metadata_field_delete(field=self._field(metadata_id))
        return _deleted()


class BuiltInFieldsView(KnowledgeView):
    def get(self, request: Request, dataset_id: Any) -> Response:
        return Response(
            {"fields": [{"name": name, "type": kind} for name, kind in retrieval.BUILT_IN_FIELDS.items()]}
        )


class BuiltInToggleView(KnowledgeView):
    def post(self, request: Request, dataset_id: Any, action: str) -> Response:
        if action not in ("enable", "disable"):
            raise ServiceError("invalid_action", "Invalid action.", 400)
        Dataset.objects.filter(pk=self.dataset.pk).update(built_in_field_enabled=action == "enable")
        return Response({"result": "success"})


class DocumentMetadataView(KnowledgeView):
    def post(self, request: Request, dataset_id: Any) -> Response:
        operations = self.body().get("operation_data")
        if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
            raise invalid_param("operation_data must be a list of objects.", params="operation_data")
        limit = settings.DATASET_METADATA_MAX_OPERATIONS
        if len(operations) > limit:  # each is a document read and write: 5,000 held a request for 14-28 s
            raise invalid_param(f"operation_data has {len(operations)} operations; at most {limit} are allowed "
                                "per request.", params="operation_data")
        for operation in operations:
            document = self._document(operation.get("document_id"))
            items = operation.get("metadata_list")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise ServiceError(
                    "invalid_metadata", "The metadata content is incorrect. Please check and verify.", 400
                )
            if not operation.get("partial_update"):
                document.metadata = {}
            values = {str(item.get("id") or item.get("name")): item.get("value") for item in items}
            services.document_metadata_set(document=document, values=values)
        return Response({"result": "success"})
