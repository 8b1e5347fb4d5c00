"""Knowledge API authentication: `Authorization: Bearer dataset-…` → the workspace, the key (and
the datasets it may reach) and the workspace owner, as whom every handler acts (service-api.md §5).

Not cached per process on purpose: a revoked key must fail on its next request in every process,
and the Knowledge API is not a per-token hot path. An app key is refused here (its route kind is
"app"), and a dataset key is refused by the app API in the same way.
"""

import time
from dataclasses import dataclass

from django.core.cache import cache
from django.utils import timezone

from apps.applications.api.auth import bearer_token
from apps.core.errors import ServiceError
from apps.datasets.models import DatasetApiKey
from apps.workspaces.models import Membership, Workspace, hash_secret
from apps.workspaces.roles import Role
from apps.workspaces.routing import route_for_api_key
from apps.workspaces.sync import use_schema

TOUCH_EVERY = 60.0


@dataclass(frozen=True)
class DatasetCaller:
    workspace: Workspace
    key: DatasetApiKey
    owner_id: int | None  # the workspace owner: the actor of every write


def authenticate_dataset(header: str | None) -> DatasetCaller:
    """Resolve a dataset key and leave the connection in its workspace's schema."""
    token = bearer_token(header)
    route = route_for_api_key(token, kind="dataset")  # in the public schema
    if route is None:
        raise ServiceError("unauthorized", "Access token is invalid", 401)
    owner_id = (
        Membership.objects.filter(workspace=route.workspace, role=Role.OWNER)
        .order_by("created_at")
        .values_list("user_id", flat=True)
        .first()
    )
    use_schema(route.workspace.schema_name)
    key_hash = hash_secret(token)
    key = DatasetApiKey.objects.filter(key_hash=key_hash).first()
    if key is None:  # the route outlived its key (never left behind by the services)
        raise ServiceError("unauthorized", "Access token is invalid", 401)
    _touch(key)
    return DatasetCaller(route.workspace, key, owner_id)


_touched: dict[str, float] = {}


def _touch(key: DatasetApiKey) -> None:
    """last_used_at, written at most once a minute per key."""
    now = time.monotonic()
    if now - _touched.get(key.key_hash, -TOUCH_EVERY) < TOUCH_EVERY:
        return
    _touched[key.key_hash] = now
    if cache.add(f"tessera:dataset-key-used:{key.key_hash}", 1, timeout=TOUCH_EVERY):
        DatasetApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
