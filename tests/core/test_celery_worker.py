"""A real Celery worker process runs tasks in the schema of the workspace that sent them."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from apps.logs import tasks as log_tasks
from apps.logs.models import ActivityEvent
from apps.workspaces import services
from apps.workspaces.models import Invitation
from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"


def _start_worker(tmp_path, extra_env=None) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": _database_url(),
           **(extra_env or {})}
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "info",
         "-Q", ",".join(settings.CELERY_TASK_QUEUES_NAMES), "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen, tmp_path) -> str:  # type: ignore[no-untyped-def]
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    return (tmp_path / "worker.log").read_text()


def _wait_for(predicate, timeout: float = 40.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _events(schema: str, marker: str) -> list[str]:
    with schema_context(schema):
        return list(ActivityEvent.objects.filter(target=marker).values_list("verb", flat=True))


@pytest.fixture
def real_broker(monkeypatch):  # type: ignore[no-untyped-def]
    """Send for real (tests run eagerly by default), through a clean broker folder."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", ""))
    if folder.name and folder.exists():
        shutil.rmtree(folder)
        folder.mkdir(parents=True)


@pytest.mark.worker
def test_worker_runs_task_in_the_senders_schema(world_tx, real_broker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker_a, marker_b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    with schema_context(world_tx.alpha.schema_name):
        log_tasks.record_activity.delay(verb="probe", target=marker_a)
    with schema_context(world_tx.beta.schema_name):
        log_tasks.record_activity.delay(verb="probe", target=marker_b)
    worker = _start_worker(tmp_path)
    try:
        arrived = _wait_for(lambda: _events("ws_alpha", marker_a) and _events("ws_beta", marker_b))
    finally:
        output = _stop(worker, tmp_path)
    assert arrived, output
    assert _events("ws_alpha", marker_b) == [] and _events("ws_beta", marker_a) == []


@pytest.mark.worker
def test_invitation_mail_goes_through_the_mail_queue(world_tx, real_broker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = services.invitation_create(actor=world_tx.owner, email=f"w-{uuid.uuid4().hex[:8]}@alpha.test",
                                        role="normal")  # autocommit: on_commit fires at once
    worker = _start_worker(tmp_path)
    try:
        sent = _wait_for(lambda: Invitation.objects.get(pk=result.invitation.pk).email_sent_at is not None)
    finally:
        output = _stop(worker, tmp_path)
    assert sent, output
    assert "apps.workspaces.tasks.send_invitation_email" in output
    assert _events("ws_alpha", result.invitation.email) == ["invitation.sent"]


@pytest.mark.worker
@pytest.mark.redis
def test_worker_with_redis_broker(world_tx, redis_url, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    marker = f"r-{uuid.uuid4()}"
    worker = _start_worker(tmp_path, {"REDIS_URL": redis_url})
    try:
        with celery_app.connection_for_write(redis_url) as conn, schema_context("ws_beta"):
            log_tasks.record_activity.apply_async(kwargs={"verb": "probe", "target": marker}, connection=conn)
        arrived = _wait_for(lambda: _events("ws_beta", marker))
    finally:
        output = _stop(worker, tmp_path)
    assert arrived, output
    assert _events("ws_alpha", marker) == []


@pytest.mark.worker
def test_signup_provisions_the_workspace_on_the_worker(world_tx, real_broker, tmp_path, client) -> None:  # type: ignore[no-untyped-def]
    """Sign-up (open once a user exists: world_tx) leaves the new workspace provisioning and queues
    provision_workspace; a real worker builds its schema from the template, marks it ready and
    records the creation in it."""
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_exists

    from apps.workspaces.models import Membership, Workspace
    from tests.conftest import PASSWORD

    email = f"s-{uuid.uuid4().hex[:8]}@signup.test"
    response = client.post("/accounts/signup/", {"name": "Sam", "email": email, "workspace_name": "Sam's Studio",
                                                 "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    user = get_user_model().objects.get(email=email)
    workspace = Membership.objects.get(user=user, role="owner").workspace
    assert workspace.status == Workspace.Status.PROVISIONING  # nothing built in the request
    worker = _start_worker(tmp_path)
    try:
        ready = _wait_for(lambda: Workspace.objects.get(pk=workspace.pk).status == Workspace.Status.READY, 120)
    finally:
        output = _stop(worker, tmp_path)
    try:
        assert ready, output
        assert "apps.workspaces.tasks.provision_workspace" in output and "Traceback" not in output
        assert schema_exists(workspace.schema_name)
        assert _events(workspace.schema_name, "Sam's Studio") == ["workspace.created"]
    finally:
        with connection.cursor() as cursor:  # schemas outlive the transactional flush
            cursor.execute(f'DROP SCHEMA IF EXISTS "{workspace.schema_name}" CASCADE')
