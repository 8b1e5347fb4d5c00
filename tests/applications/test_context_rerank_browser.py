"""Orchestrate → Context in a real browser: the multi-path rerank step can be the weighted score of
hybrid search (KN-13) with a vector weight, a rerank model, or none; invalid weights are refused with
the reason, and what is saved is the DSL's dataset_configs shape."""

import pytest
from django_tenants.utils import schema_context

from apps.applications.models import App
from tests.applications.test_orchestrate import _setup
from tests.applications.test_context_browser import open_context
from tests.browser import shot
from tests.datasets.conftest import fake_models, make_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _configs(app: App) -> dict:
    with schema_context("ws_alpha"):
        return App.objects.get(pk=app.pk).draft_config["dataset_configs"]


def _save_weighted(page, weight: str) -> None:  # type: ignore[no-untyped-def]
    card = page.locator("[data-testid=context-card]")
    card.locator("#ctx-rerank").select_option("weighted_score")
    card.locator("#ctx-vector-weight").wait_for(state="visible")  # Alpine shows it on its next tick
    card.locator("#ctx-vector-weight").fill(weight)
    with page.expect_navigation():
        page.click("#save-form button[type=submit]")


def test_choose_the_weighted_score_or_a_rerank_model(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        pets = make_dataset(world_tx, name="Pets", technique="economy", permission="all_team_members")
        hr = make_dataset(world_tx, name="HR", technique="economy", permission="all_team_members")
        fake_models(fake_openai, embedding=False, rerank=True)
    page = open_context(browser, live_url, app, pets, hr)
    card = page.locator("[data-testid=context-card]")
    assert not card.locator("#ctx-vector-weight").is_visible()
    _save_weighted(page, "1.5")
    page.wait_for_selector("[role=alert] >> text=add up to 1")
    assert "reranking_mode" not in _configs(app) or _configs(app).get("reranking_mode") is None  # not saved
    _save_weighted(page, "0.4")
    page.wait_for_load_state("networkidle")
    saved = _configs(app)
    assert (saved["reranking_mode"], saved["reranking_enabled"]) == ("weighted_score", True)
    assert saved["weights"]["vector_setting"]["vector_weight"] == 0.4
    assert saved["weights"]["keyword_setting"]["keyword_weight"] == 0.6

    page.reload()
    card = page.locator("[data-testid=context-card]")
    assert card.locator("#ctx-rerank").input_value() == "weighted_score"
    assert card.locator("#ctx-vector-weight").input_value() == "0.4"
    shot(page, "orchestrate-rerank-step")
    card.locator("#ctx-rerank").select_option("openai_api_compatible:fake-rerank")
    card.locator("#ctx-vector-weight").wait_for(state="hidden")  # Alpine hides it on its next tick
    with page.expect_navigation():
        page.click("#save-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    saved = _configs(app)
    assert (saved["reranking_mode"], saved["weights"]) == ("reranking_model", None)
    assert saved["reranking_model"]["reranking_model_name"] == "fake-rerank"
