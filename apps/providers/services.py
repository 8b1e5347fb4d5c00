"""Writes for model providers: credentials (validated, then encrypted), defaults, prices, key rotation."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core import outbound
from apps.providers import crypto, selectors
from apps.providers.catalog import ProviderSpec, provider
from apps.providers.models import DefaultModel, ModelPrice, ProviderCredential
from apps.providers.runtime import clients, errors
from apps.providers.runtime.entities import ModelType
from apps.providers.runtime.instance import ModelInstance
from apps.providers.runtime.resolved import Price, ResolvedModel


@dataclass(frozen=True)
class CredentialTarget:
    """What a credential form addresses: a provider, or one model of a per-model provider."""

    provider: str
    model: str = ""
    model_type: str = ""


def _clean(spec: ProviderSpec, data: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Validate fields against the provider's form; an empty secret keeps the stored one."""
    clean: dict[str, Any] = {}
    for field in spec.fields:
        value = data.get(field.name)
        if field.secret and (value is None or value == "") and previous.get(field.name):
            value = previous[field.name]
        if value in (None, "") and field.default is not None:
            value = field.default
        if field.kind == "bool":
            value = value in (True, "true", "on", "1", 1)
        elif field.kind == "number" and value not in (None, ""):
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValidationError({field.name: _("Enter a whole number.")}) from None
        elif isinstance(value, str):
            value = value.strip()
        if field.required and value in (None, ""):
            raise ValidationError({field.name: _("This field is required.")})
        if field.kind == "choice" and value not in (None, "") and field.choices and value not in dict(field.choices):
            raise ValidationError({field.name: _("Choose one of the offered values.")})
        if value not in (None, ""):
            clean[field.name] = value
    return clean


def _check_urls(spec: ProviderSpec, config: dict[str, Any]) -> None:
    """Refuse a base URL or endpoint on a private, loopback or link-local address before anything is
    sent to it or saved (the SDK clients check again at every call: DNS answers change)."""
    for field in spec.fields:
        if field.kind != "url" or not config.get(field.name):
            continue
        try:
            outbound.check_url(config[field.name], allow_setting=clients.ALLOWANCE_SETTING)
        except outbound.OutboundBlocked as exc:
            raise ValidationError({field.name: _(
                "Tessera may not connect to %(host)s: %(reason)s. If this server is on your own network, "
                "the operator can allow it with PROVIDER_ALLOWED_NETWORKS.")
                % {"host": exc.host or config[field.name], "reason": exc.reason}}) from None
        except httpx.HTTPError:
            pass  # a name that does not resolve: the validation call reports it


def _target(spec: ProviderSpec, config: dict[str, Any]) -> CredentialTarget:
    if spec.id == "openai_api_compatible":
        return CredentialTarget(spec.id, config["model"], config.get("model_type") or ModelType.LLM)
    if spec.id == "azure_openai":
        base = provider("openai").model(config["base_model"])
        return CredentialTarget(spec.id, config["deployment"], base.model_type if base else ModelType.LLM)
    return CredentialTarget(spec.id)


def _probe(spec: ProviderSpec, target: CredentialTarget, config: dict[str, Any]) -> ModelInstance:
    """An instance for the validation call, built from the unsaved config."""
    if target.model:
        credential = ProviderCredential(provider=spec.id, model=target.model, model_type=target.model_type,
                                        public_config=config)
        model_spec = selectors._custom_spec(credential)
    else:
        model_spec = next(iter(spec.models))
    return ModelInstance(ResolvedModel(provider=spec.id, model=model_spec.name, model_type=model_spec.model_type,
                                       spec=model_spec, price=Price(), config=config, schema=connection.schema_name))


