"""POST /v1/chat-messages and /v1/completion-messages through the production ASGI application
(config.asgi), which serves them with apps.applications.api.asgi instead of Django's handler:
blocking and streaming answers, the API's error bodies, oversize bodies, other workspaces'
conversations, and a client that leaves mid-stream."""

import asyncio
import base64
import json

import pytest
from channels.testing import ApplicationCommunicator
from django_tenants.utils import schema_context

from apps.logs.models import Message
from config.asgi import application
from tests.asgi_http import asgi_request
from tests.fakes.base import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

CHAT = {"inputs": {"name": "Ada"}, "query": "Plan a trip", "user": "u-1"}


def _scope(path: str, key: str | None, method: str = "POST") -> dict:
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}


async def _request(path: str, key: str | None, body: bytes, method: str = "POST",
                   parts: int = 1) -> tuple[int, dict[bytes, bytes], bytes]:
    answer = await asgi_request(method, path, key=key, body=body, parts=parts)
    return answer.status, answer.headers, answer.content


def _stored(message_id: str) -> Message:
    with schema_context("ws_alpha"):
        return Message.objects.get(pk=message_id)


async def test_blocking_chat_answer(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("Lisbon in three days"))
    status, headers, content = await _request("/v1/chat-messages", api.chat_key, json.dumps(CHAT).encode(), parts=3)
    assert status == 200, content
    assert headers[b"Content-Type"] == b"application/json"
    body = json.loads(content)
    assert body["event"] == "message" and body["mode"] == "chat" and body["answer"] == "Lisbon in three days"
    assert body["metadata"]["usage"]["total_tokens"] > 0
    stored = await asyncio.to_thread(_stored, body["message_id"])
    assert stored.answer == "Lisbon in three days" and stored.status == "normal"


async def test_streaming_completion_events(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("A short poem", chunk_size=1))
    payload = {"inputs": {"topic": "sea"}, "user": "u-1", "response_mode": "streaming"}
    status, headers, content = await _request("/v1/completion-messages", api.completion_key,
                                               json.dumps(payload).encode())
    assert status == 200
    assert headers[b"Content-Type"] == b"text/event-stream" and headers[b"Cache-Control"] == b"no-cache"
    events = [json.loads(line[6:]) for line in content.decode().split("\n") if line.startswith("data: ")]
    assert [e["event"] for e in events] == ["message"] * 3 + ["message_end"]
    assert "".join(e["answer"] for e in events[:-1]) == "A short poem"
    assert events[-1]["metadata"]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize(("method", "key", "body", "status", "code"), [
    ("GET", "chat", b"", 405, "method_not_allowed"),
    ("POST", None, json.dumps(CHAT).encode(), 401, "unauthorized"),
    ("POST", "chat", b"{not json", 400, "invalid_param"),
    ("POST", "chat", b"[1, 2]", 400, "invalid_param"),
    ("POST", "chat", json.dumps({**CHAT, "inputs": {}}).encode(), 400, "invalid_param"),
    ("POST", "completion", json.dumps(CHAT).encode(), 400, "not_chat_app"),
])
async def test_errors_use_the_api_format(api, method, key, body, status, code) -> None:  # type: ignore[no-untyped-def]
    token = {"chat": api.chat_key, "completion": api.completion_key, None: None}[key]
    got, headers, content = await _request("/v1/chat-messages", token, body, method)
    assert got == status, content
    error = json.loads(content)
    assert error["code"] == code and error["status"] == status and error["message"]
    if status == 401:
        assert headers[b"WWW-Authenticate"] == b'Bearer realm="api"'


