"""Knowledge API keys (`dataset-…`): create, revoke, list, and the datasets a key reaches.

Writes run in the workspace's schema and mirror the key's hash into the public ApiKeyRoute
(kind "dataset"), which is how a request finds its workspace; revoking removes both at once, so a
revoked key fails on its very next request (dataset keys are not cached per process).
"""

import secrets
import string
import uuid
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from apps.core.errors import invalid_param
from apps.datasets.models import Dataset, DatasetApiKey
from apps.workspaces.models import ApiKeyRoute, Workspace, hash_secret

MAX_KEYS = 10  # per workspace, as the reference console allows per resource
PREFIX = "dataset-"


def _new_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    return PREFIX + "".join(secrets.choice(alphabet) for _ in range(24))


@transaction.atomic
def api_key_create(
    *, actor_id: int | None = None, dataset_ids: list[Any] | None = None
) -> tuple[DatasetApiKey, str]:
    """A new key: the row and the raw key, which is shown once and never again. With
    `dataset_ids`, the key reaches only those datasets (they must exist in this workspace)."""
    if DatasetApiKey.objects.count() >= MAX_KEYS:
        raise invalid_param(_("A workspace can have at most %(n)d Knowledge API keys.") % {"n": MAX_KEYS})
    datasets: list[Dataset] = []
    if dataset_ids:
        try:
            wanted = {uuid.UUID(str(i)) for i in dataset_ids}
        except ValueError:
            raise invalid_param(_("Unknown knowledge base.")) from None
        datasets = list(Dataset.objects.filter(pk__in=wanted))
        if len(datasets) != len(wanted):
            raise invalid_param(_("Unknown knowledge base."))
    raw = _new_secret()
    digest = hash_secret(raw)
    key = DatasetApiKey.objects.create(
        prefix=raw[:12], key_hash=digest, limited=bool(datasets), created_by_id=actor_id
    )
    if datasets:
        key.datasets.set(datasets)
    workspace = Workspace.objects.get(schema_name=connection.schema_name)
    with schema_context(get_public_schema_name()):
        ApiKeyRoute.objects.create(key_hash=digest, kind=ApiKeyRoute.Kind.DATASET, workspace=workspace)
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: DatasetApiKey) -> None:
    digest = key.key_hash
    key.delete()
    with schema_context(get_public_schema_name()):
        ApiKeyRoute.objects.filter(key_hash=digest, kind=ApiKeyRoute.Kind.DATASET).delete()


def api_keys() -> QuerySet[DatasetApiKey]:
    return DatasetApiKey.objects.prefetch_related("datasets").order_by("created_at")


def reachable(key: DatasetApiKey, datasets: QuerySet[Dataset] | None = None) -> QuerySet[Dataset]:
    """The datasets `key` may use: all of the workspace's, or only its chosen ones."""
    datasets = Dataset.objects.all() if datasets is None else datasets
    return datasets.filter(api_keys=key) if key.limited else datasets


def api_access_set(*, dataset: Dataset, enabled: bool) -> Dataset:
    """Switch a dataset's Knowledge API access; while off, every key gets 403 for it."""
    dataset.enable_api = enabled
    dataset.save(update_fields=["enable_api", "updated_at"])
    return dataset
