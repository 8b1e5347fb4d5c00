"""The console's Tools page (TL-01): built-in providers with their authorise forms, custom
(OpenAPI) tools, MCP servers and workflow tools.

Editors see the page (they add tools to apps); authorising providers, custom tools and MCP
servers needs Perm.PROVIDERS_MANAGE, registering workflow tools Perm.APPS_EDIT. The middleware set
the workspace's schema, so every row below is this workspace's. Secrets reach the page masked only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.providers.crypto import CredentialsUnreadable
from apps.tools import services
from apps.tools.builtin import PROVIDERS
from apps.tools.entities import ToolUnavailable
from apps.tools.models import ApiToolProvider, McpServer, WorkflowToolProvider
from apps.workspaces import roles
from apps.workspaces.decorators import require_perm
from apps.workspaces.roles import Perm
from apps.workspaces.urlutils import ws_reverse

SECTIONS = ("builtin", "custom", "mcp", "workflow")


def _page(request: HttpRequest, anchor: str) -> HttpResponse:
    return redirect(ws_reverse(request, "console:tools") + f"#{anchor}")


def _act(request: HttpRequest, anchor: str, action: Callable[[], str]) -> HttpResponse:
    """Run a service call and go back to its section of the page, with the call's success message
    or the ValidationError's messages."""
    try:
        done = action()
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return _page(request, anchor)


def _added(name: str, count: int) -> str:
    return _("%(name)s was added with %(count)s tools.") % {"name": name, "count": count}


def _builtin_cards() -> list[dict[str, Any]]:
    cards = []
    for provider in PROVIDERS.values():
        try:
            stored = services.builtin_credentials(provider.name)
            unreadable = False
        except CredentialsUnreadable:
            stored, unreadable = None, True
        shown = services.masked(provider.credentials, stored)
        cards.append({"provider": provider, "authorised": stored is not None, "unreadable": unreadable,
                      "fields": [(field, shown.get(field.name, "")) for field in provider.credentials]})
    return cards


def _mcp_apps() -> list[dict[str, Any]]:
    """Every app with its MCP server state (the URL is shown only while it is enabled)."""
    from apps.applications.models import App
    from apps.tools.models import AppMcpServer

    servers = {row.app_id: row for row in AppMcpServer.objects.all()}
    return [{"app": app, "server": servers.get(app.pk)} for app in App.objects.order_by("name")]


def _workflow_apps() -> list[Any]:
    from apps.applications.models import App
    from apps.workflows import selectors

    taken = set(WorkflowToolProvider.objects.values_list("app_id", flat=True))
    return [app for app in App.objects.filter(mode=App.Mode.WORKFLOW).order_by("name")
            if app.pk not in taken and selectors.published(app) is not None]


@require_perm(Perm.APPS_EDIT)
def tools(request: HttpRequest, *, test_result: dict[str, Any] | None = None,
          status: int = 200) -> HttpResponse:
    role = request.membership.role  # type: ignore[attr-defined]
    return render(request, "tools/tools.html", {
        "builtin_cards": _builtin_cards(),
        "custom_tools": list(ApiToolProvider.objects.all()),
        "mcp_servers": list(McpServer.objects.all()),
        "workflow_tools": list(WorkflowToolProvider.objects.select_related("app")),
        "workflow_apps": _workflow_apps(),
        "auth_types": ApiToolProvider.Auth.choices,
        "can_manage": roles.has_perm(role, Perm.PROVIDERS_MANAGE),
        "mcp_apps": _mcp_apps(),
        "mcp_new_key": request.session.pop("tools_mcp_new_key", None),
        "test_result": test_result,
    }, status=status)


# --- Built-in providers ---------------------------------------------------------------------------


def _builtin_or_404(name: str) -> Any:
    spec = PROVIDERS.get(name)
    if spec is None or not spec.credentials:
        raise Http404
    return spec


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def builtin_authorise(request: HttpRequest, provider: str) -> HttpResponse:
    spec = _builtin_or_404(provider)
    values = {field.name: request.POST.get(field.name, "") for field in spec.credentials}

    def authorise() -> str:
        services.builtin_credentials_set(provider=provider, credentials=values, user_id=request.user.pk)
        return _("%(provider)s is authorised.") % {"provider": spec.label}

    return _act(request, f"tool-{provider}", authorise)


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def builtin_remove(request: HttpRequest, provider: str) -> HttpResponse:
    services.builtin_credentials_delete(provider=_builtin_or_404(provider).name)
    messages.success(request, _("The authorisation was removed."))
    return _page(request, f"tool-{provider}")


