"""App DSL: export/import round trips, Dify-shaped files, version rules, errors, the commands and
the console pages (roles and workspace isolation)."""

import io
import json
from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django_tenants.utils import schema_context

from apps.applications import dsl, services
from apps.applications.models import App
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"
FORM = [{"text-input": {"variable": "name", "label": "Name", "required": True, "max_length": 20}},
        {"select": {"variable": "tone", "label": "Tone", "required": False, "options": ["warm", "dry"],
                    "default": "warm"}}]


def _chat_app(**config: object) -> App:
    return services.app_create(name="Helper", mode="chat", icon="🦊", icon_background="#FFF1E0",
                               description="Helps.", config={
        "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat",
                  "completion_params": {"temperature": 0.2, "max_tokens": 300}},
        "pre_prompt": "You help {{name}} in a {{tone}} tone.", "user_input_form": FORM,
        "opening_statement": "Hi {{name}}!", "suggested_questions": ["What can you do?"], **config})


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def _dsl(**overrides: object) -> str:
    data = {"version": dsl.CURRENT_DSL_VERSION, "kind": "app",
            "app": {"name": "Tiny", "mode": "chat", "icon": "🤖", "icon_background": "#FFEAD5"},
            "model_config": {"pre_prompt": "Be brief."}}
    data.update(overrides)
    return yaml.safe_dump(data, allow_unicode=True)


# --- Export and round trips -------------------------------------------------------------------


def test_export_has_the_dify_top_level_shape(world) -> None:
    with schema_context(world.alpha.schema_name):
        app = _chat_app()
        data = yaml.safe_load(dsl.export_app(app))
    assert set(data) == {"app", "kind", "version", "model_config", "dependencies"}
    assert data["kind"] == "app" and data["version"] == "0.5.0" and isinstance(data["version"], str)
    assert data["app"] == {"name": "Helper", "mode": "chat", "icon": "🦊", "icon_background": "#FFF1E0",
                           "description": "Helps.", "use_icon_as_answer_icon": False}
    assert data["model_config"] == app.draft_config
    assert set(data["model_config"]) >= {"model", "pre_prompt", "user_input_form", "agent_mode"}
    assert data["dependencies"] == [{"type": "marketplace", "current_identifier": None, "value": {
        "marketplace_plugin_unique_identifier": "langgenius/openai", "version": None}}]


def test_export_keeps_unicode_and_sorts_keys(world) -> None:
    with schema_context(world.alpha.schema_name):
        text = dsl.export_app(_chat_app(opening_statement="こんにちは"))
    assert "こんにちは" in text and "🦊" in text
    top = [line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()]
    assert top == ["app", "dependencies", "kind", "model_config", "version"]


@pytest.mark.parametrize("mode", ["chat", "completion", "agent-chat"])
def test_export_then_import_round_trips(world, mode: str) -> None:
    with schema_context(world.alpha.schema_name):
        tools = [{"enabled": True, "provider_type": "builtin", "provider_id": "time", "provider_name": "time",
                  "tool_name": "current_time", "tool_label": "Current Time", "tool_parameters": {}}]
        original = services.app_create(name=f"Round {mode}", mode=mode, icon="🐙",
                                       icon_background="#E0F2FE", description="Trip", config={
            "model": {"provider": "anthropic", "name": "claude-3-5-haiku", "mode": "chat",
                      "completion_params": {"temperature": 0.1}},
            "pre_prompt": "Use {{name}}.", "user_input_form": FORM, "more_like_this": {"enabled": True},
            "agent_mode": {"enabled": mode == "agent-chat", "strategy": "react", "max_iteration": 3,
                           "tools": tools if mode == "agent-chat" else []}})
        result = dsl.import_app(dsl.export_app(original))
    assert result.status == dsl.ImportStatus.COMPLETED, result.error
    copy = result.app
    assert copy is not None and copy.pk != original.pk
    assert copy.draft_config == original.draft_config
    assert (copy.name, copy.mode, copy.icon, copy.icon_background, copy.description) == (
        original.name, mode, "🐙", "#E0F2FE", "Trip")
    assert copy.published_id is None


