"""Console → app → WebApp: the share link, the site settings (WEB-03) and regenerating the code
(WEB-05). Members see the page; changing anything needs Perm.APPS_EDIT. Views run in the
workspace's schema, so another workspace's app id is a 404."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.applications import services
from apps.applications.views import _app_context, _app_or_404, _can
from apps.applications.webapp import embedding
from apps.applications.webapp.forms import SiteForm
from apps.applications.webapp.views import share_url
from apps.workspaces.decorators import require_perm
from apps.workspaces.roles import Perm
from apps.workspaces.urlutils import ws_reverse


@require_perm(Perm.WORKSPACE_VIEW)
def app_webapp(request: HttpRequest, app_id: Any) -> HttpResponse:
    app = _app_or_404(app_id)
    site = services.site_get_or_create(app=app)
    can_edit = _can(request, Perm.APPS_EDIT)
    if request.method == "POST":
        if not can_edit:
            return HttpResponse(status=403)
        form = SiteForm(request.POST, instance=site)
        if form.is_valid():
            data = dict(form.cleaned_data)
            enable_site = data.pop("enable_site")
            data["allowed_origins"] = data.pop("allowed_origins_text")
            # The ModelForm has already put the values on the instance; the service saves them.
            services.site_update(site=site, **data)
            if enable_site != app.enable_site:
                services.app_update(app=app, enable_site=enable_site)
            messages.success(request, _("WebApp settings saved."))
            return redirect(ws_reverse(request, "console:app_webapp", app_id=app.pk))
    else:
        form = SiteForm(instance=site, initial={"enable_site": app.enable_site})
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    link = share_url(request, app, site.code)
    return render(request, "applications/app_webapp.html", {
        **_app_context(request, app, "webapp"), "site": site, "form": form, "read_only": not can_edit,
        "share_url": link, "embed": embedding.snippets(request, link, site.code),
    })


@require_POST
@require_perm(Perm.APPS_EDIT)
def app_webapp_regenerate(request: HttpRequest, app_id: Any) -> HttpResponse:
    app = _app_or_404(app_id)
    services.site_regenerate_code(site=services.site_get_or_create(app=app))
    messages.success(request, _("A new share link was made; the old one no longer works."))
    return redirect(ws_reverse(request, "console:app_webapp", app_id=app.pk))
