"""Running and debugging on the canvas, in Debian's Chromium: the canvas's own Stop button, the
single-node step test from a node's inspector, and the chatflow preview as a chat with the
conversation variables. Screenshots go to var/screenshots/editor-*.png."""

import json

import pytest
from django.utils import translation
from django_tenants.utils import schema_context

from apps.workflows import editor, services
from apps.workflows.models import WorkflowRun
from tests.browser import log_in, shot
from tests.fakes.base import Reply, last_user_text
from tests.workflows.conftest import chatflow_graph, setup_model, workflow_graph
from tests.workflows.test_editor_browser import _open, _select

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _app(fake, name: str, graph: dict, mode: str = "workflow", **more):  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        setup_model(fake)
        return services.workflow_app_create(name=name, mode=mode, graph=graph, **more)


def _chatflow(fake, name: str):  # type: ignore[no-untyped-def]
    """A chatflow whose Variable Assigner counts the turns in the conversation variable `turns`."""
    return _app(fake, name, chatflow_graph(), mode="advanced-chat",
                conversation_variables=[{"name": "turns", "value_type": "number", "value": 0}])


def test_stop_a_run_from_the_canvas(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _app(fake_openai, "Slow", workflow_graph())
    # A long, slow answer: the run is still going when Stop is pressed
    fake_openai.script("chat", Reply(" ".join(["word"] * 400), delay_between_chunks=0.05))
    page = _open(browser, live_url, app)
    assert page.locator("[data-testid=canvas-stop]").count() == 0  # no run, no Stop
    page.fill("#wf-in-q", "go on")
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=wf-node][data-node-id=llm][data-status=running]")
    shot(page, "editor-running")
    page.locator("[data-testid=canvas-stop]:enabled").click()
    page.wait_for_selector("[data-testid=status][data-status=stopped]")
    page.wait_for_selector("[data-testid=canvas-stop]", state="detached")  # the button goes with the run
    with schema_context("ws_alpha"):
        run = WorkflowRun.objects.get(app=app)
    assert run.status == "stopped" and run.error == "Stopped by user."


