"""The workflow canvas in Debian's Chromium: a workflow built with mouse and keyboard from a blank
app, run against the fake model, published and exported; undo/redo, copy/paste (also into another
app), insert on an edge; two editors on one draft; a member's read-only view; every node type's
settings. Screenshots of each state go to var/screenshots/editor-*.png."""

import json

import pytest
import yaml
from django_tenants.utils import schema_context

from apps.workflows import selectors, services
from apps.workflows.editor import node_types
from tests.browser import log_in, shot
from tests.fakes.base import Reply
from tests.workflows.conftest import MODEL, setup_model

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _blank(name: str = "Canvas", mode: str = "workflow"):  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        return services.workflow_app_create(name=name, mode=mode)


def _draft(app) -> dict:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        return selectors.draft(app).graph


def _open(browser, live_url: str, app, email: str = "edith@alpha.test"):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    page = context.new_page()
    log_in(page, live_url, email)
    _goto(page, live_url, app)
    return page


def _goto(page, live_url: str, app) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_url}/console/alpha/apps/{app.pk}/workflow/")
    page.wait_for_selector("[data-testid=workflow-editor] .react-flow__node")


def _node(page, title: str):  # type: ignore[no-untyped-def]
    return page.locator("[data-testid=wf-node]", has=page.locator(f".wfe-node__title:text-is('{title}')"))


def _id(page, title: str) -> str:  # type: ignore[no-untyped-def]
    return _node(page, title).get_attribute("data-node-id")


