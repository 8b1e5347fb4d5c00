"""PR-06 / KN-19: an app's multi-path retrieval over its knowledge bases needs a rerank step (a
rerank model the workspace can call, or the weighted score with valid weights); saving such a
draft without one is refused with a translated reason, N-to-1 needs none, publishing an old draft
without one is refused, and a DSL file from before the rule still imports (reported) and answers."""

import asyncio

import pytest
from django_tenants.utils import schema_context

from apps.applications import dsl
from apps.applications import services as apps
from apps.applications.models import App
from apps.datasets import context
from tests.applications.test_context import _post
from tests.applications.test_context import _setup as _indexed_setup
from tests.applications.test_orchestrate import _app, _basic, _save, _setup, _url
from tests.conftest import client_for
from tests.datasets.conftest import fake_models, make_dataset
from tests.fakes.base import Reply

WEIGHTS = {"weight_type": "customized", "vector_setting": {"vector_weight": 0.7},
           "keyword_setting": {"keyword_weight": 0.3}}
FAKE_RERANK = {"reranking_provider_name": "openai_api_compatible", "reranking_model_name": "fake-rerank"}
NEEDS_STEP = "Multi-path retrieval needs a rerank step"
REFUSED = "or switch to N-to-1"  # the refusal's words, not the Context card's help line


def _ids(world) -> list[str]:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        return [str(make_dataset(world, name=name, technique="economy", permission="all_team_members").pk)
                for name in ("Pets", "HR")]


def _save_json(world, app, configs, **headers):  # type: ignore[no-untyped-def]
    body = _basic(dataset_configs=configs, speech_to_text={"enabled": False},
                  file_upload={"image": {"enabled": False}})
    return _save(client_for(world.editor.user), app.pk, body, HTTP_ACCEPT="application/json", **headers)


