"""Console pages: membership on every URL, role restrictions, and isolation between workspaces."""

import asyncio

import pytest
from django.urls import URLPattern, reverse

from django_tenants.utils import schema_context

from apps.applications import services as app_services
from apps.applications.models import App
from apps.logs.models import Conversation, Message
from apps.providers import crypto
from apps.providers.models import ProviderCredential
from apps.tools.models import ApiToolProvider, McpServer
from apps.workspaces import services
from apps.workspaces.models import Invitation, Membership, Workspace
from config import urls_tenant
from tests.conftest import client_for

from apps.workflows import services as workflow_services  # noqa: E402
from apps.datasets import services as dataset_services  # noqa: E402
from apps.datasets.models import Dataset, Segment  # noqa: E402
from apps.workflows.models import Workflow, WorkflowRun  # noqa: E402

pytestmark = pytest.mark.django_db


def _console_urls(world, workspace_slug: str, source, ids_only: bool = False):  # type: ignore[no-untyped-def]
    """Every console URL pattern, filled with ids of objects that belong to `source`."""
    invitation = Invitation.objects.filter(workspace=source.workspace).first() or services.invitation_create(
        actor=source, email=f"probe-{source.workspace.slug}@example.test", role="normal"
    ).invitation
    with schema_context(source.workspace.schema_name):
        credential = ProviderCredential.objects.filter(model="").first() or ProviderCredential.objects.create(
            provider="openai", secret_config=crypto.encrypt(source.workspace.schema_name, {"api_key": "sk-x"}))
        app = App.objects.first() or app_services.app_create(name="Probe", mode="chat")
        key = app.api_keys.first() or app_services.api_key_create(app=app)[0]
        conversation = Conversation.objects.filter(app=app).first() or Conversation.objects.create(
            app=app, from_source="api", mode="chat", name="probe")
        message = Message.objects.filter(conversation=conversation).first() or Message.objects.create(
            app=app, conversation=conversation, from_source="api", query="q", answer="a")
        flow = App.objects.filter(mode="workflow").first() or workflow_services.workflow_app_create(
            name="Probe flow", mode="workflow")
        version = Workflow.objects.filter(app=flow).exclude(version="draft").first() or workflow_services.publish(
            app=flow)
        run = WorkflowRun.objects.filter(app=flow).first() or WorkflowRun.objects.create(
            app=flow, workflow_version=version.version, mode="workflow", triggered_from="debugging")
        dataset = Dataset.objects.first() or dataset_services.dataset_create(
            name="Probe", actor_id=None, indexing_technique="economy", permission="all_team_members")
        document = dataset.documents.first() or dataset_services.document_create_from_text(
            dataset=dataset, name="probe", text="probe text", actor_id=None)[1]
        segment = Segment.objects.filter(document=document).first() or Segment.objects.create(
            dataset=dataset, document=document, position=1, content="probe")
        field = dataset.metadata_fields.first() or dataset_services.metadata_field_create(
            dataset=dataset, name="probe", type="string")
        tool = ApiToolProvider.objects.first() or ApiToolProvider.objects.create(
            name="probe", schema="{}", schema_type="openapi", server_url="https://tools.example.test")
        mcp = McpServer.objects.first() or McpServer.objects.create(name="probe",
                                                                    server_url="https://mcp.example.test")
    ids = {"member_id": source.pk, "invitation_id": invitation.pk, "provider": "openai",
           "credential_id": credential.pk, "app_id": app.pk, "key_id": key.pk,
           "conversation_id": conversation.pk, "message_id": message.pk, "task_id": message.task_id,
           "workflow_id": version.pk, "run_id": run.pk, "node_id": "start", "dataset_id": dataset.pk,
           "document_id": document.pk, "segment_id": segment.pk, "field_id": field.pk, "action": "disable",
           "provider_id": tool.pk, "server_id": mcp.pk}
    urls = []
    for pattern in urls_tenant.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if asyncio.iscoroutinefunction(pattern.callback):
            # Async views reach the ORM from other threads, which the sync test client's transaction
            # cannot share; tests/applications/test_orchestrate.py covers them with AsyncClient.
            continue
        kwargs = {name: ids[name] for name in pattern.pattern.converters}
        if ids_only and not kwargs:
            continue
        urls.append(reverse(f"console:{pattern.name}", kwargs={"ws": workspace_slug, **kwargs}))
    return urls


