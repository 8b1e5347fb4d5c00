"""A stand-in for DNS: answers for made-up names (registered by ``tests/conftest.py``).

The test machine has no DNS of its own, so socket.getaddrinfo answers the names a test sets up and
passes every other lookup (including the numeric ones made while connecting) to the real one.
"""

import socket

import pytest


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Answers for made-up names: name -> list of answers, one per lookup (the last one repeats)."""
    answers: dict[str, list] = {}
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        if name in answers:
            lookups.append(name)
            queue = answers[name]
            addresses = queue.pop(0) if len(queue) > 1 else queue[0]
            result = []
            for address in addresses:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, int(port or 0))
                if family == socket.AF_INET6:
                    sockaddr = (address, int(port or 0), 0, 0)
                result.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
            return result
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    answers["__lookups__"] = lookups  # type: ignore[assignment]
    return answers