def credential_save(*, provider_id: str, data: dict[str, Any], actor_id: int | None = None,
                    credential: ProviderCredential | None = None, validate: bool = True) -> ProviderCredential:
    """Create or update credentials after a validation call to the provider.

    The provider's own refusal comes back as ValidationError carrying its message (MP-05).
    """
    spec = provider(provider_id)
    if not spec.needs_credentials:
        raise ValidationError(_("%(provider)s needs no credentials.") % {"provider": spec.label})
    previous = crypto.decrypt(connection.schema_name, credential.secret_config) if credential else {}
    config = _clean(spec, data, previous)
    _check_urls(spec, config)
    target = _target(spec, config)
    if validate:
        try:
            async_to_sync(_probe(spec, target, config).validate)()
        except errors.RuntimeModelError as exc:
            raise ValidationError(_("Validation failed: %(message)s") % {"message": exc.message}) from exc
    public = {f.name: config[f.name] for f in spec.fields if not f.secret and f.name in config}
    with transaction.atomic():
        existing = credential or ProviderCredential.objects.filter(
            provider=spec.id, model=target.model, model_type=target.model_type).first()
        row = existing or ProviderCredential(provider=spec.id, created_by_id=actor_id)
        row.model, row.model_type = target.model, target.model_type
        row.label = str(config.get("display_name") or target.model or spec.label)
        row.secret_config = crypto.encrypt(connection.schema_name, config)
        row.public_config = public
        row.validated_at = timezone.now() if validate else None
        row.save()
    return row


def credential_delete(*, credential: ProviderCredential) -> None:
    """Remove credentials; defaults that pointed at them are cleared too."""
    with transaction.atomic():
        if credential.model:
            DefaultModel.objects.filter(provider=credential.provider, model=credential.model).delete()
        else:
            DefaultModel.objects.filter(provider=credential.provider).delete()
        credential.delete()


def credential_masked(credential: ProviderCredential) -> dict[str, str]:
    """What the console may show: public fields in full, secrets masked."""
    config = crypto.decrypt(connection.schema_name, credential.secret_config)
    spec = provider(credential.provider)
    return {f.name: (crypto.mask(str(config.get(f.name, ""))) if f.secret else str(config.get(f.name, "")))
            for f in spec.fields if f.name in config}


def default_model_set(*, model_type: str, provider_id: str, model: str) -> DefaultModel:
    """Make `provider:model` the workspace default for `model_type`; it must be callable now."""
    try:
        model_type = ModelType(model_type)
    except ValueError:
        raise ValidationError(_("Unknown model type: %(type)s") % {"type": model_type}) from None
    if not any(m.provider == provider_id and m.model == model for m in selectors.available_models(model_type)):
        raise ValidationError(_("%(model)s is not an available %(type)s model of this workspace.")
                              % {"model": f"{provider_id}:{model}", "type": model_type})
    default, _created = DefaultModel.objects.update_or_create(
        model_type=model_type, defaults={"provider": provider_id, "model": model})
    return default


def default_model_clear(*, model_type: str) -> None:
    DefaultModel.objects.filter(model_type=model_type).delete()


def price_set(*, provider_id: str, model: str, input_price: Any, output_price: Any, price_unit: Any = None,
              currency: str = "USD") -> ModelPrice:
    """Override the catalog price of a model for this workspace."""
    try:
        values = {"input_price": Decimal(str(input_price)), "output_price": Decimal(str(output_price))}
        if price_unit not in (None, ""):
            values["price_unit"] = Decimal(str(price_unit))
    except InvalidOperation:
        raise ValidationError(_("Prices must be decimal numbers.")) from None
    if any(v < 0 for v in values.values()):
        raise ValidationError(_("Prices cannot be negative."))
    currency = (currency or "USD").upper()[:3]
    price, _created = ModelPrice.objects.update_or_create(provider=provider_id, model=model,
                                                          defaults={**values, "currency": currency})
    return price


def credentials_rotate() -> int:
    """Re-encrypt every credential of the current workspace under the newest master key."""
    count = 0
    for credential in ProviderCredential.objects.select_for_update():
        credential.secret_config = crypto.rotate(connection.schema_name, credential.secret_config)
        credential.save(update_fields=["secret_config"])
        count += 1
    return count