def test_step_test_a_node_from_its_inspector(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _app(fake_openai, "Steps", workflow_graph())
    fake_openai.script("chat", Reply("Stepped alone"))
    page = _open(browser, live_url, app)
    page.click("[data-testid=tidy]")  # the test graph has no positions: lay it out first
    _select(page, "llm")
    inspector = page.locator("[data-testid=inspector]")
    inspector.locator("[data-testid=node-step-test] summary").click()
    # One input per variable the node reads: the LLM reads the Start node's q
    inputs = inspector.locator("[data-testid=step-input]")
    inputs.first.wait_for()
    assert inputs.evaluate_all("els => els.map(e => e.dataset.variable)") == ["start.q"]
    inputs.first.fill("what is two and two?")
    inspector.locator("[data-testid=step-run]").click()
    page.wait_for_selector("[data-testid=last-run-status]:text-is('Succeeded')")
    assert "Stepped alone" in inspector.locator("[data-testid=run_outputs]").text_content()
    assert page.locator("[data-testid=wf-node][data-node-id=llm]").get_attribute("data-status") == "succeeded"
    assert last_user_text(fake_openai.last_request.json) == "Answer: what is two and two?"
    shot(page, "editor-step-test")
    # The End node reads two variables; a number typed in is sent as a number
    _select(page, "end")
    inspector.locator("[data-testid=node-step-test] summary").click()
    inspector.locator("[data-testid=step-input][data-variable='llm.text']").fill("by hand")
    inspector.locator("[data-testid=step-input][data-variable='start.n']").fill("2")
    inspector.locator("[data-testid=step-run]").click()
    page.wait_for_selector("[data-testid=inspector] [data-testid=run_outputs]")
    outputs = inspector.locator("[data-testid=run_outputs]").text_content()
    assert '"text": "by hand"' in outputs and '"n": 2' in outputs
    # Nothing of a step test is stored as a run
    with schema_context("ws_alpha"):
        assert not WorkflowRun.objects.filter(app=app).exists()


def test_the_new_strings_come_translated() -> None:
    for lang, expected in (("ja", ("このノードをテスト", "停止中…")),
                           ("zh-hans", ("测试此节点", "正在停止…"))):
        with translation.override(lang):
            found = editor.strings()
        assert (found["step_test"], found["stopping"]) == expected


def test_chatflow_preview_chat_and_its_variables(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _chatflow(fake_openai, "Chat preview")
    fake_openai.script("chat", Reply("Hi Ada!"), Reply("You said hello twice."))
    page = _open(browser, live_url, app)
    page.click("[data-testid=preview-toggle]")
    preview = page.locator("[data-testid=preview]")
    turns = preview.locator("[data-name=turns] [data-testid=preview-variable-value]")
    assert turns.text_content() == "0"  # the declared default before any turn
    preview.locator("[data-testid=preview-input]").fill("hello")
    preview.locator("[data-testid=preview-send]").click()
    preview.locator("[data-testid=preview-answer]:text-is('Hi Ada!')").wait_for()
    turns.filter(has_text="1").wait_for()  # the Variable Assigner added one, read back after the turn
    # The turn coloured the canvas: every node ran
    assert page.locator("[data-testid=wf-node][data-status=succeeded]").count() == 4
    preview.locator("[data-testid=preview-input]").fill("hello again")
    preview.locator("[data-testid=preview-input]").press("Enter")
    preview.locator("[data-testid=preview-answer]", has_text="You said hello twice.").wait_for()
    turns.filter(has_text="2").wait_for()
    # The second turn went on the same conversation: the model saw the first turn (memory)
    assert "Hi Ada!" in json.dumps(fake_openai.last_request.json)
    shot(page, "editor-chat-preview")
    preview.locator("[data-testid=preview-restart]").click()
    assert preview.locator("[data-testid=preview-query]").count() == 0 and turns.text_content() == "0"


def test_preview_variables_only_for_the_members_own_preview_conversation(
        live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from apps.logs.models import Conversation, Source

    app = _chatflow(fake_openai, "Own")
    with schema_context("ws_alpha"):
        mine = Conversation.objects.create(app=app, from_source=Source.DEBUGGER, mode=app.mode,
                                           from_account_id=world_tx.editor.user.pk)
        api = Conversation.objects.create(app=app, from_source=Source.API, mode=app.mode)
    path = f"/apps/{app.pk}/workflow/conversations/{{}}/variables/"
    edith = _open(browser, live_url, app)
    assert edith.request.get(f"{live_url}/console/alpha" + path.format(mine.pk)).json() == {"data": []}
    assert edith.request.get(f"{live_url}/console/alpha" + path.format(api.pk)).status == 404
    adam = _open(browser, live_url, app, email="adam@alpha.test")  # another member's preview: not his
    assert adam.request.get(f"{live_url}/console/alpha" + path.format(mine.pk)).status == 404
    bruno = browser.new_context().new_page()  # another workspace's owner
    log_in(bruno, live_url, "bruno@beta.test")
    assert bruno.request.get(f"{live_url}/console/beta" + path.format(mine.pk)).status == 404
    assert bruno.request.get(f"{live_url}/console/alpha" + path.format(mine.pk), max_redirects=0).status in (
        302, 403, 404)


def test_stop_a_preview_turn_from_the_canvas(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _chatflow(fake_openai, "Slow chat")
    fake_openai.script("chat", Reply(" ".join(["word"] * 400), delay_between_chunks=0.05))
    page = _open(browser, live_url, app)
    page.click("[data-testid=preview-toggle]")
    page.fill("[data-testid=preview-input]", "talk for long")
    page.click("[data-testid=preview-send]")
    page.wait_for_selector("[data-testid=wf-node][data-node-id=llm][data-status=running]")
    page.locator("[data-testid=canvas-stop]:enabled").click()
    page.wait_for_selector("[data-testid=canvas-stop]", state="detached")
    with schema_context("ws_alpha"):
        run = WorkflowRun.objects.get(app=app)
    assert run.status == "stopped"
    # The stopped turn never reached the Variable Assigner
    assert page.locator("[data-name=turns] [data-testid=preview-variable-value]").text_content() == "0"
