"""One pooled SDK client per credential (and per event loop).

SDK clients hold an HTTP connection pool, so creating one per call would reconnect (and
re-handshake TLS) every time. Pools are bound to the event loop that opened their connections,
so clients are kept per loop: Daphne has one loop per process; a Celery task that uses
`async_to_sync` gets a fresh loop, and a fresh client, each time. Changing a credential changes
its version, which retires the old client.
"""

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from apps.providers.runtime.resolved import ResolvedModel

C = TypeVar("C")

_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, ...], Any]]" = (
    weakref.WeakKeyDictionary()
)


def pooled(m: ResolvedModel, factory: Callable[[ResolvedModel], C]) -> C:
    if not m.credential_version:  # unsaved credentials (a validation probe): never shared
        return factory(m)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # called outside a loop: nothing to share safely
        return factory(m)
    pool = _pools.setdefault(loop, {})
    key = (m.schema, m.provider, m.model if m.provider in ("azure_openai", "openai_api_compatible") else "",
           m.credential_version)
    client = pool.get(key)
    if client is None:
        stale = [k for k in pool if k[:3] == key[:3]]
        for k in stale:  # an older version of the same credential: close its connections
            _close_soon(pool.pop(k, None))
        client = pool[key] = factory(m)
        if in_server_loop():
            _close_at_shutdown()
    return client


def _close_soon(client: Any) -> None:
    close = getattr(client, "close", None)
    if close is not None:
        asyncio.get_running_loop().create_task(close())


_shutdown_hooked = False


def _close_at_shutdown() -> None:
    """Close the server loop's clients before Daphne stops (their connection pools would otherwise
    be garbage-collected open, and aiohttp reports each one)."""
    global _shutdown_hooked
    if _shutdown_hooked:
        return
    _shutdown_hooked = True
    from twisted.internet import defer, reactor

    async def close_all() -> None:
        for pool in list(_pools.values()):
            for client in list(pool.values()):
                close = getattr(client, "close", None)
                if close is not None:
                    await close()
            pool.clear()

    reactor.addSystemEventTrigger(  # type: ignore[attr-defined]
        "before", "shutdown", lambda: defer.Deferred.fromFuture(asyncio.ensure_future(close_all())))


def in_server_loop() -> bool:
    """Whether this runs in Daphne's event loop, which lives as long as the process (so clients
    bound to it may hold resources that are never explicitly closed)."""
    import sys

    server = sys.modules.get("daphne.server")
    try:
        return server is not None and asyncio.get_running_loop() is getattr(server, "twisted_loop", None)
    except RuntimeError:
        return False


# Operators allow a model server on their own network (Ollama beside Tessera) with this setting,
# without opening the same hole for HTTP Request nodes and tools (README, "Outbound requests").
ALLOWANCE_SETTING = "PROVIDER_ALLOWED_NETWORKS"


def _limits(module: Any) -> Any:
    """Pooled clients carry every concurrent stream of a credential: the SDKs' default limit of
    1000 connections would queue the 1001st (and time it out); the limit is ours to set."""
    from django.conf import settings

    return module.Limits(max_connections=settings.PROVIDER_MAX_CONNECTIONS, max_keepalive_connections=100)


def guarded_transport(*, aiohttp: bool = False) -> Any:
    """The transport for an httpx2-based SDK (openai, anthropic): connections only to addresses the
    SSRF guard allowed. ``aiohttp``: the aiohttp-backed one (cheaper per streamed token)."""
    import httpx2

    from apps.core import outbound_sdk

    transport = outbound_sdk.AiohttpGuardedTransport if aiohttp else outbound_sdk.AsyncGuardedTransport
    return transport(limits=_limits(httpx2), allow_setting=ALLOWANCE_SETTING)


def guarded_httpx() -> Any:
    """An httpx client for an httpx-based SDK (cohere), guarded like guarded_transport()."""
    import httpx

    from apps.core import outbound

    return outbound.async_client(timeout=None, limits=_limits(httpx), allow_setting=ALLOWANCE_SETTING)


def pool_size() -> int:
    """Clients alive in the current loop (tests and the bench read it)."""
    try:
        return len(_pools.get(asyncio.get_running_loop(), {}))
    except RuntimeError:
        return 0
