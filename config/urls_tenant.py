"""Console URLs inside one workspace, mounted at /console/<slug:ws>/ by config/urls_public.py.

The `ws` URL argument is consumed by apps.workspaces.middleware.WorkspaceMiddleware, which checks
membership and activates the workspace's schema; views never see it.
"""

from django.urls import path

from apps.workspaces import views as ws

urlpatterns = [
    path("", ws.home, name="home"),
    path("preparing/", ws.preparing, name="preparing"),
    path("settings/", ws.settings_general, name="settings"),
    path("settings/members/", ws.members, name="members"),
    path("settings/members/<int:member_id>/role/", ws.member_role, name="member_role"),
    path("settings/members/<int:member_id>/remove/", ws.member_remove, name="member_remove"),
    path("settings/invitations/<uuid:invitation_id>/revoke/", ws.invitation_revoke, name="invitation_revoke"),
]
