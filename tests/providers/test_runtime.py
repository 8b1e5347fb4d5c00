"""The model runtime against the fake provider servers, through the real SDKs over HTTP."""

import asyncio
import json
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import schema_context

from apps.providers import selectors, services
from apps.providers.models import ProviderCredential
from apps.providers.runtime import errors
from apps.providers.runtime.entities import ImagePart, ModelType, PromptMessage, ToolDefinition
from tests.fakes.base import Fail, FakeToolCall, Hang, Reply

pytestmark = pytest.mark.django_db

KEY = "sk-test-0123456789abcdefghijklmnop"
WEATHER = ToolDefinition("get_weather", "Weather for a city",
                         {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


@pytest.fixture
def alpha(world):  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        yield world.alpha


def _openai(fake) -> ProviderCredential:  # type: ignore[no-untyped-def]
    return services.credential_save(provider_id="openai", data={"api_key": KEY, "base_url": fake.base_url})


def _compatible(fake, model="llama3", model_type="llm", **extra) -> ProviderCredential:  # type: ignore[no-untyped-def]
    fake.serve(model)  # the server has the model loaded
    return services.credential_save(provider_id="openai_api_compatible", data={
        "base_url": fake.base_url, "model": model, "model_type": model_type, "function_calling": True, **extra})


def run(coro):  # type: ignore[no-untyped-def]
    async def wait():  # type: ignore[no-untyped-def]
        return await coro

    return async_to_sync(wait)()


# --- LLM ---------------------------------------------------------------------------------------


def test_openai_stream_yields_deltas_then_priced_usage(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    fake_openai.script("chat", Reply("The sky is blue today", usage=(12, 5)))
    model = selectors.resolve("llm", "openai", "gpt-4o-mini")

    async def collect():  # type: ignore[no-untyped-def]
        return [c async for c in model.stream([PromptMessage("user", "What colour is the sky?")])]

    chunks = run(collect())
    assert "".join(c.delta for c in chunks) == "The sky is blue today"
    assert len([c for c in chunks if c.delta]) > 1  # really streamed
    last = chunks[-1]
    assert last.finish_reason == "stop"
    usage = last.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 5, 17)
    # gpt-4o-mini: $0.15 / $0.60 per million tokens.
    assert usage.prompt_price == Decimal("0.0000018") and usage.completion_price == Decimal("0.0000030")
    assert usage.total_price == Decimal("0.0000048") and usage.currency == "USD"
    assert usage.latency >= 0 and usage.time_to_first_token is not None
    body = usage.model_dump(mode="json")
    assert body["prompt_price"] == "0.0000018" and body["prompt_unit_price"] == "0.15"
    sent = fake_openai.requests[-1]
    assert sent.json["model"] == "gpt-4o-mini" and sent.json["stream"] is True


def test_invoke_is_the_blocking_form(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    fake_openai.script("chat", Reply("Four.", usage=(7, 2)))
    result = run(selectors.resolve("llm", "openai", "gpt-4o").invoke(
        [PromptMessage("system", "Be brief."), PromptMessage("user", "2+2?")], params={"temperature": 0.1}))
    assert result.text == "Four." and result.finish_reason == "stop" and result.usage.total_tokens == 9
    assert fake_openai.requests[-1].json["temperature"] == 0.1


def test_streamed_tool_calls_are_reassembled(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    fake_openai.script("chat", Reply("", tool_calls=[FakeToolCall("get_weather", {"city": "Paris"})]))
    result = run(selectors.resolve("llm", "openai", "gpt-4o").invoke(
        [PromptMessage("user", "Weather in Paris?")], tools=[WEATHER]))
    assert result.finish_reason == "tool_calls"
    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert fake_openai.requests[-1].json["tools"][0]["function"]["name"] == "get_weather"


def _round_trip(model, fake, endpoint: str):  # type: ignore[no-untyped-def]
    """A tool call, then its result sent back: the strict fake refuses a badly paired exchange.
    The fake splits its streams at random byte offsets meanwhile."""
    fake.split_events = True
    fake.script(endpoint, Reply("Checking.", tool_calls=[FakeToolCall("get_weather", {"city": "Zürich"})]))
    question = [PromptMessage("system", "Be brief."), PromptMessage("user", "Weather in Zürich?")]
    first = run(model.invoke(question, tools=[WEATHER]))
    assert first.finish_reason == "tool_calls" and first.text == "Checking."
    [call] = first.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Zürich"})
    fake.script(endpoint, Reply("It is 18 °C in Zürich."))
    exchange = [*question, PromptMessage("assistant", first.text, tool_calls=[call]),
                PromptMessage("tool", "18 °C, sunny", name="get_weather", tool_call_id=call.id)]
    second = run(model.invoke(exchange, tools=[WEATHER]))
    assert second.text == "It is 18 °C in Zürich." and second.finish_reason == "stop"
    assert fake.requests[-1].json.get("messages")  # the exchange reached the provider, accepted
    return fake.requests[-1].json


def test_openai_tool_result_round_trip(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    sent = _round_trip(selectors.resolve("llm", "openai", "gpt-4o"), fake_openai, "chat")
    call = sent["messages"][2]
    assert call["role"] == "assistant" and call["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][3] == {"role": "tool", "content": "18 °C, sunny", "name": "get_weather",
                                   "tool_call_id": call["tool_calls"][0]["id"]}


def test_azure_tool_result_round_trip(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.serve("prod-gpt4o")
    services.credential_save(provider_id="azure_openai", data={
        "endpoint": fake_openai.azure_endpoint, "api_key": KEY, "api_version": "2024-10-21", "deployment": "prod-gpt4o",
        "base_model": "gpt-4o"})
    sent = _round_trip(selectors.resolve("llm", "azure_openai", "prod-gpt4o"), fake_openai, "chat")
    assert sent["messages"][3]["role"] == "tool"
    assert fake_openai.requests[-1].path == "/openai/deployments/prod-gpt4o/chat/completions"


def test_anthropic_tool_result_round_trip(alpha, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    services.credential_save(provider_id="anthropic", data={"api_key": KEY, "base_url": fake_anthropic.base_url})
    sent = _round_trip(selectors.resolve("llm", "anthropic", "claude-sonnet-4-6"), fake_anthropic, "messages")
    use = sent["messages"][1]["content"]
    assert use[0] == {"type": "text", "text": "Checking."} and use[1]["type"] == "tool_use"
    assert sent["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": use[1]["id"], "content": "18 °C, sunny"}]}


def test_cohere_tool_result_round_trip(alpha, fake_cohere) -> None:  # type: ignore[no-untyped-def]
    services.credential_save(provider_id="cohere", data={"api_key": KEY, "base_url": fake_cohere.base_url})
    sent = _round_trip(selectors.resolve("llm", "cohere", "command-r-08-2024"), fake_cohere, "chat")
    assistant, tool = sent["messages"][2], sent["messages"][3]
    assert assistant["tool_plan"] == "Checking." and assistant["tool_calls"][0]["function"]["name"] == "get_weather"
    assert tool == {"role": "tool", "content": "18 °C, sunny", "tool_call_id": assistant["tool_calls"][0]["id"]}


def test_compatible_tool_result_round_trip(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _compatible(fake_openai, model="qwen-tools")
    sent = _round_trip(selectors.resolve("llm", "openai_api_compatible", "qwen-tools"), fake_openai, "chat")
    assert sent["model"] == "qwen-tools" and sent["messages"][3]["role"] == "tool"


def test_vision_input_is_sent_as_image_parts(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    run(selectors.resolve("llm", "openai", "gpt-4o").invoke(
        [PromptMessage("user", ["What is this?", ImagePart("data:image/png;base64,iVBORw0KGgo=")])]))
    content = fake_openai.requests[-1].json["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert content[1]["type"] == "image_url"


def test_compatible_completion_mode_model(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _compatible(fake_openai, model="tiny-instruct", mode="completion")
    fake_openai.script("completions", Reply("once upon a time"))
    result = run(selectors.resolve("llm", "openai_api_compatible", "tiny-instruct").invoke(
        [PromptMessage("user", "Tell a story")]))
    assert result.text == "once upon a time"
    assert fake_openai.requests[-1].path.endswith("/completions")
    assert result.usage.total_tokens > 0  # priced at 0 but counted


def test_azure_deployment(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.serve("prod-gpt4o")  # the deployment exists on the resource
    services.credential_save(provider_id="azure_openai", data={
        "endpoint": fake_openai.azure_endpoint, "api_key": KEY, "api_version": "2024-10-21", "deployment": "prod-gpt4o",
        "base_model": "gpt-4o"})
    fake_openai.script("chat", Reply("hi from azure"))
    result = run(selectors.resolve("llm", "azure_openai", "prod-gpt4o").invoke([PromptMessage("user", "hi")]))
    assert result.text == "hi from azure"
    request = fake_openai.requests[-1]
    assert "/openai/deployments/prod-gpt4o/chat/completions" in request.path
    assert request.headers.get("api-key") == KEY


def test_anthropic_stream_with_tools_and_system(alpha, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    services.credential_save(provider_id="anthropic", data={"api_key": KEY, "base_url": fake_anthropic.base_url})
    fake_anthropic.script(Reply("Let me check.", tool_calls=[FakeToolCall("get_weather", {"city": "Oslo"})],
                                usage=(30, 8)))
    result = run(selectors.resolve("llm", "anthropic", "claude-sonnet-4-6").invoke(
        [PromptMessage("system", "You are terse."), PromptMessage("user", "Weather in Oslo?")], tools=[WEATHER]))
    assert result.text == "Let me check."
    assert result.tool_calls[0].name == "get_weather" and json.loads(result.tool_calls[0].arguments) == {"city": "Oslo"}
    assert result.finish_reason == "tool_calls"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (30, 8)
    sent = fake_anthropic.requests[-1].json
    assert sent["system"] == "You are terse." and sent["messages"][0]["role"] == "user"


def test_cohere_chat_embed_rerank(alpha, fake_cohere) -> None:  # type: ignore[no-untyped-def]
    services.credential_save(provider_id="cohere", data={"api_key": KEY, "base_url": fake_cohere.base_url})
    fake_cohere.script("chat", Reply("Bonjour", usage=(4, 1)))
    result = run(selectors.resolve("llm", "cohere", "command-r-08-2024").invoke([PromptMessage("user", "Hello")]))
    assert result.text == "Bonjour" and result.usage.total_tokens == 5
    embedded = run(selectors.resolve("text-embedding", "cohere", "embed-english-v3.0").embed(["a", "b", "c"]))
    assert len(embedded.vectors) == 3 and all(len(v) == len(embedded.vectors[0]) for v in embedded.vectors)
    reranked = run(selectors.resolve("rerank", "cohere", "rerank-v3.5").rerank(
        "python web framework", ["Django is a Python web framework", "Bananas are yellow", "Flask is a web framework"],
        top_n=2))
    assert len(reranked.hits) == 2
    assert reranked.hits[0].text == "Django is a Python web framework"
    assert reranked.hits[0].score >= reranked.hits[1].score


def test_rerank_score_threshold(alpha, fake_cohere) -> None:  # type: ignore[no-untyped-def]
    services.credential_save(provider_id="cohere", data={"api_key": KEY, "base_url": fake_cohere.base_url})
    model = selectors.resolve("rerank", "cohere", "rerank-v3.5")
    docs = ["cats and dogs", "quantum chromodynamics lecture notes"]
    everything = run(model.rerank("cats dogs", docs))
    cut = everything.hits[0].score
    strict = run(model.rerank("cats dogs", docs, score_threshold=cut))
    assert [h.text for h in strict.hits] == ["cats and dogs"]


def test_compatible_rerank_server(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _compatible(fake_openai, model="bge-reranker", model_type="rerank")
    hits = run(selectors.resolve("rerank", "openai_api_compatible", "bge-reranker").rerank(
        "red apple", ["green pear", "red apple pie", "blue sky"], top_n=1)).hits
    assert [h.text for h in hits] == ["red apple pie"]


# --- Embeddings, moderation, audio --------------------------------------------------------------


def test_embeddings_come_in_batches(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    texts = [f"sentence number {i}" for i in range(10)]
    result = run(selectors.resolve("text-embedding", "openai", "text-embedding-3-small").embed(texts, batch_size=4))
    assert len(result.vectors) == 10
    calls = [r for r in fake_openai.requests if r.path.endswith("/embeddings")]
    assert [len(r.json["input"]) for r in calls] == [4, 4, 2]
    single = run(selectors.resolve("text-embedding", "openai", "text-embedding-3-small").embed([texts[7]]))
    assert single.vectors[0] == pytest.approx(result.vectors[7])
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens == 0


def test_moderation(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    model = selectors.resolve("moderation", "openai", "omni-moderation-latest")
    assert run(model.moderate("I will kill the process")).flagged is True
    assert run(model.moderate("Have a lovely day")).flagged is False


def test_speech_to_text_and_text_to_speech(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    text = run(selectors.resolve("speech2text", "openai", "whisper-1").transcribe(b"ID3fakeaudio", "hello.mp3"))
    assert isinstance(text.text, str) and text.text
    speech = run(selectors.resolve("tts", "openai", "tts-1").speak("Hello there"))
    assert speech.audio and speech.content_type == "audio/mpeg"


def test_model_type_is_enforced(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    with pytest.raises(errors.ModelNotSupported):
        selectors.resolve("rerank", "openai", "gpt-4o")
    with pytest.raises(errors.ModelNotSupported):
        run(selectors.resolve("llm", "openai", "gpt-4o").embed(["x"]))


# --- Errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "error", "code", "status"),
    [
        (Fail(401, "Incorrect API key provided: sk-te***"), errors.ProviderNotInitialized, "provider_not_initialize",
         400),
        (Fail(429, "Rate limit reached for gpt-4o-mini"), errors.RateLimited, "rate_limit_error", 429),
        (Fail(429, "You exceeded your current quota", code="insufficient_quota", type="insufficient_quota"),
         errors.ProviderQuotaExceeded, "provider_quota_exceeded", 400),
        (Fail(404, "The model `gpt-9` does not exist"), errors.ModelNotSupported, "model_currently_not_support", 400),
        (Fail(400, "Invalid value for 'temperature'"), errors.CompletionRequestError, "completion_request_error", 400),
        (Fail(500, "The server had an error"), errors.CompletionRequestError, "completion_request_error", 400),
    ],
)
def test_openai_errors_map_to_api_codes(alpha, fake_openai, settings, failure, error, code, status) -> None:  # type: ignore[no-untyped-def]
    settings.PROVIDER_MAX_RETRIES = 0
    _openai(fake_openai)
    fake_openai.script("chat", failure)
    with pytest.raises(error) as caught:
        run(selectors.resolve("llm", "openai", "gpt-4o-mini").invoke([PromptMessage("user", "hi")]))
    assert caught.value.code == code and caught.value.status == status
    assert failure.message in caught.value.message  # the provider's own words


def test_transient_errors_are_retried(alpha, fake_openai, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PROVIDER_MAX_RETRIES = 2
    _openai(fake_openai)
    fake_openai.script("chat", Fail(500, "blip"), Fail(429, "slow down"), Reply("made it"))
    assert run(selectors.resolve("llm", "openai", "gpt-4o-mini").invoke([PromptMessage("user", "hi")])).text == "made it"
    assert len([r for r in fake_openai.requests if r.path.endswith("/chat/completions")]) == 3


def test_timeouts_become_completion_request_errors(alpha, fake_openai, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PROVIDER_TIMEOUT = 0.5
    settings.PROVIDER_MAX_RETRIES = 0
    _openai(fake_openai)
    fake_openai.script("chat", Hang(3))
    with pytest.raises(errors.CompletionRequestError, match="did not answer in time"):
        run(selectors.resolve("llm", "openai", "gpt-4o-mini").invoke([PromptMessage("user", "hi")]))


@pytest.mark.parametrize(("status", "error"), [(401, errors.ProviderNotInitialized), (429, errors.RateLimited),
                                               (500, errors.CompletionRequestError)])
def test_anthropic_and_cohere_errors(alpha, fake_anthropic, fake_cohere, settings, status, error) -> None:  # type: ignore[no-untyped-def]
    settings.PROVIDER_MAX_RETRIES = 0
    services.credential_save(provider_id="anthropic", data={"api_key": KEY, "base_url": fake_anthropic.base_url})
    services.credential_save(provider_id="cohere", data={"api_key": KEY, "base_url": fake_cohere.base_url})
    fake_anthropic.script(Fail(status))
    fake_cohere.script("chat", Fail(status))
    with pytest.raises(error):
        run(selectors.resolve("llm", "anthropic", "claude-haiku-4-5").invoke([PromptMessage("user", "hi")]))
    with pytest.raises(error):
        run(selectors.resolve("llm", "cohere", "command-r-08-2024").invoke([PromptMessage("user", "hi")]))


def test_no_credentials_is_provider_not_initialize(alpha) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.ProviderNotInitialized) as caught:
        selectors.resolve("llm", "openai", "gpt-4o")
    assert caught.value.as_body()["code"] == "provider_not_initialize"


# --- Credentials: validation, masking, encryption, isolation -------------------------------------


def test_saving_validates_with_the_provider(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("models", Fail(401, "Incorrect API key provided: sk-wr***"))
    with pytest.raises(ValidationError, match="Incorrect API key provided"):
        services.credential_save(provider_id="openai", data={"api_key": "sk-wrong", "base_url": fake_openai.base_url})
    assert not ProviderCredential.objects.exists()


def test_keys_are_encrypted_at_rest_and_masked(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    credential = _openai(fake_openai)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_config::text, public_config::text FROM providers_providercredential")
        secret, public = cursor.fetchone()
        cursor.execute("SELECT string_agg(t::text, '') FROM providers_providercredential t")
        whole_row = cursor.fetchone()[0]
    assert KEY not in secret and KEY not in public and KEY not in whole_row
    assert fake_openai.base_url in public  # non-secret fields stay readable
    masked = services.credential_masked(credential)
    assert masked["api_key"] != KEY and masked["api_key"].startswith("sk-") and masked["api_key"].endswith("mnop")


def test_empty_secret_on_edit_keeps_the_stored_key(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    credential = _openai(fake_openai)
    services.credential_save(provider_id="openai", credential=credential,
                             data={"api_key": "", "organization": "org-1", "base_url": fake_openai.base_url})
    run(selectors.resolve("llm", "openai", "gpt-4o").invoke([PromptMessage("user", "hi")]))
    assert fake_openai.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert fake_openai.requests[-1].headers.get("openai-organization") == "org-1"


def test_ciphertext_does_not_decrypt_in_another_workspace(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        secret = _openai(fake_openai).secret_config
    with schema_context(world.beta.schema_name):
        ProviderCredential.objects.create(provider="openai", secret_config=secret, public_config={})
        with pytest.raises(errors.ProviderNotInitialized, match="cannot be decrypted"):
            selectors.resolve("llm", "openai", "gpt-4o")


def test_a_credential_of_alpha_is_never_used_for_beta(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        _openai(fake_openai)
        assert selectors.available_models("llm")
    with schema_context(world.beta.schema_name):
        assert not ProviderCredential.objects.exists()
        assert [m.provider for m in selectors.available_models("text-embedding")] == ["local"]
        with pytest.raises(errors.ProviderNotInitialized):
            selectors.resolve("llm", "openai", "gpt-4o")


def test_key_rotation_reencrypts_everything(world, fake_openai, settings) -> None:  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    with schema_context(world.alpha.schema_name):
        before = _openai(fake_openai).secret_config
    settings.ENCRYPTION_KEYS = ["a-brand-new-master-key", *settings.ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.ENCRYPTION_KEYS = ["a-brand-new-master-key"]  # the old key is gone now
    with schema_context(world.alpha.schema_name):
        after = ProviderCredential.objects.get().secret_config
        assert after != before
        assert run(selectors.resolve("llm", "openai", "gpt-4o").invoke([PromptMessage("user", "hi")])).text


# --- Defaults, prices, commands, pooling ---------------------------------------------------------


def test_default_models(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    services.default_model_set(model_type="llm", provider_id="openai", model="gpt-4o-mini")
    services.default_model_set(model_type="text-embedding", provider_id="local", model="all-MiniLM-L6-v2")
    assert selectors.resolve_default("llm").model == "gpt-4o-mini"
    assert selectors.resolve_default(ModelType.TEXT_EMBEDDING).provider == "local"
    with pytest.raises(ValidationError):
        services.default_model_set(model_type="llm", provider_id="anthropic", model="claude-sonnet-4-6")
    with pytest.raises(errors.ProviderNotInitialized):
        selectors.resolve_default("rerank")


def test_workspace_price_overrides_the_catalog(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _openai(fake_openai)
    services.price_set(provider_id="openai", model="gpt-4o-mini", input_price="1", output_price="2",
                       price_unit="0.001", currency="eur")
    fake_openai.script("chat", Reply("ok", usage=(1000, 500)))
    usage = run(selectors.resolve("llm", "openai", "gpt-4o-mini").invoke([PromptMessage("user", "hi")])).usage
    assert (usage.prompt_price, usage.completion_price, usage.total_price, usage.currency) == (
        Decimal("1.0000000"), Decimal("1.0000000"), Decimal("2.0000000"), "EUR")
    with pytest.raises(ValidationError):
        services.price_set(provider_id="openai", model="gpt-4o-mini", input_price="-1", output_price="0")


def test_management_commands(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    fake_openai.serve("qwen2")
    call_command("set_provider", "--workspace", "alpha", "--provider", "openai_api_compatible",
                 "--credentials", json.dumps({"base_url": fake_openai.base_url}), "--model", "qwen2",
                 "--model-type", "llm", stdout=out)
    call_command("set_default_model", "--workspace", "alpha", "--type", "llm", "--provider",
                 "openai_api_compatible", "--model", "qwen2", stdout=out)
    assert "saved openai_api_compatible:qwen2 in alpha" in out.getvalue()
    with schema_context("ws_alpha"):
        assert selectors.resolve_default("llm").model == "qwen2"


def test_one_pooled_client_per_credential(alpha, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from apps.providers.runtime import clients

    _openai(fake_openai)
    model = selectors.resolve("llm", "openai", "gpt-4o-mini")

    async def many():  # type: ignore[no-untyped-def]
        results = await asyncio.gather(*(model.invoke([PromptMessage("user", f"q{i}")]) for i in range(8)))
        return results, clients.pool_size()

    results, pooled = run(many())
    assert len(results) == 8 and pooled == 1
