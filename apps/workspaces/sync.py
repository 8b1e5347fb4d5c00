"""The one way async code reaches the ORM: run a sync function inside a workspace's schema.

django-tenants keeps the schema on the thread's connection, and sync_to_async work can land on a
thread whose connection still carries another request's schema. run_in_tenant sets the schema
for exactly the duration of the call and always resets it afterwards.
"""

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, connections
from django_tenants.utils import get_public_schema_name, schema_context

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


def use_schema(schema_name: str) -> None:
    """Switch this thread's connection to `schema_name` unless it is there already (django-tenants
    sends `SET search_path` again after every switch, even to the same schema)."""
    if connection.schema_name != schema_name:
        connection.set_schema(schema_name)


_hot_executor: ThreadPoolExecutor | None = None
_hot_lock = threading.Lock()


def _hot_threads() -> ThreadPoolExecutor:
    global _hot_executor
    with _hot_lock:
        if _hot_executor is None:
            _hot_executor = ThreadPoolExecutor(max_workers=settings.DB_HOT_THREADS, thread_name_prefix="tessera-db")
        return _hot_executor


async def run_hot(tenant: Any | None, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """The Service API's hot path: run `fn` in `tenant`'s schema (public when None) on a small,
    fixed set of threads that keep their database connection between calls.

    Per request, run_in_tenant's thread-sensitive hop spawns a thread and checks a connection out
    of the pool, and django-tenants then sends `SET search_path` again; here a warm thread usually
    has both a connection and the right schema already. Without a pool (the test settings) the
    connection is closed after each call, as a pool-less process must not hold one per thread.
    Safe for work that outlives its request (generations finishing after the client left)."""

    def call() -> T:
        try:
            use_schema(tenant.schema_name if tenant is not None else get_public_schema_name())
            return fn(*args, **kwargs)
        finally:
            if not settings.DB_POOL_MAX_SIZE:
                connections.close_all()
            elif connection.errors_occurred:
                connection.close_if_unusable_or_obsolete()

    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_hot_threads(), context.run, call)
