"""Token counting: exact OpenAI counts, the approximation for other models, and chat overhead."""

from pathlib import Path

import pytest

from apps.providers.runtime import tokens
from apps.providers.runtime.entities import ImagePart, PromptMessage, ToolCall
from apps.providers.runtime.tokens import approximate_tokens, count_message_tokens, count_tokens

GPT4 = {"provider": "openai", "model": "gpt-4"}  # cl100k_base
GPT4O = {"provider": "openai", "model": "gpt-4o"}  # o200k_base
CLAUDE = {"provider": "anthropic", "model": "claude-sonnet-4"}

# OpenAI cookbook, "How to count tokens with tiktoken": these messages are 129 prompt tokens for
# gpt-3.5-turbo / gpt-4 and 124 for gpt-4o / gpt-4o-mini, as counted by the OpenAI API itself.
COOKBOOK_MESSAGES = [
    PromptMessage("system", "You are a helpful, pattern-following assistant that translates corporate "
                  "jargon into plain English."),
    PromptMessage("system", "New synergies will help drive top-line growth.", name="example_user"),
    PromptMessage("system", "Things working well together will increase revenue.",
                  name="example_assistant"),
    PromptMessage("system", "Let's circle back when we have more bandwidth to touch base on opportunities "
                  "for increased leverage.", name="example_user"),
    PromptMessage("system", "Let's talk later when we're less busy about how to do better.",
                  name="example_assistant"),
    PromptMessage("user", "This late pivot means we don't have time to boil the ocean for the client "
                  "deliverable."),
]
CHINESE = "我们的平台支持多租户的大语言模型应用，包括知识库、工作流和智能体。" * 20


@pytest.mark.parametrize(
    ("text", "cl100k", "o200k"),
    [
        ("hello world", 2, 2),
        ("tiktoken is great!", 6, 6),  # cl100k ids [83, 1609, 5963, 374, 2294, 0] (tiktoken docs)
        ("antidisestablishmentarianism", 6, 6),
        ("2 + 2 = 4", 7, 7),
        ("お誕生日おめでとう", 9, 8),
        ("", 0, 0),
    ],
)
def test_openai_counts_are_exact(text, cl100k, o200k):
    assert count_tokens(text, **GPT4) == (cl100k, True)
    assert count_tokens(text, **GPT4O) == (o200k, True)


def test_cookbook_messages_match_the_openai_api():
    assert count_message_tokens(COOKBOOK_MESSAGES, provider="openai", model="gpt-3.5-turbo") == (129, True)
    assert count_message_tokens(COOKBOOK_MESSAGES, **GPT4) == (129, True)
    assert count_message_tokens(COOKBOOK_MESSAGES, **GPT4O) == (124, True)
    assert count_message_tokens(COOKBOOK_MESSAGES, provider="openai", model="gpt-4o-mini") == (124, True)


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-4o-mini-2024-07-18", ("o200k_base", True)),
        ("openai", "gpt-4.1-nano", ("o200k_base", True)),
        ("openai", "gpt-5-mini", ("o200k_base", True)),
        ("openai", "o3-mini", ("o200k_base", True)),
        ("openai", "o1", ("o200k_base", True)),
        ("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123", ("o200k_base", True)),
        ("openai", "gpt-4-turbo", ("cl100k_base", True)),
        ("openai", "gpt-3.5-turbo-0125", ("cl100k_base", True)),
        ("openai", "text-embedding-3-small", ("cl100k_base", True)),
        ("openai", "text-embedding-ada-002", ("cl100k_base", True)),
        ("azure_openai", "gpt-35-turbo", ("cl100k_base", True)),
        ("azure_openai", "GPT-4o", ("o200k_base", True)),
        # an Azure deployment name or a model newer than the table: o200k, but a guess
        ("azure_openai", "prod-chat", ("o200k_base", False)),
        ("openai", "omega-9", ("o200k_base", False)),
        ("openai_api_compatible", "gpt-4o", ("o200k_base", True)),
        ("openai_api_compatible", "openai/gpt-4.1", ("o200k_base", True)),
        ("openai_api_compatible", "llama3.1:8b", (None, False)),
        ("openai_api_compatible", "qwen2.5-omni", (None, False)),
        ("anthropic", "claude-sonnet-4", (None, False)),
        ("cohere", "command-r", (None, False)),
    ],
)
def test_models_map_to_their_encoding(provider, model, expected):
    assert tokens.encoding_for(provider=provider, model=model) == expected


