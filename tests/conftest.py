"""Shared fixtures: two workspaces and the personas around them.

- alpha: owner Olivia, admin Adam, editor Edith, normal member Noor;
- beta:  owner Bruno (a member of another workspace);
- Oscar: an outsider with an account but no workspace.

Workspaces and people are created through the services, like production does. Fixtures are
get-or-create, because transactional tests flush the public tables (schemas survive a flush).
"""

import dataclasses
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.workspaces import services
from apps.workspaces.models import Membership, Workspace
from apps.workspaces.roles import Role

pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.dns", "tests.browser"]
PASSWORD = "Correct-Horse-42"


@dataclasses.dataclass
class World:
    alpha: Workspace
    beta: Workspace
    owner: Membership
    admin: Membership
    editor: Membership
    normal: Membership
    other: Membership  # owner of beta
    outsider: object  # a User with no membership

    def by_role(self, role: str) -> Membership:
        return {"owner": self.owner, "admin": self.admin, "editor": self.editor, "normal": self.normal}[role]


def _user(email: str, name: str):  # type: ignore[no-untyped-def]
    User = get_user_model()
    user = User.objects.filter(email=email).first()
    return user or services.user_create(email=email, password=PASSWORD, name=name)


WORKSPACES = (("Alpha", "alpha"), ("Beta", "beta"))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """Build the persona workspaces' schemas once per session, committed. Cloning a schema inside
    every test's transaction and rolling it back churns Postgres' catalog until each clone and
    rollback takes minutes."""
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_exists

    from apps.workspaces.provisioning import ensure_template_schema

    with django_db_blocker.unblock():
        ensure_template_schema()
        for name, slug in WORKSPACES:
            schema = f"ws_{slug}"
            if not schema_exists(schema):
                with connection.cursor() as cursor:
                    cursor.execute(f'CREATE SCHEMA "{schema}"')
            call_command("migrate_schemas", schema_name=schema, tenant=True, interactive=False, verbosity=0)
            connection.set_schema_to_public()


def _workspace(name: str, slug: str, owner) -> Workspace:  # type: ignore[no-untyped-def]
    """The row of a persona workspace; its schema was built once for the session."""
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        workspace = Workspace.objects.create(name=name, slug=slug, schema_name=f"ws_{slug}",
                                             status=Workspace.Status.READY)
        services.member_add(workspace=workspace, user=owner, role=Role.OWNER)
    return workspace


def build_world() -> World:
    olivia = _user("olivia@alpha.test", "Olivia Owner")
    bruno = _user("bruno@beta.test", "Bruno Beta")
    alpha = _workspace("Alpha", "alpha", olivia)
    beta = _workspace("Beta", "beta", bruno)
    add = services.member_add
    return World(
        alpha=alpha,
        beta=beta,
        owner=Membership.objects.select_related("user", "workspace").get(workspace=alpha, user=olivia),
        admin=add(workspace=alpha, user=_user("adam@alpha.test", "Adam Admin"), role=Role.ADMIN),
        editor=add(workspace=alpha, user=_user("edith@alpha.test", "Edith Editor"), role=Role.EDITOR),
        normal=add(workspace=alpha, user=_user("noor@alpha.test", "Noor Normal"), role=Role.NORMAL),
        other=Membership.objects.select_related("user", "workspace").get(workspace=beta, user=bruno),
        outsider=_user("oscar@outside.test", "Oscar Outsider"),
    )


@pytest.fixture(autouse=True)
def _cold_hot_caches() -> None:
    """Tests truncate tables behind the ORM's back (no signals): start each with empty per-process
    caches (apps/core/hotcache.py), as a freshly started process would."""
    from apps.core.hotcache import clear_all

    clear_all()


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Requests activate their language in the thread; start every test from the default."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture
def world(db) -> World:  # type: ignore[no-untyped-def]
    return build_world()


def _truncate_tenant_data(schema: str) -> None:
    """Transactional tests commit rows into workspace schemas, which Django's flush (public
    schema only) does not reach: empty them so the next test starts clean."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename NOT IN "
            "('django_migrations', 'django_content_type')", [schema])
        tables = [f'"{schema}"."{name}"' for (name,) in cursor.fetchall()]
        if tables:
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


@pytest.fixture
def world_tx(transactional_db) -> Iterator[World]:  # type: ignore[no-untyped-def]
    world = build_world()
    yield world
    for workspace in (world.alpha, world.beta):
        _truncate_tenant_data(workspace.schema_name)


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


# --- Real services started by the suite -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A real Redis: TEST_REDIS_URL if given, else a redis-server started on a free port."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server), or set TEST_REDIS_URL")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["memory", "redis"])
def cache_backend(request, settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Run a test on the in-process cache and channel layer of the test settings and again on
    Redis, which production uses for both (stop requests, concurrency slots, rate limits and
    WebSocket groups live there). Redis database 1: the Celery tests use database 0."""
    from django.core.cache import cache

    if request.param == "redis":
        url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/1"
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                               "CONFIG": {"hosts": [url]}}}
        from channels.layers import get_channel_layer
        from django.core.cache import caches

        # Both swapped for real (Django and Channels drop their backends when the setting changes).
        assert type(caches["default"]).__name__ == "RedisCache"
        assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
    cache.clear()
    yield request.param
    cache.clear()
