"""Model-provider base URLs and endpoints go through the SSRF guard (issue 20, item 1).

The fake provider servers listen on 127.0.0.1, the "private network" here. The test settings allow
loopback for model providers (PROVIDER_ALLOWED_NETWORKS, as an operator running Ollama beside
Tessera would); these tests turn that allowance off to prove refusal, in every spelling of the
address, at save time (form error, nothing saved, nothing sent) and at call time (the SDK's HTTP
client connects only to a checked address), and on again to prove the allowance works.
"""

import http.server
import threading
from collections.abc import Iterator

import openai
import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from apps.core.outbound import OutboundBlocked
from apps.providers import selectors, services
from apps.providers.models import ProviderCredential
from apps.providers.runtime import clients, errors
from apps.providers.runtime.entities import PromptMessage
from tests.conftest import client_for
from tests.fakes.base import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_models(fake_openai):  # type: ignore[no-untyped-def]
    """The local model server of these tests has the models they name loaded."""
    fake_openai.serve("llama3", "bge-m3", "bge-reranker", "m", "d", "prod")  # "d", "prod": Azure deployments

KEY = "sk-test-0123456789abcdefghijklmnop"
BASE = "/console/alpha/settings/providers/"


@pytest.fixture
def alpha(world):  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        ProviderCredential.objects.all().delete()
        yield world.alpha


@pytest.fixture
def no_allowance(settings):  # type: ignore[no-untyped-def]
    """The defaults of a production install: no private address is allowed."""
    settings.PROVIDER_ALLOWED_NETWORKS = ""
    settings.OUTBOUND_ALLOWED_NETWORKS = ""
    settings.OUTBOUND_ALLOW_PRIVATE = False
    settings.PROVIDER_MAX_RETRIES = 0
    return settings


def _spellings(port: int) -> list[str]:
    """One loopback listener, written every way a URL can name it."""
    return [
        f"http://127.0.0.1:{port}/v1",
        f"http://[::1]:{port}/v1",
        f"http://2130706433:{port}/v1",  # 127.0.0.1 as one number
        f"http://0x7f.1:{port}/v1",  # hex, short form
        f"http://0177.0.0.1:{port}/v1",  # octal
        f"http://[::ffff:127.0.0.1]:{port}/v1",  # IPv4-mapped IPv6
        f"http://localhost:{port}/v1",
        f"http://llm.internal.example:{port}/v1",  # a DNS name that resolves to loopback
        f"http://169.254.169.254:{port}/v1",  # cloud metadata (link-local)
        f"http://10.1.2.3:{port}/v1",  # private
    ]


def _compatible(base_url: str, **extra):  # type: ignore[no-untyped-def]
    return services.credential_save(provider_id="openai_api_compatible", data={
        "base_url": base_url, "model": "llama3", "model_type": "llm", **extra})


def run(coro):  # type: ignore[no-untyped-def]
    async def wait():  # type: ignore[no-untyped-def]
        return await coro

    return async_to_sync(wait)()


# --- Save time ---------------------------------------------------------------------------------


def test_every_spelling_of_a_private_base_url_is_refused_and_not_saved(alpha, fake_openai, fake_dns,
                                                                       no_allowance) -> None:  # type: ignore[no-untyped-def]
    fake_dns["llm.internal.example"] = [["127.0.0.1"]]
    for url in _spellings(fake_openai.port):
        with pytest.raises(ValidationError) as caught:
            _compatible(url)
        message = " ".join(caught.value.message_dict["base_url"])
        assert "may not connect to" in message and "PROVIDER_ALLOWED_NETWORKS" in message, (url, message)
    assert fake_openai.requests == []  # no validation call reached the listener
    assert not ProviderCredential.objects.exists()


