"""The SSRF guard of apps.core.outbound for the model providers' SDKs.

The openai and anthropic SDKs are built on httpx2/httpcore2 (forks of httpx/httpcore whose objects
do not mix with the originals), and openai can also speak through aiohttp. Each transport here
gives such an SDK the same connection-layer check as ``outbound.client()``: the host is resolved
once, every address checked, and the connection made to a checked address; every redirect hop
is a new checked connection; environment proxies are never used. The SDKs are configured with
these transports (``http_client=``), never patched.
"""

from __future__ import annotations

import socket
import typing

import aiohttp
import httpcore2
import httpx2
from aiohttp.abc import AbstractResolver, ResolveResult
from openai._vendor.httpx_aiohttp import AiohttpTransport

from apps.core import outbound

_HTTPCORE2_CONNECT_ERRORS = (httpcore2.ConnectError, httpcore2.ConnectTimeout)


class AsyncGuardedTransport(httpx2.AsyncHTTPTransport):
    """``httpx2.AsyncHTTPTransport`` whose connections go through the guarded backend. No proxies."""

    def __init__(self, *, limits: httpx2.Limits, allow_setting: str = "", verify: typing.Any = True) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self._pool = httpcore2.AsyncConnectionPool(
            network_backend=outbound.AsyncGuardedBackend(
                httpcore2.AnyIOBackend(), allow_setting=allow_setting, connect_errors=_HTTPCORE2_CONNECT_ERRORS),
            ssl_context=httpx2.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )


class _GuardedResolver(AbstractResolver):
    """aiohttp connects to the addresses its resolver returns, so checking them here pins the
    connection to a checked address (a later DNS answer cannot move it)."""

    def __init__(self, allow_setting: str) -> None:
        self._allow_setting = allow_setting

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        addresses = await outbound.aresolve(host, port, allow_setting=self._allow_setting)
        return [ResolveResult(hostname=host, host=str(address), port=port,
                              family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST)
                for address in addresses]

    async def close(self) -> None:
        pass


class AiohttpGuardedTransport(AiohttpTransport):
    """openai's aiohttp transport with the guard: names go through the guarded resolver; aiohttp
    skips resolvers for IP literals, so those are checked here, before the request is sent (and
    before every redirect hop, which the httpx2 client follows through this transport)."""

    def __init__(self, *, limits: httpx2.Limits, allow_setting: str = "", verify: typing.Any = True) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits, client=self._session)
        self._allow_setting = allow_setting

    def _session(self) -> aiohttp.ClientSession:
        limit = {"limit": self.limits.max_connections} if self.limits.max_connections is not None else {}
        connector = aiohttp.TCPConnector(keepalive_timeout=self.limits.keepalive_expiry, ssl=self.ssl_context,
                                         resolver=_GuardedResolver(self._allow_setting), **limit)
        return aiohttp.ClientSession(connector=connector, trust_env=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise outbound.OutboundBlocked(f"Only http and https URLs are allowed, not {url.scheme!r}.",
                                           reason="scheme")
        # Numeric forms (2130706433, 0x7f.1) are refused by aiohttp itself, but with a message that
        # hides the reason; checking them here gives the guard's own (a name starting with a digit
        # costs one extra lookup).
        if outbound.is_literal_address(url.host) or url.host[:1].isdigit():
            await outbound.aresolve(url.host, url.port or (443 if url.scheme == "https" else 80),
                                    allow_setting=self._allow_setting)
        return await super().handle_async_request(request)


async def _check_scheme(request: httpx2.Request) -> None:
    if request.url.scheme not in ("http", "https"):
        raise outbound.OutboundBlocked(f"Only http and https URLs are allowed, not {request.url.scheme!r}.",
                                       reason="scheme")


def async_client_v2(*, timeout: typing.Any = 30.0, verify: typing.Any = True, follow_redirects: bool = False,
                    allow_setting: str = "", **kwargs: typing.Any) -> httpx2.AsyncClient:
    """A guarded ``httpx2.AsyncClient`` for SDKs that take one (the mcp SDK), over
    AsyncGuardedTransport. Redirects are off by default, as the mcp SDK follows them itself within
    the server's origin."""
    for forbidden in ("transport", "mounts", "proxy", "trust_env"):
        if forbidden in kwargs:
            raise TypeError(f"outbound_sdk.async_client_v2() does not accept {forbidden!r}")
    hooks = kwargs.pop("event_hooks", None) or {}
    hooks = {**hooks, "request": [_check_scheme, *hooks.get("request", [])]}
    transport = AsyncGuardedTransport(limits=httpx2.Limits(), allow_setting=allow_setting, verify=verify)
    return httpx2.AsyncClient(transport=transport, timeout=timeout, follow_redirects=follow_redirects,
                              trust_env=False, event_hooks=hooks, **kwargs)
