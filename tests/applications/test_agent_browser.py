"""An agent app in a real browser: add the time tool with its form values on the Orchestrate page,
chat in debug & preview, expand the step to see the tool's input and output (AG-05, AG-09)."""

import json

import pytest
from django_tenants.utils import schema_context

from apps.applications.models import App
from tests.applications.test_agent_console import _agent
from tests.browser import alpine_ready, log_in, shot
from tests.fakes.base import FakeToolCall, Reply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expand_thought(page, tool: str) -> str:  # type: ignore[no-untyped-def]
    """Open the first step shown (collapsed until then) and return what `tool` returned."""
    step = page.locator("[data-testid=thought]").first
    assert tool in step.locator("summary").inner_text()
    assert not step.locator("[data-testid=thought-output]").is_visible()
    step.locator("summary").click()
    return json.loads(step.locator("[data-testid=thought-output]").inner_text())[tool]


def test_add_a_tool_chat_and_expand_the_thought(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _agent(world_tx, fake_openai)
    fake_openai.script("chat", Reply("Checking the clock.", tool_calls=[FakeToolCall("current_time", {})]))
    fake_openai.responder = lambda request: Reply(
        f"It is {request.json['messages'][-1]['content']} in Tokyo." if request.json["messages"][-1]["role"] == "tool"
        else "Hello")
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    log_in(page, live_url)
    page.goto(f"{live_url}/console/alpha/apps/{app.pk}/orchestrate/")
    alpine_ready(page)

    page.select_option("[data-testid=agent-add-tool]", "builtin:time:current_time")
    page.click("[data-testid=agent-card] button:has-text('Add')")
    tool = page.locator("[data-testid=agent-tool]")
    tool.wait_for()
    tool.locator("select").select_option("Asia/Tokyo")
    tool.locator("input[type=text]").fill("%H:%M")
    page.fill("[data-testid=agent-iterations]", "3")

    page.fill("#debug-query", "What time is it in Tokyo?")
    page.click(".orch-composer button[type=submit]")
    answer = page.locator(".orch-turn--assistant [data-testid=bubble]").last
    answer.filter(has_text="in Tokyo.").wait_for()
    result = expand_thought(page, "current_time")
    assert len(result) == 5 and result[2] == ":"  # %H:%M, the form value the page set
    assert result in answer.inner_text()
    shot(page, "agent-debug-thought")
    with schema_context("ws_alpha"):
        agent = App.objects.get(pk=app.pk).draft_config["agent_mode"]
    assert agent["max_iteration"] == 3
    assert agent["tools"][0]["tool_parameters"] == {"format": "%H:%M", "timezone": "Asia/Tokyo"}
