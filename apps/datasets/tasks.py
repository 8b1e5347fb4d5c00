"""Celery tasks of Knowledge: thin adapters around apps.datasets.indexing (ids in, idempotent).

Queues: whole documents go to `dataset`; short interactive work (re-embedding a dataset's few
missing vectors after a settings change, adding tail vectors to the HNSW graphs in bounded runs)
to `priority_dataset`, so it is not stuck behind a large upload.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django_tenants.utils import schema_context
from tenant_schemas_celery.task import TenantTask

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask, acks_late=True, name="apps.datasets.tasks.index_document")
def index_document(document_id: str) -> str:
    """Index (or finish indexing) one document in the sender's workspace."""
    from apps.datasets import indexing

    return str(indexing.index_document(document_id=document_id))


@shared_task(base=TenantTask, acks_late=True, name="apps.datasets.tasks.embed_dataset")
def embed_dataset(dataset_id: str) -> int:
    """Index a dataset's segments that have no embedding (economy switched to high_quality)."""
    from apps.datasets import services

    return services.dataset_embed_missing(dataset_id=dataset_id)


@shared_task(base=TenantTask, acks_late=True, name="apps.datasets.tasks.merge_vectors")
def merge_vectors() -> int:
    """Add the sender's workspace's tail vectors to their HNSW graphs (apps/datasets/vectors.py),
    at most DATASET_VECTOR_MERGE_LIMIT a run: with more left, the task queues itself again, so a
    long tail never holds a worker for long."""
    from django.conf import settings

    from apps.datasets import vectors

    limit = settings.DATASET_VECTOR_MERGE_LIMIT
    merged = vectors.merge_tail(limit)
    if merged >= limit and vectors.tail_size():
        merge_vectors.apply_async(queue="priority_dataset")
    return merged


@shared_task(base=TenantTask, acks_late=True, name="apps.datasets.tasks.describe_dataset")
def describe_dataset(dataset_id: str) -> str:
    """Write a description for a dataset that has none (KN-20), in the sender's workspace."""
    from apps.datasets import services

    return services.dataset_describe(dataset_id=dataset_id)


def _ready_schemas() -> list[str]:
    """The schemas of every provisioned workspace (periodic tasks visit each in turn)."""
    from apps.workspaces.models import Workspace

    return list(Workspace.objects.filter(status=Workspace.Status.READY).exclude(
        schema_name="public").values_list("schema_name", flat=True))


@shared_task(name="apps.datasets.tasks.recover_indexing")
def recover_indexing() -> int:
    """Re-queue documents whose worker died mid-pipeline, in every workspace, queue a merge where
    vectors wait in the tail (a merge task lost with a worker), and recount each workspace's vector
    storage. Runs when a worker starts and periodically (beat); a document still being worked on
    holds its lock and is left alone."""
    from apps.datasets import indexing, vectors

    requeued = 0
    for schema in _ready_schemas():
        with schema_context(schema):
            try:
                orphans = indexing.orphaned_documents()
            except Exception:  # a workspace whose schema is not migrated yet
                logger.exception("recovering indexing in %s failed", schema)
                continue
            for document in orphans:
                index_document.apply_async(args=[str(document.pk)], queue="dataset")
                requeued += 1
            if vectors.tail_size():
                merge_vectors.apply_async(queue="priority_dataset")
            indexing.refresh_vector_usage()  # corrects drift left by interrupted runs
    if requeued:
        logger.info("re-queued %d orphaned documents", requeued)
    return requeued


@worker_ready.connect
def _recover_on_start(sender: object = None, **kwargs: object) -> None:
    """A worker killed mid-document left it in a running status; pick it up on restart."""
    from django.db import connection

    try:
        recover_indexing()
    finally:
        connection.set_schema_to_public()


@shared_task(base=TenantTask, acks_late=True, name="apps.datasets.tasks.sync_notion_document")
def sync_notion_document(document_id: str, force: bool = True) -> str:
    """Re-fetch one Notion document (the console's Sync button) in the sender's workspace."""
    from apps.datasets import notion_services
    from apps.datasets.models import Document

    document = Document.objects.select_related("dataset").filter(pk=document_id).first()
    if document is None:
        return "gone"
    return notion_services.document_sync(document=document, force=force)


@shared_task(name="apps.datasets.tasks.sync_notion")
def sync_notion() -> dict[str, dict[str, int]]:
    """Periodic (beat): sync the Notion documents of every workspace with a Notion connection;
    unchanged pages are skipped, a failing page or workspace is recorded and the run goes on."""
    from apps.datasets import notion_services

    results: dict[str, dict[str, int]] = {}
    for schema in _ready_schemas():
        with schema_context(schema):
            try:
                counts = notion_services.sync_all()
            except Exception:  # a workspace whose schema is not migrated yet
                logger.exception("syncing Notion in %s failed", schema)
                continue
        if counts:
            results[schema] = counts
    return results
