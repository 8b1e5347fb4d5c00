"""Console pages for the app DSL: download an app as YAML, import a file (new app).

Both need Perm.APPS_EDIT and run in the workspace's schema (the middleware set it), so an app id
from another workspace simply is not found (404).
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.applications import dsl
from apps.applications.models import App
from apps.workspaces.decorators import require_perm
from apps.workspaces.roles import Perm
from apps.workspaces.urlutils import ws_reverse


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("DSL file"), required=False,
                           widget=forms.ClearableFileInput(attrs={"accept": ".yml,.yaml"}),
                           help_text=gettext_lazy("A .yml file exported from Tessera or Dify "
                                                  "(10 MB at most)."))
    content = forms.CharField(label=gettext_lazy("Or paste the YAML"), required=False,
                              widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false",
                                                           "class": "dsl-textarea"}))
    name = forms.CharField(label=gettext_lazy("App name"), required=False, max_length=120,
                           help_text=gettext_lazy("Leave empty to keep the name in the file."))
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > dsl.MAX_DSL_BYTES:
                raise ValidationError(_("The file is larger than 10 MB."))
            data["text"] = upload.read()
        elif (data.get("content") or "").strip():
            data["text"] = data["content"]
        else:
            raise ValidationError(_("Choose a DSL file or paste its YAML."))
        return data


@require_perm(Perm.APPS_EDIT)
def app_export(request: HttpRequest, app_id: str) -> HttpResponse:
    app = get_object_or_404(App, pk=app_id)
    include_secrets = request.GET.get("include_secret") in ("1", "true")
    response = HttpResponse(dsl.export_app(app, include_secrets=include_secrets),
                            content_type="application/x-yaml; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{app.name}.yml")
    return response


@require_perm(Perm.APPS_EDIT)
def app_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    pending = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        result = dsl.import_app(data["text"], actor_id=request.user.pk, name=data["name"] or None,
                                confirm=data["confirm"])
        if result.status == dsl.ImportStatus.FAILED:
            form.add_error(None, result.error)
        elif result.status == dsl.ImportStatus.PENDING:
            # Dify's confirm step: the YAML goes back in the form, the user imports it knowingly.
            text = data["text"]
            content = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
            form = ImportForm(initial={"content": content, "name": data["name"], "confirm": True})
            pending = result
        else:
            assert result.app is not None
            messages.success(request, _("%(name)s was imported.") % {"name": result.app.name})
            for warning in result.warnings:
                messages.warning(request, warning)
            return redirect(ws_reverse(request, "console:app_overview", app_id=result.app.pk))
    return render(request, "applications/dsl/import.html", {"form": form, "pending": pending,
                                                            "current_version": dsl.CURRENT_DSL_VERSION})
