"""KN-13 / issue 16: hybrid search is ordered by a rerank step (`reranking_mode` "reranking_model"
with a rerank model this workspace can call, or "weighted_score" with weights adding up to 1). A
request without one, as the reference's clients send it (`reranking_enable: false`, no mode or an
empty model), is accepted and gets the default weighted score (0.7 / 0.3). Invalid steps are
checked the same way wherever retrieval settings are saved or sent: the Knowledge API's create,
update and retrieve/hit-testing (400 invalid_param in the API error format), the console's
Knowledge form (which still asks for a step), and the rerank step of an app's multi-path context.
The rerank model: the fake OpenAI-compatible rerank server."""

import pytest
from django_tenants.utils import schema_context

from apps.datasets import context, services
from apps.datasets.models import Dataset, HitTestQuery
from tests.applications.test_orchestrate import _app, _basic, _save, _setup, _url
from tests.conftest import client_for
from tests.datasets.conftest import fake_models
from tests.datasets.test_api import _dataset_with_doc, error, kapi  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

WEIGHTS = {"weight_type": "customized", "vector_setting": {"vector_weight": 0.6},
           "keyword_setting": {"keyword_weight": 0.4}}
FAKE_RERANK = {"reranking_provider_name": "openai_api_compatible", "reranking_model_name": "fake-rerank"}
BASE = "/console/alpha/datasets/"


def _hybrid(**step):  # type: ignore[no-untyped-def]
    return {"search_method": "hybrid_search", "top_k": 3, **step}


# The shapes the reference accepts for hybrid search without a rerank model (its clients send them).
WITHOUT_STEP = [
    _hybrid(),
    _hybrid(reranking_enable=False),
    _hybrid(reranking_enable=False, reranking_mode=None),
    _hybrid(reranking_enable=False, reranking_mode="reranking_model",
            reranking_model={"reranking_provider_name": "", "reranking_model_name": ""}),
    _hybrid(reranking_enable=False, reranking_mode="weighted_score"),
    _hybrid(reranking_enable=False, reranking_mode="weighted_score", weights=None),
]

INVALID = [
    (_hybrid(reranking_mode=None, reranking_enable=True), "rerank model is required"),
    (_hybrid(reranking_mode="rrf"), "must be \"reranking_model\" or \"weighted_score\""),
    (_hybrid(reranking_mode="reranking_model", reranking_enable=True), "rerank model is required"),
    (_hybrid(reranking_mode="reranking_model", reranking_model={"reranking_model_name": "fake-rerank"}),
     "rerank model is required"),
    (_hybrid(reranking_mode="reranking_model",
             reranking_model={"reranking_provider_name": "cohere", "reranking_model_name": "rerank-v3.5"}),
     "cohere/rerank-v3.5 is not available"),
    (_hybrid(reranking_mode="weighted_score", weights={"vector_setting": {"vector_weight": 0.9},
                                                       "keyword_setting": {"keyword_weight": 0.9}}), "add up to 1"),
    (_hybrid(reranking_mode="weighted_score", weights={"vector_setting": {"vector_weight": "lots"}}), "invalid"),
    ({"search_method": "semantic_search", "reranking_enable": True}, "rerank model is required"),
]


@pytest.mark.parametrize(("model", "reason"), INVALID)
def test_invalid_rerank_steps_are_refused_on_create(world, kapi, model, reason) -> None:  # type: ignore[no-untyped-def]
    body = error(kapi.post("/v1/datasets", {"name": "Hybrid", "indexing_technique": "high_quality",
                                            "retrieval_model": model}), "invalid_param", 400)
    assert reason in body["message"] and body["params"] == "retrieval_model"
    with schema_context(world.alpha.schema_name):
        assert not Dataset.objects.filter(name="Hybrid").exists()


