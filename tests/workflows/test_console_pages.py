"""Issue 13 item 8 on the existing workflow pages: run statuses translated (zh_Hans, ja), the run
summary readable, versions with human dates, and the logs paged, filtered by status and days and
searched; the history and the log's first page refresh themselves (htmx) from their own HTML."""

import datetime
import json

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.workflows import services
from apps.workflows.models import WorkflowRun
from tests.conftest import client_for
from tests.workflows.test_console import BASE, _flow

pytestmark = pytest.mark.django_db


def _run(app, status: str = "succeeded", *, days_ago: int = 0,  # type: ignore[no-untyped-def]
         **fields) -> WorkflowRun:
    run = WorkflowRun.objects.create(app=app, workflow_version="v", mode="workflow", triggered_from="app-run",
                                     status=status, **fields)
    if days_ago:
        earlier = timezone.now() - datetime.timedelta(days=days_ago)
        WorkflowRun.objects.filter(pk=run.pk).update(created_at=earlier)
    return run


@pytest.mark.parametrize(("language", "words"), [
    ("zh-hans", ["成功", "失败", "部分成功", "已停止"]),
    ("ja", ["成功", "失敗", "一部成功", "停止"]),
])
def test_run_statuses_are_translated(world, language: str, words: list[str]) -> None:
    app = _flow(world)
    with schema_context(world.alpha.schema_name):
        runs = [_run(app, status) for status in ("succeeded", "failed", "partial-succeeded", "stopped")]
        debug = WorkflowRun.objects.create(app=app, workflow_version="draft", mode="workflow",
                                           triggered_from="debugging", status="failed")
    client = client_for(world.owner.user)
    log = client.get(f"{BASE}/{app.pk}/workflow/logs/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for word in words:
        assert f">{word}</span>" in log, word
    assert ">succeeded<" not in log and ">partial-succeeded<" not in log
    detail = client.get(f"{BASE}/{app.pk}/workflow/runs/{runs[2].pk}/", HTTP_ACCEPT_LANGUAGE=language)
    assert f'data-testid="run-status">{words[2]}</span>' in detail.content.decode()
    page = client.get(f"{BASE}/{app.pk}/workflow/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f'data-status="failed">{words[1]}</span>' in page and str(debug.pk) in page
    data = json.loads(page.split('id="workflow-data" type="application/json">')[1].split("</script>")[0])
    assert data["statuses"]["failed"] == words[1]  # the live steps of a test run use the same labels


def test_run_summary_is_not_the_pale_dash_style(world) -> None:
    app = _flow(world)
    with schema_context(world.alpha.schema_name):
        run = _run(app, "failed", error="boom", total_steps=3, total_tokens=12)
    detail = client_for(world.owner.user).get(f"{BASE}/{app.pk}/workflow/runs/{run.pk}/").content.decode()
    assert 'class="wf-summary"' in detail and '<dl class="dash">' not in detail
    assert ".wf-summary dd { margin: 0; color: var(--text);" in detail


def test_versions_show_human_dates(world) -> None:
    app = _flow(world)
    with schema_context(world.alpha.schema_name):
        version = services.publish(app=app, name="first")
    page = client_for(world.editor.user).get(f"{BASE}/{app.pk}/workflow/").content.decode()
    human = timezone.localtime(version.created_at).strftime("%Y")
    assert f'title="{version.version}"' in page and "ago)" in page and human in page
    assert f">{version.version}<" not in page  # the raw timestamp is only the tooltip
    assert "Published " + version.version not in page


def test_logs_page_filter_by_status_days_and_search(world) -> None:
    app = _flow(world)
    with schema_context(world.alpha.schema_name):
        many = [_run(app, inputs={"q": f"tea {i}"}) for i in range(55)]
        old = _run(app, "failed", days_ago=10, inputs={"q": "coffee"}, error="the kettle broke")
        stopped = _run(app, "stopped", days_ago=3, outputs={"r": "half a cup"})
    client = client_for(world.owner.user)
    url = f"{BASE}/{app.pk}/workflow/logs/"
    first = client.get(url).content.decode()
    assert first.count("data-run-id=") == 50 and "57 runs · page 1 of 2" in first
    assert 'hx-trigger="every 5s"' in first and 'hx-select="#run-log-list"' in first  # live first page
    second = client.get(url + "?page=2").content.decode()
    assert second.count("data-run-id=") == 7 and str(old.pk) in second
    assert 'hx-trigger="every 5s"' not in second  # only the first page gets new runs
    assert str(many[0].pk) in second  # oldest of the 55 last
    failed = client.get(url + "?status=failed").content.decode()
    assert failed.count("data-run-id=") == 1 and str(old.pk) in failed
    searched = client.get(url + "?q=kettle").content.decode()
    assert searched.count("data-run-id=") == 1 and str(old.pk) in searched
    assert client.get(url + "?q=half+a+cup").content.decode().count("data-run-id=") == 1
    today = timezone.localdate()
    recent = client.get(url + f"?from={today - datetime.timedelta(days=5)}&to={today}").content.decode()
    assert "56 runs · page 1 of 2" in recent  # the 55 of today and the stopped one, not the old one
    window = client.get(url + f"?from={today - datetime.timedelta(days=11)}"
                              f"&to={today - datetime.timedelta(days=2)}").content.decode()
    assert window.count("data-run-id=") == 2 and str(stopped.pk) in window and str(old.pk) in window
    none = client.get(url + "?q=nothing-like-this").content.decode()
    assert "No runs match these filters." in none
    assert client.get(url + "?from=not-a-date&status=bogus").content.decode().count("data-run-id=") == 50
    # Another workspace's owner reaches none of it.
    beta = client_for(world.other.user)
    assert beta.get(f"/console/beta/apps/{app.pk}/workflow/logs/?q=kettle").status_code == 404


def test_run_history_refreshes_from_the_page_itself(world) -> None:
    app = _flow(world)
    page = client_for(world.editor.user).get(f"{BASE}/{app.pk}/workflow/").content.decode()
    assert 'id="run-history"' in page and 'hx-trigger="wf-run-finished from:body, every 10s"' in page
    with schema_context(world.alpha.schema_name):
        run = WorkflowRun.objects.create(app=app, workflow_version="draft", mode="workflow",
                                         triggered_from="debugging", status="succeeded")
    again = client_for(world.editor.user).get(f"{BASE}/{app.pk}/workflow/").content.decode()
    assert str(run.pk) in again.split('id="run-history"')[1].split("</section>")[0]
