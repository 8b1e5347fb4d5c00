"""HTTP clients for calls made on a user's behalf, guarded against server-side request forgery.

Anything a user can point at a URL (the HTTP Request node, tools, API extensions, ...) must not
reach the platform's own network: loopback, private ranges, link-local (cloud metadata at
169.254.169.254), multicast, reserved and unspecified addresses, and IPv6 forms that embed them.

The check sits where it cannot be bypassed: in the connection layer. The guarded network backend
resolves the host name once, checks every address, and connects to the checked address itself;
the request keeps its Host header and TLS keeps its SNI and certificate check on the name. So a
DNS answer that changes between check and connect (rebinding) cannot move the connection, every
redirect hop opens its own checked connection, and numeric tricks (``2130706433``, ``0x7f.1``,
``0177.0.0.1``, ``[::ffff:127.0.0.1]``) are judged by the address they resolve to.

Operators open holes with settings (README, "Outbound requests"): ``OUTBOUND_ALLOWED_NETWORKS``
(CIDRs, optionally with a port) and ``OUTBOUND_ALLOW_PRIVATE`` (turns the check off). A caller may
name one more list in the same format that applies to its calls only (``allow_setting``: model
providers use PROVIDER_ALLOWED_NETWORKS). apps.core.outbound_sdk gives the providers' SDKs the same
guard.

Usage::

    with outbound.client(timeout=10) as http:
        response = http.get(url)          # raises OutboundBlocked for a forbidden address

    async with outbound.async_client(timeout=10) as http:
        response = await http.get(url)
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import typing
from dataclasses import dataclass

import httpcore
import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_DEFAULT_LIMITS = httpx.Limits()
_LOCALHOST_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")

__all__ = [
    "OutboundBlocked",
    "async_client",
    "check_address",
    "check_url",
    "client",
    "is_allowed",
    "resolve",
]


class OutboundBlocked(httpx.ConnectError):
    """A request to a forbidden address. The message says which address and why, for the user.

    It is an ``httpx.ConnectError`` (hence ``httpx.TransportError``/``httpx.HTTPError``), so code
    that already handles connection failures handles it too; catch it first to tell the two apart.
    """

    def __init__(self, message: str, *, host: str = "", address: str = "", reason: str = "",
                 request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)
        self.host, self.address, self.reason = host, address, reason


@dataclass(frozen=True)
class _Rule:
    network: IPNetwork
    port: int | None

    def matches(self, address: IPAddress, port: int | None) -> bool:
        return address.version == self.network.version and address in self.network and (
            self.port is None or self.port == port)


@functools.lru_cache(maxsize=32)
def _parse_rules(spec: str) -> tuple[_Rule, ...]:
    """``10.0.0.0/8, 127.0.0.1:8080, [fd00::/8]:443, ::1`` -> rules. Bad entries fail loudly."""
    rules = []
    for raw in spec.replace(";", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        port: str | None = None
        if entry.startswith("["):
            network, _, rest = entry[1:].partition("]")
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"OUTBOUND_ALLOWED_NETWORKS: cannot read {entry!r}")
                port = rest[1:]
        elif entry.count(":") == 1:
            network, port = entry.split(":")
        else:
            network = entry
        try:
            net = ipaddress.ip_network(network.strip(), strict=False)
            port_number = int(port) if port is not None else None
        except ValueError as exc:
            raise ValueError(f"OUTBOUND_ALLOWED_NETWORKS: cannot read {entry!r}: {exc}") from None
        if port_number is not None and not 0 < port_number < 65536:
            raise ValueError(f"OUTBOUND_ALLOWED_NETWORKS: bad port in {entry!r}")
        rules.append(_Rule(net, port_number))
    return tuple(rules)


def _setting_rules(name: str) -> tuple[_Rule, ...]:
    spec = getattr(settings, name, "") or ""
    if not isinstance(spec, str):
        spec = ",".join(spec)
    try:
        return _parse_rules(spec)
    except ValueError as exc:
        raise ValueError(str(exc).replace("OUTBOUND_ALLOWED_NETWORKS", name, 1)) from None


def _operator_rules(allow_setting: str = "") -> tuple[bool, tuple[_Rule, ...]]:
    """Read the settings at call time, so tests and reconfiguration take effect immediately.

    ``allow_setting`` names a second list in the same format that opens holes for one kind of call
    only (PROVIDER_ALLOWED_NETWORKS: a self-hoster's Ollama, not every HTTP Request node).
    """
    allow_all = bool(getattr(settings, "OUTBOUND_ALLOW_PRIVATE", False))
    rules = _setting_rules("OUTBOUND_ALLOWED_NETWORKS")
    if allow_setting:
        rules += _setting_rules(allow_setting)
    return allow_all, rules


def _unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv6 form (mapped, 6to4, NAT64), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64 or address in _NAT64_LOCAL:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a user may not reach this address by default (None: a public address)."""
    inner = _unwrap(address)
    if inner is not address:
        reason = forbidden_reason(inner)
        return f"IPv6 form of {inner} ({reason})" if reason else None
    if address.is_unspecified:
        return "unspecified address"
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address"
    if address.is_multicast:
        return "multicast address"
    if address.is_reserved:
        return "reserved address"
    if isinstance(address, ipaddress.IPv6Address) and int(address) >> 96 == 0:
        return "reserved address"  # ::/96, the deprecated IPv4-compatible form and friends
    if address in _SHARED_ADDRESS_SPACE:
        return "shared (carrier-grade NAT) address"
    if address.is_private:
        return "private address"
    if not address.is_global:
        return "address that is not publicly routable"
    return None


def is_allowed(address: IPAddress | str, port: int | None = None, *, allow_setting: str = "") -> bool:
    """True when a user's request may connect to ``address`` (on ``port``) under current settings."""
    address = ipaddress.ip_address(address) if isinstance(address, str) else address
    allow_all, rules = _operator_rules(allow_setting)
    if allow_all or forbidden_reason(address) is None:
        return True
    return any(rule.matches(address, port) for rule in rules) or (
        _unwrap(address) is not address and any(rule.matches(_unwrap(address), port) for rule in rules))


def check_address(address: IPAddress | str, port: int | None = None, *, host: str = "",
                  allow_setting: str = "") -> None:
    """Raise OutboundBlocked unless ``address`` may be reached."""
    address = ipaddress.ip_address(address) if isinstance(address, str) else address
    if not is_allowed(address, port, allow_setting=allow_setting):
        raise _blocked(host or str(address), [address], allow_setting)


def _ask_operator(allow_setting: str) -> str:
    return f"Ask the operator to allow it ({allow_setting or 'OUTBOUND_ALLOWED_NETWORKS'}) if this is intended."


def _blocked(host: str, addresses: typing.Sequence[IPAddress], allow_setting: str = "") -> OutboundBlocked:
    first = addresses[0]
    reason = forbidden_reason(first) or "not allowed"
    shown = ", ".join(str(a) for a in addresses[:4])
    target = host if _literal(host) == first else f"{host} ({shown})"
    return OutboundBlocked(f"Requests to {target} are not allowed: {reason}. {_ask_operator(allow_setting)}",
                           host=host, address=str(first), reason=reason)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def is_literal_address(host: str) -> bool:
    """Whether ``host`` is an IP address rather than a name."""
    return _literal(host) is not None


def _sort_answers(host: str, port: int, infos: list) -> list[IPAddress]:
    seen: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in seen:
            seen.append(address)
    if not seen:
        raise httpx.ConnectError(f"Could not resolve {host}.")
    return seen


def _pick(host: str, port: int, addresses: list[IPAddress], allow_setting: str = "") -> list[IPAddress]:
    allowed = [a for a in addresses if is_allowed(a, port, allow_setting=allow_setting)]
    if not allowed:
        raise _blocked(host, addresses, allow_setting)
    return allowed


def _precheck_name(host: str, port: int, allow_setting: str = "") -> None:
    """Refuse localhost names before any lookup (unless loopback is allowed on this port)."""
    name = host.rstrip(".").lower()
    if name in _LOCALHOST_NAMES or name.endswith(".localhost"):
        if not is_allowed(ipaddress.ip_address("127.0.0.1"), port, allow_setting=allow_setting):
            raise OutboundBlocked(
                f"Requests to {host} are not allowed: loopback address. {_ask_operator(allow_setting)}",
                host=host, address="127.0.0.1", reason="loopback address")


def resolve(host: str, port: int, *, allow_setting: str = "") -> list[IPAddress]:
    """Resolve ``host`` once and return the addresses a user may connect to (OutboundBlocked if none)."""
    _precheck_name(host, port, allow_setting)
    literal = _literal(host)
    if literal is not None:
        return _pick(host, port, [literal], allow_setting)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpx.ConnectError(f"Could not resolve {host}: {exc}") from None
    return _pick(host, port, _sort_answers(host, port, infos), allow_setting)


async def aresolve(host: str, port: int, *, allow_setting: str = "") -> list[IPAddress]:
    """``resolve`` without blocking the event loop."""
    _precheck_name(host, port, allow_setting)
    literal = _literal(host)
    if literal is not None:
        return _pick(host, port, [literal], allow_setting)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.run_in_executor(
            None, functools.partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM))
    except (socket.gaierror, UnicodeError) as exc:
        raise httpx.ConnectError(f"Could not resolve {host}: {exc}") from None
    return _pick(host, port, _sort_answers(host, port, infos), allow_setting)


