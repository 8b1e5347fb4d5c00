"""Console routing: /console/<slug>/... selects the workspace, after checking membership.

The URL patterns of config/urls_tenant.py are mounted under `console/<slug:ws>/`. This middleware
takes the `ws` argument out of the view's kwargs, checks that the signed-in user is a member, and
activates the workspace's schema for the rest of the request. Every other request runs in the
public schema; the Service API, WebApps and WebSockets pick their workspace from their credential.
"""

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.workspaces.models import Membership


class WorkspaceMiddleware:
    """Works in sync and async chains alike, so async views (SSE) are not forced through a thread.

    The schema is set in process_view, which Django always runs in the thread of the request's
    sync work (the view's thread for sync views): that thread's connection may still carry the
    previous request's schema, so every request starts from public there.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        # request.tenant is set only inside a workspace: django-tenants' own admin templates read
        # "no tenant attribute" as "public schema".
        request.membership = None  # type: ignore[attr-defined]
        if iscoroutinefunction(self):
            return self._acall(request)
        try:
            return self.get_response(request)
        finally:
            connection.set_schema_to_public()

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return await self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: tuple, view_kwargs: dict
    ) -> HttpResponse | None:
        connection.set_schema_to_public()
        slug = view_kwargs.pop("ws", None)
        if slug is None:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = (
            Membership.objects.select_related("workspace")
            .filter(workspace__slug=slug, user=request.user)
            .first()
        )
        if membership is None:
            # Not "forbidden": an outsider must not learn that the workspace exists.
            raise Http404("No such workspace")
        workspace = membership.workspace
        request.tenant = workspace  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        if not workspace.is_ready:
            if getattr(view_func, "allow_provisioning", False):
                return None
            return redirect("console:preparing", ws=workspace.slug)
        connection.set_tenant(workspace)
        if request.user.last_workspace_id != workspace.pk:  # type: ignore[union-attr]
            get_user_model().objects.filter(pk=request.user.pk).update(last_workspace=workspace)
        return None
