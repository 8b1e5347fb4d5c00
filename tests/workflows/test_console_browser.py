"""The workflow page in a real browser: the canvas draws the graph, a test run colours nodes and
lists steps live, the outputs show, the run history lists the run without a reload, and the
run's trace opens."""

import re

import pytest
from django_tenants.utils import schema_context

from apps.workflows import services
from tests.browser import SHOTS
from tests.conftest import PASSWORD
from tests.fakes.base import Reply
from tests.workflows.conftest import setup_model, workflow_graph

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_graph_and_live_test_run(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        setup_model(fake_openai)
        app = services.workflow_app_create(name="Flow", mode="workflow", graph=workflow_graph())
    fake_openai.script("chat", Reply("Paris <b>is</b> the capital", chunk_size=1, delay_between_chunks=0.05))
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    page.goto(f"{live_url}/accounts/login/")
    page.fill("input[name=login]", "edith@alpha.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/alpha/.*"))

    page.goto(f"{live_url}/console/alpha/apps/{app.pk}/workflow/")
    page.wait_for_selector("[data-testid=workflow-editor] .react-flow__node")
    canvas = page.locator("[data-testid=workflow-editor]")
    assert canvas.locator("[data-testid=wf-node]").count() == 3 and canvas.locator(".react-flow__edge").count() == 2
    assert canvas.locator(".wfe-node__title").first.text_content() == "start"
    assert page.locator("[data-testid=runs]").count() == 0  # no test run yet
    page.fill("#wf-in-q", "capital of France")
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=status][data-status=succeeded]")
    steps = page.locator("[data-testid=steps] li")
    assert steps.count() == 3
    assert steps.nth(1).locator("[data-status=succeeded]").text_content() == "Succeeded"
    # The run history lists the run at once, without a reload (htmx swaps the history in).
    page.evaluate("window.__stillHere = true")
    page.locator("[data-testid=runs] tbody tr").first.wait_for()
    assert page.evaluate("window.__stillHere") is True
    assert page.locator("[data-testid=runs] [data-status=succeeded]").count() == 1
    assert page.locator("[data-testid=answer]").text_content() == "Paris <b>is</b> the capital"
    assert '"text": "Paris <b>is</b> the capital"' in page.locator("[data-testid=outputs]").text_content()
    assert page.locator("[data-testid=wf-node][data-status=succeeded]").count() == 3
    page.screenshot(path=str(SHOTS / "workflow-run.png"), full_page=True)
    # Step test from the End node's inspector, with the values it reads filled in by hand
    page.click("[data-testid=tidy]")
    page.click("[data-testid=wf-node][data-node-id=end]")
    page.click("[data-testid=node-step-test] summary")
    page.fill("[data-testid=step-input][data-variable='llm.text']", "by hand")
    page.fill("[data-testid=step-input][data-variable='start.n']", "2")
    page.click("[data-testid=step-run]")
    page.wait_for_selector("[data-testid=inspector] [data-testid=run_outputs]:has-text('by hand')")
    assert page.locator("[data-testid=last-run-status]").text_content() == "Succeeded"
    page.click("text=Open the run's details")
    page.wait_for_selector("[data-testid=trace]")
    assert page.locator("[data-testid=trace] tbody tr").count() == 3
    assert page.locator("[data-testid=run-status]").text_content() == "Succeeded"
