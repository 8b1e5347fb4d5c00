"""Pytest fixtures for the fake provider servers (registered by ``tests/conftest.py``).

Each server is started once per session; the function-scoped fixture hands it to a test after a
``reset()`` (scripts, recorded requests and settings back to the defaults) and resets it again
afterwards, so scripts never leak from one test into the next; a crash inside the fake itself
(``fake.errors``) fails the test at teardown. The fakes need no database.

    def test_something(fake_openai):
        fake_openai.script(Reply(text="Hi"))
        client = openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test")
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import pytest

from .anthropic_server import FakeAnthropic
from .base import FakeServer
from .cohere_server import FakeCohere
from .openai_server import FakeOpenAI

ServerT = TypeVar("ServerT", bound=FakeServer)


def _serve(server: ServerT) -> Iterator[ServerT]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _fresh(server: ServerT) -> Iterator[ServerT]:
    server.reset()
    yield server
    bugs = list(server.errors)
    server.reset()
    if bugs:
        pytest.fail(f"{type(server).__name__} crashed while serving this test:\n" + "\n".join(bugs))


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    yield from _serve(FakeOpenAI())


@pytest.fixture(scope="session")
def fake_cohere_server() -> Iterator[FakeCohere]:
    yield from _serve(FakeCohere())


@pytest.fixture(scope="session")
def fake_anthropic_server() -> Iterator[FakeAnthropic]:
    yield from _serve(FakeAnthropic())


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session's ``FakeOpenAI``, reset for this test."""
    yield from _fresh(fake_openai_server)


@pytest.fixture
def fake_cohere(fake_cohere_server: FakeCohere) -> Iterator[FakeCohere]:
    """The session's ``FakeCohere``, reset for this test."""
    yield from _fresh(fake_cohere_server)


@pytest.fixture
def fake_anthropic(fake_anthropic_server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    """The session's ``FakeAnthropic``, reset for this test."""
    yield from _fresh(fake_anthropic_server)
