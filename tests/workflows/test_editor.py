"""The editor's server side: the draft API's optimistic concurrency, the checklist with node ids, the
node registry the canvas reads, and the page's config (read-only reason, strings in the user's
language). Browser behaviour is in test_editor_browser.py."""

import json

import pytest
from django_tenants.utils import schema_context

from apps.workflows import selectors, services
from apps.workflows.editor import node_types
from apps.workflows.engine.nodes import NODES, registry, unsupported_reason
from tests.conftest import client_for

BASE = "/console/alpha/apps"


def _blank(world, mode: str = "workflow"):  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        return services.workflow_app_create(name="Canvas", mode=mode)


def _config(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.content.decode()
    text = body.split('id="workflow-editor-config" type="application/json">')[1]
    return json.loads(text.split("</script>")[0])


def _renamed(graph: dict, node_id: str, title: str) -> dict:
    nodes = [{**n, "data": {**n["data"], "title": title}} if n["id"] == node_id else n
             for n in graph["nodes"]]
    return {**graph, "nodes": nodes}


@pytest.mark.django_db
def test_a_save_based_on_an_older_draft_is_refused_and_changes_nothing(world) -> None:
    app = _blank(world)
    url = f"{BASE}/{app.pk}/workflow/draft/"
    first, second = client_for(world.editor.user), client_for(world.admin.user)
    loaded = first.get(url).json()
    also_loaded = second.get(url).json()
    assert loaded["updated_at"] == also_loaded["updated_at"]
    saved = first.post(url, {"graph": _renamed(loaded["graph"], "end", "Result"),
                             "base_updated_at": loaded["updated_at"]}, content_type="application/json")
    assert saved.status_code == 200 and saved.json()["updated_at"] != loaded["updated_at"]
    refused = second.post(url, {"graph": _renamed(also_loaded["graph"], "start", "Begin"),
                                "base_updated_at": also_loaded["updated_at"]},
                          content_type="application/json")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "draft_conflict" and body["status"] == 409
    assert "Someone else saved" in body["message"]
    assert body["updated_at"] == saved.json()["updated_at"]
    with schema_context(world.alpha.schema_name):
        titles = {n["id"]: n["data"]["title"] for n in selectors.draft(app).graph["nodes"]}
    assert titles == {"start": "Start", "end": "Result"}
    # Based on the newer draft, the same save goes through
    again = second.post(url, {"graph": _renamed(saved.json()["graph"], "start", "Begin"),
                              "base_updated_at": saved.json()["updated_at"]}, content_type="application/json")
    assert again.status_code == 200
    # Clients that send no base (the JSON API before the editor) still replace the draft
    plain = first.post(url, {"graph": loaded["graph"]}, content_type="application/json")
    assert plain.status_code == 200


@pytest.mark.django_db
def test_the_conflict_message_is_translated(world) -> None:
    app = _blank(world)
    url = f"{BASE}/{app.pk}/workflow/draft/"
    client = client_for(world.editor.user)
    graph = client.get(url).json()["graph"]
    client.cookies["django_language"] = "ja"
    refused = client.post(url, {"graph": graph, "base_updated_at": "2001-01-01T00:00:00+00:00"},
                          content_type="application/json", HTTP_ACCEPT_LANGUAGE="ja")
    assert refused.status_code == 409 and "Someone else" not in refused.json()["message"]


@pytest.mark.django_db
def test_the_checklist_names_the_node_of_each_problem(world) -> None:
    app = _blank(world)
    graph = services.default_graph("workflow")
    graph["nodes"].append({"id": "ask", "type": "custom", "position": {"x": 0, "y": 0},
                           "data": {"type": "llm", "title": "Ask", **registry.TYPES["llm"].defaults()}})
    items = services.checklist_items(graph, "workflow")
    assert {"node_id": "ask", "message": "Ask: no model is selected."} in items
    assert {"node_id": "ask", "message": "Ask is not connected to the Start node."} in items
    client = client_for(world.editor.user)
    saved = client.post(f"{BASE}/{app.pk}/workflow/draft/", {"graph": graph}, content_type="application/json")
    assert saved.json()["checklist_items"] == items
    assert saved.json()["checklist"] == [i["message"] for i in items]


def test_the_engine_runs_every_registered_type_and_the_palette_offers_the_runnable_ones() -> None:
    assert set(NODES) == set(registry.TYPES)
    for mode in ("workflow", "advanced-chat"):
        offered = {t["type"] for t in node_types(mode) if t["palette"]}
        assert all(unsupported_reason(t) is None for t in offered)
        assert {"llm", "if-else", "code", "http-request", "iteration", "loop", "template-transform",
                "variable-aggregator", "question-classifier", "knowledge-retrieval", "parameter-extractor",
                "assigner", "list-operator", "document-extractor"} <= offered
        assert "start" not in offered and "tool" not in offered and "iteration-start" not in offered
        assert ("end" in offered) == (mode == "workflow")
        assert ("answer" in offered) == (mode == "advanced-chat")
    for item in node_types("workflow"):
        assert item["data"]["type"] == item["type"] and item["data"]["title"]
        assert item["data"] == registry.TYPES[item["type"]].new_data()


@pytest.mark.django_db
def test_the_page_gives_the_canvas_its_config_and_a_member_the_reason_it_is_read_only(world) -> None:
    app = _blank(world)
    editor = _config(client_for(world.editor.user).get(f"{BASE}/{app.pk}/workflow/"))
    assert editor["readonly"] == "" and editor["publish_form"] == "wf-publish-form"
    assert [n["id"] for n in editor["graph"]["nodes"]] == ["start", "end"]
    assert editor["urls"]["draft"] == f"{BASE}/{app.pk}/workflow/draft/"
    assert {g["id"] for g in editor["groups"]} == {"basics", "model", "logic", "transform"}
    member = client_for(world.normal.user)
    member.cookies["django_language"] = "zh-hans"
    page = member.get(f"{BASE}/{app.pk}/workflow/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    config = _config(page)
    assert config["readonly"] and "Read only" not in config["readonly"] and config["publish_form"] == ""
    assert config["i18n"]["undo"] != "Undo" and config["types"][0]["label"] != "Start"
    assert 'data-testid="run"' not in page.content.decode()


@pytest.mark.django_db
def test_another_workspace_cannot_read_or_save_the_draft(world) -> None:
    app = _blank(world)
    url = f"{BASE}/{app.pk}/workflow/draft/"
    loaded = client_for(world.editor.user).get(url).json()
    outsider = client_for(world.other.user)
    assert outsider.get(f"/console/alpha/apps/{app.pk}/workflow/").status_code in (403, 404)
    assert outsider.get(f"/console/beta/apps/{app.pk}/workflow/").status_code == 404
    for target in (url, f"/console/beta/apps/{app.pk}/workflow/draft/"):
        response = outsider.post(target, {"graph": _renamed(loaded["graph"], "end", "Taken"),
                                          "base_updated_at": loaded["updated_at"]},
                                   content_type="application/json")
        assert response.status_code in (403, 404)
    with schema_context(world.alpha.schema_name):
        draft = selectors.draft(app)
    assert draft.updated_at.isoformat() == loaded["updated_at"]
    assert {n["data"]["title"] for n in draft.graph["nodes"]} == {"Start", "End"}


@pytest.mark.django_db
def test_a_published_version_opens_read_only_on_the_canvas_and_restores(world) -> None:
    app = _blank(world)
    with schema_context(world.alpha.schema_name):
        version = services.publish(app=app)
        draft = selectors.draft(app)
        services.draft_sync(app=app, graph=_renamed(draft.graph, "end", "Changed since"))
    client = client_for(world.editor.user)
    listing = client.get(f"{BASE}/{app.pk}/workflow/").content.decode()
    url = f"{BASE}/{app.pk}/workflow/versions/{version.pk}/"
    assert f'href="{url}"' in listing
    page = client.get(url)
    config = _config(page)
    assert config["readonly"].startswith("You are looking at the version published")
    assert {n["data"]["title"] for n in config["graph"]["nodes"]} == {"Start", "End"}
    assert config["publish_form"] == "" and 'data-testid="restore"' in page.content.decode()
    assert client.post(f"{url}restore/").status_code == 302
    with schema_context(world.alpha.schema_name):
        assert {n["data"]["title"] for n in selectors.draft(app).graph["nodes"]} == {"Start", "End"}
    # Members without edit rights, and other workspaces, cannot open it
    assert client_for(world.normal.user).get(url).status_code == 403
    outsider = client_for(world.other.user)
    assert outsider.get(url).status_code in (403, 404)
    assert outsider.get(f"/console/beta/apps/{app.pk}/workflow/versions/{version.pk}/").status_code == 404
