"""Console forms for model providers: a credential form built from the provider's field list, and prices."""

from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.providers.catalog import PER_MILLION, PER_THOUSAND, CredentialField, ProviderSpec
from apps.providers.runtime.entities import ModelType

MODEL_TYPE_LABELS: dict[str, Any] = {
    ModelType.LLM: _("LLM"),
    ModelType.TEXT_EMBEDDING: _("Text embedding"),
    ModelType.RERANK: _("Rerank"),
    ModelType.MODERATION: _("Moderation"),
    ModelType.SPEECH2TEXT: _("Speech to text"),
    ModelType.TTS: _("Text to speech"),
}


def model_type_label(value: str) -> str:
    return str(MODEL_TYPE_LABELS.get(value, value))


def unit_label(unit: Decimal) -> str:
    """How a price unit reads in the console: prices are per million or per thousand tokens."""
    if unit == PER_MILLION:
        return str(_("per 1M tokens"))
    if unit == PER_THOUSAND:
        return str(_("per 1K tokens"))
    if unit == 1:
        return str(_("per token"))
    return f"× {unit.normalize():f}"


def validate_http_url(value: str) -> None:
    """An http(s) URL. Looser than URLField on purpose: hosts like `ollama` or `vllm` have no dots."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(_("Enter a URL that starts with http:// or https://."), code="invalid")


def _form_field(field: CredentialField, stored_secret: str) -> forms.Field:
    common: dict[str, Any] = {"label": field.label, "help_text": field.help, "required": field.required}
    if field.secret:
        help_text = field.help
        if stored_secret:
            # The stored secret is kept when the input is left empty (services.credential_save).
            common["required"] = False
            help_text = _("Leave empty to keep the stored key.")
        attrs = {"autocomplete": "new-password", "spellcheck": "false"}
        if stored_secret:
            attrs["placeholder"] = stored_secret
        return forms.CharField(widget=forms.PasswordInput(render_value=False, attrs=attrs),
                               **{**common, "help_text": help_text, "strip": True})
    if field.kind == "bool":
        return forms.BooleanField(**{**common, "required": False})
    if field.kind == "number":
        return forms.IntegerField(min_value=0, **common)
    if field.kind == "choice":
        choices = list(field.choices)
        if not field.required:
            choices = [("", "—"), *choices]
        return forms.ChoiceField(choices=choices, **common)
    if field.kind == "url":
        example = str(field.help) if str(field.help).startswith("http") else "https://"
        return forms.CharField(widget=forms.URLInput(attrs={"placeholder": example}),
                               validators=[validate_http_url], max_length=500, **common)
    return forms.CharField(max_length=500, **common)


class CredentialForm(forms.Form):
    """One input per `CredentialField` of the provider. Secrets are never rendered back: the input
    stays empty and shows the masked stored value as its placeholder."""

    def __init__(self, *args: Any, spec: ProviderSpec, masked: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec = spec
        masked = masked or {}
        for field in spec.fields:
            self.fields[field.name] = _form_field(field, masked.get(field.name, "") if field.secret else "")
            if field.default is not None and field.name not in self.initial:
                self.fields[field.name].initial = field.default

    def service_data(self) -> dict[str, Any]:
        """What services.credential_save takes: every field, an empty secret meaning "keep"."""
        return {name: ("" if value is None else value) for name, value in self.cleaned_data.items()}


UNIT_CHOICES = [(str(PER_MILLION), _("per 1M tokens")), (str(PER_THOUSAND), _("per 1K tokens"))]


class PriceForm(forms.Form):
    provider = forms.CharField(max_length=32, widget=forms.HiddenInput)
    model = forms.CharField(max_length=200, widget=forms.HiddenInput)
    input_price = forms.DecimalField(label=_("Input price"), min_value=0, max_digits=16, decimal_places=7)
    output_price = forms.DecimalField(label=_("Output price"), min_value=0, max_digits=16, decimal_places=7)
    price_unit = forms.TypedChoiceField(label=_("Price unit"), choices=UNIT_CHOICES, coerce=Decimal)
    currency = forms.RegexField(label=_("Currency"), regex=r"^[A-Za-z]{3}$", max_length=3,
                                error_messages={"invalid": _("Use a three-letter currency code, like USD.")})

    def __init__(self, *args: Any, current_unit: Decimal | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = list(UNIT_CHOICES)
        if current_unit is not None and current_unit not in (PER_MILLION, PER_THOUSAND):
            choices.append((str(current_unit.normalize()), unit_label(current_unit)))
        self.fields["price_unit"].choices = choices  # type: ignore[attr-defined]
        if current_unit is not None and not self.is_bound:
            self.initial["price_unit"] = next(v for v, _label in choices if Decimal(v) == current_unit)
