"""The console's WebApp settings form (WEB-03)."""

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.applications.forms import BACKGROUNDS, ICONS
from apps.applications.models import Site


class SiteForm(forms.ModelForm):
    enable_site = forms.BooleanField(label=_("WebApp enabled"), required=False,
                                     help_text=_("When off, the share link answers “not available”."))
    privacy_policy = forms.URLField(label=_("Privacy policy link"), required=False, max_length=500,
                                    assume_scheme="https",
                                    help_text=_("Shown at the bottom of the WebApp (https://…)."))
    allowed_origins_text = forms.CharField(
        label=_("Allowed origins"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Sites that may embed this app, one per line, like https://www.example.com. Empty: "
                    "embedding from other sites is refused."))

    class Meta:
        model = Site
        fields = ["title", "icon", "icon_background", "description", "default_language", "privacy_policy",
                  "copyright", "custom_disclaimer", "show_prompt", "rate_limit_per_user", "rate_limit_per_ip"]
        labels = {
            "title": _("Name"), "icon": _("Icon"), "icon_background": _("Background"),
            "description": _("Description"), "default_language": _("Interface language"),
            "privacy_policy": _("Privacy policy link"), "copyright": _("Copyright"),
            "custom_disclaimer": _("Custom disclaimer"), "show_prompt": _("Show the prompt to end users"),
            "rate_limit_per_user": _("Requests per minute per end user"),
            "rate_limit_per_ip": _("Requests per minute per IP address"),
        }
        help_texts = {
            "privacy_policy": _("Shown at the bottom of the WebApp (https://…)."),
            "custom_disclaimer": _("A short note shown under the message box."),
            "rate_limit_per_user": _("Answers, uploads and audio; beyond it end users get “too many "
                                     "requests”. 0 means no limit."),
            "rate_limit_per_ip": _("The same, counted per network address. 0 means no limit."),
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3}),
                   "custom_disclaimer": forms.Textarea(attrs={"rows": 2}),
                   "icon": forms.RadioSelect(choices=[(i, i) for i in ICONS]),
                   "icon_background": forms.RadioSelect(choices=[(c, c) for c in BACKGROUNDS])}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["allowed_origins_text"] = "\n".join(self.instance.allowed_origins or [])
        for name, values in (("icon", ICONS), ("icon_background", BACKGROUNDS)):
            current = self.initial.get(name) or getattr(self.instance, name, None)
            choices = [(v, v) for v in values]
            if current and current not in values:
                choices.insert(0, (current, current))
            self.fields[name] = forms.ChoiceField(label=self.fields[name].label, choices=choices)
        self.fields["rate_limit_per_user"].widget.attrs.update(min=0, max=100000)
        self.fields["rate_limit_per_ip"].widget.attrs.update(min=0, max=100000)

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError(_("The WebApp needs a name."))
        return title

    def clean_allowed_origins_text(self) -> list[str]:
        origins: list[str] = []
        for line in self.cleaned_data["allowed_origins_text"].splitlines():
            value = line.strip().rstrip("/")
            if not value:
                continue
            if value == "*":  # every site, written on purpose (apps.applications.webapp.embedding)
                origins = origins if "*" in origins else [*origins, "*"]
                continue
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
                raise forms.ValidationError(
                    _("“%(value)s” is not an origin: write scheme and host, like https://www.example.com.")
                    % {"value": value})
            if value.lower() not in origins:
                origins.append(value.lower())
        return origins
