"""The real ASGI application: WebSocket tenant resolution, tenant-scoped broadcast, and
concurrent async requests for two workspaces."""

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import AsyncClient, Client

from apps.core import realtime
from apps.logs import services as activity
from apps.logs.models import ActivityEvent
from apps.workspaces.asgi import TenantASGIMiddleware
from apps.workspaces.models import SiteRoute
from apps.workspaces.sync import run_in_tenant
from config.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _session_cookie(user) -> bytes:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(path: str, user=None):  # type: ignore[no-untyped-def]
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(_session_cookie)(user)))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_console_socket_resolves_the_members_workspace(world_tx, cache_backend) -> None:  # type: ignore[no-untyped-def]
    communicator, connected, _ = await _connect("/ws/console/alpha/events/", world_tx.editor.user)
    assert connected
    hello = await communicator.receive_json_from()
    assert hello == {"type": "connected", "workspace": "alpha", "schema": "ws_alpha", "role": "editor"}
    await communicator.disconnect()


@pytest.mark.parametrize("who", ["other", "outsider", "anonymous"])
async def test_console_socket_refuses_non_members(world_tx, who: str) -> None:  # type: ignore[no-untyped-def]
    user = {"other": world_tx.other.user, "outsider": world_tx.outsider, "anonymous": None}[who]
    communicator, connected, code = await _connect("/ws/console/alpha/events/", user)
    assert not connected
    assert code == 4403


async def test_socket_from_a_foreign_origin_is_refused(world_tx) -> None:  # type: ignore[no-untyped-def]
    cookie = await sync_to_async(_session_cookie)(world_tx.owner.user)
    communicator = WebsocketCommunicator(
        application, "/ws/console/alpha/events/",
        headers=[(b"host", b"localhost"), (b"origin", b"http://evil.example"), (b"cookie", cookie)],
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_events_reach_only_their_workspace(world_tx, cache_backend) -> None:  # type: ignore[no-untyped-def]
    alpha, _, _ = await _connect("/ws/console/alpha/events/", world_tx.owner.user)
    beta, _, _ = await _connect("/ws/console/beta/events/", world_tx.other.user)
    await alpha.receive_json_from()
    await beta.receive_json_from()
    await sync_to_async(realtime.publish)(realtime.tenant_group("events", schema="ws_alpha"), {"type": "note", "n": 1})
    assert await alpha.receive_json_from() == {"type": "note", "n": 1}
    assert await beta.receive_nothing(timeout=0.3)
    await alpha.disconnect()
    await beta.disconnect()


async def test_site_code_resolves_its_workspace(world_tx) -> None:  # type: ignore[no-untyped-def]
    app_id = uuid.uuid4()
    await SiteRoute.objects.acreate(code="AbCd1234", workspace=world_tx.beta, app_id=app_id)
    seen: dict = {}

    async def inner(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.update(tenant=scope["tenant"], app_id=scope.get("app_id"))
        await send({"type": "websocket.close", "code": 1000})

    for path, schema in (("/ws/chat/AbCd1234/", "ws_beta"), ("/ws/chat/unknown/", None)):
        communicator = WebsocketCommunicator(TenantASGIMiddleware(inner), path)
        await communicator.connect()
        assert (seen["tenant"].schema_name if seen["tenant"] else None) == schema
    assert seen["app_id"] is None


async def test_run_in_tenant_keeps_concurrent_calls_apart(world_tx) -> None:  # type: ignore[no-untyped-def]
    marker = uuid.uuid4().hex
    for ws in (world_tx.alpha, world_tx.beta):
        await sync_to_async(activity.record)(workspace=ws, actor=None, verb="probe", target=f"{ws.slug}-{marker}")

    def look() -> tuple[str, list[str]]:
        return connection.schema_name, list(
            ActivityEvent.objects.filter(target__endswith=marker).values_list("target", flat=True)
        )

    jobs = [run_in_tenant(world_tx.alpha if i % 2 else world_tx.beta, look) for i in range(40)]
    results = await asyncio.gather(*jobs)
    for i, (schema, targets) in enumerate(results):
        slug = "alpha" if i % 2 else "beta"
        assert schema == f"ws_{slug}"
        assert targets == [f"{slug}-{marker}"]
    assert connection.schema_name == "public"


async def test_concurrent_console_requests_never_cross_workspaces(world_tx) -> None:  # type: ignore[no-untyped-def]
    from apps.workspaces import services

    await sync_to_async(services.workspace_rename)(workspace=world_tx.alpha, name="Alpha Orchard",
                                                   actor=world_tx.owner.user)
    await sync_to_async(services.workspace_rename)(workspace=world_tx.beta, name="Beta Bakery",
                                                   actor=world_tx.other.user)
    alice, bruno = AsyncClient(), AsyncClient()
    await alice.aforce_login(world_tx.owner.user)
    await bruno.aforce_login(world_tx.other.user)
    requests = []
    for _ in range(10):
        requests.append(alice.get("/console/alpha/"))
        requests.append(bruno.get("/console/beta/"))
    responses = await asyncio.gather(*requests)
    for i, response in enumerate(responses):
        body = response.content.decode()
        assert response.status_code == 200
        mine, theirs = ("Alpha Orchard", "Beta Bakery") if i % 2 == 0 else ("Beta Bakery", "Alpha Orchard")
        assert mine in body and theirs not in body
