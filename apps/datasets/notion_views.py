"""Notion in the console: Settings → Data sources (the workspace's integration token; owners and
admins, Perm.PROVIDERS_MANAGE), the "Import from Notion" page picker of a dataset and the Sync
action of a Notion document (Perm.APPS_EDIT). Views run in the workspace's schema, so another
workspace's connection, datasets and documents are simply not found."""

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.errors import ServiceError
from apps.datasets import notion_services, selectors, tasks
from apps.datasets.models import Document
from apps.workspaces.decorators import require_perm
from apps.workspaces.roles import Perm
from apps.workspaces.urlutils import ws_reverse


@require_perm(Perm.PROVIDERS_MANAGE)
def data_sources(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "disconnect":
            notion_services.connection_delete()
            messages.success(request, _("Notion was disconnected."))
            return redirect(ws_reverse(request, "console:data_sources"))
        try:
            notion_services.connection_save(token_value=request.POST.get("token", ""),
                                            actor_id=request.user.pk)
        except ServiceError as exc:
            error = exc.message
        else:
            messages.success(request, _("Notion is connected."))
            return redirect(ws_reverse(request, "console:data_sources"))
    return render(request, "datasets/data_sources.html", {
        "notion": notion_services.connection_get(), "error": error}, status=400 if error else 200)


@require_perm(Perm.APPS_EDIT)
def notion_import(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = selectors.dataset_for(request.membership, dataset_id)  # type: ignore[attr-defined]
    connected = notion_services.connection_get() is not None
    error = ""
    if request.method == "POST":
        try:
            documents = notion_services.pages_import(
                dataset=dataset, page_ids=request.POST.getlist("page_ids"), actor_id=request.user.pk)
        except ServiceError as exc:
            error = exc.message
        else:
            messages.success(request, _("%(count)d Notion pages are being imported.")
                             % {"count": len(documents)})
            return redirect(ws_reverse(request, "console:dataset_documents", dataset_id=dataset.pk))
    query = request.GET.get("q", "").strip()
    pages: list[dict[str, Any]] = []
    if connected and not error:
        try:
            pages = notion_services.search(query)
        except ServiceError as exc:
            error = exc.message
    imported = set(Document.objects.filter(dataset=dataset, data_source_type=notion_services.SOURCE)
                   .values_list("data_source_info__notion_page_id", flat=True))
    return render(request, "datasets/notion_import.html", {
        "dataset": dataset, "tab": "documents", "can_edit": True, "connected": connected, "pages": pages,
        "imported": imported, "query": query, "error": error},
        status=400 if error and request.method == "POST" else 200)


@require_POST
@require_perm(Perm.APPS_EDIT)
def notion_sync(request: HttpRequest, dataset_id: Any, document_id: Any) -> HttpResponse:
    """Queue a forced re-sync of one Notion document on the worker (the fetch can be slow)."""
    dataset = selectors.dataset_for(request.membership, dataset_id)  # type: ignore[attr-defined]
    document = get_object_or_404(Document, pk=document_id, dataset=dataset,
                                 data_source_type=notion_services.SOURCE)
    document_id = str(document.pk)
    transaction.on_commit(lambda: tasks.sync_notion_document.apply_async(args=[document_id], queue="dataset"))
    messages.success(request, _("“%(name)s” is being synced with Notion.") % {"name": document.name})
    return redirect(ws_reverse(request, "console:dataset_documents", dataset_id=dataset.pk))
