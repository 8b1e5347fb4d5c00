"""Studio forms: create an app (blank or from a template), edit its identity, its access settings,
and the operator's mark on a logged answer."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.applications.models import App
from apps.applications.templates_catalog import TEMPLATES

ICONS = ("🤖", "💬", "🎧", "🌐", "📝", "🔎", "📚", "💡", "🧠", "⚙️", "📈", "✉️", "🛒", "🎓", "🧾", "🚀")
BACKGROUNDS = ("#E4EEF9", "#E3F4EC", "#FDF1DC", "#EFE8FB", "#FCE7E9", "#E6F6F8", "#F1F1EF", "#FFF6C7")
CREATE_MODES = (App.Mode.CHAT, App.Mode.COMPLETION, App.Mode.AGENT_CHAT, App.Mode.ADVANCED_CHAT, App.Mode.WORKFLOW)
MODE_HELP: dict[str, Any] = {
    App.Mode.CHAT: _("A conversation that remembers earlier turns."),
    App.Mode.COMPLETION: _("One input form, one generated text."),
    App.Mode.AGENT_CHAT: _("Reasons step by step and calls tools."),
    App.Mode.ADVANCED_CHAT: _("A conversation driven by a graph of nodes, with memory."),
    App.Mode.WORKFLOW: _("A graph of nodes from inputs to outputs, for automation and batch work."),
}
BLANK = "blank"


class AppForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    icon = forms.ChoiceField(label=_("Icon"), choices=[(i, i) for i in ICONS], initial=ICONS[0])
    icon_background = forms.ChoiceField(label=_("Background"), choices=[(c, c) for c in BACKGROUNDS],
                                        initial=BACKGROUNDS[0])
    description = forms.CharField(label=_("Description"), required=False, max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update(placeholder=_("Give your app a name"), autocomplete="off")
        self.fields["description"].widget.attrs.update(placeholder=_("What is this app for?"))
        # An icon saved before (or imported) that is not in the picker stays selectable.
        for field_name, values in (("icon", ICONS), ("icon_background", BACKGROUNDS)):
            current = self.initial.get(field_name)
            if current and current not in values:
                self.fields[field_name].choices = [(current, current), *self.fields[field_name].choices]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("An app needs a name."))
        return name


class AppCreateForm(AppForm):
    mode = forms.ChoiceField(label=_("App type"), choices=[(m.value, m.label) for m in CREATE_MODES],
                             initial=App.Mode.CHAT)
    template = forms.ChoiceField(label=_("Start from"), initial=BLANK, required=False,
                                 choices=[(BLANK, _("Blank app")),
                                          *[(t["id"], t["name"]) for t in TEMPLATES]])

    field_order = ["template", "mode", "name", "icon", "icon_background", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The page's Alpine scope fills these in when a template is picked.
        self.fields["name"].widget.attrs["x-model"] = "name"
        self.fields["description"].widget.attrs["x-model"] = "description"

    def clean_template(self) -> str:
        return self.cleaned_data.get("template") or BLANK


class AccessForm(forms.Form):
    enable_api = forms.BooleanField(label=_("Service API"), required=False)
    enable_site = forms.BooleanField(label=_("WebApp"), required=False)
    max_active_requests = forms.IntegerField(
        label=_("Concurrent requests"), min_value=0, max_value=10000,
        help_text=_("How many answers this app may generate at once; 0 means no limit. Beyond it the API "
                    "answers 429."))


class FeedbackForm(forms.Form):
    """An operator's mark on an answer: good or bad, and optionally an improved answer."""

    rating = forms.ChoiceField(choices=[("like", _("Good")), ("dislike", _("Bad"))], required=False)
    content = forms.CharField(label=_("Improved answer"), required=False, max_length=20000,
                              widget=forms.Textarea(attrs={"rows": 4}))
    save_content = forms.BooleanField(required=False)
