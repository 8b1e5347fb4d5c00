"""Apps answer with knowledge as context (PR-04): two datasets attached to a chat app, multi-path
(KN-19) and N-to-1 (KN-18, the fake model names the dataset through a tool call), the context in
the prompt, `retriever_resources` in the blocking body, in message_end and stored with the message
(/v1/messages), completion apps' dataset_query_variable, and no Knowledge query for apps without
datasets. Embeddings: the built-in local model; the LLM: the fake OpenAI server."""

import asyncio
import dataclasses
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import ThreadSensitiveContext
from django.db import connection
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.applications import dsl, generation
from apps.applications import services as apps
from apps.applications.models import App
from apps.datasets import context
from apps.datasets.models import Dataset
from apps.logs.models import Message, Source
from apps.providers import services as providers
from tests.datasets.conftest import add_text, make_dataset
from tests.fakes.base import FakeToolCall, Reply, rank_documents

pytestmark = pytest.mark.django_db(transaction=True)

RESOURCE_KEYS = {
    "position",
    "dataset_id",
    "dataset_name",
    "document_id",
    "document_name",
    "data_source_type",
    "segment_id",
    "retriever_from",
    "score",
    "hit_count",
    "word_count",
    "segment_position",
    "index_node_hash",
    "content",
    "page",
    "doc_metadata",
    "title",
    "files",
    "summary",
}
RULE = {
    "mode": "custom",
    "rules": {
        "pre_processing_rules": [],
        "segmentation": {"separator": "\n\n", "max_tokens": 100, "chunk_overlap": 0},
    },
}


WEIGHTS = {"weight_type": "customized", "vector_setting": {"vector_weight": 0.7},
           "keyword_setting": {"keyword_weight": 0.3}}


@dataclasses.dataclass
class Setup:
    pets: Dataset
    hr: Dataset
    model: dict[str, Any]


def _setup(world, fake) -> Setup:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        providers.credential_save(
            provider_id="openai_api_compatible",
            validate=False,
            data={
                "base_url": fake.base_url,
                "model": "fake-chat",
                "model_type": "llm",
                "function_calling": True,
            },
        )
        pets = make_dataset(
            world, name="Pets", description="Useful only for questions about the office pets."
        )
        add_text(
            world,
            pets,
            "Our office cat is called Miso.\n\nThe office dog is called Rex.",
            name="pets.txt",
            process_rule=RULE,
        )
        hr = make_dataset(world, name="HR", description="Useful only for questions about leave and expenses.")
        add_text(
            world,
            hr,
            "Employees get 25 days of paid leave.\n\nExpenses are refunded within 30 days.",
            name="hr.txt",
            process_rule=RULE,
        )
    model = {
        "provider": "openai_api_compatible",
        "name": "fake-chat",
        "mode": "chat",
        "completion_params": {},
    }
    return Setup(pets, hr, model)


def _app(
    world,
    setup: Setup,
    *,
    mode: str = "chat",
    retrieval: str = "multiple",
    cite: bool = True,  # type: ignore[no-untyped-def]
    **config: Any,
) -> tuple[App, str]:
    with schema_context(world.alpha.schema_name):
        app = apps.app_create(
            name=f"Helper {uuid.uuid4().hex[:6]}",
            mode=mode,
            config={
                "model": setup.model,
                "pre_prompt": "Answer from what you know.",
                "retriever_resource": {"enabled": cite},
                # Multi-path names its rerank step (PR-06): the weighted score of hybrid search.
                "dataset_configs": context.config_for(
                    [str(setup.pets.pk), str(setup.hr.pk)], mode=retrieval, top_k=4,
                    reranking_mode="weighted_score", weights=WEIGHTS,
                ),
                **config,
            },
        )
        apps.app_publish(app=app)
        _, key = apps.api_key_create(app=app)
    return app, key


async def _post(path: str, key: str, body: dict):  # type: ignore[no-untyped-def]
    async with ThreadSensitiveContext():
        return await AsyncClient().post(
            path,
            data=json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )


async def _get(path: str, key: str, **query: str):  # type: ignore[no-untyped-def]
    async with ThreadSensitiveContext():
        return await AsyncClient().get(path, query, headers={"Authorization": f"Bearer {key}"})


def _system(request) -> str:  # type: ignore[no-untyped-def]
    return request.json["messages"][0]["content"]


