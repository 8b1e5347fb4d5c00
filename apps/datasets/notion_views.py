"""Notion in the console: Settings → Data sources (the workspace's integration token, pasted or
through "Connect with Notion", whichever NOTION_INTEGRATION_TYPE chooses; owners and admins,
Perm.PROVIDERS_MANAGE), the "Import from Notion" page picker of a dataset and the Sync action of a Notion document (Perm.APPS_EDIT). Views run in
the workspace's schema, so another workspace's connection, datasets and documents are simply not
found.

OAuth (public integrations, KN-29/32): Notion sends the browser back to ONE redirect URI per
deployment (registered with the integration), so the callback lives outside the workspace URLs.
The workspace comes from the `state`, which was made for one workspace and one signed-in member and
kept in that member's session: a callback with an unknown, used or expired state, from another
session, or for a member who lost the right to manage data sources attaches nothing anywhere."""

import secrets
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_tenants.utils import schema_context

from apps.core.errors import ServiceError
from apps.datasets import notion, notion_services, selectors, tasks
from apps.datasets.models import Document
from apps.workspaces import roles
from apps.workspaces.decorators import require_perm
from apps.workspaces.models import Membership
from apps.workspaces.roles import Perm
from apps.workspaces.urlutils import ws_reverse

OAUTH_SESSION_KEY = "notion_oauth_states"
OAUTH_STATE_SECONDS = 600


def _public_only() -> str:
    return _("This deployment connects Notion through its public integration: use Connect with Notion.")


def _internal_only() -> str:
    return _("This deployment connects Notion with an internal integration token, not through Notion's "
             "sign-in page: paste the token under Settings → Data sources.")


@require_perm(Perm.PROVIDERS_MANAGE)
def data_sources(request: HttpRequest) -> HttpResponse:
    """The workspace's Notion connection. Only the way NOTION_INTEGRATION_TYPE chooses is offered
    (KN-32): a pasted token is refused on a public deployment. Disconnecting always works, whichever
    way the connection was made."""
    error = ""
    integration = notion.integration_type()
    if request.method == "POST":
        if request.POST.get("action") == "disconnect":
            notion_services.connection_delete()
            messages.success(request, _("Notion was disconnected."))
            return redirect(ws_reverse(request, "console:data_sources"))
        if integration != "internal":
            messages.error(request, _public_only())
            return redirect(ws_reverse(request, "console:data_sources"))
        try:
            if request.POST.get("action") == "deployment":
                notion_services.connection_save_deployment(actor_id=request.user.pk)
            else:
                notion_services.connection_save(token_value=request.POST.get("token", ""),
                                                actor_id=request.user.pk)
        except ServiceError as exc:
            error = exc.message
        else:
            messages.success(request, _("Notion is connected."))
            return redirect(ws_reverse(request, "console:data_sources"))
    row = notion_services.connection_get()
    return render(request, "datasets/data_sources.html", {
        "notion": row, "error": error, "integration": integration, "oauth": notion.oauth_configured(),
        "deployment_integration": bool(settings.NOTION_INTERNAL_SECRET),
        "uses_deployment": notion_services.uses_deployment_integration(row)},
        status=400 if error else 200)


def _redirect_uri(request: HttpRequest) -> str:
    """The callback URL registered with the Notion integration: NOTION_REDIRECT_URI when the
    operator sets it (behind a proxy), else this deployment's own URL."""
    return settings.NOTION_REDIRECT_URI or request.build_absolute_uri(reverse("console:notion_oauth_callback"))


def _pending(request: HttpRequest) -> dict[str, dict[str, Any]]:
    now = time.time()
    return {state: record for state, record in (request.session.get(OAUTH_SESSION_KEY) or {}).items()
            if now - float(record.get("at", 0)) < OAUTH_STATE_SECONDS}


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def notion_oauth_start(request: HttpRequest) -> HttpResponse:
    """"Connect with Notion": a fresh state for this workspace and member, then Notion's consent page.
    Refused (back to Data sources with the reason) where Notion is connected with internal tokens or
    the public integration lacks its client id and secret."""
    back = ws_reverse(request, "console:data_sources")
    if notion.integration_type() != "public":
        messages.error(request, _internal_only())
        return redirect(back)
    if not notion.oauth_configured():
        messages.error(request, _("Connect with Notion is not set up: the operator has to set "
                                  "NOTION_CLIENT_ID and NOTION_CLIENT_SECRET."))
        return redirect(back)
    state = secrets.token_urlsafe(32)
    pending = _pending(request)
    pending[state] = {"workspace": request.tenant.pk, "user": request.user.pk,  # type: ignore[attr-defined]
                      "at": time.time()}
    request.session[OAUTH_SESSION_KEY] = pending
    return redirect(notion.authorize_url(state, _redirect_uri(request)))


@require_GET
@login_required
def notion_oauth_callback(request: HttpRequest) -> HttpResponse:
    """Notion's redirect: check the state (one use), then store the token in ITS workspace. A
    deployment that connects Notion with internal tokens accepts no OAuth callback at all."""
    if notion.integration_type() != "public":
        return render(request, "datasets/notion_oauth_refused.html", {"reason": _internal_only()},
                      status=403)
    pending = _pending(request)
    record = pending.pop(str(request.GET.get("state") or ""), None)
    request.session[OAUTH_SESSION_KEY] = pending
    membership = None
    if record is not None and record.get("user") == request.user.pk:
        membership = (Membership.objects.select_related("workspace")
                      .filter(workspace_id=record.get("workspace"), user=request.user).first())
    if membership is None or not roles.has_perm(membership.role, Perm.PROVIDERS_MANAGE):
        return render(request, "datasets/notion_oauth_refused.html", status=400)
    workspace = membership.workspace
    target = reverse("console:data_sources", kwargs={"ws": workspace.slug})
    if request.GET.get("error"):
        messages.error(request, _("Notion access was not granted, so nothing was connected."))
        return redirect(target)
    try:
        with schema_context(workspace.schema_name):
            notion_services.connection_save_oauth(code=request.GET.get("code", ""), redirect_uri=_redirect_uri(request),
                                                  actor_id=request.user.pk)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Notion is connected."))
    return redirect(target)


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
