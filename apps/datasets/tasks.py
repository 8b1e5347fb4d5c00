"""Celery tasks of Knowledge: thin adapters around apps.datasets.indexing (ids in, idempotent).

Queues: whole documents go to `dataset`; short interactive work (re-embedding a dataset's few
missing vectors after a settings change) to `priority_dataset`, so it is not stuck behind a
large upload.
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


@shared_task(name="apps.datasets.tasks.recover_indexing")
def recover_indexing() -> int:
    """Re-queue documents whose worker died mid-pipeline, in every workspace, and recount each
    workspace's vector storage. Runs when a worker starts and periodically (beat); a document still
    being worked on holds its lock and is left alone."""
    from apps.datasets import indexing
    from apps.workspaces.models import Workspace

    requeued = 0
    for schema in Workspace.objects.filter(status=Workspace.Status.READY).exclude(
            schema_name="public").values_list("schema_name", flat=True):
        with schema_context(schema):
            try:
                orphans = indexing.orphaned_documents()
            except Exception:  # a workspace whose schema is not migrated yet
                logger.exception("recovering indexing in %s failed", schema)
                continue
            for document in orphans:
                index_document.apply_async(args=[str(document.pk)], queue="dataset")
                requeued += 1
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
