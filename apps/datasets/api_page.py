"""The console's Knowledge API page: dataset keys (created and shown once, then only their prefix;
revoked at once; optionally limited to chosen knowledge bases) and curl examples for the API.

A workspace-wide key reaches every dataset of the workspace, including members' "only me" ones,
so managing keys needs Perm.WORKSPACE_SETTINGS (owner and admins), as the reference restricts its
dataset keys to admins and owners.
"""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.applications.views import _curl
from apps.core.errors import ServiceError
from apps.datasets import keys, selectors
from apps.datasets.models import DatasetApiKey
from apps.workspaces.decorators import require_perm
from apps.workspaces.roles import Perm
from apps.workspaces.urlutils import ws_reverse


def _examples(base: str) -> list[dict[str, Any]]:
    ds = f"{base}/datasets/{{dataset_id}}"
    rule = {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
            "segmentation": {"separator": "\n\n", "max_tokens": 500},
        },
    }
    by_file = " \\\n".join(
        [
            f"curl -X POST '{ds}/document/create_by_file'",
            "  -H 'Authorization: Bearer {api_key}'",
            "  -F 'file=@handbook.pdf'",
            '  -F \'data={"indexing_technique":"high_quality","process_rule":{"mode":'
            '"automatic"}};type=text/plain\'',
        ]
    )
    return [
        {
            "id": "datasets",
            "method": "GET",
            "path": "/datasets",
            "title": _("List knowledge bases"),
            "desc": _("The knowledge bases this key may use, 20 per page."),
            "curl": _curl("GET", f"{base}/datasets?page=1&limit=20"),
        },
        {
            "id": "create-dataset",
            "method": "POST",
            "path": "/datasets",
            "title": _("Create an empty knowledge base"),
            "desc": _("Documents are added to it afterwards."),
            "curl": _curl(
                "POST", f"{base}/datasets", {"name": _("Handbook"), "indexing_technique": "high_quality"}
            ),
        },
        {
            "id": "create-by-text",
            "method": "POST",
            "path": "/datasets/{dataset_id}/document/create_by_text",
            "title": _("Add a document from text"),
            "desc": _("Indexing runs in the background; poll the returned batch for its progress."),
            "curl": _curl(
                "POST",
                f"{ds}/document/create_by_text",
                {
                    "name": "faq.txt",
                    "text": _("Refunds are possible within 30 days."),
                    "indexing_technique": "high_quality",
                    "process_rule": rule,
                },
            ),
        },
        {
            "id": "create-by-file",
            "method": "POST",
            "path": "/datasets/{dataset_id}/document/create_by_file",
            "title": _("Add a document from a file"),
            "desc": _(
                "One file per request (txt, md, pdf, html, docx, xlsx or csv); "
                "the settings go in the data part."
            ),
            "curl": by_file,
        },
        {
            "id": "indexing-status",
            "method": "GET",
            "path": "/datasets/{dataset_id}/documents/{batch}/indexing-status",
            "title": _("Follow the indexing of a batch"),
            "desc": _("Status and segments done/total of each document of the batch."),
            "curl": _curl("GET", f"{ds}/documents/{{batch}}/indexing-status"),
        },
        {
            "id": "segments",
            "method": "POST",
            "path": "/datasets/{dataset_id}/documents/{document_id}/segments",
            "title": _("Add segments to a document"),
            "desc": _("They are indexed at once."),
            "curl": _curl(
                "POST",
                f"{ds}/documents/{{document_id}}/segments",
                {"segments": [{"content": _("Tessera means mosaic tile."), "keywords": ["Tessera"]}]},
            ),
        },
        {
            "id": "retrieve",
            "method": "POST",
            "path": "/datasets/{dataset_id}/retrieve",
            "title": _("Retrieve segments"),
            "desc": _("The segments that best match a query, with their scores."),
            "curl": _curl(
                "POST",
                f"{ds}/retrieve",
                {
                    "query": _("How do refunds work?"),
                    "retrieval_model": {"search_method": "semantic_search", "top_k": 3},
                },
            ),
        },
    ]


def _page(request: HttpRequest, raw_key: str = "", new_key: DatasetApiKey | None = None) -> HttpResponse:
    base = settings.SITE_URL + "/v1"
    return render(
        request,
        "datasets/api.html",
        {
            "keys": list(keys.api_keys()),
            "max_keys": keys.MAX_KEYS,
            "raw_key": raw_key,
            "new_key": new_key,
            "datasets": selectors.datasets_visible_to(request.membership),  # type: ignore[attr-defined]
            "api_base": base,
            "examples": _examples(base),
        },
    )


@require_perm(Perm.WORKSPACE_SETTINGS)
def dataset_api(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@require_perm(Perm.WORKSPACE_SETTINGS)
def dataset_api_key_create(request: HttpRequest) -> HttpResponse:
    """Answers with the page itself (no redirect): the raw key exists in this one response only.
    Only datasets the member can see may be chosen for a limited key."""
    chosen = request.POST.getlist("datasets") if request.POST.get("limited") else []
    visible = {
        str(pk)
        for pk in selectors.datasets_visible_to(request.membership).values_list(  # type: ignore[attr-defined]
            "pk", flat=True
        )
    }
    if request.POST.get("limited") and (not chosen or not set(chosen) <= visible):
        messages.error(request, _("Choose at least one knowledge base for a limited key."))
        return redirect(ws_reverse(request, "console:dataset_api"))
    try:
        key, raw = keys.api_key_create(actor_id=request.user.pk, dataset_ids=chosen or None)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(ws_reverse(request, "console:dataset_api"))
    response = _page(request, raw_key=raw, new_key=key)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@require_perm(Perm.WORKSPACE_SETTINGS)
def dataset_api_access(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    """Switch one knowledge base's API access on or off (service-api.md §0: 403 while off)."""
    dataset = selectors.dataset_for(request.membership, dataset_id)  # type: ignore[attr-defined]
    enabled = request.POST.get("enable_api") == "on"
    keys.api_access_set(dataset=dataset, enabled=enabled)
    text = _("API access to %(name)s is on.") if enabled else _("API access to %(name)s is off.")
    messages.success(request, text % {"name": dataset.name})
    return redirect(ws_reverse(request, "console:dataset_api") + "#api-access")


@require_POST
@require_perm(Perm.WORKSPACE_SETTINGS)
def dataset_api_key_revoke(request: HttpRequest, key_id: Any) -> HttpResponse:
    key = get_object_or_404(DatasetApiKey, pk=key_id)
    prefix = key.prefix
    keys.api_key_revoke(key=key)
    messages.success(
        request, _("The key %(prefix)s… was revoked; requests using it are now refused.") % {"prefix": prefix}
    )
    return redirect(ws_reverse(request, "console:dataset_api"))