def test_other_models_get_an_inexact_approximation():
    assert count_tokens("hello world, how are you?", **CLAUDE) == (7, False)  # 25 chars / 4
    assert count_tokens("", **CLAUDE) == (0, False)


def test_cjk_is_approximated_as_one_token_per_character():
    assert approximate_tokens("お誕生日おめでとう") == 9
    assert approximate_tokens("안녕하세요") == 5
    # between what o200k and cl100k spend on the same text
    assert 0.8 * count_tokens(CHINESE, **GPT4O)[0] < approximate_tokens(CHINESE)
    assert approximate_tokens(CHINESE) < 1.2 * count_tokens(CHINESE, **GPT4)[0]


@pytest.mark.parametrize(
    "text",
    [
        (Path(__file__).resolve().parents[2] / "README.md").read_text(),
        "The quick brown fox jumps over the lazy dog, again and again. " * 50,
        "Größere Änderungen müssen überprüft werden, bevor sie veröffentlicht werden. " * 50,
    ],
)
def test_latin_text_is_approximated_within_a_quarter_of_the_exact_count(text):
    exact = count_tokens(text, **GPT4)[0]

    assert 0.75 * exact < approximate_tokens(text) < 1.25 * exact


def test_chat_overhead_per_message_name_and_reply():
    hi = [PromptMessage("user", "hi")]  # "user" and "hi" are one token each

    assert count_message_tokens(hi, **GPT4O) == (3 + 1 + 1 + 3, True)
    named = [PromptMessage("user", "hi", name="bob")]
    assert count_message_tokens(named, **GPT4O) == (3 + 1 + 1 + 1 + 1 + 3, True)
    assert count_message_tokens(hi * 3, **GPT4O) == (3 * 5 + 3, True)
    assert count_message_tokens([], **GPT4O) == (3, True)


def test_approximated_messages_get_the_same_overhead():
    messages = [PromptMessage("system", "Be brief."), PromptMessage("user", "Hello there!")]

    count, exact = count_message_tokens(messages, **CLAUDE)

    assert exact is False
    assert count == 3 + (3 + 2 + 3) + (3 + 1 + 3)  # "system" 2, "Be brief." 3, "user" 1, ...


def test_images_and_tool_calls_make_the_count_inexact():
    text_only, _ = count_message_tokens([PromptMessage("user", ["Describe this"])], **GPT4O)
    with_image = [PromptMessage("user", ["Describe this", ImagePart("https://example.com/a.png")])]
    call = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')
    with_tools = [
        PromptMessage("assistant", tool_calls=[call]),
        PromptMessage("tool", "sunny", tool_call_id="call_1"),
    ]

    assert count_message_tokens(with_image, **GPT4O) == (text_only + tokens.IMAGE_TOKENS, False)
    count, exact = count_message_tokens(with_tools, **GPT4O)
    assert exact is False
    assert count > 2 * tokens.TOKENS_PER_MESSAGE + tokens.REPLY_PRIMING_TOKENS


def test_special_token_text_counts_as_ordinary_text():
    count, exact = count_tokens("hello <|endoftext|>", **GPT4O)

    assert exact is True
    assert count > 2


def test_broken_unicode_does_not_raise():
    assert count_tokens("bad \ud800 surrogate", **GPT4O)[0] > 0
    assert approximate_tokens("bad \ud800 surrogate") > 0
