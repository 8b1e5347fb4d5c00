"""The one way async code reaches the ORM: run a sync function inside a workspace's schema.

django-tenants keeps the schema on the thread's connection, and sync_to_async work can land on a
thread whose connection still carries another request's schema. run_in_tenant sets the schema
for exactly the duration of the call and always resets it afterwards.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from django.db import connection
from django_tenants.utils import schema_context

T = TypeVar("T")


async def run_in_tenant(tenant: Any, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Await `fn(*args, **kwargs)` in a worker thread with `tenant`'s schema active."""

    def call() -> T:
        with schema_context(tenant.schema_name):
            return fn(*args, **kwargs)

    return await database_sync_to_async(call)()


async def run_in_public(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Await `fn` in the public schema (routing tables, users, memberships)."""

    def call() -> T:
        connection.set_schema_to_public()
        return fn(*args, **kwargs)

    return await database_sync_to_async(call)()