def test_hybrid_with_each_rerank_step_is_saved_and_shown(world, kapi, fake_openai) -> None:  # type: ignore[no-untyped-def]
    weighted = kapi.post("/v1/datasets", {"name": "Weighted", "indexing_technique": "high_quality",
                                          "retrieval_model": _hybrid(reranking_mode="weighted_score",
                                                                     weights=WEIGHTS)})
    assert weighted.status_code == 200, weighted.content
    shown = weighted.json()["retrieval_model_dict"]
    assert (shown["search_method"], shown["reranking_mode"], shown["reranking_enable"]) == \
        ("hybrid_search", "weighted_score", False)
    assert shown["weights"]["vector_setting"]["vector_weight"] == 0.6
    assert shown["weights"]["keyword_setting"]["keyword_weight"] == 0.4

    with schema_context(world.alpha.schema_name):
        fake_models(fake_openai, embedding=False, rerank=True)
    reranked = kapi.post("/v1/datasets", {"name": "Reranked", "indexing_technique": "high_quality",
                                          "retrieval_model": _hybrid(reranking_mode="reranking_model",
                                                                     reranking_model=FAKE_RERANK)})
    assert reranked.status_code == 200, reranked.content
    shown = reranked.json()["retrieval_model_dict"]
    assert (shown["reranking_mode"], shown["reranking_enable"], shown["reranking_model"]) == \
        ("reranking_model", True, FAKE_RERANK)
    # An economy dataset searches its keyword index only, so no rerank step is asked of it.
    economy = kapi.post("/v1/datasets", {"name": "Cheap", "indexing_technique": "economy",
                                         "retrieval_model": _hybrid()})
    assert economy.json()["retrieval_model_dict"]["search_method"] == "keyword_search"


DEFAULT_STEP = ("hybrid_search", "weighted_score", False, 0.7, 0.3)


def _step(shown):  # type: ignore[no-untyped-def]
    weights = shown["weights"]
    return (shown["search_method"], shown["reranking_mode"], shown["reranking_enable"],
            weights["vector_setting"]["vector_weight"], weights["keyword_setting"]["keyword_weight"])


@pytest.mark.parametrize("model", WITHOUT_STEP)
def test_hybrid_without_a_rerank_step_is_saved_with_the_default(world, kapi, model) -> None:  # type: ignore[no-untyped-def]
    created = kapi.post("/v1/datasets", {"name": "Plain hybrid", "indexing_technique": "high_quality",
                                         "retrieval_model": model})
    assert created.status_code == 200, created.content
    assert _step(created.json()["retrieval_model_dict"]) == DEFAULT_STEP


