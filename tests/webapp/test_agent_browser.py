"""An agent app's chat WebApp in a real browser (WEB-15, AG-09): the step with the tool shows
collapsed above the answer, opens to the tool's input and output, and comes back with the
conversation's history."""

import pytest

from tests.applications.test_agent import CLOCK, import_clock_agent, last_tool_result
from tests.applications.test_agent_browser import expand_thought
from tests.browser import alpine_ready, shot
from tests.fakes.base import FakeToolCall, Reply
from tests.webapp.conftest import site_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_webapp_shows_the_agents_steps(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app, _key = import_clock_agent(world_tx, fake_openai)
    code = site_of(world_tx.alpha.schema_name, app).code
    fake_openai.script("chat", Reply("Let me check.", tool_calls=[FakeToolCall("current_time", {})]))
    fake_openai.responder = lambda request: Reply(f"It is {last_tool_result(request)}.")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_url}/chat/{code}")
    alpine_ready(page)
    page.fill("[data-testid=query]", "What time is it?")
    page.click("[data-testid=send]")
    answer = page.locator("[data-testid=answer]").last
    answer.filter(has_text="It is ").wait_for()
    output = expand_thought(page, "current_time")
    assert CLOCK.fullmatch(output) and output in answer.inner_text()
    shot(page, "webapp-agent-thought")

    page.reload()  # the conversation comes back from /messages with its steps
    alpine_ready(page)
    page.locator("[data-testid=conversation] .wa-conv__open").first.click()
    page.locator("[data-testid=thought]").first.wait_for()
    assert "current_time" in page.locator("[data-testid=thought] summary").first.inner_text()
