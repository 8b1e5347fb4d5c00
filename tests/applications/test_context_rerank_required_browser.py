"""PR-06 in a real browser: ticking two knowledge bases for multi-path and saving without a rerank
step shows why the draft was not saved; N-to-1 saves without one; choosing the weighted score saves."""

import pytest
from django_tenants.utils import schema_context

from apps.applications.models import App
from apps.datasets import context
from tests.applications.test_context_browser import open_context
from tests.applications.test_orchestrate import _setup
from tests.browser import shot
from tests.datasets.conftest import make_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _draft(app: App) -> dict:
    with schema_context("ws_alpha"):
        return App.objects.get(pk=app.pk).draft_config


def test_multi_path_without_a_rerank_step_shows_why(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        pets = make_dataset(world_tx, name="Pets", technique="economy", permission="all_team_members")
        hr = make_dataset(world_tx, name="HR", technique="economy", permission="all_team_members")
    page = open_context(browser, live_url, app, pets, hr)
    card = page.locator("[data-testid=context-card]")
    assert card.locator("#ctx-mode-multiple").is_checked()
    assert card.locator("#ctx-rerank").input_value() == ""
    card.locator("[data-testid=context-rerank-required]").wait_for(state="visible")

    with page.expect_navigation():
        page.click("#save-form button[type=submit]")
    alert = page.locator("[role=alert] >> text=Multi-path retrieval needs a rerank step")
    alert.wait_for()
    assert "switch to N-to-1" in alert.inner_text()
    shot(page, "orchestrate-rerank-required")
    assert context.dataset_ids(_draft(app)) == []  # not saved

    # N-to-1 needs no rerank step.
    page.locator("[data-testid=context-card] #ctx-mode-single").check()
    with page.expect_navigation():
        page.click("#save-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert _draft(app)["dataset_configs"]["retrieval_model"] == "single"
    assert context.dataset_ids(_draft(app)) == [str(pets.pk), str(hr.pk)]

    # Back to multi-path, now with the weighted score as its step.
    card = page.locator("[data-testid=context-card]")
    card.locator("#ctx-mode-multiple").check()
    card.locator("#ctx-rerank").select_option("weighted_score")
    card.locator("[data-testid=context-rerank-required]").wait_for(state="hidden")
    with page.expect_navigation():
        page.click("#save-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    saved = _draft(app)["dataset_configs"]
    assert (saved["retrieval_model"], saved["reranking_mode"]) == ("multiple", "weighted_score")
    assert page.locator("[role=alert] >> text=Multi-path retrieval needs a rerank step").count() == 0
