"""Console pages for Settings → Model providers: credentials, system default models and prices.

Every view needs Perm.PROVIDERS_MANAGE and runs in the workspace's schema (the middleware set it),
so the tenant models below only ever hold this workspace's rows. Secrets never reach the browser:
pages and forms get `services.credential_masked` values only.
"""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.providers import crypto, selectors, services
from apps.providers.catalog import PROVIDERS, ProviderSpec
from apps.providers.forms import CredentialForm, PriceForm, model_type_label, unit_label
from apps.providers.models import ModelPrice, ProviderCredential
from apps.providers.runtime.entities import ModelType
from apps.workspaces.decorators import require_perm
from apps.workspaces.roles import Perm
from apps.workspaces.urlutils import ws_reverse

PRICED_TYPES = (ModelType.LLM, ModelType.TEXT_EMBEDDING, ModelType.RERANK)


def _spec_or_404(provider_id: str) -> ProviderSpec:
    spec = PROVIDERS.get(provider_id)
    if spec is None or not spec.needs_credentials:
        raise Http404
    return spec


def _model_types(spec: ProviderSpec) -> list[tuple[str, str]]:
    """The model types a provider offers, in ModelType order, with their labels."""
    offered = set(spec.model_types) | {m.model_type for m in spec.models}
    model_type_field = next((f for f in spec.fields if f.name == "model_type" and f.kind == "choice"), None)
    if model_type_field is not None:
        offered |= {value for value, _label in model_type_field.choices}
    return [(t.value, model_type_label(t)) for t in ModelType if t in offered]


def _masked(credential: ProviderCredential) -> dict[str, str] | None:
    """The masked configuration, or None when it cannot be decrypted (keys rotated away)."""
    try:
        return services.credential_masked(credential)
    except crypto.CredentialsUnreadable:
        return None


def _secret_display(spec: ProviderSpec, masked: dict[str, str] | None) -> str:
    names = [f.name for f in spec.fields if f.secret]
    return next((masked[n] for n in names if masked and masked.get(n)), "")


def _provider_cards(credentials: list[ProviderCredential]) -> list[dict[str, Any]]:
    by_provider: dict[str, list[ProviderCredential]] = defaultdict(list)
    for credential in credentials:
        by_provider[credential.provider].append(credential)
    cards = []
    for spec in PROVIDERS.values():
        entries = []
        for credential in by_provider.get(spec.id, []):
            masked = _masked(credential)
            public = credential.public_config or {}
            entries.append({
                "credential": credential,
                "unreadable": masked is None,
                "key": _secret_display(spec, masked),
                "type_label": model_type_label(credential.model_type),
                "endpoint": str(public.get("base_url") or public.get("endpoint") or ""),
                # Account-level providers: one value per field, secrets masked, in form order.
                "values": [(f.label, (masked or {}).get(f.name, "")) for f in spec.fields],
            })
        cards.append({
            "spec": spec,
            "types": _model_types(spec),
            "builtin": not spec.needs_credentials,
            "configured": bool(entries) or not spec.needs_credentials,
            "entries": entries,
            "entry": entries[0] if entries and not spec.per_model else None,
        })
    return cards


def _default_rows(available: list[selectors.AvailableModel]) -> list[dict[str, Any]]:
    rows = []
    for model_type in ModelType:
        groups: dict[str, list[tuple[str, str]]] = {}
        for m in available:
            if m.spec.model_type == model_type:
                groups.setdefault(m.provider_label, []).append((f"{m.provider}:{m.model}", m.label))
        current = selectors.default_model(model_type)
        selected = f"{current.provider}:{current.model}" if current else ""
        offered = {value for options in groups.values() for value, _label in options}
        missing = bool(selected) and selected not in offered
        rows.append({
            "type": model_type.value,
            "label": model_type_label(model_type),
            "groups": list(groups.items()),
            "selected": selected,
            "missing": current if missing else None,
        })
    return rows


@require_perm(Perm.PROVIDERS_MANAGE)
def providers(request: HttpRequest) -> HttpResponse:
    credentials = list(ProviderCredential.objects.all())
    cards = _provider_cards(credentials)
    return render(request, "providers/providers.html", {
        "cards": cards,
        "configured_count": sum(1 for c in cards if c["configured"] and not c["builtin"]),
        "defaults": _default_rows(selectors.available_models()),
    })


