"""The root URLconf: public pages, accounts, admin, health, and the console mount point."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from apps.accounts import views as accounts
from apps.core import openapi
from apps.core import views as core
from apps.datasets import notion_views
from apps.workspaces import views as ws

console_patterns = (
    [
        path("", ws.console_index, name="index"),
        path("new/", ws.workspace_new, name="workspace_new"),
        # Notion's one OAuth redirect URI for the deployment; the workspace comes from the state.
        path("oauth/notion/callback/", notion_views.notion_oauth_callback, name="notion_oauth_callback"),
        path("<slug:ws>/", include("config.urls_tenant")),
    ],
    "console",
)

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:index", permanent=False)),
    path("healthz", core.healthz, name="healthz"),
    path("install", accounts.install, name="install"),
    path("accounts/profile/", accounts.profile, name="account_profile"),
    path("accounts/", include("allauth.urls")),
    path("invite/<str:token>/", ws.invitation_accept, name="invitation_accept"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("console/", include(console_patterns)),
    # The OpenAPI document of /v1 (apps/core/openapi.py) and its two readers, served offline.
    path("v1/openapi.json", openapi.openapi_json, name="api_schema"),
    path("v1/docs", openapi.openapi_document, name="api_docs"),
    path("v1/docs/swagger", SpectacularSwaggerView.as_view(url="/v1/openapi.json"), name="api_swagger"),
    path("v1/docs/redoc",
         SpectacularRedocView.as_view(url="/v1/openapi.json", template_name="api_docs/redoc.html"),
         name="api_redoc"),
    path("v1/", include("apps.datasets.api.urls")),
    path("v1/", include("apps.applications.api.urls")),
    path("", include("apps.applications.webapp.urls")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler403 = core.error_403
handler404 = core.error_404
handler500 = core.error_500
