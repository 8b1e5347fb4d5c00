"""Export → import round trip of every app mode and every node type (issue 14): a file is imported
with the CLI into alpha and exported with the CLI, that export imported through the console into
beta and exported there again; the two exports are equal (nothing in them is an id the import
had to change), and nothing of the original graph was lost on the way."""

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django_tenants.utils import schema_context

from apps.applications.models import App
from apps.workflows.engine.nodes import NODES
from tests.conftest import client_for

ROUND_TRIP = Path(__file__).parent / "fixtures" / "roundtrip"
PROMPT_APPS = Path(__file__).parents[1] / "applications" / "fixtures"
FILES = sorted(ROUND_TRIP.glob("*.yml")) + sorted(PROMPT_APPS.glob("*.yml"))


def _cli_round(path: Path) -> tuple[str, str]:
    out = StringIO()
    call_command("import_app", str(path), "--workspace", "alpha", stdout=out, stderr=StringIO())
    app_id = out.getvalue().strip()
    exported = StringIO()
    call_command("export_app", app_id, stdout=exported)
    return app_id, exported.getvalue()


def _console_round(world, text: str) -> str:  # type: ignore[no-untyped-def]
    client = client_for(world.other.user)  # Bruno, beta's owner
    upload = SimpleUploadedFile("app.yml", text.encode())
    response = client.post("/console/beta/apps/import/", {"file": upload})
    assert response.status_code == 302, response.content[:500]
    app_id = response["Location"].rstrip("/").split("/")[-1]
    download = client.get(f"/console/beta/apps/{app_id}/export/")
    assert download.status_code == 200
    return download.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_export_import_export_is_stable(world, tmp_path, path: Path) -> None:
    app_id, first = _cli_round(path)
    second = _console_round(world, first)
    assert second == first
    with schema_context(world.beta.schema_name):
        assert App.objects.get().mode == yaml.safe_load(path.read_text())["app"]["mode"]
    original, exported = yaml.safe_load(path.read_text()), yaml.safe_load(first)
    if "workflow" not in original:
        assert exported["model_config"]["model"]["name"] == original["model_config"]["model"]["name"]
        return
    before = {n["id"]: n for n in original["workflow"]["graph"]["nodes"]}
    after = {n["id"]: n for n in exported["workflow"]["graph"]["nodes"]}
    assert after.keys() == before.keys()  # no node lost, notes included
    for node_id, node in before.items():
        assert after[node_id].get("parentId") == node.get("parentId")
        assert after[node_id]["data"]["type"] == node["data"]["type"]
        if node["type"] == "custom-note":
            assert after[node_id] == node
    assert exported["workflow"]["graph"]["edges"] == original["workflow"]["graph"]["edges"]
    assert [v["name"] for v in exported["workflow"]["conversation_variables"]] == [
        v["name"] for v in original["workflow"].get("conversation_variables") or []]


def test_the_round_trip_files_cover_every_node_type() -> None:
    seen = {n["data"]["type"] or n["type"] for path in ROUND_TRIP.glob("*.yml")
            for n in yaml.safe_load(path.read_text())["workflow"]["graph"]["nodes"]}
    assert seen >= set(NODES) | {"custom-note"}, set(NODES) - seen
    modes = {yaml.safe_load(p.read_text())["app"]["mode"] for p in FILES}
    assert modes == {"workflow", "advanced-chat", "chat", "completion", "agent-chat"}