async def test_oversize_body_is_refused(api, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({**CHAT, "query": "x" * 2000}).encode()
    status, _, content = await _request("/v1/chat-messages", api.chat_key, body, parts=4)
    assert status == 413
    assert json.loads(content) == {"code": "request_entity_too_large", "status": 413,
                                   "message": "The request body is larger than the limit of 1000 bytes."}


async def test_another_workspaces_conversation_is_404(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("Beta answer"))
    status, _, content = await _request("/v1/chat-messages", api.beta_key,
                                        json.dumps({"inputs": {}, "query": "Hi", "user": "u-1"}).encode())
    assert status == 200, content
    beta_conversation = json.loads(content)["conversation_id"]
    status, _, content = await _request("/v1/chat-messages", api.chat_key,
                                        json.dumps({**CHAT, "conversation_id": beta_conversation}).encode())
    assert status == 404 and json.loads(content)["code"] == "not_found"


async def test_client_leaving_mid_stream_ends_the_response_not_the_answer(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    words = " ".join(f"w{i}" for i in range(30))
    fake_openai.script("chat", Reply(words, chunk_size=1, delay_between_chunks=0.03))
    app = ApplicationCommunicator(application, _scope("/v1/chat-messages", api.chat_key))
    await app.send_input({"type": "http.request",
                          "body": json.dumps({**CHAT, "response_mode": "streaming"}).encode()})
    assert (await app.receive_output(10))["status"] == 200
    first = await app.receive_output(10)
    message_id = json.loads(first["body"].decode().split("data: ", 1)[1].split("\n", 1)[0])["message_id"]
    await app.send_input({"type": "http.disconnect"})
    await app.wait(5)  # the application returned at once instead of streaming the rest
    for _ in range(100):
        stored = await asyncio.to_thread(_stored, message_id)
        if stored.status != "running":
            break
        await asyncio.sleep(0.1)
    assert stored.status == "normal" and stored.answer == words


async def test_autoplay_reads_the_answer_aloud_after_message_end(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.applications.test_service_endpoints import audio_models, enable

    await audio_models(fake_openai)
    await enable(api.chat, text_to_speech={"enabled": True, "voice": "nova", "language": "en-US",
                                           "autoPlay": "enabled"})
    fake_openai.script("chat", Reply("Spoken answer", chunk_size=1), Reply("Blocking answer"))
    body = json.dumps({**CHAT, "response_mode": "streaming"}).encode()
    status, _, content = await _request("/v1/chat-messages", api.chat_key, body)
    assert status == 200
    events = [json.loads(line[6:]) for line in content.decode().split("\n") if line.startswith("data: ")]
    names = [e["event"] for e in events]
    assert names[-3:] == ["message_end", "tts_message", "tts_message_end"], names
    audio = base64.b64decode(events[-2]["audio"])
    assert audio.startswith(b"ID3") and b"Spoken answer" in audio
    assert events[-1]["audio"] == "" and events[-1]["task_id"] == events[0]["task_id"]
    assert fake_openai.requests[-1].json["voice"] == "nova"
    # A blocking answer is not spoken.
    speech_requests = len([r for r in fake_openai.requests if r.path.endswith("/audio/speech")])
    status, _, content = await _request("/v1/chat-messages", api.chat_key, json.dumps(CHAT).encode())
    assert status == 200 and json.loads(content)["answer"] == "Blocking answer"
    assert len([r for r in fake_openai.requests if r.path.endswith("/audio/speech")]) == speech_requests


async def test_without_autoplay_the_stream_ends_at_message_end(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.applications.test_service_endpoints import audio_models, enable

    await audio_models(fake_openai)
    await enable(api.chat, text_to_speech={"enabled": True, "voice": "nova", "autoPlay": "disabled"})
    fake_openai.script("chat", Reply("Quiet answer"))
    status, _, content = await _request("/v1/chat-messages", api.chat_key,
                                        json.dumps({**CHAT, "response_mode": "streaming"}).encode())
    events = [json.loads(line[6:]) for line in content.decode().split("\n") if line.startswith("data: ")]
    assert status == 200 and events[-1]["event"] == "message_end"
    assert not any(r.path.endswith("/audio/speech") for r in fake_openai.requests)


async def test_idle_stream_gets_pings_until_the_first_token(api, fake_openai, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from apps.applications import generation

    monkeypatch.setattr(generation, "PING_INTERVAL", 0.2)
    fake_openai.script("chat", Reply("Late but here", chunk_size=1, first_chunk_delay=1.0))
    status, _, content = await _request("/v1/chat-messages", api.chat_key,
                                        json.dumps({**CHAT, "response_mode": "streaming"}).encode())
    assert status == 200
    blocks = [b for b in content.decode().split("\n\n") if b.strip()]
    first_message = next(i for i, b in enumerate(blocks) if b.startswith("data: "))
    assert first_message >= 2 and all(b == "event: ping" for b in blocks[:first_message]), blocks
    events = [json.loads(b[6:]) for b in blocks[first_message:]]
    assert "".join(e.get("answer", "") for e in events if e["event"] == "message") == "Late but here"
    assert events[-1]["event"] == "message_end"


@pytest.mark.parametrize("path", ["/v1/chat-messages", "/v1/parameters", "/v1/datasets"])
async def test_browser_preflight_is_answered_for_any_origin(path) -> None:  # type: ignore[no-untyped-def]
    scope = _scope(path, None, "OPTIONS")
    scope["headers"] += [(b"origin", b"https://client.example"), (b"access-control-request-method", b"POST"),
                         (b"access-control-request-headers", b"authorization, content-type")]
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(5)
    headers = dict(start["headers"])
    assert start["status"] == 200 and headers[b"access-control-allow-origin"] == b"*"
    assert b"Authorization" in headers[b"access-control-allow-headers"]
    assert b"POST" in headers[b"access-control-allow-methods"]


async def test_browser_requests_are_marked_and_servers_untouched(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("From a page"), Reply("From a server"))
    scope = _scope("/v1/chat-messages", api.chat_key)
    scope["headers"].append((b"origin", b"https://client.example"))
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": json.dumps(CHAT).encode()})
    start = await app.receive_output(10)
    assert start["status"] == 200 and dict(start["headers"])[b"access-control-allow-origin"] == b"*"
    await app.receive_output(10)
    status, headers, _ = await _request("/v1/chat-messages", api.chat_key, json.dumps(CHAT).encode())
    assert status == 200 and b"access-control-allow-origin" not in {k.lower() for k in headers}


async def test_autoplay_without_a_tts_model_ends_the_stream_without_audio(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.applications.test_service_endpoints import enable

    await enable(api.chat, text_to_speech={"enabled": True, "voice": "nova", "autoPlay": "enabled"})
    fake_openai.script("chat", Reply("Unspoken answer"))
    status, _, content = await _request("/v1/chat-messages", api.chat_key,
                                        json.dumps({**CHAT, "response_mode": "streaming"}).encode())
    events = [json.loads(line[6:]) for line in content.decode().split("\n") if line.startswith("data: ")]
    assert status == 200 and [e["event"] for e in events[-2:]] == ["message_end", "tts_message_end"]
    assert not any(e["event"] == "tts_message" for e in events)
    stored = await asyncio.to_thread(_stored, events[-1]["message_id"])
    assert stored.answer == "Unspoken answer" and stored.status == "normal"
