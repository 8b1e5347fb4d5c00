"""The parent's end of the sandbox's network relay: the only way the code reaches the network.

Python code in the sandbox may use ``requests`` and ``httpx`` (as in the reference sandbox). The
child has no socket (seccomp, Landlock, an empty network namespace); runner.py replaces those
libraries' transports with a message over a pipe, and this module makes the request through
apps.core.outbound, so private, loopback and link-local addresses are refused unless an operator
allowed them (OUTBOUND_ALLOWED_NETWORKS). Redirects are followed by the library in the child, so
every hop comes back here and is checked again.

Wire format, both ways: a 4-byte big-endian length, then JSON. Request ``{method, url, headers:
[[name, value]], body: base64, timeout}``; answer ``{status, reason, headers, body: base64, url}``
or ``{error, kind}`` with kind ``blocked``, ``timeout``, ``connect`` or ``limit``.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import json
import os
import struct
import time

import httpx

# What `import requests` and `import httpx` need, and nothing else of the platform's packages.
SHIPPED = ("requests", "urllib3", "idna", "certifi", "charset_normalizer", "httpx", "httpcore", "h11",
           "anyio", "sniffio", "typing_extensions")
MAX_MESSAGE = 16 * 1024 * 1024
_DEFAULT_TIMEOUT = 10.0
# Headers of the answer that describe the connection, not the (already de-chunked) body.
_HOP_HEADERS = ("transfer-encoding", "connection", "keep-alive")


class RelayViolation(Exception):
    """The child wrote something that is not a relay message: the run is stopped."""


@functools.lru_cache(maxsize=1)
def packages() -> dict[str, str]:
    """name → package directory (or module file) of the libraries the sandbox ships."""
    found = {}
    for name in SHIPPED:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            continue
        found[name] = os.path.dirname(spec.origin) if spec.submodule_search_locations else spec.origin
    return found


class RelayServer:
    """Reads the child's request messages, makes each call, queues the answer for the child."""

    def __init__(self, *, deadline: float, max_calls: int, max_body: int) -> None:
        self.deadline, self.max_calls, self.max_body = deadline, max_calls, max_body
        self.calls = 0
        self.incoming = bytearray()
        self.outgoing = bytearray()

    def feed(self, data: bytes) -> None:
        self.incoming += data
        while len(self.incoming) >= 4:
            size = struct.unpack(">I", self.incoming[:4])[0]
            if size > MAX_MESSAGE:
                raise RelayViolation("a request larger than the relay allows")
            if len(self.incoming) < 4 + size:
                return
            raw = bytes(self.incoming[4:4 + size])
            del self.incoming[:4 + size]
            try:
                message = json.loads(raw)
                body = base64.b64decode(message.get("body") or "")
            except (ValueError, TypeError, AttributeError):
                raise RelayViolation("a request the relay cannot read") from None
            answer = json.dumps(self.call(message, body)).encode()
            self.outgoing += struct.pack(">I", len(answer)) + answer

    def call(self, message: dict, body: bytes) -> dict:
        from apps.core import outbound

        self.calls += 1
        if self.calls > self.max_calls:
            return {"error": f"The code made more than {self.max_calls} HTTP requests.", "kind": "limit"}
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return {"error": "The code's time limit is up.", "kind": "timeout"}
        wanted = message.get("timeout")
        timeout = min(float(wanted) if isinstance(wanted, (int, float)) else _DEFAULT_TIMEOUT, remaining)
        headers = [(str(k), str(v)) for k, v in message.get("headers") or [] if isinstance(k, str)]
        try:
            with outbound.client(timeout=timeout, follow_redirects=False) as http:
                method, url = str(message.get("method") or "GET"), str(message.get("url") or "")
                request = http.build_request(method, url, headers=headers, content=body or None)
                response = http.send(request, stream=True)
                try:
                    raw = bytearray()
                    for chunk in response.iter_raw():
                        raw += chunk
                        if len(raw) > self.max_body:
                            return {"error": f"The response is larger than {self.max_body} bytes.",
                                    "kind": "limit"}
                finally:
                    response.close()
        except outbound.OutboundBlocked as exc:
            return {"error": str(exc), "kind": "blocked"}
        except httpx.TimeoutException:
            return {"error": f"The request timed out after {timeout:g} s.", "kind": "timeout"}
        except (httpx.HTTPError, ValueError) as exc:  # ValueError: a URL httpx cannot read
            return {"error": str(exc) or type(exc).__name__, "kind": "connect"}
        return {"status": response.status_code, "reason": response.reason_phrase, "url": str(response.url),
                "headers": [[k, v] for k, v in response.headers.multi_items()
                            if k.lower() not in _HOP_HEADERS],
                "body": base64.b64encode(bytes(raw)).decode("ascii")}
