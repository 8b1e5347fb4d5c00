"""Console URLs inside one workspace, mounted at /console/<slug:ws>/ by config/urls_public.py.

The `ws` URL argument is consumed by apps.workspaces.middleware.WorkspaceMiddleware, which checks
membership and activates the workspace's schema; views never see it.
"""

from django.urls import path

from apps.applications import orchestrate
from apps.providers import views as providers
from apps.workspaces import views as ws

urlpatterns = [
    path("", ws.home, name="home"),
    path("preparing/", ws.preparing, name="preparing"),
    path("settings/", ws.settings_general, name="settings"),
    path("settings/members/", ws.members, name="members"),
    path("settings/members/<int:member_id>/role/", ws.member_role, name="member_role"),
    path("settings/members/<int:member_id>/remove/", ws.member_remove, name="member_remove"),
    path("settings/invitations/<uuid:invitation_id>/revoke/", ws.invitation_revoke, name="invitation_revoke"),
    path("settings/providers/", providers.providers, name="providers"),
    path("settings/providers/defaults/", providers.defaults, name="provider_defaults"),
    path("settings/providers/prices/", providers.prices, name="provider_prices"),
    path("settings/providers/<slug:provider>/new/", providers.credential_new, name="provider_new"),
    path("settings/providers/credentials/<uuid:credential_id>/edit/", providers.credential_edit,
         name="provider_credential_edit"),
    path("settings/providers/credentials/<uuid:credential_id>/delete/", providers.credential_delete,
         name="provider_credential_delete"),
]

# Studio → app → Orchestrate: prompt editor, publishing, debug & preview.
urlpatterns += [
    path("apps/<uuid:app_id>/orchestrate/", orchestrate.orchestrate, name="app_orchestrate"),
    path("apps/<uuid:app_id>/orchestrate/validate/", orchestrate.validate, name="app_orchestrate_validate"),
    path("apps/<uuid:app_id>/orchestrate/publish/", orchestrate.publish, name="app_orchestrate_publish"),
    path("apps/<uuid:app_id>/debug/chat/", orchestrate.debug_chat, name="app_debug_chat"),
]
