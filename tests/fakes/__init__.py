"""Fake LLM provider servers that speak the real wire protocols (see ``base`` for the scripting API).

Which ``base_url`` each SDK needs:

- ``openai.OpenAI`` / ``AsyncOpenAI``: ``base_url=fake_openai.base_url`` (``http://127.0.0.1:PORT/v1``);
- ``openai.AzureOpenAI`` / ``AsyncAzureOpenAI``: ``azure_endpoint=fake_openai.azure_endpoint``
  (the server root) plus any ``api_version``;
- OpenAI-compatible rerank over plain HTTP: ``fake_openai.root_url + "/v1/rerank"`` (or ``/rerank``);
- ``cohere.ClientV2`` / ``AsyncClientV2``: ``base_url=fake_cohere.base_url`` (the server root);
- ``anthropic.Anthropic`` / ``AsyncAnthropic``: ``base_url=fake_anthropic.base_url`` (the server root).

Pytest fixtures ``fake_openai``, ``fake_cohere`` and ``fake_anthropic`` live in ``fixtures``.
"""

from .anthropic_server import FakeAnthropic
from .base import Disconnect, Fail, FakeServer, FakeToolCall, Hang, RecordedRequest, Reply, echo_responder
from .cohere_server import FakeCohere
from .openai_server import FakeOpenAI

__all__ = [
    "Disconnect",
    "Fail",
    "FakeAnthropic",
    "FakeCohere",
    "FakeOpenAI",
    "FakeServer",
    "FakeToolCall",
    "Hang",
    "RecordedRequest",
    "Reply",
    "echo_responder",
]