def test_import_into_an_existing_app_replaces_its_draft(world) -> None:
    with schema_context(world.alpha.schema_name):
        app = _chat_app()
        text = _dsl(app={"name": "Renamed", "mode": "chat", "icon": "🐳"},
                    model_config={"pre_prompt": "New prompt", "opening_statement": "Yo"})
        result = dsl.import_app(text, app=app)
        app.refresh_from_db()
    assert result.ok and result.app.pk == app.pk
    assert app.draft_config["pre_prompt"] == "New prompt" and app.draft_config["opening_statement"] == "Yo"
    assert app.draft_config["user_input_form"] == []  # replaced, not merged
    assert (app.name, app.icon) == ("Renamed", "🐳")


def test_import_into_an_app_of_another_mode_is_refused(world) -> None:
    with schema_context(world.alpha.schema_name):
        app = _chat_app()
        result = dsl.import_app(_dsl(app={"name": "X", "mode": "completion"}), app=app)
        app.refresh_from_db()
    assert result.status == dsl.ImportStatus.FAILED and "cannot replace" in result.error
    assert app.draft_config["pre_prompt"].startswith("You help")


# --- Dify-shaped files ------------------------------------------------------------------------


def test_it_imports_a_dify_chat_app(world) -> None:
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(_fixture("chat_travel_planner.yml"), actor_id=world.owner.user_id)
    assert result.status == dsl.ImportStatus.COMPLETED_WITH_WARNINGS  # 0.1.5 is an older minor
    assert result.imported_dsl_version == "0.1.5" and result.current_dsl_version == "0.5.0"
    app = result.app
    assert (app.name, app.mode, app.icon) == ("Trip planner", "chat", "🗺")
    assert app.created_by_id == world.owner.user_id
    config = app.draft_config
    assert config["model"]["provider"] == "openai"  # the plugin id langgenius/openai/openai, normalised
    assert config["opening_statement"].startswith("Hello! Tell me where")
    assert [next(iter(e)) for e in config["user_input_form"]] == ["select", "number", "text-input"]
    assert config["user_input_form"][0]["select"]["options"] == ["shoestring", "moderate", "generous"]
    assert config["suggested_questions"] == ["A weekend in Lisbon?", "Five quiet days in Hokkaido"]
    assert config["suggested_questions_after_answer"] == {"enabled": True}
    plugin = result.dependencies[0]["value"]["marketplace_plugin_unique_identifier"]
    assert plugin.startswith("langgenius/openai:")
    assert any("older than the current one" in w for w in result.warnings)
    assert any("OpenAI is not set up in this workspace" in w for w in result.warnings)


def test_it_imports_an_old_completion_app_without_kind_or_dependencies(world) -> None:
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(_fixture("completion_release_notes.yml"))
    assert result.status == dsl.ImportStatus.COMPLETED_WITH_WARNINGS, result.error
    config = result.app.draft_config
    assert result.app.mode == "completion"
    assert "created_by_plugin_hint" not in config  # unknown keys tolerated, not kept
    assert config["pre_prompt"].startswith("Write release notes for version {{version}}")
    assert config["dataset_query_variable"] == "changes" and config["more_like_this"] == {"enabled": True}
    assert config["user_input_form"][1] == {"text-input": {"label": "Version", "variable": "version",
                                                           "required": True}}
    assert config["dataset_configs"]["retrieval_model"] == "single"
    assert config["sensitive_word_avoidance"] == {"enabled": False, "type": "", "configs": []}
    # Dependencies derived from the model config, as Dify does for old files.
    assert result.dependencies[0]["value"]["marketplace_plugin_unique_identifier"] == "langgenius/openai"