def test_multi_path_without_a_rerank_step_is_refused(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    ids = _ids(world)
    refused = _save_json(world, app, context.config_for(ids, mode="multiple"))
    assert refused.status_code == 400
    assert refused.json()["ok"] is False
    assert any(NEEDS_STEP in e for e in refused.json()["errors"])
    assert context.dataset_ids(_app(app.pk).draft_config) == []  # nothing saved

    # One dataset is still multi-path; the reason comes in the member's language.
    for lang, text in (("zh-hans", "多路召回需要一个重排序步骤"), ("ja", "マルチパス検索にはリランク手順")):
        answer = _save_json(world, app, context.config_for(ids[:1], mode="multiple"),
                            HTTP_ACCEPT_LANGUAGE=lang)
        assert answer.status_code == 400 and any(text in e for e in answer.json()["errors"]), lang

    # The form post (no JSON) renders the page again with the reason.
    page = _save(client_for(world.editor.user), app.pk,
                 _basic(dataset_configs=context.config_for(ids, mode="multiple"),
                        speech_to_text={"enabled": False}, file_upload={"image": {"enabled": False}}))
    assert page.status_code == 400 and REFUSED in page.content.decode()


def test_reranking_enabled_without_a_model_is_no_step(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    ids = _ids(world)
    legacy = {**context.config_for(ids, mode="multiple"), "reranking_enabled": True, "reranking_mode": None}
    refused = _save_json(world, app, legacy)
    assert refused.status_code == 400 and any(NEEDS_STEP in e for e in refused.json()["errors"])


def test_bad_weights_give_a_translated_reason(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    ids = _ids(world)
    bad = context.config_for(ids, mode="multiple", reranking_mode="weighted_score",
                             weights={"vector_setting": {"vector_weight": 1.5}})
    for lang, text in (("en", "add up to 1"), ("zh-hans", "两者之和为 1"), ("ja", "両者の合計は 1")):
        refused = _save_json(world, app, bad, HTTP_ACCEPT_LANGUAGE=lang)
        assert refused.status_code == 400 and len(refused.json()["errors"]) == 1, refused.content
        assert text in refused.json()["errors"][0], lang


def test_an_unusable_rerank_model_gives_one_reason(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    ids = _ids(world)
    refused = _save_json(world, app, context.config_for(ids, mode="multiple", reranking_model=FAKE_RERANK))
    assert refused.status_code == 400
    assert refused.json()["errors"] == ["The rerank model fake-rerank is not available in this workspace."]


def test_n_to_1_needs_no_step_and_a_named_step_saves(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    ids = _ids(world)
    single = _save_json(world, app, context.config_for(ids, mode="single"))
    assert single.status_code == 200 and single.json()["ok"], single.content
    assert _app(app.pk).draft_config["dataset_configs"]["retrieval_model"] == "single"

    weighted = _save_json(world, app, context.config_for(ids, mode="multiple",
                                                         reranking_mode="weighted_score", weights=WEIGHTS))
    assert weighted.status_code == 200 and weighted.json()["ok"], weighted.content
    assert _app(app.pk).draft_config["dataset_configs"]["reranking_mode"] == "weighted_score"

    with schema_context("ws_alpha"):
        fake_models(fake_openai, embedding=False, rerank=True)
    model = _save_json(world, app, context.config_for(ids, mode="multiple", reranking_model=FAKE_RERANK))
    assert model.status_code == 200 and model.json()["ok"], model.content
    saved = _app(app.pk).draft_config["dataset_configs"]
    assert (saved["retrieval_model"], saved["reranking_mode"], saved["reranking_enabled"]) == (
        "multiple", "reranking_model", True)
    assert saved["reranking_model"] == FAKE_RERANK


def test_apps_without_knowledge_save_as_before(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """The default dataset_configs say "multiple" with no datasets: nothing is searched, no step."""
    app = _setup(world, fake_openai)
    answer = _save_json(world, app, context.config_for([], mode="multiple"))
    assert answer.status_code == 200 and answer.json()["ok"], answer.content


def test_publishing_a_draft_without_the_step_is_refused(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    ids = _ids(world)
    with schema_context("ws_alpha"):  # as an import from before the rule leaves it
        apps.draft_save(app=App.objects.get(pk=app.pk), config={
            **_app(app.pk).draft_config, "dataset_configs": context.config_for(ids, mode="multiple")})
    client = client_for(world.editor.user)
    assert REFUSED in client.get(_url("app_orchestrate", app.pk)).content.decode()  # said up front
    page = client.post(_url("app_orchestrate_publish", app.pk), follow=True)
    assert REFUSED in page.content.decode()
    assert _app(app.pk).published.number == 1  # still the first version
    with schema_context("ws_alpha"):
        apps.draft_save(app=App.objects.get(pk=app.pk), config={
            **_app(app.pk).draft_config,
            "dataset_configs": context.config_for(ids, mode="multiple", reranking_mode="weighted_score",
                                                  weights=WEIGHTS)})
    client.post(_url("app_orchestrate_publish", app.pk))
    assert _app(app.pk).published.number == 2
    assert REFUSED not in client.get(_url("app_orchestrate", app.pk)).content.decode()


OLD_DSL = """
version: 0.1.5
kind: app
app:
  name: Old office bot
  mode: chat
model_config:
  model: {{provider: openai_api_compatible, name: fake-chat, mode: chat, completion_params: {{}}}}
  pre_prompt: Answer from what you know.
  retriever_resource: {{enabled: true}}
  dataset_configs:
    retrieval_model: multiple
    top_k: 4
    reranking_enable: {reranking}
    datasets:
      datasets:
      - dataset: {{enabled: true, id: {pets}}}
      - dataset: {{enabled: true, id: {hr}}}
"""


@pytest.mark.asyncio
@pytest.mark.parametrize("reranking", ["false", "true"])  # true: the old flag without a model
async def test_old_dsl_without_the_step_imports_and_answers(world_tx, fake_openai, reranking) -> None:  # type: ignore[no-untyped-def]
    setup = await asyncio.to_thread(_indexed_setup, world_tx, fake_openai)

    def imported():  # type: ignore[no-untyped-def]
        with schema_context(world_tx.alpha.schema_name):
            text = OLD_DSL.format(reranking=reranking, pets=setup.pets.pk, hr=setup.hr.pk)
            result = dsl.import_app(text, actor_id=world_tx.owner.user_id)
            assert result.ok, result.error
            assert any(NEEDS_STEP in w for w in result.warnings), result.warnings
            app = result.app
            configs = app.draft_config["dataset_configs"]
            assert configs["retrieval_model"] == "multiple"  # kept as it was, reported
            assert context.dataset_ids(app.draft_config) == [str(setup.pets.pk), str(setup.hr.pk)]
            apps.app_publish(app=app)  # as publishing before the rule did
            return apps.api_key_create(app=app)[1]

    key = await asyncio.to_thread(imported)
    fake_openai.script("chat", Reply("Miso."))
    response = await _post("/v1/chat-messages", key,
                           {"inputs": {}, "query": "What is the office cat called?", "user": "u"})
    assert response.status_code == 200, response.content
    resources = response.json()["metadata"]["retriever_resources"]
    # The hits of both datasets, merged by their scores: the cat segment first.
    assert resources and "Miso" in resources[0]["content"] and resources[0]["dataset_name"] == "Pets"
    assert resources == sorted(resources, key=lambda r: -r["score"])
    assert not fake_openai.requests_to("rerank")
