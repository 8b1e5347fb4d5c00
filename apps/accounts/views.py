"""First-run set-up (/install) and the account profile."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from apps.accounts import services
from apps.accounts.forms import InstallForm, ProfileForm


def install(request: HttpRequest) -> HttpResponse:
    """WS-03: create the first administrator and workspace; afterwards it only says "done"."""
    if services.is_installed():
        return render(request, "accounts/install_done.html", status=200)
    form = InstallForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            workspace = services.install(
                email=data["email"], password=data["password1"], name=data["name"],
                workspace_name=data["workspace_name"],
            )
        except ValidationError:
            return render(request, "accounts/install_done.html", status=200)
        owner = workspace.memberships.get().user
        login(request, owner, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Tessera is ready. Welcome!"))
        return redirect("console:home", ws=workspace.slug)
    return render(request, "accounts/install.html", {"form": form})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        messages.success(request, _("Profile saved."))
        response = redirect("account_profile")
        if user.language:  # the next request (the redirect) renders in it
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
        return response
    return render(request, "accounts/profile.html", {"form": form})
