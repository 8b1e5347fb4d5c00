"""Account forms: sign-up (which creates a workspace), first-run install, profile."""

from allauth.account.forms import SignupForm
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.utils.translation import gettext_lazy as _


class WorkspaceSignupForm(SignupForm):
    """allauth's sign-up plus the name of the workspace it creates."""

    name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    workspace_name = forms.CharField(label=_("Workspace name"), max_length=120)

    field_order = ["name", "email", "workspace_name", "password1", "password2"]


class InstallForm(forms.Form):
    """The first administrator and the first workspace (WS-03)."""

    email = forms.EmailField(label=_("Admin email"))
    name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput)
    password2 = forms.CharField(label=_("Password (again)"), widget=forms.PasswordInput)
    workspace_name = forms.CharField(label=_("Workspace name"), max_length=120)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("password1") != data.get("password2"):
            raise forms.ValidationError(_("The two passwords do not match."))
        if data.get("password1"):
            user = get_user_model()(email=data.get("email", ""))
            password_validation.validate_password(data["password1"], user)
        return data


class ProfileForm(forms.ModelForm):
    language = forms.ChoiceField(label=_("Language"), choices=[("", _("Browser default")), *settings.LANGUAGES],
                                 required=False)

    class Meta:
        model = get_user_model()
        fields = ["name", "language"]