def _add_service_error(form: CredentialForm, exc: ValidationError) -> None:
    """Field errors go next to their field; the provider's refusal goes to the top of the form."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _to_providers(request: HttpRequest, anchor: str = "") -> HttpResponse:
    target = ws_reverse(request, "console:providers") + (f"#{anchor}" if anchor else "")
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


def _credential_page(request: HttpRequest, spec: ProviderSpec,
                     credential: ProviderCredential | None = None) -> HttpResponse:
    masked: dict[str, str] | None = {}
    initial: dict[str, Any] = {}
    if credential is not None:
        masked = _masked(credential)
        initial = {f.name: credential.public_config[f.name]
                   for f in spec.fields if not f.secret and f.name in (credential.public_config or {})}
    form = CredentialForm(request.POST or None, spec=spec, masked=masked, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.credential_save(provider_id=spec.id, data=form.service_data(),
                                             actor_id=request.user.pk, credential=credential)
        except ValidationError as exc:
            _add_service_error(form, exc)
        except IntegrityError:
            # Editing an entry onto the model name and type of another entry of the same provider.
            form.add_error(None, _("Another entry of %(provider)s already uses this model name and type.")
                           % {"provider": spec.label})
        else:
            if spec.per_model:
                text = _("%(model)s was validated and saved.") % {"model": saved.label or saved.model}
            else:
                text = _("%(provider)s credentials were validated and saved.") % {"provider": spec.label}
            messages.success(request, text)
            return _to_providers(request, f"provider-{spec.id}")
    return render(request, "providers/credential_form.html", {
        "spec": spec,
        "form": form,
        "credential": credential,
        "unreadable": credential is not None and masked is None,
    })


@require_perm(Perm.PROVIDERS_MANAGE)
def credential_new(request: HttpRequest, provider: str) -> HttpResponse:
    return _credential_page(request, _spec_or_404(provider))


@require_perm(Perm.PROVIDERS_MANAGE)
def credential_edit(request: HttpRequest, credential_id: str) -> HttpResponse:
    credential = get_object_or_404(ProviderCredential, pk=credential_id)
    return _credential_page(request, _spec_or_404(credential.provider), credential)


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def credential_delete(request: HttpRequest, credential_id: str) -> HttpResponse:
    credential = get_object_or_404(ProviderCredential, pk=credential_id)
    spec = _spec_or_404(credential.provider)
    name = (credential.label or credential.model) if spec.per_model else str(spec.label)
    services.credential_delete(credential=credential)
    messages.success(request, _("%(name)s was removed.") % {"name": name})
    return redirect(ws_reverse(request, "console:providers") + f"#provider-{spec.id}")


@require_POST
@require_perm(Perm.PROVIDERS_MANAGE)
def defaults(request: HttpRequest) -> HttpResponse:
    """One select per model type: `provider:model`, or empty to clear. Types not posted stay as they are."""
    problems: list[str] = []
    for model_type in ModelType:
        if model_type.value not in request.POST:
            continue
        value = request.POST[model_type.value].strip()
        current = selectors.default_model(model_type)
        if not value:
            if current is not None:
                services.default_model_clear(model_type=model_type)
            continue
        provider_id, _sep, model = value.partition(":")
        if current is not None and (current.provider, current.model) == (provider_id, model):
            continue
        try:
            services.default_model_set(model_type=model_type, provider_id=provider_id, model=model)
        except ValidationError as exc:
            problems.extend(exc.messages)
    for problem in problems:
        messages.error(request, problem)
    if not problems:
        messages.success(request, _("Default models saved."))
    return redirect(ws_reverse(request, "console:providers") + "#defaults")


def _fmt(value: Decimal) -> str:
    """2.0000000 → 2.00, 0.1500000 → 0.15, 0.0000125 → 0.0000125."""
    value = Decimal(value)
    if value == value.quantize(Decimal("0.01")):
        return f"{value.quantize(Decimal('0.01')):f}"
    return f"{value.normalize():f}"


@require_perm(Perm.PROVIDERS_MANAGE)
def prices(request: HttpRequest) -> HttpResponse:
    models = [m for m in selectors.available_models() if m.spec.model_type in PRICED_TYPES]
    overrides = {(p.provider, p.model): p for p in ModelPrice.objects.all()}
    if request.method == "POST":
        key = (request.POST.get("provider", ""), request.POST.get("model", ""))
        model = next((m for m in models if (m.provider, m.model) == key), None)
        if model is None:
            raise Http404
        source = overrides.get(key) or model.spec
        form = PriceForm(request.POST, current_unit=Decimal(source.price_unit))
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.price_set(provider_id=data["provider"], model=data["model"],
                                   input_price=data["input_price"], output_price=data["output_price"],
                                   price_unit=data["price_unit"], currency=data["currency"])
            except ValidationError as exc:
                for problem in exc.messages:
                    messages.error(request, problem)
            else:
                messages.success(request, _("Price of %(model)s saved.") % {"model": data["model"]})
        else:
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    messages.error(request, f"{label}: {error}" if label else error)
        return redirect(ws_reverse(request, "console:provider_prices"))

    rows = []
    for index, m in enumerate(models):
        override = overrides.get((m.provider, m.model))
        source = override or m.spec
        unit = Decimal(source.price_unit)
        rows.append({
            "model": m,
            "type_label": model_type_label(m.spec.model_type),
            "input": _fmt(source.input_price),
            "output": _fmt(source.output_price),
            "unit": unit,
            "unit_label": unit_label(unit),
            "currency": source.currency,
            "override": override is not None,
            "form": PriceForm(current_unit=unit, auto_id=f"price-{index}-%s", initial={
                "provider": m.provider, "model": m.model, "input_price": _fmt(source.input_price),
                "output_price": _fmt(source.output_price), "currency": source.currency}),
        })
    return render(request, "providers/prices.html", {"rows": rows})
