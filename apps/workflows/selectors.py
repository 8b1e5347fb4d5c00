"""Reads for workflows: versions, runs, node executions and the run log (in the workspace schema)."""

import uuid
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from apps.applications.models import App
from apps.core.errors import ServiceError, invalid_param, not_found
from apps.core.hotcache import HotCache
from apps.workflows.models import DRAFT, Workflow, WorkflowNodeExecution, WorkflowRun


def draft(app: App) -> Workflow | None:
    return Workflow.objects.filter(app=app, version=DRAFT).first()


def published(app: App) -> Workflow | None:
    return Workflow.objects.filter(app=app).exclude(version=DRAFT).order_by("-created_at").first()


def versions(app: App) -> QuerySet[Workflow]:
    return Workflow.objects.filter(app=app).exclude(version=DRAFT).order_by("-created_at")


_published = HotCache("workflows.published")


def workflow_for_run(app: App, workflow_id: str | None) -> Workflow:
    """The published workflow the API runs: the newest, or the one asked for (§2.5, §2.6). The
    newest is kept per process (apps/core/hotcache.py); publishing writes an AppVersion, whose
    signal clears it."""
    if not workflow_id:
        workflow = _published.get_or_load((connection.schema_name, app.pk), lambda: published(app))
        if workflow is None:
            raise invalid_param("Workflow not published")
        return workflow
    try:
        uuid.UUID(str(workflow_id))
    except ValueError:
        raise ServiceError("bad_request", f"Invalid workflow_id format: {workflow_id}") from None
    workflow = Workflow.objects.filter(app=app, pk=workflow_id).first()
    if workflow is None:
        raise not_found(f"Workflow not found with id: {workflow_id}")
    if workflow.is_draft:
        raise ServiceError("bad_request", "Cannot use draft workflow version. Workflow ID must be a published "
                                          "workflow version.")
    return workflow


def run_get(app: App, run_id: str) -> WorkflowRun | None:
    try:
        uuid.UUID(str(run_id))
    except ValueError:
        return None
    return WorkflowRun.objects.filter(app=app, pk=run_id).first()


def node_executions(run: WorkflowRun) -> QuerySet[WorkflowNodeExecution]:
    return WorkflowNodeExecution.objects.filter(run=run).order_by("index")


def runs(app: App, *, triggered_from: str | None = None, limit: int = 50) -> list[WorkflowRun]:
    found = WorkflowRun.objects.filter(app=app)
    if triggered_from:
        found = found.filter(triggered_from=triggered_from)
    return list(found.select_related("created_by_end_user").order_by("-created_at")[:limit])


def logs_page(app: App, *, filters: dict[str, Any], page: int, limit: int) -> tuple[list[WorkflowRun], int]:
    """The run log of a workflow app's Service API and WebApp runs (§2.9), newest first."""
    found = logs(app, filters=filters)
    total = found.count()
    return list(found[(page - 1) * limit:page * limit]), total


def logs(app: App, *, filters: dict[str, Any]) -> QuerySet[WorkflowRun]:
    """The API's and WebApp's runs of a workflow app, newest first: filtered by status, a keyword in
    inputs, outputs or error, a time range (after/before), an end user's session or accounts."""
    found = WorkflowRun.objects.filter(app=app, mode=App.Mode.WORKFLOW,
                                       triggered_from=WorkflowRun.TriggeredFrom.APP_RUN)
    if filters.get("status"):
        found = found.filter(status=filters["status"])
    if filters.get("keyword"):
        keyword = filters["keyword"]
        found = found.filter(Q(inputs__icontains=keyword) | Q(outputs__icontains=keyword)
                             | Q(error__icontains=keyword))
    if filters.get("before"):
        found = found.filter(created_at__lt=filters["before"])
    if filters.get("after"):
        found = found.filter(created_at__gt=filters["after"])
    if filters.get("session_id"):
        found = found.filter(created_by_end_user__session_id=filters["session_id"])
    if filters.get("account_ids") is not None:
        found = found.filter(created_by_account_id__in=filters["account_ids"])
    return found.select_related("created_by_end_user").order_by("-created_at")


def account_ids_by_email(email: str) -> list[int]:
    """Accounts live in the public schema."""
    from django_tenants.utils import get_public_schema_name, schema_context

    from apps.accounts.models import User

    with schema_context(get_public_schema_name()):
        return list(User.objects.filter(email__iexact=email).values_list("pk", flat=True))


def conversation_variables(conversation: Any, *, name: str = "") -> QuerySet:
    from apps.workflows.models import ConversationVariable

    found = ConversationVariable.objects.filter(conversation=conversation)
    if name:
        found = found.filter(name__icontains=name)
    return found.order_by("created_at", "name")


KNOWLEDGE_NODE = "knowledge-retrieval"


def live_graphs() -> QuerySet[Workflow]:
    """Each workflow app's draft and newest published version: the graphs that run (older versions
    are history; keeping a dataset for them would block deleting it for good)."""
    from django.db.models import OuterRef, Subquery

    newest = Workflow.objects.filter(app=OuterRef("app")).exclude(version=DRAFT).order_by("-created_at")
    return Workflow.objects.filter(Q(version=DRAFT) | Q(pk=Subquery(newest.values("pk")[:1])))


def app_ids_with_knowledge(dataset_id: Any) -> set[Any]:
    """Apps whose live graph has a Knowledge Retrieval node searching the dataset (jsonb containment
    on the graph's node list, so Postgres does the matching)."""
    needle = [{"data": {"type": KNOWLEDGE_NODE, "dataset_ids": [str(dataset_id)]}}]
    return set(live_graphs().filter(graph__nodes__contains=needle).values_list("app_id", flat=True))


def knowledge_dataset_ids_by_app() -> dict[Any, set[str]]:
    """App id → the dataset ids its live graphs' Knowledge Retrieval nodes search."""
    found: dict[Any, set[str]] = {}
    rows = live_graphs().filter(graph__nodes__contains=[{"data": {"type": KNOWLEDGE_NODE}}])
    for app_id, graph in rows.values_list("app_id", "graph"):
        for node in (graph or {}).get("nodes") or []:
            data = node.get("data") if isinstance(node, dict) else None
            if isinstance(data, dict) and data.get("type") == KNOWLEDGE_NODE:
                found.setdefault(app_id, set()).update(str(i) for i in data.get("dataset_ids") or [])
    return found