@pytest.mark.asyncio
async def test_multi_path_answers_with_context_and_retriever_resources(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    setup = await asyncio.to_thread(_setup, world_tx, fake_openai)
    _, key = await asyncio.to_thread(_app, world_tx, setup)
    fake_openai.script("chat", Reply("Miso, and 25 days."))
    query = {"inputs": {}, "query": "What is the cat called, and how many days of paid leave?", "user": "u-1"}
    response = await _post("/v1/chat-messages", key, query)
    assert response.status_code == 200, response.content
    body = response.json()
    resources = body["metadata"]["retriever_resources"]
    assert {r["dataset_name"] for r in resources} == {"Pets", "HR"}  # merged from both datasets
    assert [r["position"] for r in resources] == list(range(1, len(resources) + 1)) and len(resources) == 2
    for resource in resources:
        assert set(resource) == RESOURCE_KEYS and resource["retriever_from"] == "api"
        assert resource["dataset_id"] in (str(setup.pets.pk), str(setup.hr.pk)) and 0 < resource["score"] <= 1
        assert resource["document_name"] in ("pets.txt", "hr.txt") and resource["content"]
    assert resources == sorted(resources, key=lambda r: -r["score"])
    sent = _system(fake_openai.requests_to("chat")[-1])
    assert "<context>" in sent and "Miso" in sent and "25 days of paid leave" in sent
    assert len(fake_openai.requests_to("chat")) == 1  # multi-path asks the model nothing extra

    history_rows = await asyncio.to_thread(_app_queries, world_tx)
    assert sorted(history_rows) == sorted([("Pets", query["query"]), ("HR", query["query"])])
    stored = await asyncio.to_thread(_stored, world_tx, body["message_id"])
    assert stored.retriever_resources == resources
    assert any("Miso" in m["text"] for m in stored.prompt_log)
    history = (await _get("/v1/messages", key, conversation_id=body["conversation_id"], user="u-1")).json()
    assert history["data"][0]["retriever_resources"] == resources

    fake_openai.script("chat", Reply("Rex."))
    stream = await _post(
        "/v1/chat-messages", key, {**query, "query": "What is the dog called?", "response_mode": "streaming"}
    )
    raw = b"".join([chunk async for chunk in stream.streaming_content]).decode()
    events = [json.loads(block[6:]) for block in raw.split("\n\n") if block.startswith("data: ")]
    end = events[-1]
    assert end["event"] == "message_end"
    assert end["metadata"]["retriever_resources"][0]["dataset_name"] == "Pets"
    assert "Rex" in end["metadata"]["retriever_resources"][0]["content"]


def _app_queries(world) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    from apps.datasets.models import HitTestQuery

    with schema_context(world.alpha.schema_name):
        return list(HitTestQuery.objects.filter(source="app").values_list("dataset__name", "content"))


def _stored(world, message_id: str) -> Message:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        return Message.objects.get(pk=message_id)


@pytest.mark.asyncio
async def test_n_to_1_searches_only_the_dataset_the_model_names(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    setup = await asyncio.to_thread(_setup, world_tx, fake_openai)
    _, key = await asyncio.to_thread(_app, world_tx, setup, retrieval="single")
    query = {"inputs": {}, "query": "How many days do I get?", "user": "u-1"}
    for chosen, expected, absent in (
        (setup.hr, "25 days of paid leave", "Miso"),
        (setup.pets, "Miso", "paid leave"),
    ):
        fake_openai.script(
            "chat",
            Reply(tool_calls=[FakeToolCall(f"dataset_{chosen.pk.hex}", {"query": "days"})]),
            Reply("Here you go."),
        )
        response = await _post("/v1/chat-messages", key, query)
        assert response.status_code == 200, response.content
        resources = response.json()["metadata"]["retriever_resources"]
        assert resources and {r["dataset_id"] for r in resources} == {str(chosen.pk)}
        router, answer = fake_openai.requests_to("chat")[-2:]
        tools = {t["function"]["name"]: t["function"]["description"] for t in router.json["tools"]}
        assert tools == {
            f"dataset_{setup.pets.pk.hex}": setup.pets.description,
            f"dataset_{setup.hr.pk.hex}": setup.hr.description,
        }
        assert router.json["messages"][-1]["content"] == "How many days do I get?"
        assert expected in _system(answer) and absent not in _system(answer)

    fake_openai.script("chat", Reply("No tool for this."), Reply("I do not know."))
    response = await _post("/v1/chat-messages", key, {**query, "query": "What is the weather?"})
    assert response.json()["metadata"]["retriever_resources"] == []
    assert "<context>" not in _system(fake_openai.requests_to("chat")[-1])


@pytest.mark.asyncio
async def test_completion_app_searches_its_query_variable_and_citations_can_be_off(
    world_tx, fake_openai
) -> None:  # type: ignore[no-untyped-def]
    setup = await asyncio.to_thread(_setup, world_tx, fake_openai)
    form = [{"paragraph": {"variable": "topic", "label": "Topic", "required": True}}]
    _, key = await asyncio.to_thread(
        _app,
        world_tx,
        setup,
        mode="completion",
        cite=False,
        user_input_form=form,
        dataset_query_variable="topic",
        pre_prompt="Write about {{topic}}.",
    )
    fake_openai.script("chat", Reply("An essay."))
    response = await _post(
        "/v1/completion-messages", key, {"inputs": {"topic": "expense refunds"}, "user": "u"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["metadata"]["retriever_resources"] == []  # the citations feature is off
    assert "refunded within 30 days" in _system(fake_openai.requests_to("chat")[-1])


@pytest.mark.asyncio
async def test_expert_mode_fills_the_context_block(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    setup = await asyncio.to_thread(_setup, world_tx, fake_openai)
    _, key = await asyncio.to_thread(
        _app,
        world_tx,
        setup,
        prompt_type="advanced",
        chat_prompt_config={"prompt": [{"role": "system", "text": "Facts: {{#context#}} End."}]},
    )
    fake_openai.script("chat", Reply("Miso."))
    await _post("/v1/chat-messages", key, {"inputs": {}, "query": "the cat's name", "user": "u"})
    sent = _system(fake_openai.requests_to("chat")[-1])
    assert sent.startswith("Facts: ") and "Miso" in sent and sent.endswith(" End.")


def test_apps_without_datasets_run_no_knowledge_query(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    setup = _setup(world_tx, fake_openai)
    with schema_context(world_tx.alpha.schema_name):
        plain = apps.app_create(name="Plain", mode="chat", config={"model": setup.model})
        with CaptureQueriesContext(connection) as queries:
            prepared = generation.prepare(
                tenant=world_tx.alpha,
                app=plain,
                query="hi",
                inputs={},
                end_user=None,
                source=Source.DEBUGGER,
                account_id=world_tx.owner.user_id,
                config=plain.draft_config,
            )
        assert prepared.retriever_resources == []
        assert not [q["sql"] for q in queries.captured_queries if "datasets_" in q["sql"]]


def test_dsl_export_and_import_keep_the_datasets(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    setup = _setup(world_tx, fake_openai)
    app, _ = _app(world_tx, setup, retrieval="single")
    with schema_context(world_tx.alpha.schema_name):
        exported = dsl.export_app(App.objects.get(pk=app.pk))
        result = dsl.import_app(exported, actor_id=world_tx.owner.user_id)
        assert result.ok, result.error
        imported = result.app
        configs = imported.draft_config["dataset_configs"]
        assert configs["retrieval_model"] == "single"
        assert context.dataset_ids(imported.draft_config) == [str(setup.pets.pk), str(setup.hr.pk)]


@pytest.mark.asyncio
async def test_multi_path_merges_both_datasets_then_reranks(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    setup = await asyncio.to_thread(_setup, world_tx, fake_openai)

    def rerank_model() -> None:
        with schema_context(world_tx.alpha.schema_name):
            providers.credential_save(
                provider_id="openai_api_compatible",
                validate=False,
                data={"base_url": fake_openai.base_url, "model": "fake-rerank", "model_type": "rerank"},
            )

    await asyncio.to_thread(rerank_model)
    configs = context.config_for(
        [str(setup.pets.pk), str(setup.hr.pk)],
        mode="multiple",
        top_k=2,
        reranking_model={
            "reranking_provider_name": "openai_api_compatible",
            "reranking_model_name": "fake-rerank",
        },
    )
    _, key = await asyncio.to_thread(_app, world_tx, setup, dataset_configs=configs)
    fake_openai.script("chat", Reply("Rex."))
    response = await _post(
        "/v1/chat-messages", key, {"inputs": {}, "query": "office dog called", "user": "u"}
    )
    assert response.status_code == 200, response.content
    [rerank] = fake_openai.requests_to("rerank")
    documents = [d if isinstance(d, str) else d["text"] for d in rerank.json["documents"]]
    # Candidates of both datasets went to the rerank model together.
    assert any("Miso" in d for d in documents) and any("paid leave" in d for d in documents)
    assert rerank.json["query"] == "office dog called"
    resources = response.json()["metadata"]["retriever_resources"]
    # The rerank model's order and scores (word overlap in the fake): the dog segment first.
    best, score = rank_documents("office dog called", documents, None)[0]
    assert (
        "Rex" in documents[best]
        and "Rex" in resources[0]["content"]
        and resources[0]["dataset_name"] == "Pets"
    )
    assert resources[0]["score"] == round(score, 6)


@pytest.mark.asyncio
async def test_n_to_1_without_function_calling_asks_in_plain_text(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    setup = await asyncio.to_thread(_setup, world_tx, fake_openai)

    def plain_model() -> None:  # the same model, set up without function calling
        with schema_context(world_tx.alpha.schema_name):
            providers.credential_save(
                provider_id="openai_api_compatible",
                validate=False,
                data={"base_url": fake_openai.base_url, "model": "fake-chat", "model_type": "llm"},
            )

    await asyncio.to_thread(plain_model)
    _, key = await asyncio.to_thread(_app, world_tx, setup, retrieval="single")
    fake_openai.script("chat", Reply(f"dataset_{setup.pets.pk.hex}"), Reply("Miso."))
    response = await _post("/v1/chat-messages", key, {"inputs": {}, "query": "Who is the cat?", "user": "u"})
    assert response.status_code == 200, response.content
    router, answer = fake_openai.requests_to("chat")[-2:]
    assert "tools" not in router.json and setup.pets.description in _system(router)
    resources = response.json()["metadata"]["retriever_resources"]
    assert {r["dataset_name"] for r in resources} == {"Pets"} and "Miso" in _system(answer)


@pytest.mark.asyncio
async def test_n_to_1_routing_usage_counts_in_message_end_and_the_message(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """The router's model call (which dataset to search) is part of the turn's usage and price."""
    setup = await asyncio.to_thread(_setup, world_tx, fake_openai)
    _, key = await asyncio.to_thread(_app, world_tx, setup, retrieval="single")

    def price() -> None:
        with schema_context(world_tx.alpha.schema_name):
            providers.price_set(provider_id="openai_api_compatible", model="fake-chat", input_price="1",
                                output_price="2", price_unit="0.001")

    await asyncio.to_thread(price)
    fake_openai.script(
        "chat",
        Reply(tool_calls=[FakeToolCall(f"dataset_{setup.hr.pk.hex}", {"query": "days"})], usage=(40, 5)),
        Reply("25 days.", usage=(100, 3)),
    )
    stream = await _post("/v1/chat-messages", key, {"inputs": {}, "query": "How many days do I get?",
                                                    "user": "u-1", "response_mode": "streaming"})
    raw = b"".join([chunk async for chunk in stream.streaming_content]).decode()
    end = [json.loads(b[6:]) for b in raw.split("\n\n") if b.startswith("data: ")][-1]
    usage = end["metadata"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (140, 8, 148)
    assert Decimal(usage["total_price"]) == Decimal("0.156")
    stored = await asyncio.to_thread(_stored, world_tx, end["message_id"])
    assert (stored.message_tokens, stored.answer_tokens, stored.total_price) == (140, 8, Decimal("0.156"))


SEGMENTS = ("Our office cat is called Miso.", "The office dog is called Rex.",
            "Employees get 25 days of paid leave.", "Expenses are refunded within 30 days.")


def _sent_tokens(request) -> int:  # type: ignore[no-untyped-def]
    """Prompt tokens of a request the fake server received, counted as the platform counts them."""
    from apps.providers.runtime.entities import PromptMessage
    from apps.providers.runtime.tokens import count_message_tokens

    messages = [PromptMessage(m["role"], m["content"]) for m in request.json["messages"]]
    return count_message_tokens(messages, provider="openai_api_compatible", model="fake-chat")[0]


@pytest.mark.asyncio
async def test_top_k_shrinks_to_the_models_context_window(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """KN-11: the context keeps only as many segments as the model's context length (4,096 for
    this model) leaves room for, after the completion's max_tokens; the least relevant go first."""
    setup = await asyncio.to_thread(_setup, world_tx, fake_openai)
    query = {"inputs": {}, "query": "What is the cat called, and how many days of paid leave?", "user": "u-1"}

    async def ask(max_tokens: int | None) -> tuple[str, list[dict]]:
        model = {**setup.model, "completion_params": {"max_tokens": max_tokens} if max_tokens else {}}
        _, key = await asyncio.to_thread(_app, world_tx, setup, model=model)
        fake_openai.script("chat", Reply("Miso."))
        response = await _post("/v1/chat-messages", key, query)
        assert response.status_code == 200, response.content
        return _system(fake_openai.requests_to("chat")[-1]), response.json()["metadata"]["retriever_resources"]

    full_prompt, full_resources = await ask(None)
    full = [s for s in SEGMENTS if s in full_prompt]
    assert len(full) >= 2 and full_resources
    # One token too many for everything: exactly the least relevant segment is left out.
    window_tokens = _sent_tokens(fake_openai.requests_to("chat")[-1])
    trimmed_prompt, trimmed_resources = await ask(4096 - window_tokens + 1)
    kept = [s for s in SEGMENTS if s in trimmed_prompt]
    assert len(kept) == len(full) - 1 and set(kept) < set(full)
    assert full_resources[0]["content"] in trimmed_prompt
    assert trimmed_resources[0]["segment_id"] == full_resources[0]["segment_id"]
    assert _sent_tokens(fake_openai.requests_to("chat")[-1]) + 4096 - window_tokens + 1 <= 4096
    # No room at all: the turn still answers, without context or citations.
    bare_prompt, bare_resources = await ask(4096)
    assert not any(s in bare_prompt for s in SEGMENTS) and bare_resources == []
