"""Knowledge in the console: the dataset list and creation, a dataset's documents (upload with a
preview, live progress, actions), one document's segments, hit testing with its history, and
settings.

Views run in the workspace's schema, so ids of another workspace are simply not found. Reading
needs Perm.WORKSPACE_VIEW and a dataset the member may see ('only me' datasets belong to their
creator, and the owner sees all: apps.datasets.selectors.datasets_visible_to); any change needs
Perm.APPS_EDIT.
"""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.errors import ServiceError
from apps.datasets import retrieval, selectors, services, vectors
from apps.datasets.context import apps_using
from apps.datasets.forms import (
    DatasetForm,
    HitTestForm,
    MetadataFieldForm,
    ProcessRuleForm,
    SegmentForm,
    TextDocumentForm,
)
from apps.datasets.models import Dataset, Document, MetadataField, Segment
from apps.providers.runtime.errors import RuntimeModelError
from apps.workspaces import roles
from apps.workspaces.decorators import require_perm
from apps.workspaces.roles import Perm
from apps.workspaces.urlutils import ws_reverse

DOCUMENT_ACTIONS = ("pause", "resume", "retry", "enable", "disable", "archive", "un_archive", "delete")


def _can_edit(request: HttpRequest) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and roles.has_perm(membership.role, Perm.APPS_EDIT)


def _dataset(request: HttpRequest, dataset_id: Any) -> Dataset:
    return selectors.dataset_for(request.membership, dataset_id)  # type: ignore[attr-defined]


def _document(dataset: Dataset, document_id: Any) -> Document:
    return get_object_or_404(Document, pk=document_id, dataset=dataset)


def _uploads(request: HttpRequest) -> list[services.Upload]:
    return [services.Upload(f.name, f.read()) for f in request.FILES.getlist("files")]


def _error_text(exc: ServiceError | RuntimeModelError) -> str:
    return exc.message


def _context(request: HttpRequest, dataset: Dataset, tab: str, **extra: Any) -> dict[str, Any]:
    return {"dataset": dataset, "tab": tab, "can_edit": _can_edit(request), **extra}


# --- The list and creation --------------------------------------------------------------------------