def check_url(url: str | httpx.URL, *, allow_setting: str = "") -> list[IPAddress]:
    """Validate a URL up front (scheme and host) and return its allowed addresses.

    Handy for giving a form a clear error early; the clients check again at connect time anyway.
    """
    try:
        url = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise OutboundBlocked(f"The URL cannot be read: {exc}.", reason="url") from None
    if url.scheme not in ("http", "https"):
        raise OutboundBlocked(f"Only http and https URLs are allowed, not {url.scheme or 'none'!r}.",
                              host=url.host, reason="scheme")
    if not url.host:
        raise OutboundBlocked("The URL has no host.", reason="host")
    return resolve(url.host, url.port or (443 if url.scheme == "https" else 80), allow_setting=allow_setting)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore network backend: resolve once, check, connect to the checked address (pinned).

    ``inner`` and ``connect_errors`` let the same guard serve httpcore's fork httpcore2, which the
    model providers' SDKs are built on (apps.core.outbound_sdk).
    """

    def __init__(self, inner: typing.Any = None, *, allow_setting: str = "",
                 connect_errors: tuple[type[Exception], ...] = (httpcore.ConnectError, httpcore.ConnectTimeout)
                 ) -> None:
        self._inner = inner or httpcore.SyncBackend()
        self._allow_setting, self._connect_errors = allow_setting, connect_errors

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in resolve(host, port, allow_setting=self._allow_setting):
            try:
                return self._inner.connect_tcp(str(address), port, timeout=timeout,
                                               local_address=local_address, socket_options=socket_options)
            except self._connect_errors as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> httpcore.NetworkStream:
        raise OutboundBlocked("Unix sockets are not allowed.", reason="unix socket")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: typing.Any = None, *, allow_setting: str = "",
                 connect_errors: tuple[type[Exception], ...] = (httpcore.ConnectError, httpcore.ConnectTimeout)
                 ) -> None:
        self._inner = inner or httpcore.AnyIOBackend()
        self._allow_setting, self._connect_errors = allow_setting, connect_errors

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[typing.Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        last_error: Exception | None = None
        for address in await aresolve(host, port, allow_setting=self._allow_setting):
            try:
                return await self._inner.connect_tcp(str(address), port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except self._connect_errors as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any
                                  ) -> httpcore.AsyncNetworkStream:
        raise OutboundBlocked("Unix sockets are not allowed.", reason="unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _pool_options(verify: typing.Any, limits: httpx.Limits) -> dict[str, typing.Any]:
    from httpx._config import create_ssl_context  # the same SSL context httpx itself would build

    return {
        "ssl_context": create_ssl_context(verify=verify, trust_env=False),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


class GuardedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose connections go through the guarded backend. No proxies."""

    def __init__(self, *, verify: typing.Any = True, limits: httpx.Limits = _DEFAULT_LIMITS,
                 allow_setting: str = "") -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(network_backend=GuardedBackend(allow_setting=allow_setting),
                                             **_pool_options(verify, limits))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except OutboundBlocked as exc:
            exc.request = request
            raise


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, verify: typing.Any = True, limits: httpx.Limits = _DEFAULT_LIMITS,
                 allow_setting: str = "") -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(network_backend=AsyncGuardedBackend(allow_setting=allow_setting),
                                                  **_pool_options(verify, limits))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except OutboundBlocked as exc:
            exc.request = request
            raise