def test_it_imports_an_agent_app_with_tools_and_legacy_entries(world) -> None:
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(_fixture("agent_research_assistant.yml"))
    assert result.ok, result.error
    config = result.app.draft_config
    agent = config["agent_mode"]
    assert result.app.mode == "agent-chat" and agent["enabled"] is True
    assert agent["strategy"] == "react"  # "cot" is ReAct
    assert agent["max_iteration"] == 10  # Dify's default when the file has none
    assert [t["tool_name"] for t in agent["tools"]] == ["current_time", "wikipedia_search"]
    assert agent["tools"][0]["tool_parameters"] == {"format": "%Y-%m-%d %H:%M", "timezone": "UTC"}
    # The legacy knowledge "tool" moved to dataset_configs; the legacy built-in one was dropped.
    assert config["dataset_configs"]["datasets"]["datasets"] == [
        {"dataset": {"enabled": True, "id": "6c0ad0f4-2f1b-4b8e-9a3e-5d2c7f1e8b90"}}]
    assert config["model"]["provider"] == "anthropic"
    assert any("current_datetime" in w for w in result.warnings)
    assert any("strategy cot" in w for w in result.warnings)


def test_legacy_input_forms_and_strategies_are_normalised(world) -> None:
    model_config = {
        "user_input_form": [
            {"text": {"variable": "topic"}},
            {"type": "paragraph", "variable": "notes", "label": "Notes"},
            {"select": {"variable": "lang", "label": "Language"}},
            {"file": {"variable": "doc", "label": "Doc"}},
            {"text-input": {"label": "no variable"}},
            "junk",
        ],
        "agent_mode": {"enabled": False, "strategy": "router", "tools": []},
        "dataset_configs": {"retrieval_model": "single", "datasets": {"datasets": [
            {"dataset": {"enabled": True, "id": "bm90LWEtdXVpZA=="}}]}},
    }
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(_dsl(model_config=model_config))
    config = result.app.draft_config
    assert config["user_input_form"] == [
        {"text-input": {"variable": "topic", "label": "topic", "required": False}},
        {"paragraph": {"variable": "notes", "label": "Notes", "required": False}},
        {"select": {"variable": "lang", "label": "Language", "required": False, "options": []}},
    ]
    assert config["agent_mode"]["strategy"] == "function_call"
    assert config["dataset_configs"]["datasets"]["datasets"] == []  # encrypted id: dropped
    assert len([w for w in result.warnings if "removed" in w]) == 4


def test_overrides_win_over_the_file(world) -> None:
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(_dsl(), name="Mine", description="Mine too", icon="🐝")
    assert (result.app.name, result.app.description, result.app.icon) == ("Mine", "Mine too", "🐝")


def test_image_icons_fall_back_to_an_emoji(world) -> None:
    app_data = {"name": "Pic", "mode": "chat", "icon": "a3f0c2e4-file-id", "icon_type": "image"}
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(_dsl(app=app_data))
    assert result.app.icon == "🤖" and any("image icon" in w for w in result.warnings)


# --- Versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "status"), [
    ("0.5.0", "completed"),
    ("0.5", "completed"),
    ("0.5.1", "pending"),
    ("0.4.9", "completed-with-warnings"),
    ("0.1.0", "completed-with-warnings"),
    ("0.6.0", "pending"),
    ("1.0.0", "pending"),
])
def test_version_rules(world, version: str, status: str) -> None:
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(_dsl(version=version))
    assert result.status == status
    assert (result.app is None) == (status == "pending")
    assert result.imported_dsl_version == version


def test_a_missing_version_counts_as_0_1_0(world) -> None:
    text = yaml.safe_dump({"app": {"name": "Old", "mode": "chat"}, "model_config": {}})
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(text)
    assert result.status == "completed-with-warnings" and result.imported_dsl_version == "0.1.0"


def test_a_pending_import_completes_once_confirmed(world) -> None:
    with schema_context(world.alpha.schema_name):
        pending = dsl.import_app(_dsl(version="0.9.0"))
        assert App.objects.count() == 0
        confirmed = dsl.import_app(_dsl(version="0.9.0"), confirm=True)
    assert pending.status == "pending" and "newer than" in pending.warnings[0]
    assert confirmed.status == "completed-with-warnings" and confirmed.app is not None


