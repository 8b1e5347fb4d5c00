"""Workspace provisioning and console routing, measured against baselines taken in the same run.

    .venv/bin/python bench/workspaces.py [--n 5]

Prints, each as a median over N runs:
- schema provisioning by cloning the template schema (what Tessera does) vs. replaying every
  tenant migration (django-tenants' default), as a ratio;
- a console page (/console/<slug>/) vs. the bare /healthz-free baseline of a static redirect
  (/ → /console/), both through Django's test client, as a ratio: the cost of tenant routing +
  membership check + template.
The bench creates its own workspaces (bench-*) in the dev database and drops them afterwards.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from apps.workspaces import provisioning, services  # noqa: E402
from apps.workspaces.models import Workspace  # noqa: E402


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _provision(name: str, *, clone: bool) -> float:
    workspace = Workspace.objects.create(name=name, slug=name, schema_name=name.replace("-", "_"))
    started = time.perf_counter()
    with override_settings(TENANT_CREATION_FAKES_MIGRATIONS=clone):
        provisioning.provision_schema(workspace=workspace)
    elapsed = time.perf_counter() - started
    workspace.delete(force_drop=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5)
    n = parser.parse_args().n
    call_command("migrate_schemas", interactive=False, verbosity=0)
    Workspace.objects.filter(slug__startswith="bench-").delete()

    provisioning.ensure_template_schema()
    cloned = [_provision(f"bench-clone-{i}", clone=True) for i in range(n)]
    migrated = [_provision(f"bench-migrate-{i}", clone=False) for i in range(n)]

    User = get_user_model()
    user = User.objects.filter(email="bench@tessera.local").first() or services.user_create(
        email="bench@tessera.local", password="bench-password-1"
    )
    workspace = Workspace.objects.filter(slug="bench-console").first() or services.workspace_create(
        name="bench-console", owner=user
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    for _ in range(3):  # warm caches, templates and the connection
        client.get(f"/console/{workspace.slug}/")
        client.get("/")
    page, baseline = [], []
    for _ in range(n * 10):
        started = time.perf_counter()
        assert client.get(f"/console/{workspace.slug}/").status_code == 200
        page.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert client.get("/").status_code == 302
        baseline.append(time.perf_counter() - started)
    workspace.delete(force_drop=True)
    connection.set_schema_to_public()

    print(f"database: {'embedded pgserver' if settings.EMBEDDED_DATABASE else 'DATABASE_URL'}; runs: {n}")
    print(f"provision by cloning the template: {_median_ms(cloned):8.1f} ms")
    print(f"provision by running migrations:   {_median_ms(migrated):8.1f} ms")
    print(f"  cloning is {statistics.median(migrated) / statistics.median(cloned):.1f}x faster")
    print(f"console home page:                 {_median_ms(page):8.2f} ms")
    print(f"bare redirect baseline:            {_median_ms(baseline):8.2f} ms")
    print(f"  console page / baseline = {statistics.median(page) / statistics.median(baseline):.1f}x")


if __name__ == "__main__":
    main()