# --- Custom tools ----------------------------------------------------------------------------------


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def custom_new(request: HttpRequest) -> HttpResponse:
    post = request.POST

    def add() -> str:
        schema = post.get("schema", "")
        if upload := request.FILES.get("schema_file"):
            schema = upload.read(2 * 1024 * 1024).decode("utf-8", errors="replace")
        elif post.get("schema_url", "").strip():
            schema = services.schema_fetch(post["schema_url"].strip())
        auth = {name: post.get(name, "") for name in services.AUTH_INPUTS}
        provider = services.api_provider_save(
            name=post.get("name", ""), schema=schema, auth_type=post.get("auth_type", "none"), auth=auth,
            description=post.get("description", ""), user_id=request.user.pk)
        return _added(provider.name, len(provider.tools))

    return _act(request, "custom", add)


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def custom_delete(request: HttpRequest, provider_id: Any) -> HttpResponse:
    services.api_provider_delete(provider=get_object_or_404(ApiToolProvider, pk=provider_id))
    messages.success(request, _("The custom tool was removed."))
    return _page(request, "custom")


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def custom_test(request: HttpRequest, provider_id: Any) -> HttpResponse:
    """"Test this tool": one real call, the answer shown on the page."""
    provider = get_object_or_404(ApiToolProvider, pk=provider_id)
    operation = request.POST.get("operation", "")
    result: dict[str, Any] = {"provider": provider, "operation": operation,
                              "arguments": request.POST.get("arguments", "")}
    try:
        arguments = json.loads(result["arguments"] or "{}")
        if not isinstance(arguments, dict):
            raise ValueError
    except ValueError:
        result["error"] = _("The arguments must be a JSON object.")
        return tools(request, test_result=result, status=400)
    try:
        shown = services.api_tool_test(provider=provider, operation_id=operation, arguments=arguments)
        result["output"] = "\n".join(m.as_text() for m in shown)
    except ValidationError as exc:
        result["error"] = " ".join(exc.messages)
    except ToolUnavailable as exc:  # an operation that is not in the document
        result["error"] = str(exc)
    return tools(request, test_result=result)


# --- MCP servers -----------------------------------------------------------------------------------


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def mcp_new(request: HttpRequest) -> HttpResponse:
    post = request.POST

    def add() -> str:
        headers = services.parse_header_lines(post.get("headers", "").splitlines())
        server = services.mcp_server_save(
            name=post.get("name", ""), url=post.get("url", ""),
            transport=post.get("transport", McpServer.Transport.STREAMABLE_HTTP), headers=headers,
            bearer=post.get("bearer", ""), user_id=request.user.pk)
        return _added(server.name, len(server.tools))

    return _act(request, "mcp", add)


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def mcp_refresh(request: HttpRequest, server_id: Any) -> HttpResponse:
    server = get_object_or_404(McpServer, pk=server_id)

    def refresh() -> str:
        services.mcp_server_refresh(server=server)
        return _("The tools of %(name)s were refreshed.") % {"name": server.name}

    return _act(request, "mcp", refresh)


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def mcp_delete(request: HttpRequest, server_id: Any) -> HttpResponse:
    services.mcp_server_delete(server=get_object_or_404(McpServer, pk=server_id))
    messages.success(request, _("The MCP server was removed."))
    return _page(request, "mcp")


# --- Workflow tools --------------------------------------------------------------------------------


@require_POST
@require_perm(Perm.APPS_EDIT)
def workflow_new(request: HttpRequest) -> HttpResponse:
    from apps.applications.models import App

    app = get_object_or_404(App, pk=request.POST.get("app") or None)

    def register() -> str:
        provider = services.workflow_tool_save(app=app, name=request.POST.get("name", ""),
                                               description=request.POST.get("description", ""),
                                               user_id=request.user.pk)
        return _("%(name)s can now be used as a tool.") % {"name": provider.label}

    return _act(request, "workflow", register)


@require_POST
@require_perm(Perm.APPS_EDIT)
def workflow_delete(request: HttpRequest, provider_id: Any) -> HttpResponse:
    services.workflow_tool_delete(provider=get_object_or_404(WorkflowToolProvider, pk=provider_id))
    messages.success(request, _("The workflow tool was removed."))
    return _page(request, "workflow")


# --- Apps as MCP servers -----------------------------------------------------------------------------


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def app_mcp_enable(request: HttpRequest, app_id: Any) -> HttpResponse:
    """Publish an app over MCP (or give it a new key): the key is shown once, on the next page."""
    from apps.applications.models import App

    app = get_object_or_404(App, pk=app_id)
    row, key = services.app_mcp_enable(app=app, user_id=request.user.pk)
    request.session["tools_mcp_new_key"] = {"app": str(app.pk), "key": key}
    messages.success(request, _("%(name)s is served over MCP.") % {"name": app.name})
    return _page(request, "mcp-apps")


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def app_mcp_disable(request: HttpRequest, app_id: Any) -> HttpResponse:
    from apps.applications.models import App

    app = get_object_or_404(App, pk=app_id)
    services.app_mcp_disable(app=app)
    messages.success(request, _("%(name)s is no longer served over MCP.") % {"name": app.name})
    return _page(request, "mcp-apps")
