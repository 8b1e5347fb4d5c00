"""Fixtures of the tool tests: the fake services (one per session) and a workspace schema."""

from collections.abc import Iterator

import pytest
from django_tenants.utils import tenant_context

from tests.tools.fakes import Served, pet_app, search_app


@pytest.fixture(scope="session")
def pet_server() -> Iterator[Served]:
    server = Served(pet_app()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def search_server() -> Iterator[Served]:
    server = Served(search_app()).start()
    yield server
    server.stop()


@pytest.fixture
def allow_loopback(settings):  # type: ignore[no-untyped-def]
    """The operator's allowance for the fakes on loopback (OUTBOUND_ALLOWED_NETWORKS)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.1/32"
    return settings


@pytest.fixture
def alpha(world):  # type: ignore[no-untyped-def]
    with tenant_context(world.alpha):
        yield world.alpha


@pytest.fixture(scope="session")
def mcp_server() -> Iterator[Served]:
    """Streamable HTTP at /mcp."""
    from tests.tools import mcp_fake

    server = Served(mcp_fake.streamable_app()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mcp_sse_server() -> Iterator[Served]:
    """SSE at /sse (messages at /messages/)."""
    from tests.tools import mcp_fake

    server = Served(mcp_fake.sse_app()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def media_server() -> Iterator[Served]:
    from tests.tools.fakes import media_app

    server = Served(media_app()).start()
    yield server
    server.stop()


@pytest.fixture
def media(media_server, allow_loopback):  # type: ignore[no-untyped-def]
    """The media fake with every built-in's base URL pointed at it."""
    allow_loopback.TOOL_OPENAI_BASE_URL = f"{media_server.url}/v1"
    allow_loopback.TOOL_VECTORIZER_BASE_URL = f"{media_server.url}/vectorizer"
    allow_loopback.TOOL_YOUTUBE_BASE_URL = f"{media_server.url}/youtube"
    return media_server
