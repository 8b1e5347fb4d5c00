"""The chat event stream over WebSocket, through the real ASGI application."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django_tenants.utils import schema_context

from apps.logs.models import Message
from config.asgi import application
from tests.core.test_asgi import _session_cookie
from tests.fakes.base import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _socket(path: str, user):  # type: ignore[no-untyped-def]
    cookie = await sync_to_async(_session_cookie)(user)
    communicator = WebsocketCommunicator(application, path, headers=[
        (b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", cookie)])
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_streams_the_same_events_as_sse(api, world_tx, fake_openai, cache_backend) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("alpha beta gamma", chunk_size=1))
    socket, connected, _ = await _socket(f"/ws/console/alpha/apps/{api.chat.pk}/chat/", world_tx.editor.user)
    assert connected
    await socket.send_json_to({"query": "Hi", "inputs": {"name": "Ada"}})
    events = []
    while not events or events[-1]["event"] not in ("message_end", "error"):
        events.append(await socket.receive_json_from(timeout=5))
    assert [e["event"] for e in events[:-1]] == ["message"] * (len(events) - 1)
    assert "".join(e["answer"] for e in events[:-1]) == "alpha beta gamma"
    end = events[-1]
    assert end["event"] == "message_end" and end["metadata"]["usage"]["total_tokens"] > 0
    await socket.disconnect()

    def stored() -> Message:
        with schema_context("ws_alpha"):
            return Message.objects.get(pk=end["message_id"])

    message = await sync_to_async(stored)()
    assert (message.from_source, message.answer, message.from_account_id) == (
        "debugger", "alpha beta gamma", world_tx.editor.user.pk)


async def test_answer_is_stored_when_the_socket_closes_mid_stream(api, world_tx, fake_openai, cache_backend) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply(" ".join(f"t{i}" for i in range(30)), chunk_size=1, delay_between_chunks=0.02))
    socket, _, _ = await _socket(f"/ws/console/alpha/apps/{api.chat.pk}/chat/", world_tx.owner.user)
    await socket.send_json_to({"query": "Count", "inputs": {"name": "Ada"}})
    first = await socket.receive_json_from(timeout=5)
    await socket.disconnect()  # the console tab closes mid-answer

    def stored() -> Message:
        with schema_context("ws_alpha"):
            return Message.objects.get(pk=first["message_id"])

    for _ in range(100):
        message = await sync_to_async(stored)()
        if message.status != "running":
            break
        await asyncio.sleep(0.05)
    assert message.status == "normal"
    assert message.answer == " ".join(f"t{i}" for i in range(30))


@pytest.mark.parametrize("who", ["normal", "other"])
async def test_refused_without_edit_rights_or_membership(api, world_tx, who) -> None:  # type: ignore[no-untyped-def]
    user = world_tx.normal.user if who == "normal" else world_tx.other.user
    _, connected, code = await _socket(f"/ws/console/alpha/apps/{api.chat.pk}/chat/", user)
    assert not connected and code == 4403


async def test_an_app_of_another_workspace_is_not_found(api, world_tx) -> None:  # type: ignore[no-untyped-def]
    _, connected, code = await _socket(f"/ws/console/alpha/apps/{api.beta_chat.pk}/chat/", world_tx.owner.user)
    assert not connected and code == 4404