def test_members_see_their_workspace(world) -> None:  # type: ignore[no-untyped-def]
    for role in ("owner", "admin", "editor", "normal"):
        response = client_for(world.by_role(role).user).get("/console/alpha/")
        assert response.status_code == 200, role
        assert b"Alpha" in response.content


def test_anonymous_is_sent_to_login(world, client) -> None:  # type: ignore[no-untyped-def]
    for url in _console_urls(world, "alpha", world.owner):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


@pytest.mark.parametrize("who", ["other", "outsider"])
def test_no_console_url_of_alpha_answers_a_non_member(world, who: str) -> None:  # type: ignore[no-untyped-def]
    user = world.other.user if who == "other" else world.outsider
    client = client_for(user)
    before = list(Membership.objects.filter(workspace=world.alpha).values_list("pk", "role"))
    for url in _console_urls(world, "alpha", world.owner):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"role": "normal", "name": "Hijacked", "email": "x@y.z"}).status_code == 404, url
    assert list(Membership.objects.filter(workspace=world.alpha).values_list("pk", "role")) == before
    assert Workspace.objects.get(pk=world.alpha.pk).name == "Alpha"


def test_ids_of_another_workspace_are_404_inside_ones_own(world) -> None:  # type: ignore[no-untyped-def]
    """Alpha's owner addresses beta's member and invitation through alpha's URLs."""
    client = client_for(world.owner.user)
    beta_urls = [u for u in _console_urls(world, "alpha", world.other, ids_only=True) if not u.endswith("/new/")]
    assert beta_urls
    for url in beta_urls:
        if url.endswith("/members/"):
            continue
        assert client.post(url, {"role": "normal"}).status_code == 404, url
    assert Membership.objects.filter(pk=world.other.pk, role="owner").exists()
    assert Invitation.objects.filter(workspace=world.beta, status="pending").exists()


def test_member_list_shows_only_this_workspace(world) -> None:  # type: ignore[no-untyped-def]
    page = client_for(world.owner.user).get("/console/alpha/settings/members/").content.decode()
    assert "edith@alpha.test" in page
    assert "bruno@beta.test" not in page


@pytest.mark.parametrize(
    ("role", "path", "method", "expected"),
    [
        ("normal", "/console/alpha/settings/", "get", 403),
        ("editor", "/console/alpha/settings/", "get", 403),
        ("admin", "/console/alpha/settings/", "get", 200),
        ("owner", "/console/alpha/settings/", "get", 200),
        ("normal", "/console/alpha/settings/members/", "get", 200),
        ("normal", "/console/alpha/settings/members/", "post", 403),
        ("editor", "/console/alpha/settings/members/", "post", 403),
    ],
)
def test_role_restrictions_on_pages(world, role, path, method, expected) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.by_role(role).user)
    response = getattr(client, method)(path, {"email": "probe@alpha.test", "role": "normal", "name": "X"})
    assert response.status_code == expected
    if method == "post" and expected == 403:
        assert not Invitation.objects.filter(email="probe@alpha.test").exists()


def test_editor_cannot_rename(world) -> None:  # type: ignore[no-untyped-def]
    response = client_for(world.editor.user).post("/console/alpha/settings/", {"name": "Renamed"})
    assert response.status_code == 403
    assert Workspace.objects.get(pk=world.alpha.pk).name == "Alpha"


def test_admin_renames_the_workspace(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.admin.user)
    response = client.post("/console/alpha/settings/", {"name": "Alpha Labs"})
    assert response.status_code == 302
    assert Workspace.objects.get(pk=world.alpha.pk).name == "Alpha Labs"
    assert "Alpha Labs" in client.get("/console/alpha/").content.decode()


def test_admin_invites_editor_but_not_admin(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.admin.user)
    ok = client.post("/console/alpha/settings/members/", {"email": "ed2@alpha.test", "role": "editor"})
    assert ok.status_code == 200
    invitation = Invitation.objects.get(email="ed2@alpha.test")
    assert invitation.role == "editor"
    assert "/invite/" in ok.content.decode()  # the copyable link is shown
    client.post("/console/alpha/settings/members/", {"email": "ad2@alpha.test", "role": "admin"})
    assert not Invitation.objects.filter(email="ad2@alpha.test").exists()


