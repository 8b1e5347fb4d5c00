"""The built-in embedding model: meaning, shape, batching, order, edge cases, and the async API."""

import asyncio

import numpy as np
import pytest

from apps.providers.runtime.local_embedding import DIMENSIONS, LocalEmbeddingModel

# (anchor, paraphrase, unrelated)
TRIPLES = [
    (
        "How do I reset my password?",
        "I forgot my password, how can I change it?",
        "The weather in Paris is sunny today",
    ),
    (
        "The cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "Quarterly revenue grew by twelve percent.",
    ),
    (
        "Where can I download my invoice?",
        "How do I get a copy of my bill?",
        "The train to Berlin leaves at noon.",
    ),
    (
        "The meeting has been moved to Friday afternoon.",
        "We rescheduled the meeting for Friday after lunch.",
        "Photosynthesis converts light into chemical energy.",
    ),
]

MIXED = [
    "Short.",
    "A somewhat longer sentence about vector search in Postgres with pgvector and HNSW indexes.",
    "",
    "Hi",
    " ".join(["Long text that goes past the truncation limit of the model."] * 60),
    "Medium length sentence about tenants and workspaces.",
    "Hi",
]


@pytest.fixture(scope="module")
def model() -> LocalEmbeddingModel:
    return LocalEmbeddingModel()


def _cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize(("anchor", "paraphrase", "unrelated"), TRIPLES)
def test_paraphrases_are_closer_than_unrelated_sentences(model, anchor, paraphrase, unrelated):
    a, p, u = model.embed_sync([anchor, paraphrase, unrelated])

    assert _cosine(a, p) > _cosine(a, u) + 0.2


def test_vectors_have_384_dimensions_and_unit_norm(model):
    vectors = model.embed_sync(MIXED)

    assert len(vectors) == len(MIXED)
    for vector in vectors:
        assert len(vector) == DIMENSIONS == 384
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_batches_equal_one_by_one_and_keep_the_order(model):
    # batch_size=3 splits the length-sorted texts over several padded batches
    batched = np.array(model.embed_sync(MIXED, batch_size=3))
    one_by_one = np.array([model.embed_sync([text])[0] for text in MIXED])

    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_order_is_preserved_when_lengths_are_mixed(model):
    texts = ["Hi", MIXED[4], "Hi", MIXED[1]]

    vectors = model.embed_sync(texts, batch_size=2)

    # equal texts far apart in the input get the same vector, different texts do not
    assert vectors[0] == pytest.approx(vectors[2], abs=1e-6)
    assert _cosine(vectors[0], vectors[1]) < 0.9
    assert vectors[3] == pytest.approx(model.embed_sync([MIXED[1]])[0], abs=1e-5)


def test_empty_input_and_empty_strings(model):
    assert model.embed_sync([]) == []
    assert model.count_tokens([]) == 0

    (vector,) = model.embed_sync([""])

    assert len(vector) == DIMENSIONS
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert model.count_tokens([""]) == 0


def test_token_count_is_word_pieces_after_truncation(model):
    assert model.count_tokens(["hello world"]) == 2
    assert model.count_tokens(["hello world", "Hi"]) == 3
    # 256 word-pieces including [CLS] and [SEP]
    assert model.count_tokens([MIXED[4]]) == 254


def test_text_past_the_truncation_limit_is_cut(model):
    long = MIXED[4]

    a, b = model.embed_sync([long, long + " And a tail the model never reads."])

    assert a == pytest.approx(b, abs=1e-6)


@pytest.mark.asyncio
async def test_async_embed_does_not_block_the_event_loop(model):
    """The loop keeps turning while a batch embeds: counted in turns, not in seconds (the gaps
    between turns are measured in bench/local_embedding.py)."""
    texts = [f"Sentence number {i} about knowledge bases and retrieval." for i in range(512)]
    model.embed_sync(texts[:1])  # load the session first
    embedding = asyncio.create_task(model.embed(texts))
    turns = 0
    while not embedding.done():  # a blocking embed would hold the loop: done at the first turn
        turns += 1
        await asyncio.sleep(0)
    vectors = await embedding

    assert len(vectors) == len(texts)
    assert vectors[7] == pytest.approx(model.embed_sync([texts[7]])[0], abs=1e-5)
    assert turns >= 3


@pytest.mark.asyncio
async def test_async_embed_of_nothing(model):
    assert await model.embed([]) == []
