"""The workflow page in a real browser: the canvas draws the graph, a test run colours nodes and lists
steps live, the outputs show, and the run's trace opens."""

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
    page.fill("#wf-in-q", "capital of France")
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=status]:has-text('succeeded')")
    steps = page.locator("[data-testid=steps] li")
    assert steps.count() == 3 and "succeeded" in steps.nth(1).text_content()
    assert page.locator("[data-testid=answer]").text_content() == "Paris <b>is</b> the capital"
    assert '"text": "Paris <b>is</b> the capital"' in page.locator("[data-testid=outputs]").text_content()
    assert page.locator("[data-testid=wf-node][data-status=succeeded]").count() == 3
    page.screenshot(path=str(SHOTS / "workflow-run.png"), full_page=True)
    # Step test: one node alone, with the values it reads filled in by hand
    page.click("[data-testid=step-test] summary")
    page.select_option("#wf-step-node", "end")
    page.wait_for_function("document.querySelector('#wf-step-values').value.includes('llm.text')")
    page.fill("#wf-step-values", '{"llm.text": "by hand", "start.n": 2}')
    page.click("text=Run this node")
    page.wait_for_selector("[data-testid=step-result]:has-text('by hand')")
    assert '"status": "succeeded"' in page.locator("[data-testid=step-result]").text_content()
    page.click("text=Open the run's details")
    page.wait_for_selector("[data-testid=trace]")
    assert page.locator("[data-testid=trace] tbody tr").count() == 3
    assert page.locator("[data-testid=run-status]").text_content() == "succeeded"