@pytest.mark.parametrize(
    ("actor", "target", "new_role", "expected", "final"),
    [
        ("owner", "admin", "editor", 302, "editor"),
        ("admin", "editor", "normal", 302, "normal"),
        ("admin", "normal", "admin", 403, "normal"),
        ("admin", "owner", "normal", 403, "owner"),
        ("editor", "normal", "editor", 403, "normal"),
        ("normal", "editor", "normal", 403, "editor"),
    ],
)
def test_role_changes(world, actor, target, new_role, expected, final) -> None:  # type: ignore[no-untyped-def]
    target_m = world.by_role(target)
    url = f"/console/alpha/settings/members/{target_m.pk}/role/"
    response = client_for(world.by_role(actor).user).post(url, {"role": new_role})
    assert response.status_code == expected
    target_m.refresh_from_db()
    assert target_m.role == final


@pytest.mark.parametrize(
    ("actor", "target", "expected"),
    [("owner", "admin", 302), ("admin", "editor", 302), ("admin", "admin", 403), ("editor", "normal", 403),
     ("admin", "owner", 403)],
)
def test_member_removal(world, actor, target, expected) -> None:  # type: ignore[no-untyped-def]
    actor_m, target_m = world.by_role(actor), world.by_role(target)
    response = client_for(actor_m.user).post(f"/console/alpha/settings/members/{target_m.pk}/remove/")
    assert response.status_code == expected
    assert Membership.objects.filter(pk=target_m.pk).exists() is (expected != 302)


def test_removed_member_loses_access(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.editor.user)
    assert client.get("/console/alpha/").status_code == 200
    services.member_remove(actor=world.admin, target=world.editor)
    assert client.get("/console/alpha/").status_code == 404


def test_user_with_two_workspaces_switches_between_them(world) -> None:  # type: ignore[no-untyped-def]
    services.member_add(workspace=world.beta, user=world.editor.user, role="normal")
    client = client_for(world.editor.user)
    page = client.get("/console/alpha/").content.decode()
    assert "/console/beta/" in page  # the switcher lists both workspaces
    assert client.get("/console/beta/").status_code == 200
    # /console/ remembers the last workspace used.
    assert client.get("/console/")["Location"] == "/console/beta/"
    client.get("/console/alpha/")
    assert client.get("/console/")["Location"] == "/console/alpha/"


def test_user_without_workspace_is_offered_to_create_one(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.outsider)
    assert client.get("/console/")["Location"] == "/console/new/"


def test_creating_a_second_workspace(world, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.outsider)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/console/new/", {"name": "Oscar's Lab"})
    workspace = Workspace.objects.get(name="Oscar's Lab")
    assert response["Location"] == f"/console/{workspace.slug}/"
    assert workspace.is_ready
    assert Membership.objects.get(workspace=workspace, user=world.outsider).role == "owner"


def test_workspace_being_prepared_shows_the_waiting_page(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.outsider)
    client.post("/console/new/", {"name": "Slow Start"})  # no commit: the task has not run
    workspace = Workspace.objects.get(name="Slow Start")
    assert workspace.status == Workspace.Status.PROVISIONING
    response = client.get(f"/console/{workspace.slug}/")
    assert response["Location"] == f"/console/{workspace.slug}/preparing/"
    assert client.get(f"/console/{workspace.slug}/preparing/").status_code == 200
    from apps.workspaces.provisioning import provision_schema

    provision_schema(workspace=workspace)
    polled = client.get(f"/console/{workspace.slug}/preparing/", HTTP_HX_REQUEST="true")
    assert polled["HX-Redirect"] == f"/console/{workspace.slug}/"


def test_a_stale_template_is_migrated_before_it_is_cloned(world) -> None:  # type: ignore[no-untyped-def]
    """Cloning fakes every migration record: a template that missed the newest migration (new code,
    migrate not yet run) must be brought up to date first, or the clone lacks that migration's tables."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from apps.workspaces import provisioning

    loader = MigrationLoader(None, ignore_no_migrations=True)
    app, name = next(node for node in sorted(loader.graph.leaf_nodes()) if node[0] == "applications")
    previous = next(parent for parent in loader.graph.node_map[(app, name)].parents if parent.key[0] == app).key[1]
    template = settings.TENANT_BASE_SCHEMA
    call_command("migrate_schemas", app, previous, schema_name=template, tenant=True, interactive=False, verbosity=0)
    assert not provisioning.template_is_current()
    workspace = Workspace.objects.create(name="Fresh", slug="fresh", schema_name="ws_fresh")
    provisioning.provision_schema(workspace=workspace)
    assert provisioning.template_is_current()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", [template])
        template_tables = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'ws_fresh'")
        assert cursor.fetchone()[0] == template_tables