def _saved(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("[data-testid=workflow-editor][data-dirty=false][data-save-state=saved]")


def _insert_on_edge(page, source_id: str, target_id: str, node_type: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(f"[data-testid=edge-insert][data-edge-id^='{source_id}-'][data-edge-id$='-{target_id}-target']").click()
    page.click(f"[data-testid=palette-{node_type}]")


def _configure(page, title: str, new_title: str) -> None:  # type: ignore[no-untyped-def]
    """Select a node and rename it in the inspector."""
    _select(page, title)
    page.locator("[data-testid=inspector] [data-testid=field-title]").fill(new_title)


def _select(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.click("[data-testid=fit]")
    _node(page, title).click()
    page.wait_for_selector(f"[data-testid=inspector][data-node-id='{_id(page, title)}']")


def _edges(graph: dict) -> set[tuple[str, str, str]]:
    titles = {n["id"]: n["data"]["title"] for n in graph["nodes"]}
    return {(titles[e["source"]], e.get("sourceHandle") or "source", titles[e["target"]])
            for e in graph["edges"]}


def test_build_run_publish_and_export_a_workflow(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        setup_model(fake_openai)
    app = _blank()
    fake_openai.script("chat", Reply("Paris is the capital"))
    page = _open(browser, live_url, app)
    assert page.locator("[data-testid=wf-node]").count() == 2
    shot(page, "editor-blank")
    # Start → End becomes Start → LLM → IF/ELSE → Yes → Aggregator → End, with ELSE → No → Aggregator
    _insert_on_edge(page, "start", "end", "llm")
    llm = _id(page, "LLM")
    _insert_on_edge(page, llm, "end", "if-else")
    branch = _id(page, "IF/ELSE")
    _insert_on_edge(page, branch, "end", "template-transform")
    _configure(page, "Template", new_title="Yes")
    yes = _id(page, "Yes")
    _insert_on_edge(page, yes, "end", "variable-aggregator")
    agg = _id(page, "Variable Aggregator")
    _node(page, "IF/ELSE").click()
    page.keyboard.press("Shift+A")  # the palette, from the keyboard
    page.click("[data-testid=palette-template-transform]")  # joined to the free ELSE handle
    _configure(page, "Template", new_title="No")
    no = _id(page, "No")
    # Connect No → Aggregator by dragging from its handle to the aggregator's input
    page.click("[data-testid=tidy]")
    page.wait_for_timeout(400)
    source = page.locator(f".react-flow__handle[data-nodeid='{no}'][data-handleid=source]").bounding_box()
    target = page.locator(f".react-flow__handle[data-nodeid='{agg}'][data-handleid=target]").bounding_box()
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] / 2, steps=12)
    page.mouse.up()
    page.wait_for_selector(f".react-flow__edge[data-id^='{no}-source-{agg}']")
    shot(page, "editor-built")
    # Configure each node in its inspector's form
    inspector = page.locator("[data-testid=inspector]")

    def pick(locator, node_id: str, name: str) -> None:  # type: ignore[no-untyped-def]
        locator.select_option(json.dumps([node_id, name], separators=(",", ":")))

    _select(page, "Start")
    inspector.locator("[data-testid=start-variables-add]").click()
    inspector.get_by_label("Name", exact=True).fill("query")
    inspector.get_by_label("Label", exact=True).fill("Query")
    _select(page, "LLM")
    inspector.locator("[data-testid=model]").select_option(
        json.dumps([MODEL["provider"], MODEL["name"]], separators=(",", ":")))
    prompt = inspector.locator("[data-testid=prompt] [data-testid=template]").first
    prompt.fill("Answer briefly: ")
    prompt.press("End")
    pick(inspector.locator("[data-testid=prompt] [data-testid=insert-variable]").first, "start", "query")
    assert prompt.input_value() == "Answer briefly: {{#start.query#}}"
    _select(page, "IF/ELSE")
    inspector.locator("[data-testid=add-condition]").click()
    condition = inspector.locator("[data-testid=condition]")
    pick(condition.locator("[data-testid=selector]"), llm, "text")
    condition.locator("[data-testid=operator]").select_option("contains")
    condition.locator("[data-testid=condition-value]").fill("Paris")
    for title, text in (("Yes", "yes: {{ a }}"), ("No", "no: {{ a }}")):
        _select(page, title)
        inspector.locator("[data-testid=named-variables-add]").click()
        inspector.get_by_label("Name", exact=True).fill("a")
        pick(inspector.locator("[data-testid=named-variables] [data-testid=selector]"), llm, "text")
        inspector.locator("[data-field=template] [data-testid=template]").fill(text)
    _select(page, "Variable Aggregator")
    inspector.locator("[data-testid=selector-list-add]").click()
    inspector.locator("[data-testid=selector-list-add]").click()
    pick(inspector.locator("[data-testid=selector-list] [data-testid=selector]").nth(0), yes, "output")
    pick(inspector.locator("[data-testid=selector-list] [data-testid=selector]").nth(1), no, "output")
    _select(page, "End")
    inspector.locator("[data-testid=end-outputs-add]").click()
    inspector.get_by_label("Name", exact=True).fill("result")
    pick(inspector.locator("[data-testid=end-outputs] [data-testid=selector]"), agg, "output")
    # Only upstream variables are offered: End reads the aggregator, the aggregator cannot read End
    assert inspector.locator("[data-testid=end-outputs] optgroup[label='Variable Aggregator']").count() == 1
    shot(page, "editor-inspector-end")
    _saved(page)
    assert page.locator("[data-testid=checklist-toggle]").text_content() == "✓ Checklist"
    shot(page, "editor-configured")
    # Run it: every node on the taken path turns succeeded, the other template does not run
    page.fill("#wf-in-query", "capital of France?")
    page.click("[data-testid=run]")
    page.wait_for_selector("[data-testid=status]:has-text('succeeded')")
    assert '"result": "yes: Paris is the capital"' in page.locator("[data-testid=outputs]").text_content()
    ran = page.locator("[data-testid=wf-node][data-status=succeeded]")
    ran_ids = ran.evaluate_all("els => els.map(e => e.dataset.nodeId)")
    assert sorted(ran_ids) == sorted(["start", llm, branch, yes, agg, "end"])
    assert _node(page, "No").get_attribute("data-status") == ""
    shot(page, "editor-run")
    _select(page, "LLM")  # the inspector shows what the node read and wrote in the last run
    assert page.locator("[data-testid=last-run-status]").text_content() == "Succeeded"
    assert "Paris is the capital" in page.locator("[data-testid=run_outputs]").text_content()
    assert "capital of France?" in page.locator("[data-testid=last-run]").text_content()  # the prompt
    shot(page, "editor-last-run")
    page.click("[data-testid=publish]")
    page.wait_for_selector("text=Published. The API and the WebApp run this version now.")
    exported = yaml.safe_load(page.request.get(f"{live_url}/console/alpha/apps/{app.pk}/export/").text())
    graph = exported["workflow"]["graph"]
    assert sorted(n["data"]["type"] for n in graph["nodes"]) == sorted(
        ["start", "llm", "if-else", "template-transform", "template-transform", "variable-aggregator", "end"])
    assert _edges(graph) == {("Start", "source", "LLM"), ("LLM", "source", "IF/ELSE"),
                             ("IF/ELSE", "true", "Yes"), ("IF/ELSE", "false", "No"),
                             ("Yes", "source", "Variable Aggregator"),
                             ("No", "source", "Variable Aggregator"),
                             ("Variable Aggregator", "source", "End")}
    with schema_context("ws_alpha"):
        assert selectors.published(app).graph == selectors.draft(app).graph


def test_undo_redo_copy_paste_and_insert_on_edge(live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    app, other = _blank("First"), _blank("Second")
    page = _open(browser, live_url, app)
    _insert_on_edge(page, "start", "end", "code")
    assert page.locator("[data-testid=wf-node]").count() == 3
    code = _id(page, "Code")
    assert page.locator(f".react-flow__edge[data-id='start-source-{code}-target']").count() == 1
    assert page.locator(f".react-flow__edge[data-id='{code}-source-end-target']").count() == 1
    assert page.locator(".react-flow__edge[data-id='start-source-end-target']").count() == 0
    page.click(".react-flow__pane", position={"x": 30, "y": 30})
    page.keyboard.press("Control+z")
    assert page.locator("[data-testid=wf-node]").count() == 2
    assert page.locator(".react-flow__edge[data-id='start-source-end-target']").count() == 1
    page.keyboard.press("Control+Shift+z")
    assert page.locator("[data-testid=wf-node]").count() == 3
    _saved(page)
    assert [n["data"]["type"] for n in _draft(app)["nodes"]] == ["start", "end", "code"]
    # Copy and paste: a new node with a new id, selected
    _node(page, "Code").click()
    page.keyboard.press("Control+c")
    page.click(".react-flow__pane", position={"x": 30, "y": 30})
    page.keyboard.press("Control+v")  # the clipboard is read asynchronously: wait for the node
    page.wait_for_function("() => document.querySelectorAll('[data-testid=wf-node][data-type=code]').length === 2")
    assert _node(page, "Code").count() == 2
    _saved(page)
    codes = [n for n in _draft(app)["nodes"] if n["data"]["type"] == "code"]
    assert len(codes) == 2 and len({n["id"] for n in codes}) == 2
    shot(page, "editor-pasted")
    # ... and into another app's editor, through the clipboard
    _goto(page, live_url, other)
    page.click(".react-flow__pane", position={"x": 30, "y": 30})
    page.keyboard.press("Control+v")
    page.wait_for_selector("[data-testid=wf-node][data-type=code]")
    assert _node(page, "Code").count() == 1
    _saved(page)
    assert [n["data"]["type"] for n in _draft(other)["nodes"]] == ["start", "end", "code"]
    # At least 50 steps of history: 55 notes, 52 undos leave 3, the redo brings one back
    for _ in range(55):
        page.keyboard.press("Shift+N")
        page.click(".react-flow__pane", position={"x": 30, "y": 30})
    assert page.locator("[data-testid=wf-note]").count() == 55
    for _ in range(52):
        page.keyboard.press("Control+z")
    assert page.locator("[data-testid=wf-note]").count() == 3
    page.click("[data-testid=redo]")
    assert page.locator("[data-testid=wf-note]").count() == 4
    # A note is edited in place and saved in Dify's note format
    page.locator("[data-testid=wf-note] textarea").first.fill("Remember the retries")
    page.click(".react-flow__pane", position={"x": 30, "y": 30})
    _saved(page)
    notes = [n for n in _draft(other)["nodes"] if n["type"] == "custom-note"]
    assert len(notes) == 4 and any("Remember the retries" in n["data"]["text"] for n in notes)
    written = next(n for n in notes if "Remember" in n["data"]["text"])["data"]["text"]
    assert json.loads(written)["root"]["type"] == "root"
    # Delete from the keyboard
    _node(page, "Code").click()
    page.keyboard.press("Delete")
    assert _node(page, "Code").count() == 0
    shot(page, "editor-notes")


def test_two_editors_the_later_save_is_refused(live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    app = _blank()
    first = _open(browser, live_url, app)
    second = _open(browser, live_url, app, email="adam@alpha.test")
    _configure(first, "End", new_title="Result")
    _saved(first)
    _configure(second, "Start", new_title="Begin")
    second.wait_for_selector("[data-testid=conflict]")
    assert "Someone else saved this draft" in second.locator("[data-testid=conflict]").text_content()
    state = second.locator("[data-testid=save-state]").text_content()
    assert state == "Not saved: the draft changed elsewhere"
    shot(second, "editor-conflict")
    titles = {n["id"]: n["data"]["title"] for n in _draft(app)["nodes"]}
    assert titles == {"start": "Start", "end": "Result"}  # the first editor's save stands
    second.click("[data-testid=reload]")
    second.wait_for_selector("[data-testid=wf-node] .wfe-node__title:text-is('Result')")
    assert second.locator("[data-testid=conflict]").count() == 0


def test_a_member_who_may_not_edit_sees_the_canvas_read_only(live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    app = _blank()
    before = _draft(app)
    page = _open(browser, live_url, app, email="noor@alpha.test")
    assert "may view this workflow but not change it" in page.locator("[data-testid=readonly]").text_content()
    controls = "[data-testid=add-node], [data-testid=publish], [data-testid=undo], [data-testid=run]"
    assert page.locator(controls).count() == 0
    assert page.locator(".react-flow__node.draggable").count() == 0
    _node(page, "Start").click()
    assert page.locator("[data-testid=inspector] [data-testid=field-title]").is_disabled()
    page.keyboard.press("Delete")
    page.keyboard.press("Shift+N")
    assert page.locator("[data-testid=wf-node]").count() == 2
    assert page.locator("[data-testid=wf-note]").count() == 0
    shot(page, "editor-readonly")
    assert _draft(app) == before


# Set by the editor when placing a node, not defaults: where it sits and its container's start.
IGNORED = ("title", "desc", "isInLoop", "loop_id", "start_node_id", "width", "height")
PALETTE = [t["type"] for t in node_types("workflow") if t["palette"]]


@pytest.mark.parametrize("node_type", [*PALETTE, "answer"])
def test_each_node_type_opens_its_settings_and_saves_a_change(live_url, browser, world_tx, node_type) -> None:  # type: ignore[no-untyped-def]
    app = _blank(mode="advanced-chat" if node_type == "answer" else "workflow")
    page = _open(browser, live_url, app)
    page.click(".react-flow__pane", position={"x": 30, "y": 30})
    if node_type == "loop-end":  # only inside a loop
        page.keyboard.press("Shift+A")
        page.click("[data-testid=palette-loop]")
    page.keyboard.press("Shift+A")
    page.click(f"[data-testid=palette-{node_type}]")
    inspector = page.locator("[data-testid=inspector]")
    form = next(t for t in node_types(app.mode) if t["type"] == node_type)["form"]
    assert inspector.locator("[data-field]").evaluate_all("els => els.map(e => e.dataset.field)") == [
        f["key"] for f in form]  # the registry's form, field by field
    inspector.locator("[data-testid=field-title]").fill(f"My {node_type}")
    inspector.locator("[data-testid=field-desc]").fill("Changed in the inspector")
    _saved(page)
    shot(page, f"editor-inspector-{node_type}")
    saved = [n for n in _draft(app)["nodes"] if n["data"].get("title") == f"My {node_type}"]
    assert len(saved) == 1 and saved[0]["data"]["type"] == node_type
    assert saved[0]["data"]["desc"] == "Changed in the inspector"
    defaults = next(t for t in node_types(app.mode) if t["type"] == node_type)["data"]
    assert {k: v for k, v in saved[0]["data"].items() if k not in IGNORED} == {
        k: v for k, v in defaults.items() if k not in IGNORED}



def test_containers_branch_handles_and_notes_are_drawn(live_url, browser, world_tx) -> None:  # type: ignore[no-untyped-def]
    note = json.dumps({"root": {"type": "root", "children": [{"type": "paragraph", "children": [
        {"type": "text", "text": "Hello from Dify"}]}]}})
    graph = {"nodes": [
        {"id": "start", "type": "custom", "position": {"x": 0, "y": 0},
         "data": {"type": "start", "title": "Start", "variables": []}},
        {"id": "qc", "type": "custom", "position": {"x": 300, "y": 0},
         "data": {"type": "question-classifier", "title": "Sort", "model": MODEL,
                  "query_variable_selector": ["sys", "user_id"],
                  "classes": [{"id": "c1", "name": "Billing"}, {"id": "c2", "name": "Other"}]}},
        {"id": "it", "type": "custom", "position": {"x": 600, "y": 0}, "width": 520, "height": 240,
         "data": {"type": "iteration", "title": "Each", "iterator_selector": ["start", "items"],
                  "output_selector": ["inner", "output"], "start_node_id": "itstart",
                  "width": 520, "height": 240}},
        {"id": "itstart", "type": "custom-iteration-start", "parentId": "it", "position": {"x": 24, "y": 68},
         "data": {"type": "iteration-start", "title": "", "isInIteration": True}},
        {"id": "inner", "type": "custom", "parentId": "it", "position": {"x": 120, "y": 60},
         "data": {"type": "template-transform", "title": "Inner", "template": "x", "variables": [],
                  "isInIteration": True, "iteration_id": "it"}},
        {"id": "code", "type": "custom", "position": {"x": 300, "y": 300},
         "data": {"type": "code", "title": "Compute", "code_language": "python3", "variables": [],
                  "code": "def main():\n    return {}\n", "outputs": {}}},
        {"id": "end", "type": "custom", "position": {"x": 1300, "y": 0},
         "data": {"type": "end", "title": "End", "outputs": []}},
        {"id": "note", "type": "custom-note", "position": {"x": 0, "y": 300}, "width": 240, "height": 120,
         "data": {"type": "", "title": "", "desc": "", "text": note, "theme": "blue", "author": "Ada",
                  "showAuthor": True, "width": 240, "height": 120}}],
        "edges": [{"id": "e1", "source": "start", "target": "qc"},
                  {"id": "e2", "source": "qc", "sourceHandle": "c1", "target": "it"},
                  {"id": "e3", "source": "qc", "sourceHandle": "c2", "target": "code"},
                  {"id": "e4", "source": "itstart", "target": "inner"},
                  {"id": "e5", "source": "it", "target": "end"}]}
    with schema_context("ws_alpha"):
        app = services.workflow_app_create(name="Shapes", mode="workflow", graph=graph)
    page = _open(browser, live_url, app)
    box = page.locator("[data-testid=wf-node][data-node-id=it]").bounding_box()
    inner = page.locator("[data-testid=wf-node][data-node-id=inner]").bounding_box()
    assert box["x"] < inner["x"] and inner["x"] + inner["width"] < box["x"] + box["width"]
    assert box["y"] < inner["y"] and inner["y"] + inner["height"] < box["y"] + box["height"]
    for handle in ("c1", "c2"):
        assert page.locator(f".react-flow__handle[data-nodeid=qc][data-handleid={handle}]").count() == 1
    assert page.locator("[data-testid=wf-node][data-node-id=qc] [data-handle=c1]").text_content() == "Billing"
    assert page.locator("[data-testid=wf-note] textarea").input_value() == "Hello from Dify"
    assert "Ada" in page.locator("[data-testid=wf-note]").text_content()
    # A fail branch appears with the error strategy, and goes with it
    _select(page, "Compute")
    page.locator("[data-testid=field-error-strategy]").select_option("fail-branch")
    assert page.locator(".react-flow__handle[data-nodeid=code][data-handleid=fail-branch]").count() == 1
    # Tidy up keeps children inside their container
    page.click("[data-testid=tidy]")
    _saved(page)
    shot(page, "editor-shapes")
    saved = {n["id"]: n for n in _draft(app)["nodes"]}
    assert saved["inner"]["parentId"] == "it" and saved["inner"]["data"]["iteration_id"] == "it"
    assert saved["note"]["type"] == "custom-note" and saved["note"]["data"]["text"] == note
    assert saved["code"]["data"]["error_strategy"] == "fail-branch"
    inner_box = page.locator("[data-testid=wf-node][data-node-id=inner]").bounding_box()
    box = page.locator("[data-testid=wf-node][data-node-id=it]").bounding_box()
    assert box["x"] < inner_box["x"] and inner_box["x"] + inner_box["width"] < box["x"] + box["width"]
