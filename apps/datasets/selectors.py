"""Reads of Knowledge: which datasets a member sees, documents with their progress, usage."""

from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from apps.datasets.models import Dataset, Document, HitTestQuery, VectorUsage
from apps.workspaces.roles import Role


def datasets_visible_to(membership: Any) -> QuerySet[Dataset]:
    """'all_team_members' datasets, plus 'only_me' ones the member created. The workspace owner
    sees every dataset (as the Knowledge API's owner-only include_all does); admins do not see
    other people's private datasets."""
    datasets = Dataset.objects.all()
    if membership is None:
        return datasets.none()
    if membership.role == Role.OWNER:
        return datasets
    return datasets.filter(Q(permission=Dataset.Permission.ALL_TEAM) | Q(created_by_id=membership.user_id))


def dataset_for(membership: Any, dataset_id: Any) -> Dataset:
    """A dataset the member may see, or 404 (a private one of someone else is 'not found' too)."""
    dataset = datasets_visible_to(membership).filter(pk=dataset_id).first()
    if dataset is None:
        raise Http404
    return dataset


def dataset_list(membership: Any, *, query: str = "") -> list[Dataset]:
    datasets = datasets_visible_to(membership).annotate(
        document_count=Count("documents", distinct=True),
        word_count=Sum("documents__word_count"))
    if query:
        datasets = datasets.filter(name__icontains=query)
    return list(datasets)


def documents_for(dataset: Dataset, *, query: str = "", status: str = "") -> QuerySet[Document]:
    documents = dataset.documents.all()
    if query:
        documents = documents.filter(name__icontains=query)
    if status:
        documents = documents_with_display_status(documents, status)
    return documents


def documents_with_display_status(documents: QuerySet[Document], status: str) -> QuerySet[Document]:
    """Filter by the API's display status (queuing, indexing, paused, error, available, …)."""
    status = {"active": "available", "enabled": "available"}.get(status, status)
    live = documents.filter(archived=False)
    filters = {
        "queuing": live.filter(indexing_status=Document.Status.WAITING),
        "indexing": live.filter(indexing_status__in=[Document.Status.PARSING, Document.Status.CLEANING,
                                                    Document.Status.SPLITTING, Document.Status.INDEXING]),
        "paused": live.filter(indexing_status=Document.Status.PAUSED),
        "error": live.filter(indexing_status=Document.Status.ERROR),
        "available": live.filter(indexing_status=Document.Status.COMPLETED, enabled=True),
        "disabled": live.filter(indexing_status=Document.Status.COMPLETED, enabled=False),
        "archived": documents.filter(archived=True),
    }
    return filters.get(status, documents.none())


def progress(document: Document) -> dict[str, Any]:
    """Segments done/total, percent and an ETA in seconds from this run's indexing speed."""
    eta = None
    if document.indexing_status == Document.Status.INDEXING and document.indexing_started_at and \
            document.completed_segments:
        elapsed = (timezone.now() - document.indexing_started_at).total_seconds()
        remaining = max(0, document.total_segments - document.completed_segments)
        eta = round(elapsed / document.completed_segments * remaining)
    return {"done": document.completed_segments, "total": document.total_segments,
            "percent": document.progress_percent, "eta_seconds": eta}


def query_history(dataset: Dataset, limit: int = 20) -> list[HitTestQuery]:
    return list(HitTestQuery.objects.filter(dataset=dataset)[:limit])


def vector_usage() -> VectorUsage:
    """The workspace's vector storage counters (zeros before anything is indexed)."""
    return VectorUsage.objects.filter(pk=1).first() or VectorUsage(pk=1)
