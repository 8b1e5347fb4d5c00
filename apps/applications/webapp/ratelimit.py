"""Abuse limits for anonymous end users (issue #5 point 5): requests per minute per end user and
per IP address, configured on the app's Site (0 = off).

Counters live in Django's cache (Redis in production, the database cache in the embedded set-up),
so every Daphne process counts against the same numbers. Fixed one-minute windows: cheap, two cache
round trips per check, and good enough to stop a script hammering a public page.
"""

import time

from django.core.cache import cache

from apps.applications.models import Site
from apps.core.errors import ServiceError
from apps.workspaces.sync import run_detached

WINDOW = 60
KEY = "tessera:webapp-rl:{scope}:{site}:{who}:{window}"


def _hit(key: str, limit: int) -> bool:
    """Count one request in `key`; True when it stays within `limit`."""
    cache.add(key, 0, WINDOW + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, WINDOW + 5)
        count = 1
    return count <= limit


def check_rate_limit(*, site: Site, end_user_id: str | None, ip: str | None) -> None:
    """Count one request of this end user / IP on this site, or raise the API's 429
    (code too_many_requests). Sync: from async code use acheck_rate_limit."""
    window = int(time.time() // WINDOW)
    checks = []
    if site.rate_limit_per_user and end_user_id:
        checks.append(("user", str(end_user_id), site.rate_limit_per_user))
    if site.rate_limit_per_ip and ip:
        checks.append(("ip", ip, site.rate_limit_per_ip))
    for scope, who, limit in checks:
        key = KEY.format(scope=scope, site=site.app_id, who=who, window=window)
        if not _hit(key, limit):
            raise ServiceError(
                "too_many_requests",
                f"Too many requests. Please try again later. The limit is {limit} requests per minute "
                f"per {'user' if scope == 'user' else 'IP address'}.", 429)


async def acheck_rate_limit(*, site: Site, end_user_id: str | None, ip: str | None) -> None:
    """check_rate_limit off the event loop (the database cache needs a thread and its connection
    handed back, which run_detached does)."""
    await run_detached(check_rate_limit, site=site, end_user_id=end_user_id, ip=ip)


def client_ip(meta_or_scope: dict) -> str | None:
    """The client's address: REMOTE_ADDR of a request's META, or a Channels scope's "client".
    (Behind a proxy, Daphne's --proxy-headers puts the forwarded address there.)"""
    if "REMOTE_ADDR" in meta_or_scope:
        return meta_or_scope.get("REMOTE_ADDR") or None
    client = meta_or_scope.get("client")
    return client[0] if client else None
