"""Orchestrate → Context (PR-04): attaching knowledge bases, N-to-1 or multi-path, top K, threshold
and rerank model are saved in dataset_configs (the DSL's shape); unknown or foreign datasets and
unusable rerank models are refused; the page offers only the member's visible datasets."""

import json

from django_tenants.utils import schema_context

from apps.datasets import context
from tests.applications.test_orchestrate import _app, _basic, _save, _setup, _url
from tests.conftest import client_for
from tests.datasets.conftest import make_dataset

WEIGHTS = {"weight_type": "customized", "vector_setting": {"vector_weight": 0.7},
           "keyword_setting": {"keyword_weight": 0.3}}


def _datasets(world):  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        pets = make_dataset(world, name="Pets", technique="economy", permission="all_team_members")
        hr = make_dataset(world, name="HR", technique="economy", permission="all_team_members")
        private = make_dataset(world, name="Owner only", technique="economy")
    with schema_context("ws_beta"):
        foreign = make_dataset(world, name="Beta secret", technique="economy")
    return pets, hr, private, foreign


def _editor_data(html: str) -> dict:
    start = html.index('<script id="orchestrate-data" type="application/json">') + len(
        '<script id="orchestrate-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_attach_datasets_and_retrieval_settings(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    pets, hr, private, foreign = _datasets(world)
    editor = client_for(world.editor.user)
    data = _editor_data(editor.get(_url("app_orchestrate", app.pk)).content.decode())
    offered = {d["name"] for d in data["knowledge"]["datasets"]}
    assert offered == {"Pets", "HR"}  # not the owner's private one, not beta's

    configs = context.config_for([str(pets.pk), str(hr.pk)], mode="single", top_k=7, score_threshold=0.4)
    response = _save(
        editor,
        app.pk,
        _basic(
            dataset_configs=configs,
            speech_to_text={"enabled": False},
            file_upload={"image": {"enabled": False}},
        ),
    )
    assert response.status_code == 302
    draft = _app(app.pk).draft_config
    assert context.dataset_ids(draft) == [str(pets.pk), str(hr.pk)]
    saved = draft["dataset_configs"]
    assert saved["retrieval_model"] == "single" and saved["top_k"] == 7
    assert saved["score_threshold_enabled"] is True and saved["score_threshold"] == 0.4
    assert saved["datasets"]["datasets"][0] == {"dataset": {"enabled": True, "id": str(pets.pk)}}
    page = editor.get(_url("app_orchestrate", app.pk)).content.decode()
    assert 'data-testid="context-card"' in page


def test_foreign_datasets_and_unusable_rerank_models_are_refused(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    pets, _hr, _private, foreign = _datasets(world)
    configs = context.config_for(
        [str(pets.pk), str(foreign.pk)],
        mode="multiple",
        reranking_model={"reranking_provider_name": "cohere", "reranking_model_name": "rerank-english-v3.0"},
    )
    response = _save(
        client_for(world.editor.user),
        app.pk,
        _basic(
            dataset_configs=configs,
            speech_to_text={"enabled": False},
            file_upload={"image": {"enabled": False}},
        ),
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    errors = " ".join(response.json()["errors"])
    assert "no longer exists" in errors and "rerank-english-v3.0" in errors
    assert context.dataset_ids(_app(app.pk).draft_config) == []


def test_completion_query_variable_must_be_an_input(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai, mode="completion")
    pets, *_ = _datasets(world)
    configs = context.config_for([str(pets.pk)], mode="multiple", reranking_mode="weighted_score",
                                 weights=WEIGHTS)
    base = _basic(
        dataset_configs=configs,
        speech_to_text={"enabled": False},
        file_upload={"image": {"enabled": False}},
        retriever_resource={"enabled": True},
    )
    assert (
        _save(
            client_for(world.editor.user), app.pk, {**base, "dataset_query_variable": "language"}
        ).status_code
        == 302
    )
    draft = _app(app.pk).draft_config
    assert draft["dataset_query_variable"] == "language" and draft["retriever_resource"]["enabled"] is True
    _save(client_for(world.editor.user), app.pk, {**base, "dataset_query_variable": "nope"})
    assert _app(app.pk).draft_config["dataset_query_variable"] == ""
