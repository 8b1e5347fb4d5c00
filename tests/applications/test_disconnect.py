"""A client that disconnects mid-stream loses no message: Daphne serving, a real HTTP client."""

import json
import time

import httpx
import pytest
from django_tenants.utils import schema_context

from apps.logs.models import Message
from tests.fakes.base import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def test_sse_client_leaving_mid_answer_still_gets_it_stored(api, live_url, fake_openai) -> None:  # type: ignore[no-untyped-def]
    words = " ".join(f"word{i}" for i in range(40))
    fake_openai.script("chat", Reply(words, chunk_size=1, delay_between_chunks=0.03))
    body = {"inputs": {"name": "Ada"}, "query": "Talk", "user": "leaver", "response_mode": "streaming"}
    with httpx.Client(timeout=10) as client, client.stream(
            "POST", f"{live_url}/v1/chat-messages", json=body,
            headers={"Authorization": f"Bearer {api.chat_key}"}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                first = json.loads(line[6:])
                break
    # The connection is closed now, a second into a ~1.2 s answer.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with schema_context("ws_alpha"):
            message = Message.objects.get(pk=first["message_id"])
        if message.status != "running":
            break
        time.sleep(0.1)
    assert message.status == "normal"
    assert message.answer == words
    assert message.answer_tokens > 0