@require_perm(Perm.WORKSPACE_VIEW)
def datasets(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    return render(request, "datasets/list.html", {
        "datasets": selectors.dataset_list(request.membership, query=query),  # type: ignore[attr-defined]
        "query": query, "can_edit": _can_edit(request), "usage": selectors.vector_usage(),
        "tail": vectors.tail_size()})


@require_perm(Perm.APPS_EDIT)
def dataset_new(request: HttpRequest) -> HttpResponse:
    form = DatasetForm(request.POST or None, initial={"permission": Dataset.Permission.ONLY_ME})
    if request.method == "POST" and form.is_valid():
        try:
            dataset = services.dataset_create(actor_id=request.user.pk, **form.service_fields())
        except (ServiceError, RuntimeModelError) as exc:
            form.add_error(None, _error_text(exc))
        else:
            messages.success(request, _("“%(name)s” was created.") % {"name": dataset.name})
            return redirect(ws_reverse(request, "console:dataset_documents", dataset_id=dataset.pk))
    return render(request, "datasets/new.html", {"form": form})


# --- Documents --------------------------------------------------------------------------------------


def _documents_context(request: HttpRequest, dataset: Dataset) -> dict[str, Any]:
    documents = list(selectors.documents_for(dataset, query=request.GET.get("q", "").strip()))
    rows = [{"document": d, "progress": selectors.progress(d)} for d in documents]
    return {"rows": rows, "live": any(d.is_running for d in documents)}


@require_perm(Perm.WORKSPACE_VIEW)
def dataset_documents(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    if request.GET.get("rows"):
        return render(request, "datasets/_document_rows.html",
                      _context(request, dataset, "documents", **_documents_context(request, dataset)))
    return render(request, "datasets/documents.html", _context(
        request, dataset, "documents", rule_form=ProcessRuleForm(), text_form=TextDocumentForm(),
        size_limit=settings.UPLOAD_FILE_SIZE_LIMIT, batch_limit=settings.UPLOAD_FILE_BATCH_LIMIT,
        **_documents_context(request, dataset)))


def _rule_or_error(request: HttpRequest) -> tuple[ProcessRuleForm, str]:
    form = ProcessRuleForm(request.POST)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return form, str(first)
    return form, ""


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_preview(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    form, error = _rule_or_error(request)
    preview = None
    if not error:
        uploads = _uploads(request)
        if not uploads and request.POST.get("text", "").strip():
            uploads = [services.Upload(f"{request.POST.get('name') or 'text'}.txt", request.POST["text"].encode())]
        try:
            preview = services.documents_preview(dataset=dataset, uploads=uploads, process_rule=form.process_rule(),
                                                 doc_form=form.cleaned_data["doc_form"])
        except ServiceError as exc:
            error = exc.message
    return render(request, "datasets/_preview.html", {"preview": preview, "error": error})


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_upload(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    form, error = _rule_or_error(request)
    if not error:
        text_form = TextDocumentForm(request.POST) if request.POST.get("source") == "text" else None
        try:
            options = {"actor_id": request.user.pk, "process_rule": form.process_rule(),
                       "doc_form": form.cleaned_data["doc_form"], "doc_language": form.cleaned_data["doc_language"],
                       "indexing_technique": dataset.indexing_technique or Dataset.Technique.HIGH_QUALITY}
            if text_form is not None:
                if not text_form.is_valid():
                    raise ServiceError("invalid_param", _("Enter a name and some text."), 400)
                services.document_create_from_text(dataset=dataset, name=text_form.cleaned_data["name"],
                                                   text=text_form.cleaned_data["text"], **options)
                count = 1
            else:
                count = len(services.documents_create(dataset=dataset, uploads=_uploads(request), **options)[1])
        except (ServiceError, RuntimeModelError) as exc:
            error = exc.message
        else:
            messages.success(request, _("%(count)s document(s) queued for indexing.") % {"count": count})
    if error:
        messages.error(request, error)
    return redirect(ws_reverse(request, "console:dataset_documents", dataset_id=dataset.pk))


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_document_action(request: HttpRequest, dataset_id: Any, document_id: Any, action: str) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    document = _document(dataset, document_id)
    if action not in DOCUMENT_ACTIONS:
        raise Http404
    try:
        if action == "pause":
            services.document_pause(document=document)
        elif action == "resume":
            services.document_resume(document=document)
        elif action == "retry":
            services.document_retry(document=document)
        elif action == "delete":
            services.document_delete(document=document)
        else:
            services.document_set_status(document=document, action=action)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("“%(name)s”: done.") % {"name": document.name})
    if action != "delete" and request.POST.get("next") == "document":
        return redirect(ws_reverse(request, "console:dataset_document", dataset_id=dataset.pk, document_id=document.pk))
    return redirect(ws_reverse(request, "console:dataset_documents", dataset_id=dataset.pk))


# --- One document: segments, metadata, re-segmenting --------------------------------------------------


@require_perm(Perm.WORKSPACE_VIEW)
def dataset_document(request: HttpRequest, dataset_id: Any, document_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    document = _document(dataset, document_id)
    fields = list(dataset.metadata_fields.all())
    values = [{"field": f, "value": (document.metadata or {}).get(str(f.pk), "")} for f in fields]
    segments = list(document.segments.all()[:500])
    return render(request, "datasets/document.html", _context(
        request, dataset, "documents", document=document, segments=segments, metadata=values,
        progress=selectors.progress(document), segment_form=SegmentForm(),
        rule_form=ProcessRuleForm(initial=_rule_initial(document)), editable=not document.archived and
        document.indexing_status == Document.Status.COMPLETED))


def _rule_initial(document: Document) -> dict[str, Any]:
    rule = document.process_rule or {}
    seg = (rule.get("rules") or {}).get("segmentation") or {}
    pre = {r["id"]: r.get("enabled") for r in (rule.get("rules") or {}).get("pre_processing_rules", [])}
    return {"mode": rule.get("mode", "automatic"), "separator": seg.get("separator", "\\n\\n").replace("\n", "\\n"),
            "max_tokens": seg.get("max_tokens", 500), "chunk_overlap": seg.get("chunk_overlap", 50),
            "remove_extra_spaces": pre.get("remove_extra_spaces", True),
            "remove_urls_emails": pre.get("remove_urls_emails", False), "doc_form": document.doc_form,
            "doc_language": document.doc_language}


def _back_to(request: HttpRequest, dataset: Dataset, document: Document) -> HttpResponse:
    return redirect(ws_reverse(request, "console:dataset_document", dataset_id=dataset.pk, document_id=document.pk))


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_document_resegment(request: HttpRequest, dataset_id: Any, document_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    document = _document(dataset, document_id)
    form, error = _rule_or_error(request)
    if not error:
        try:
            new = services.document_resegment(document=document, process_rule=form.process_rule(),
                                              actor_id=request.user.pk, doc_form=form.cleaned_data["doc_form"])
        except ServiceError as exc:
            error = exc.message
        else:
            messages.success(request, _("A new document was created with the new rules; the old one is archived."))
            return _back_to(request, dataset, new)
    messages.error(request, error)
    return _back_to(request, dataset, document)


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_document_metadata(request: HttpRequest, dataset_id: Any, document_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    document = _document(dataset, document_id)
    values = {str(f.pk): request.POST.get(f"field-{f.pk}", "") for f in dataset.metadata_fields.all()}
    try:
        services.document_metadata_set(document=document, values=values)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Metadata saved."))
    return _back_to(request, dataset, document)


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_segment_add(request: HttpRequest, dataset_id: Any, document_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    document = _document(dataset, document_id)
    try:
        services.segments_add(document=document, actor_id=request.user.pk, items=[_segment_input(request)])
    except (ServiceError, RuntimeModelError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Segment added."))
    return _back_to(request, dataset, document)


def _segment_input(request: HttpRequest) -> dict[str, Any]:
    """content, answer and keywords from a segment form, or invalid_param."""
    form = SegmentForm(request.POST)
    if not form.is_valid():
        raise ServiceError("invalid_param", _("Content is empty"), 400)
    return {key: form.cleaned_data[key] for key in ("content", "answer", "keywords")}


def _segment(dataset: Dataset, segment_id: Any) -> Segment:
    return get_object_or_404(Segment.objects.select_related("document"), pk=segment_id, dataset=dataset)


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_segment_edit(request: HttpRequest, dataset_id: Any, segment_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    segment = _segment(dataset, segment_id)
    try:
        services.segment_update(segment=segment, **_segment_input(request))
    except (ServiceError, RuntimeModelError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Segment saved and indexed again."))
    return _back_to(request, dataset, segment.document)


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_segment_toggle(request: HttpRequest, dataset_id: Any, segment_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    segment = _segment(dataset, segment_id)
    try:
        if request.POST.get("action") == "delete":
            services.segment_delete(segment=segment)
        else:
            services.segment_update(segment=segment, enabled=request.POST.get("action") == "enable")
    except (ServiceError, RuntimeModelError) as exc:
        messages.error(request, exc.message)
    return _back_to(request, dataset, segment.document)


# --- Hit testing ---------------------------------------------------------------------------------------


@require_perm(Perm.WORKSPACE_VIEW)
def dataset_hit_testing(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    form = HitTestForm(request.POST or None, initial={
        "search_method": (dataset.retrieval_model or {}).get("search_method")})
    result, error = None, ""
    if request.method == "POST" and form.is_valid():
        override = None
        method = form.cleaned_data.get("search_method")
        if method and dataset.indexing_technique == Dataset.Technique.HIGH_QUALITY:
            override = {**(dataset.retrieval_model or {}), "search_method": method}
        if override and method == "hybrid_search" and not override.get("reranking_mode"):
            # KN-13: hybrid needs the rerank step chosen in the settings; say so in the console's words.
            error = _("Hybrid search needs a rerank step: choose the weighted score or a rerank model in this "
                      "knowledge base's settings.")
        if not error:
            try:
                result = retrieval.hit_test(dataset=dataset, query=form.cleaned_data["query"],
                                            actor_id=request.user.pk, retrieval_model=override)
            except (ServiceError, RuntimeModelError) as exc:
                error = exc.message
    context = _context(request, dataset, "hit_testing", form=form, result=result, error=error,
                       history=selectors.query_history(dataset))
    if request.headers.get("HX-Request"):
        return render(request, "datasets/_hit_results.html", context)
    return render(request, "datasets/hit_testing.html", context)


# --- Settings ------------------------------------------------------------------------------------------


@require_perm(Perm.WORKSPACE_VIEW)
def dataset_settings(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    if request.method == "POST" and not _can_edit(request):
        raise PermissionDenied
    form = DatasetForm(request.POST or None, initial=DatasetForm.initial_for(dataset))
    if request.method == "POST" and form.is_valid():
        try:
            services.dataset_update(dataset=dataset, actor_id=request.user.pk, **form.service_fields())
        except (ServiceError, RuntimeModelError) as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Settings saved."))
            return redirect(ws_reverse(request, "console:dataset_settings", dataset_id=dataset.pk))
    return render(request, "datasets/settings.html", _context(
        request, dataset, "settings", form=form, field_form=MetadataFieldForm(),
        fields=list(dataset.metadata_fields.all()), used_by=apps_using(dataset.pk) if _can_edit(request) else []))


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_metadata_field(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    form = MetadataFieldForm(request.POST)
    if form.is_valid():
        try:
            services.metadata_field_create(dataset=dataset, **form.cleaned_data)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Metadata field added."))
    else:
        messages.error(request, _("Enter a field name and type."))
    return redirect(ws_reverse(request, "console:dataset_settings", dataset_id=dataset.pk))


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_metadata_field_delete(request: HttpRequest, dataset_id: Any, field_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    services.metadata_field_delete(field=get_object_or_404(MetadataField, pk=field_id, dataset=dataset))
    messages.success(request, _("Metadata field deleted."))
    return redirect(ws_reverse(request, "console:dataset_settings", dataset_id=dataset.pk))


@require_POST
@require_perm(Perm.APPS_EDIT)
def dataset_delete(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    name = dataset.name
    try:
        services.dataset_delete(dataset=dataset)
    except ServiceError as exc:
        if exc.code != "dataset_in_use":
            raise
        apps = ", ".join(app.name for app in apps_using(dataset.pk))
        messages.error(request, _("“%(name)s” is used by these apps: %(apps)s. Remove it from them before "
                                  "deleting it.") % {"name": name, "apps": apps})
        return redirect(ws_reverse(request, "console:dataset_settings", dataset_id=dataset.pk))
    messages.success(request, _("“%(name)s” was deleted.") % {"name": name})
    return redirect(ws_reverse(request, "console:datasets"))