def _check_scheme(request: httpx.Request) -> None:
    if request.url.scheme not in ("http", "https"):
        raise OutboundBlocked(f"Only http and https URLs are allowed, not {request.url.scheme!r}.",
                              reason="scheme", request=request)


async def _acheck_scheme(request: httpx.Request) -> None:
    _check_scheme(request)


def client(*, timeout: typing.Any = 30.0, verify: typing.Any = True, follow_redirects: bool = True,
           max_redirects: int = 5, limits: httpx.Limits = _DEFAULT_LIMITS, allow_setting: str = "",
           **kwargs: typing.Any) -> httpx.Client:
    """A guarded ``httpx.Client``. Extra keyword arguments (headers, auth, ...) go to httpx.

    Environment proxies are ignored on purpose (trust_env=False): a proxy would connect for us.
    ``allow_setting`` names a setting whose networks are allowed on top of OUTBOUND_ALLOWED_NETWORKS.
    """
    for forbidden in ("transport", "mounts", "proxy", "trust_env"):
        if forbidden in kwargs:
            raise TypeError(f"outbound.client() does not accept {forbidden!r}")
    return httpx.Client(transport=GuardedTransport(verify=verify, limits=limits, allow_setting=allow_setting),
                        timeout=timeout,
                        follow_redirects=follow_redirects, max_redirects=max_redirects,
                        trust_env=False, event_hooks={"request": [_check_scheme]}, **kwargs)