@pytest.mark.parametrize("provider_id, field, data", [
    ("openai", "base_url", {"api_key": KEY}),
    ("anthropic", "base_url", {"api_key": KEY}),
    ("cohere", "base_url", {"api_key": KEY}),
    ("azure_openai", "endpoint", {"api_key": KEY, "api_version": "2024-10-21", "deployment": "d",
                                  "base_model": "gpt-4o"}),
])
def test_every_provider_url_field_is_checked(alpha, fake_openai, no_allowance, provider_id, field,
                                             data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as caught:
        services.credential_save(provider_id=provider_id,
                                 data={**data, field: f"http://[::1]:{fake_openai.port}"})
    assert field in caught.value.message_dict
    assert not ProviderCredential.objects.exists()


def test_the_console_form_shows_the_refusal(world, alpha, fake_openai, no_allowance) -> None:  # type: ignore[no-untyped-def]
    response = client_for(world.owner.user).post(f"{BASE}openai_api_compatible/new/", {
        "display_name": "Local", "base_url": f"http://2130706433:{fake_openai.port}/v1", "model": "llama3",
        "model_type": "llm", "mode": "chat", "context_length": "4096", "max_tokens": "1024"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "may not connect to 2130706433" in page and "loopback address" in page
    assert "PROVIDER_ALLOWED_NETWORKS" in page
    assert fake_openai.requests == []
    with schema_context(world.alpha.schema_name):  # the request left the connection on the public schema
        assert not ProviderCredential.objects.exists()


def test_the_refusal_is_translated(world, alpha, fake_openai, no_allowance) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    response = client.post(f"{BASE}openai_api_compatible/new/", {
        "base_url": f"http://127.0.0.1:{fake_openai.port}/v1", "model": "llama3", "model_type": "llm",
        "mode": "chat", "context_length": "4096", "max_tokens": "1024"}, HTTP_ACCEPT_LANGUAGE="ja")
    page = response.content.decode()
    assert "PROVIDER_ALLOWED_NETWORKS" in page and "may not connect to" not in page


def test_the_operator_allowance_lets_a_local_model_server_in(alpha, fake_openai, fake_dns,
                                                             no_allowance) -> None:  # type: ignore[no-untyped-def]
    no_allowance.PROVIDER_ALLOWED_NETWORKS = f"127.0.0.1/32:{fake_openai.port}, ::1"
    fake_dns["ollama"] = [["127.0.0.1"]]  # a docker-compose service name, say
    _compatible(f"http://ollama:{fake_openai.port}/v1")
    assert fake_openai.requests, "the validation call reached the allowed server"
    fake_openai.script("chat", Reply("hello from the local server"))
    model = selectors.resolve("llm", "openai_api_compatible", "llama3")
    assert run(model.invoke([PromptMessage("user", "hi")])).text == "hello from the local server"


def test_the_provider_allowance_does_not_open_the_http_request_node(no_allowance) -> None:  # type: ignore[no-untyped-def]
    from apps.core import outbound

    no_allowance.PROVIDER_ALLOWED_NETWORKS = "127.0.0.0/8"
    assert outbound.is_allowed("127.0.0.1", 80, allow_setting=clients.ALLOWANCE_SETTING)
    assert not outbound.is_allowed("127.0.0.1", 80)  # what HTTP Request nodes and tools use
    with pytest.raises(OutboundBlocked):
        outbound.check_url("http://127.0.0.1/")


# --- Call time ---------------------------------------------------------------------------------


def test_a_saved_credential_is_refused_at_call_time_once_the_allowance_is_gone(
        alpha, fake_openai, fake_anthropic, fake_cohere, no_allowance) -> None:  # type: ignore[no-untyped-def]
    no_allowance.PROVIDER_ALLOWED_NETWORKS = "127.0.0.1"
    _compatible(fake_openai.base_url)
    _compatible(fake_openai.base_url, model="bge-m3", model_type="text-embedding")
    _compatible(fake_openai.base_url, model="bge-reranker", model_type="rerank")
    services.credential_save(provider_id="azure_openai", data={
        "endpoint": fake_openai.azure_endpoint, "api_key": KEY, "api_version": "2024-10-21",
        "deployment": "prod", "base_model": "gpt-4o"})
    services.credential_save(provider_id="anthropic",
                             data={"api_key": KEY, "base_url": fake_anthropic.base_url})
    services.credential_save(provider_id="cohere", data={"api_key": KEY, "base_url": fake_cohere.base_url})
    fakes = (fake_openai, fake_anthropic, fake_cohere)
    seen = [len(f.requests) for f in fakes]

    no_allowance.PROVIDER_ALLOWED_NETWORKS = ""
    hi = [PromptMessage("user", "hi")]
    calls = {
        "compatible llm": lambda: selectors.resolve("llm", "openai_api_compatible", "llama3").invoke(hi),
        "compatible embedding": lambda: selectors.resolve(
            "text-embedding", "openai_api_compatible", "bge-m3").embed(["a"]),
        "compatible rerank": lambda: selectors.resolve(
            "rerank", "openai_api_compatible", "bge-reranker").rerank("q", ["a", "b"]),
        "azure": lambda: selectors.resolve("llm", "azure_openai", "prod").invoke(hi),
        "anthropic": lambda: selectors.resolve("llm", "anthropic", "claude-haiku-4-5").invoke(hi),
        "cohere embedding": lambda: selectors.resolve(
            "text-embedding", "cohere", "embed-english-v3.0").embed(["a"]),
        "cohere rerank": lambda: selectors.resolve("rerank", "cohere", "rerank-v3.5").rerank("q", ["a", "b"]),
    }
    for name, call in calls.items():
        with pytest.raises(errors.CompletionRequestError) as caught:
            run(call())
        message = caught.value.message
        assert "not allowed" in message and "PROVIDER_ALLOWED_NETWORKS" in message, (name, message)
    assert [len(f.requests) for f in fakes] == seen  # nothing reached any listener


def test_a_name_that_rebinds_after_saving_is_refused(alpha, fake_openai, fake_dns,
                                                     no_allowance) -> None:  # type: ignore[no-untyped-def]
    no_allowance.PROVIDER_ALLOWED_NETWORKS = f"127.0.0.1/32:{fake_openai.port}"
    fake_dns["models.example"] = [["127.0.0.1"]]
    _compatible(f"http://models.example:{fake_openai.port}/v1")
    seen = len(fake_openai.requests)
    fake_dns["models.example"] = [["127.0.0.2"]]  # the name now points at another internal host
    with pytest.raises(errors.CompletionRequestError) as caught:
        run(selectors.resolve("llm", "openai_api_compatible", "llama3").invoke([PromptMessage("user", "hi")]))
    assert "127.0.0.2" in caught.value.message and "not allowed" in caught.value.message
    assert len(fake_openai.requests) == seen


class _Redirector:
    """A 'model server' that answers every request with a 307 to ``target``."""

    def __init__(self, target: str) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(307)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def redirector(fake_openai) -> Iterator[_Redirector]:  # type: ignore[no-untyped-def]
    server = _Redirector(f"http://[::ffff:127.0.0.1]:{fake_openai.port}")
    yield server
    server.close()


def test_a_redirect_to_a_private_address_is_refused(alpha, fake_openai, redirector,
                                                    no_allowance) -> None:  # type: ignore[no-untyped-def]
    # Only the redirecting server's port is allowed; it sends the SDK to the fake's port.
    no_allowance.PROVIDER_ALLOWED_NETWORKS = f"127.0.0.1/32:{redirector.port}"
    with pytest.raises(ValidationError) as caught:
        _compatible(f"http://127.0.0.1:{redirector.port}")
    assert "not allowed" in " ".join(caught.value.messages)
    assert fake_openai.requests == [] and not ProviderCredential.objects.exists()


@pytest.mark.parametrize("aiohttp", [False, True], ids=["httpx2", "aiohttp"])
def test_the_sdk_transports_check_every_connection(fake_openai, fake_dns, no_allowance,
                                                   aiohttp: bool) -> None:  # type: ignore[no-untyped-def]
    """Both transports the openai SDK is given (aiohttp serves pooled clients in Daphne's loop)."""
    fake_dns["rebinding.example"] = [["127.0.0.1"]]
    fake_openai.script("chat", Reply("pong"), Reply("pong"))

    async def ask(base_url: str) -> str:
        http = openai.DefaultAsyncHttpxClient(transport=clients.guarded_transport(aiohttp=aiohttp))
        async with openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0, http_client=http) as api:
            reply = await api.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "ping"}])
        return reply.choices[0].message.content or ""

    for host in ("127.0.0.1", "[::ffff:127.0.0.1]", "2130706433", "localhost", "rebinding.example"):
        with pytest.raises(openai.APIConnectionError) as caught:
            run(ask(f"http://{host}:{fake_openai.port}/v1"))
        assert isinstance(caught.value.__cause__, OutboundBlocked), host
    assert fake_openai.requests == []

    no_allowance.PROVIDER_ALLOWED_NETWORKS = "127.0.0.1/32"
    assert run(ask(fake_openai.base_url)) == "pong"
    assert run(ask(f"http://rebinding.example:{fake_openai.port}/v1")) == "pong"
    assert len(fake_openai.requests) == 2
