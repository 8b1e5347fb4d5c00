"""The only module that talks to the channel layer. Group names carry the schema, so no event
can be broadcast across workspaces."""

from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction


def tenant_group(*parts: object, schema: str | None = None) -> str:
    """A channel-layer group name inside the current (or given) workspace schema."""
    return ".".join([schema or connection.schema_name, *map(str, parts)])


def publish(group: str, event: Mapping[str, Any]) -> None:
    async_to_sync(get_channel_layer().group_send)(group, {"type": "relay", "event": dict(event)})


def publish_on_commit(group: str, event: Mapping[str, Any]) -> None:
    """Send once the current transaction commits, so listeners never see uncommitted state."""
    transaction.on_commit(lambda: publish(group, event))
