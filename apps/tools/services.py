"""Writes of the tools domain: authorising built-in providers (TL-05, TL-09), with the secrets
encrypted with the workspace's key. Sync, in the workspace's schema."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.db import connection, transaction

from apps.providers import crypto
from apps.tools.builtin import PROVIDERS
from apps.tools.builtin.base import BuiltinProvider
from apps.tools.entities import CredentialsInvalid
from apps.tools.models import BuiltinCredential

MASK_PREFIX = "•"


def builtin_provider(name: str) -> BuiltinProvider:
    provider = PROVIDERS.get(name)
    if provider is None:
        raise CredentialsInvalid(f"There is no built-in tool provider {name!r}.")
    return provider


def builtin_credentials(provider: str) -> dict[str, Any] | None:
    """The decrypted credentials of an authorised built-in provider, or None."""
    row = BuiltinCredential.objects.filter(provider=provider).first()
    return crypto.decrypt(connection.schema_name, row.secret_config) if row else None


def keep_masked(fields: Any, given: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """A form sends secrets back masked when the user left them alone: keep the stored value."""
    values = dict(given)
    for field in fields:
        value = values.get(field.name)
        if field.secret and stored and isinstance(value, str) and MASK_PREFIX in value:
            values[field.name] = stored.get(field.name, "")
    return values


def builtin_credentials_set(*, provider: str, credentials: dict[str, Any], user_id: int | None = None,
                            validate: bool = True) -> BuiltinCredential:
    """Authorise a built-in provider: check the fields, prove them with a real call, store encrypted."""
    spec = builtin_provider(provider)
    if not isinstance(credentials, dict):
        raise CredentialsInvalid("The credentials must be a JSON object.")
    known = {f.name for f in spec.credentials}
    values = keep_masked(spec.credentials, {k: v for k, v in credentials.items() if k in known},
                         builtin_credentials(provider))
    values = {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()}
    if validate:
        async_to_sync(spec.check_credentials)(values)
    with transaction.atomic():
        row, _ = BuiltinCredential.objects.update_or_create(
            provider=provider,
            defaults={"secret_config": crypto.encrypt(connection.schema_name, values),
                      "created_by_id": user_id})
    return row


def builtin_credentials_delete(*, provider: str) -> None:
    BuiltinCredential.objects.filter(provider=provider).delete()


def masked(fields: Any, values: dict[str, Any] | None) -> dict[str, Any]:
    """What the console shows of stored credentials: secrets masked, the rest as they are."""
    if not values:
        return {}
    return {f.name: (crypto.mask(str(values.get(f.name) or "")) if f.secret else values.get(f.name, ""))
            for f in fields}