def async_client(*, timeout: typing.Any = 30.0, verify: typing.Any = True,
                 follow_redirects: bool = True, max_redirects: int = 5,
                 limits: httpx.Limits = _DEFAULT_LIMITS, allow_setting: str = "",
                 **kwargs: typing.Any) -> httpx.AsyncClient:
    """A guarded ``httpx.AsyncClient``; same rules as ``client()``."""
    for forbidden in ("transport", "mounts", "proxy", "trust_env"):
        if forbidden in kwargs:
            raise TypeError(f"outbound.async_client() does not accept {forbidden!r}")
    return httpx.AsyncClient(transport=AsyncGuardedTransport(verify=verify, limits=limits,
                                                             allow_setting=allow_setting),
                             timeout=timeout, follow_redirects=follow_redirects,
                             max_redirects=max_redirects, trust_env=False,
                             event_hooks={"request": [_acheck_scheme]}, **kwargs)


def request(method: str, url: str | httpx.URL, **kwargs: typing.Any) -> httpx.Response:
    """One guarded request with a throwaway client (timeout/verify/follow_redirects as in client())."""
    options = {k: kwargs.pop(k) for k in ("timeout", "verify", "follow_redirects", "max_redirects")
               if k in kwargs}
    with client(**options) as http:
        return http.request(method, url, **kwargs)