@pytest.mark.parametrize(("text", "error"), [
    ("version: 0.1\napp: {name: A, mode: chat}\nmodel_config: {}\n",
     "Invalid version type, expected str, got float"),
    ("version: 'abc'\napp: {name: A, mode: chat}\nmodel_config: {}\n", "Invalid DSL version: abc"),
    ("app: [unclosed\n", "Invalid YAML format"),
    ("- just\n- a list\n", "Invalid YAML format: content must be a mapping"),
    ("kind: app\nversion: '0.5.0'\n", "Missing app data in YAML content"),
    ("app: {name: A}\n", "Missing app mode in YAML content"),
    ("app: {name: A, mode: robot}\n", "Invalid app mode: robot"),
    ("app: {name: A, mode: chat}\n", "Missing model_config"),
    ("app: {name: A, mode: chat}\nmodel_config: {}\ndependencies: {a: 1}\n", "Invalid dependencies"),
    ("app: {name: '', mode: chat}\nmodel_config: {}\n", "An app needs a name."),
])
def test_bad_files_fail_with_a_clear_error(world, text: str, error: str) -> None:
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(text)
        assert App.objects.count() == 0
    assert result.status == "failed" and result.app is None
    assert error in result.error


@pytest.mark.parametrize("mode", ["workflow", "advanced-chat"])
def test_workflow_files_import_as_workflow_apps(world, mode: str) -> None:
    """Workflow and chatflow files are handled by apps.workflows (tests/workflows/test_dsl.py)."""
    text = _dsl(app={"name": "Flow", "mode": mode}, workflow={"graph": {"nodes": [], "edges": []}})
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app(text)
        assert result.status == "completed" and result.app.mode == mode
        missing = dsl.import_app(_dsl(app={"name": "Flow", "mode": mode}))
    assert missing.status == "failed" and "Missing workflow data" in missing.error


def test_yaml_errors_name_the_line(world) -> None:
    with schema_context(world.alpha.schema_name):
        result = dsl.import_app("app:\n  name: A\n  mode: chat\nmodel_config: {pre_prompt: 'x'\n")
    assert result.error.startswith("Invalid YAML format") and "(line" in result.error


# --- Commands ---------------------------------------------------------------------------------


