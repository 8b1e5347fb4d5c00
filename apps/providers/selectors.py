"""Reads: which models a workspace can use, and resolving one for a call. Callers run in the
workspace's schema (console views do; async code goes through runtime.api, which sees to it)."""

from dataclasses import dataclass

from django.db import connection

from apps.core.hotcache import HotCache
from apps.providers import crypto
from apps.providers.catalog import PROVIDERS, ModelSpec, provider
from apps.providers.models import DefaultModel, ModelPrice, ProviderCredential
from apps.providers.runtime import errors
from apps.providers.runtime.entities import ModelMode, ModelType
from apps.providers.runtime.instance import ModelInstance
from apps.providers.runtime.resolved import Price, ResolvedModel


@dataclass(frozen=True)
class AvailableModel:
    provider: str
    provider_label: str
    model: str
    label: str
    spec: ModelSpec


def _custom_spec(credential: ProviderCredential) -> ModelSpec:
    """A per-model entry's capabilities, from what was entered with it (or its Azure base model)."""
    cfg = credential.public_config
    if credential.provider == "azure_openai":
        base = provider("openai").model(str(cfg.get("base_model", "")), credential.model_type)
        if base is not None:
            return ModelSpec(**{**base.__dict__, "name": credential.model})
    return ModelSpec(
        name=credential.model,
        model_type=ModelType(credential.model_type),
        mode=ModelMode(cfg.get("mode") or ModelMode.CHAT),
        context_length=int(cfg.get("context_length") or 4096),
        max_tokens=int(cfg.get("max_tokens") or 4096),
        vision=bool(cfg.get("vision")),
        function_calling=bool(cfg.get("function_calling")),
        streaming=bool(cfg.get("streaming", True)),
    )


def available_models(model_type: ModelType | str | None = None) -> list[AvailableModel]:
    """Models the workspace can call now: configured providers' catalogs, per-model entries, built-ins."""
    found: list[AvailableModel] = []
    credentials = list(ProviderCredential.objects.all())
    configured = {c.provider for c in credentials if not c.model}
    for spec in PROVIDERS.values():
        if spec.per_model or not (spec.id in configured or not spec.needs_credentials):
            continue
        found += [AvailableModel(spec.id, str(spec.label), m.name, m.name, m) for m in spec.models]
    for credential in credentials:
        if credential.model:
            spec = PROVIDERS[credential.provider]
            found.append(AvailableModel(credential.provider, str(spec.label), credential.model,
                                        credential.label or credential.model, _custom_spec(credential)))
    if model_type is not None:
        found = [m for m in found if m.spec.model_type == model_type]
    return found


def price_for(provider_id: str, model: str, spec: ModelSpec) -> Price:
    row = ModelPrice.objects.filter(provider=provider_id, model=model).first()
    if row is not None:
        return Price(row.input_price, row.output_price, row.price_unit, row.currency)
    return Price(spec.input_price, spec.output_price, spec.price_unit, spec.currency)


def credential_for(provider_id: str, model: str, model_type: ModelType | str) -> ProviderCredential | None:
    spec = provider(provider_id)
    if spec.per_model:
        return ProviderCredential.objects.filter(provider=provider_id, model=model, model_type=model_type).first()
    return ProviderCredential.objects.filter(provider=provider_id, model="").first()


_resolved = HotCache("resolved-models")  # (schema, type, provider, model) → ResolvedModel


def resolve(model_type: ModelType | str, provider_id: str, model: str) -> ModelInstance:
    """Bind a model of this workspace for calls (sync; in the workspace's schema). Kept per process
    for HOT_CACHE_SECONDS: decrypting credentials and reading prices on every turn is needless."""
    model_type = ModelType(model_type)
    key = (connection.schema_name, model_type, provider_id, model)
    return ModelInstance(_resolved.get_or_load(key, lambda: _resolve(model_type, provider_id, model)))


def _resolve(model_type: ModelType, provider_id: str, model: str) -> ResolvedModel:
    try:
        spec = provider(provider_id)
    except KeyError as exc:
        raise errors.ProviderNotInitialized(str(exc), provider=provider_id, model=model) from None
    config: dict = {}
    version = ""
    if spec.needs_credentials:
        credential = credential_for(provider_id, model, model_type)
        if credential is None:
            raise errors.ProviderNotInitialized(
                f"No valid model provider credentials found for {spec.label}. Please go to Settings -> "
                f"Model Provider to complete your provider credentials.", provider=provider_id, model=model)
        try:
            config = crypto.decrypt(connection.schema_name, credential.secret_config)
        except crypto.CredentialsUnreadable as exc:
            raise errors.ProviderNotInitialized(str(exc), provider=provider_id, model=model) from exc
        version = credential.version
        model_spec = _custom_spec(credential) if spec.per_model else spec.model(model, model_type)
    else:
        model_spec = spec.model(model, model_type)
    if model_spec is None:
        raise errors.ModelNotSupported(f"{spec.label} has no {model_type} model named {model!r}.",
                                       provider=provider_id, model=model)
    return ResolvedModel(
        provider=provider_id, model=model, model_type=model_type, spec=model_spec,
        price=price_for(provider_id, model, model_spec), config=config, credential_version=version,
        schema=connection.schema_name,
    )


def default_model(model_type: ModelType | str) -> DefaultModel | None:
    return DefaultModel.objects.filter(model_type=ModelType(model_type)).first()


def resolve_default(model_type: ModelType | str) -> ModelInstance:
    """The workspace's default model for `model_type`."""
    default = default_model(model_type)
    if default is None:
        raise errors.ProviderNotInitialized(
            f"No default {model_type} model is set. Please choose one in Settings -> Model Provider.")
    return resolve(model_type, default.provider, default.model)