def test_update_takes_hybrid_without_a_rerank_step(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = _dataset_with_doc(world)
    url = f"/v1/datasets/{dataset.pk}"
    no_model = _hybrid(reranking_mode="reranking_model", reranking_enable=True)
    error(kapi.patch(url, {"retrieval_model": no_model}), "invalid_param", 400)
    assert kapi.get(url).json()["retrieval_model_dict"]["search_method"] == "semantic_search"  # unchanged
    plain = kapi.patch(url, {"retrieval_model": _hybrid(reranking_enable=False)})
    assert plain.status_code == 200 and _step(plain.json()["retrieval_model_dict"]) == DEFAULT_STEP
    ok = kapi.patch(url, {"retrieval_model": _hybrid(reranking_mode="weighted_score", weights=WEIGHTS)})
    assert ok.status_code == 200 and ok.json()["retrieval_model_dict"]["reranking_mode"] == "weighted_score"


def test_retrieve_checks_the_rerank_step_and_reranks(world, kapi, fake_openai) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = _dataset_with_doc(world)
    url = f"/v1/datasets/{dataset.pk}/retrieve"
    for model, reason in INVALID:
        body = error(kapi.post(url, {"query": "refund", "retrieval_model": model}), "invalid_param", 400)
        assert reason in body["message"]
    error(kapi.post(url.replace("retrieve", "hit-testing"), {"query": "refund", "retrieval_model": _hybrid(
        reranking_enable=True)}), "invalid_param", 400)
    assert fake_openai.requests_to("rerank") == []

    with schema_context(world.alpha.schema_name):
        fake_models(fake_openai, embedding=False, rerank=True)
    reranked = kapi.post(url, {"query": "refund policy returns", "retrieval_model": _hybrid(
        reranking_mode="reranking_model", reranking_model=FAKE_RERANK, top_k=2)})
    assert reranked.status_code == 200, reranked.content
    records = reranked.json()["records"]
    assert len(records) == 2 and "refund policy" in records[0]["segment"]["content"]
    [call] = fake_openai.requests_to("rerank")
    assert call.json["query"] == "refund policy returns" and len(call.json["documents"]) == 3  # both searches' hits
    weighted = kapi.post(url, {"query": "refund", "retrieval_model": _hybrid(reranking_mode="weighted_score",
                                                                             weights=WEIGHTS)})
    assert weighted.status_code == 200 and "refund" in weighted.json()["records"][0]["segment"]["content"]


def test_retrieve_and_hit_testing_take_hybrid_without_a_rerank_step(world, kapi) -> None:  # type: ignore[no-untyped-def]
    """Every shape of WITHOUT_STEP answers on both endpoints, ordered by the default weighted score:
    the same records and scores as asking for weighted_score 0.7 / 0.3 explicitly."""
    dataset, _ = _dataset_with_doc(world)
    url = f"/v1/datasets/{dataset.pk}/retrieve"
    explicit = kapi.post(url, {"query": "refund policy", "retrieval_model": _hybrid(
        reranking_mode="weighted_score", weights={"vector_setting": {"vector_weight": 0.7},
                                                  "keyword_setting": {"keyword_weight": 0.3}})})
    assert explicit.status_code == 200, explicit.content
    expected = [(r["segment"]["id"], r["score"]) for r in explicit.json()["records"]]
    assert expected and "refund policy" in explicit.json()["records"][0]["segment"]["content"]
    for endpoint in ("retrieve", "hit-testing"):
        for model in WITHOUT_STEP:
            answer = kapi.post(url.replace("retrieve", endpoint),
                               {"query": "refund policy", "retrieval_model": model})
            assert answer.status_code == 200, (endpoint, model, answer.content)
            assert [(r["segment"]["id"], r["score"]) for r in answer.json()["records"]] == expected
    with schema_context(world.alpha.schema_name):
        recorded = HitTestQuery.objects.filter(dataset=dataset).order_by("-created_at").first()
        assert _step(recorded.retrieval_model) == DEFAULT_STEP


def _form(**changes):  # type: ignore[no-untyped-def]
    return {"name": "Console hybrid", "permission": "only_me", "indexing_technique": "high_quality",
            "embedding_model": "local:all-MiniLM-L6-v2", "search_method": "hybrid_search", "top_k": 3,
            "vector_weight": 0.7, "rerank_model": "", "reranking_mode": "weighted_score", **changes}


def test_console_form_requires_the_rerank_step(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    editor = client_for(world.editor.user)
    page = editor.get(BASE + "new/").content.decode()
    assert 'name="reranking_mode"' in page and 'value="weighted_score"' in page and 'value="reranking_model"' in page
    missing = editor.post(BASE + "new/", _form(reranking_mode=""))
    assert missing.status_code == 200 and "Hybrid search needs a rerank step." in missing.content.decode()
    no_model = editor.post(BASE + "new/", _form(reranking_mode="reranking_model"))
    assert "needs a rerank model" in no_model.content.decode()
    with schema_context(world.alpha.schema_name):
        assert not Dataset.objects.filter(name="Console hybrid").exists()
        fake_models(fake_openai, embedding=False, rerank=True)
    saved = editor.post(BASE + "new/", _form(reranking_mode="reranking_model",
                                             rerank_model="openai_api_compatible:fake-rerank"))
    assert saved.status_code == 302
    with schema_context(world.alpha.schema_name):
        dataset = Dataset.objects.get(name="Console hybrid")
    rm = dataset.retrieval_model
    assert (rm["search_method"], rm["reranking_mode"], rm["reranking_model"]) == \
        ("hybrid_search", "reranking_model", FAKE_RERANK)
    settings = editor.get(f"{BASE}{dataset.pk}/settings/").content.decode()
    assert '<option value="reranking_model" selected>' in settings
    # Semantic search needs no rerank step; switching to it keeps working without one.
    plain = editor.post(f"{BASE}{dataset.pk}/settings/", _form(search_method="semantic_search", reranking_mode=""))
    assert plain.status_code == 302


def test_console_form_is_translated(world) -> None:  # type: ignore[no-untyped-def]
    editor = client_for(world.editor.user)
    for lang, word in (("zh-hans", "重排序步骤"), ("ja", "リランク")):
        page = editor.get(BASE + "new/", headers={"Accept-Language": lang}).content.decode()
        assert word in page, lang


def test_app_multi_path_rerank_step_is_checked(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world, fake_openai)
    with schema_context("ws_alpha"):
        pets = _economy(world, "Pets")
        hr = _economy(world, "HR")
    ids = [str(pets.pk), str(hr.pk)]
    editor = client_for(world.editor.user)

    def save(configs):  # type: ignore[no-untyped-def]
        return _save(editor, app.pk, _basic(dataset_configs=configs, speech_to_text={"enabled": False},
                                            file_upload={"image": {"enabled": False}}),
                     HTTP_ACCEPT="application/json")

    bad_weights = context.config_for(ids, mode="multiple", reranking_mode="weighted_score",
                                     weights={"vector_setting": {"vector_weight": 2}})
    refused = save(bad_weights)
    assert refused.status_code == 400 and "add up to 1" in " ".join(refused.json()["errors"])
    bad_mode = {**context.config_for(ids, mode="multiple"), "reranking_mode": "rrf", "reranking_enabled": True}
    assert "rerank step must be" in " ".join(save(bad_mode).json()["errors"])

    good = context.config_for(ids, mode="multiple", reranking_mode="weighted_score", weights=WEIGHTS)
    accepted = save(good)
    assert accepted.status_code == 200 and not accepted.json().get("errors"), accepted.content
    saved = _app(app.pk).draft_config["dataset_configs"]
    assert (saved["reranking_mode"], saved["reranking_enabled"]) == ("weighted_score", True)
    assert saved["weights"]["keyword_setting"]["keyword_weight"] == 0.4
    settings = context.multi_path_settings(saved)
    assert (settings["search_method"], settings["reranking_mode"]) == ("hybrid_search", "weighted_score")
    # Reranking enabled without a model is refused when a turn's settings are checked.
    with schema_context("ws_alpha"):
        with pytest.raises(Exception, match="rerank model is required"):
            context.check_rerank_step({"reranking_enabled": True, "reranking_mode": "reranking_model"})
        assert context.check_rerank_step({"reranking_enabled": False, "reranking_mode": "reranking_model"})[
            "reranking_enable"] is False  # a leftover mode without the flag is no rerank step


def _economy(world, name):  # type: ignore[no-untyped-def]
    from tests.datasets.conftest import make_dataset

    return make_dataset(world, name=name, technique="economy", permission="all_team_members")


def test_hit_testing_page_asks_for_the_rerank_step_before_hybrid(world) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = _dataset_with_doc(world)  # semantic search, no rerank step chosen
    owner = client_for(world.owner.user)
    url = f"{BASE}{dataset.pk}/hit-testing/"
    html = owner.post(url, {"query": "refund policy", "search_method": "hybrid_search"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "Hybrid search needs a rerank step: choose the weighted score or a rerank model" in html
    assert 'class="score"' not in html
    with schema_context(world.alpha.schema_name):
        assert not HitTestQuery.objects.filter(dataset=dataset).exists()  # nothing was searched
        services.dataset_update(dataset=Dataset.objects.get(pk=dataset.pk), actor_id=None, retrieval_model={
            "search_method": "semantic_search", "reranking_mode": "weighted_score", "weights": WEIGHTS})
    html = owner.post(url, {"query": "refund policy", "search_method": "hybrid_search"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert 'class="score"' in html and "refund policy" in html  # the settings' weighted score is used