def _call(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_and_export_commands(world) -> None:
    path = str(FIXTURES / "chat_travel_planner.yml")
    out, err = _call("import_app", path, "--workspace", "alpha", "--publish")
    with schema_context(world.alpha.schema_name):
        app = App.objects.get(pk=out.strip())
        assert app.published is not None and app.published.config == app.draft_config
    assert "warning:" in err
    exported, _ = _call("export_app", str(app.pk))  # the workspace is found by searching
    assert yaml.safe_load(exported)["model_config"] == app.draft_config
    assert _call("export_app", str(app.pk), "--workspace", "alpha")[0] == exported


def test_command_errors_are_readable(world, tmp_path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("app: {name: F, mode: workflow}\n")
    with pytest.raises(CommandError, match="Missing workflow data"):
        _call("import_app", str(bad), "--workspace", "alpha")
    with pytest.raises(CommandError, match="cannot read"):
        _call("import_app", str(tmp_path / "missing.yml"), "--workspace", "alpha")
    with pytest.raises(CommandError, match="no ready workspace"):
        _call("import_app", str(bad), "--workspace", "nope")
    newer = tmp_path / "newer.yml"
    newer.write_text(_dsl(version="0.9.0"))
    with pytest.raises(CommandError, match="--force"):
        _call("import_app", str(newer), "--workspace", "alpha")
    assert _call("import_app", str(newer), "--workspace", "alpha", "--force")[0].strip()
    with pytest.raises(CommandError, match="not an app id"):
        _call("export_app", "42")
    with pytest.raises(CommandError, match="no app"):
        _call("create_api_key", "--app", "6c0ad0f4-2f1b-4b8e-9a3e-5d2c7f1e8b90")
    with schema_context(world.beta.schema_name):
        beta_app = _chat_app()
    with pytest.raises(CommandError, match="in workspace 'alpha'"):
        _call("export_app", str(beta_app.pk), "--workspace", "alpha")


@pytest.mark.django_db(transaction=True)
def test_create_api_key_prints_a_key_that_authenticates(world_tx) -> None:
    # Transactional: the Service API is async and reaches the database from its own connections.
    world = world_tx
    with schema_context(world.beta.schema_name):
        app = services.app_create(name="Keyed", mode="chat")  # no model configured
    key = _call("create_api_key", "--app", str(app.pk))[0].strip()
    assert key.startswith("app-")
    body = json.dumps({"inputs": {}, "query": "Hi", "user": "u-1", "response_mode": "blocking"})
    client = Client()
    response = client.post("/v1/chat-messages", body, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code != 401, response.content
    # The app has no model yet: refused for that (app_unavailable), not for the key.
    assert response.status_code == 400
    assert response.json()["code"] in ("app_unavailable", "provider_not_initialize")
    wrong = client.post("/v1/chat-messages", body, content_type="application/json",
                        HTTP_AUTHORIZATION="Bearer app-notakey")
    assert wrong.status_code == 401


# --- Console ----------------------------------------------------------------------------------


def _export_url(ws: str, app_id: object) -> str:
    return f"/console/{ws}/apps/{app_id}/export/"


def test_console_export_downloads_the_yaml(world) -> None:
    with schema_context(world.alpha.schema_name):
        app = _chat_app()
    response = client_for(world.editor.user).get(_export_url("alpha", app.pk))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-yaml")
    assert response["Content-Disposition"] == 'attachment; filename="Helper.yml"'
    assert yaml.safe_load(response.content)["model_config"] == app.draft_config


def test_console_export_is_refused_to_members_and_other_workspaces(world) -> None:
    with schema_context(world.alpha.schema_name):
        app = _chat_app()
    assert client_for(world.normal.user).get(_export_url("alpha", app.pk)).status_code == 403
    # Bruno owns beta: alpha's app does not exist there, and alpha is not his workspace.
    assert client_for(world.other.user).get(_export_url("beta", app.pk)).status_code == 404
    assert client_for(world.other.user).get(_export_url("alpha", app.pk)).status_code in (403, 404)


def test_console_import_from_a_file(world) -> None:
    client = client_for(world.admin.user)
    page = client.get("/console/alpha/apps/import/")
    assert page.status_code == 200 and b'enctype="multipart/form-data"' in page.content
    upload = SimpleUploadedFile("agent.yml", (FIXTURES / "agent_research_assistant.yml").read_bytes())
    response = client.post("/console/alpha/apps/import/", {"file": upload, "name": "Scout"})
    with schema_context(world.alpha.schema_name):
        app = App.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/console/alpha/apps/{app.pk}/"
    assert (app.name, app.mode, app.created_by_id) == ("Scout", "agent-chat", world.admin.user_id)
    with schema_context(world.beta.schema_name):
        assert not App.objects.exists()


def test_console_import_from_pasted_yaml_and_errors(world) -> None:
    client = client_for(world.owner.user)
    response = client.post("/console/alpha/apps/import/", {"content": "app: {name: F, mode: workflow}\n"})
    assert response.status_code == 200 and "Missing workflow data" in response.content.decode()
    response = client.post("/console/alpha/apps/import/", {})
    assert "Choose a DSL file or paste its YAML." in response.content.decode()
    pasted = _fixture("completion_release_notes.yml")
    response = client.post("/console/alpha/apps/import/", {"content": pasted})
    assert response.status_code == 302
    with schema_context(world.alpha.schema_name):
        assert App.objects.get().name == "Release notes writer"


def test_console_import_asks_to_confirm_newer_files(world) -> None:
    client = client_for(world.owner.user)
    response = client.post("/console/alpha/apps/import/", {"content": _dsl(version="0.9.0")})
    page = response.content.decode()
    assert response.status_code == 200 and "Import anyway" in page and "newer than" in page
    with schema_context(world.alpha.schema_name):
        assert not App.objects.exists()
    confirmed = {"content": _dsl(version="0.9.0"), "confirm": "True"}
    response = client.post("/console/alpha/apps/import/", confirmed)
    assert response.status_code == 302
    with schema_context(world.alpha.schema_name):
        assert App.objects.get().name == "Tiny"


def test_console_import_is_refused_to_members(world) -> None:
    client = client_for(world.normal.user)
    assert client.get("/console/alpha/apps/import/").status_code == 403
    assert client.post("/console/alpha/apps/import/", {"content": _dsl()}).status_code == 403
    with schema_context(world.alpha.schema_name):
        assert not App.objects.exists()
    assert Client().get("/console/alpha/apps/import/").status_code in (302, 403)
