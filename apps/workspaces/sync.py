"""The one way async code reaches the ORM: run a sync function inside a workspace's schema.

django-tenants keeps the schema on the thread's connection, and sync_to_async work can land on a
thread whose connection still carries another request's schema. run_in_tenant sets the schema
for exactly the duration of the call and always resets it afterwards.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connection, connections
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


async def run_detached(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run sync work that outlives its request (a generation finishing after the client left) on
    a pool thread of its own, not on the request's thread-sensitive executor, which may be gone or
    blocked by then. The thread's database connection goes back to the pool afterwards."""

    def call() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return await sync_to_async(call, thread_sensitive=False)()


async def run_in_tenant_detached(tenant: Any, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """run_detached inside the workspace's schema."""

    def call() -> T:
        with schema_context(tenant.schema_name):
            return fn(*args, **kwargs)

    return await run_detached(call)
