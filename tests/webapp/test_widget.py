"""The chat widget (WEB-04): /ws/chat/<code>/ through the real ASGI application, the iframe's
frame-ancestors, the widget script's URL and the console's Embed dialog."""


import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import schema_context

from apps.applications import services
from apps.applications.models import App, Site
from apps.applications.webapp import identity
from apps.applications.webapp.embedding import origin_allowed
from apps.logs.models import Conversation, EndUser, Message
from config.asgi import application
from tests.conftest import client_for
from tests.core.test_headers import csp
from tests.fakes.base import Reply

pytestmark = pytest.mark.django_db(transaction=True)

INPUTS = {"name": "Ada"}
# Conversation titles come from the (fake) model too; turned off so each scripted reply is an answer.
TURN = {"inputs": INPUTS, "auto_generate_name": False}


async def _socket(code: str, origin: str | None = "http://localhost", cookie: str | None = None,
                  client: tuple[str, int] = ("10.0.0.7", 50000)):  # type: ignore[no-untyped-def]
    headers = [(b"host", b"localhost")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, f"/ws/chat/{code}/", headers=headers)
    communicator.scope["client"] = client
    connected, close_code = await communicator.connect()
    return communicator, connected, close_code


async def _until_end(socket) -> list[dict]:  # type: ignore[no-untyped-def]
    events: list[dict] = []
    while not events or events[-1]["event"] not in ("message_end", "error"):
        events.append(await socket.receive_json_from(timeout=10))
    return events


def _set_site(app: App, schema: str = "ws_alpha", **fields) -> None:  # type: ignore[no-untyped-def]
    with schema_context(schema):
        services.site_update(site=Site.objects.get(app=app), **fields)


def _message(message_id: str) -> Message:
    with schema_context("ws_alpha"):
        return Message.objects.select_related("end_user", "conversation").get(pk=message_id)


# --- Streaming -------------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_widget_streams_the_api_events_and_continues_the_conversation(web, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await sync_to_async(cache.clear)()
    fake_openai.script("chat", Reply("alpha beta gamma", chunk_size=1), Reply("second answer"))
    socket, connected, _ = await _socket(web.chat_code)
    assert connected
    await socket.send_json_to({"type": "session"})
    session = await socket.receive_json_from(timeout=10)
    assert session["event"] == "session" and session["token"] and session["conversation_id"] is None
    assert session["site"]["title"] == "Helper"
    assert session["parameters"]["opening_statement"] == "Hi {{name}}!"
    assert session["parameters"]["user_input_form"][0]["text-input"]["variable"] == "name"
    assert session["strings"]["send"] == "Send"

    await socket.send_json_to({"type": "chat", "query": "Hello", **TURN})
    events = await _until_end(socket)
    assert [e["event"] for e in events[:-1]] == ["message"] * (len(events) - 1)
    assert "".join(e["answer"] for e in events[:-1]) == "alpha beta gamma"
    end = events[-1]
    assert end["event"] == "message_end" and end["metadata"]["usage"]["total_tokens"] > 0
    # The same fields as the SSE stream of /v1/chat-messages.
    assert {"task_id", "id", "message_id", "conversation_id", "created_at"} <= set(events[0])
    conversation_id = end["conversation_id"]

    await socket.send_json_to({"type": "chat", "query": "And then?", **TURN,
                               "conversation_id": conversation_id})
    second = await _until_end(socket)
    assert second[-1]["event"] == "message_end" and second[-1]["conversation_id"] == conversation_id
    # The model saw the first turn as history.
    sent = [m["content"] for m in fake_openai.last_request.json["messages"]]
    assert "Hello" in sent and "alpha beta gamma" in sent and sent[-1] == "And then?"
    await socket.disconnect()

    message = await sync_to_async(_message)(end["message_id"])
    assert (message.from_source, message.answer, str(message.end_user_id)) == (
        "webapp", "alpha beta gamma", session["end_user_id"])
    assert message.end_user.type == EndUser.Type.BROWSER

    # A new socket with the widget's stored token is the same end user and gets the history back.
    again, _, _ = await _socket(web.chat_code)
    await again.send_json_to({"type": "session", "token": session["token"],
                              "conversation_id": conversation_id})
    resumed = await again.receive_json_from(timeout=10)
    assert resumed["end_user_id"] == session["end_user_id"] and resumed["conversation_id"] == conversation_id
    assert [(m["query"], m["answer"]) for m in resumed["messages"]] == [
        ("Hello", "alpha beta gamma"), ("And then?", "second answer")]
    await again.disconnect()


@pytest.mark.asyncio
async def test_the_webapp_cookie_names_the_end_user(web) -> None:  # type: ignore[no-untyped-def]
    def token_for() -> tuple[str, str]:
        with schema_context("ws_alpha"):
            user, token = identity.end_user_for_token(web.chat, None)
        return str(user.pk), token

    user_id, token = await sync_to_async(token_for)()
    socket, connected, _ = await _socket(web.chat_code, cookie=f"{identity.cookie_name(web.chat)}={token}")
    assert connected
    await socket.send_json_to({"type": "session"})
    assert (await socket.receive_json_from(timeout=10))["end_user_id"] == user_id
    await socket.disconnect()


@pytest.mark.asyncio
async def test_chat_before_session_starts_one_and_bad_messages_get_error_events(web, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await sync_to_async(cache.clear)()
    fake_openai.script("chat", Reply("Fine."))
    socket, _, _ = await _socket(web.chat_code)
    await socket.send_to(text_data="not json")
    error = await socket.receive_json_from(timeout=10)
    assert (error["event"], error["code"], error["status"]) == ("error", "invalid_param", 400)
    await socket.send_json_to({"type": "chat", "query": "Hi", "inputs": {}})  # name is required
    assert (await socket.receive_json_from(timeout=10))["event"] == "session"
    error = await socket.receive_json_from(timeout=10)
    assert (error["event"], error["status"]) == ("error", 400)
    assert error["message"] == "name is required in input form"
    await socket.send_json_to({"type": "chat", "query": "Hi", **TURN})
    assert (await _until_end(socket))[-1]["event"] == "message_end"
    await socket.disconnect()


@pytest.mark.asyncio
async def test_stop_keeps_what_was_said(web, fake_openai, cache_backend) -> None:  # type: ignore[no-untyped-def]
    await sync_to_async(cache.clear)()
    words = " ".join(f"w{i}" for i in range(200))
    fake_openai.script("chat", Reply(words, chunk_size=1, delay_between_chunks=0.05))
    socket, _, _ = await _socket(web.chat_code)
    await socket.send_json_to({"type": "session"})
    await socket.receive_json_from(timeout=10)
    await socket.send_json_to({"type": "chat", "query": "Count", **TURN})
    first = await socket.receive_json_from(timeout=10)
    await socket.send_json_to({"type": "stop", "task_id": first["task_id"]})
    events = [first, *await _until_end(socket)]
    assert events[-1]["event"] == "message_end"
    said = "".join(e.get("answer", "") for e in events[:-1])
    assert said and said != words
    message = await sync_to_async(_message)(first["message_id"])
    assert message.status == "stopped" and message.answer == said
    await socket.disconnect()


@pytest.mark.asyncio
async def test_another_end_user_cannot_stop_an_answer(web, fake_openai, cache_backend) -> None:  # type: ignore[no-untyped-def]
    await sync_to_async(cache.clear)()
    fake_openai.script("chat", Reply("one two three four five six", chunk_size=1, delay_between_chunks=0.05))
    owner, _, _ = await _socket(web.chat_code)
    await owner.send_json_to({"type": "chat", "query": "Count", **TURN})
    await owner.receive_json_from(timeout=10)  # session
    first = await owner.receive_json_from(timeout=10)
    stranger, _, _ = await _socket(web.chat_code)
    await stranger.send_json_to({"type": "session"})
    await stranger.receive_json_from(timeout=10)
    await stranger.send_json_to({"type": "stop", "task_id": first["task_id"]})
    events = [first, *await _until_end(owner)]
    assert "".join(e.get("answer", "") for e in events[:-1]) == "one two three four five six"
    assert (await sync_to_async(_message)(first["message_id"])).status == "normal"
    await owner.disconnect()
    await stranger.disconnect()


# --- Handshake: origins and codes -----------------------------------------------------------------

@pytest.mark.asyncio
async def test_origins_are_checked_at_the_handshake(web) -> None:  # type: ignore[no-untyped-def]
    # Empty list: only the WebApp's own origin.
    _, connected, _ = await _socket(web.chat_code, origin="http://localhost")
    assert connected
    for origin in ("https://shop.example", None, "null"):
        _, connected, code = await _socket(web.chat_code, origin=origin)
        assert (connected, code) == (False, 4403)
    await sync_to_async(_set_site)(web.chat, allowed_origins=["https://shop.example"])
    _, connected, _ = await _socket(web.chat_code, origin="https://shop.example")
    assert connected
    for origin in ("https://evil.example", "http://shop.example", "https://shop.example:8443"):
        _, connected, code = await _socket(web.chat_code, origin=origin)
        assert (connected, code) == (False, 4403), origin
    await sync_to_async(_set_site)(web.chat, allowed_origins=["*"])
    _, connected, _ = await _socket(web.chat_code, origin="https://anyone.example")
    assert connected


def test_origin_rule() -> None:
    site = Site(allowed_origins=["https://a.example", "http://localhost:8001"])
    assert origin_allowed(site, "https://a.example", "tessera.example")
    assert origin_allowed(site, "https://A.example/", "tessera.example")
    assert origin_allowed(site, "https://tessera.example", "tessera.example")
    assert origin_allowed(site, "http://localhost:8001", "localhost:9000")
    assert not origin_allowed(site, "http://localhost:8002", "localhost:9000")
    assert not origin_allowed(site, "https://a.example.evil.test", "tessera.example")
    assert not origin_allowed(site, "https://tessera.example:444", "tessera.example")
    assert not origin_allowed(site, "javascript:alert(1)", "tessera.example")
    assert not origin_allowed(site, "http://[bad", "tessera.example")


@pytest.mark.asyncio
async def test_unknown_regenerated_disabled_or_non_chat_codes_are_refused(web) -> None:  # type: ignore[no-untyped-def]
    _, connected, code = await _socket("nope-not-a-code")
    assert (connected, code) == (False, 4404)
    _, connected, code = await _socket(web.completion_code)
    assert (connected, code) == (False, 4404)

    def regenerate() -> str:
        with schema_context("ws_alpha"):
            return services.site_regenerate_code(site=Site.objects.get(app=web.chat)).code

    new_code = await sync_to_async(regenerate)()
    _, connected, code = await _socket(web.chat_code)
    assert (connected, code) == (False, 4404)
    _, connected, _ = await _socket(new_code)
    assert connected

    def disable() -> None:
        with schema_context("ws_alpha"):
            services.app_update(app=App.objects.get(pk=web.chat.pk), enable_site=False)

    await sync_to_async(disable)()
    _, connected, code = await _socket(new_code)
    assert (connected, code) == (False, 4404)


# --- Limits and isolation -------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_rate_limit_is_an_error_event_and_the_socket_stays_open(web, fake_openai, cache_backend) -> None:  # type: ignore[no-untyped-def]
    await sync_to_async(cache.clear)()
    await sync_to_async(_set_site)(web.chat, rate_limit_per_user=1)
    fake_openai.script("chat", Reply("Once."))
    socket, _, _ = await _socket(web.chat_code)
    await socket.send_json_to({"type": "session"})
    await socket.receive_json_from(timeout=10)
    await socket.send_json_to({"type": "chat", "query": "One", **TURN})
    assert (await _until_end(socket))[-1]["event"] == "message_end"
    await socket.send_json_to({"type": "chat", "query": "Two", **TURN})
    error = await socket.receive_json_from(timeout=10)
    assert (error["event"], error["code"], error["status"]) == ("error", "too_many_requests", 429)
    assert "per user" in error["message"]
    assert fake_openai.pending("chat") == 0 and len(fake_openai.requests_to("chat")) == 1
    # Per IP address too: another end user from the same address.
    await sync_to_async(_set_site)(web.chat, rate_limit_per_user=0, rate_limit_per_ip=1)
    await sync_to_async(cache.clear)()
    fake_openai.script("chat", Reply("Again."))
    other, _, _ = await _socket(web.chat_code)
    await other.send_json_to({"type": "chat", "query": "One", **TURN})
    await other.receive_json_from(timeout=10)  # session
    assert (await _until_end(other))[-1]["event"] == "message_end"
    await socket.disconnect()
    # (A socket reads the site's limits when it opens.)
    third, _, _ = await _socket(web.chat_code)
    await third.send_json_to({"type": "chat", "query": "Three", **TURN})
    await third.receive_json_from(timeout=10)  # session
    error = await third.receive_json_from(timeout=10)
    assert error["code"] == "too_many_requests" and "per IP address" in error["message"]
    await third.send_json_to({"type": "session"})  # still open
    assert (await third.receive_json_from(timeout=10))["event"] == "session"
    # Another address is not counted against this one.
    fake_openai.script("chat", Reply("Elsewhere."))
    elsewhere, _, _ = await _socket(web.chat_code, client=("10.0.0.8", 50001))
    await elsewhere.send_json_to({"type": "chat", "query": "Four", **TURN})
    await elsewhere.receive_json_from(timeout=10)  # session
    assert (await _until_end(elsewhere))[-1]["event"] == "message_end"
    for s in (other, third, elsewhere):
        await s.disconnect()


@pytest.mark.asyncio
async def test_another_end_users_conversation_is_refused(web, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await sync_to_async(cache.clear)()
    fake_openai.script("chat", Reply("Private."))
    first, _, _ = await _socket(web.chat_code)
    await first.send_json_to({"type": "chat", "query": "My secret", **TURN})
    await first.receive_json_from(timeout=10)
    conversation_id = (await _until_end(first))[-1]["conversation_id"]
    second, _, _ = await _socket(web.chat_code)
    await second.send_json_to({"type": "session", "conversation_id": conversation_id})
    session = await second.receive_json_from(timeout=10)
    assert session["conversation_id"] is None and session["messages"] == []
    await second.send_json_to({"type": "chat", "query": "Show me", **TURN,
                               "conversation_id": conversation_id})
    error = await second.receive_json_from(timeout=10)
    assert (error["event"], error["code"], error["status"]) == ("error", "not_found", 404)
    assert len(fake_openai.requests_to("chat")) == 1
    await first.disconnect()
    await second.disconnect()


@pytest.mark.asyncio
async def test_betas_code_never_reaches_alpha_data(web, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await sync_to_async(cache.clear)()
    fake_openai.script("chat", Reply("Alpha answer."), Reply("Beta answer."))
    alpha, _, _ = await _socket(web.chat_code)
    await alpha.send_json_to({"type": "chat", "query": "Alpha question", **TURN})
    alpha_session = await alpha.receive_json_from(timeout=10)
    alpha_end = (await _until_end(alpha))[-1]

    beta, connected, _ = await _socket(web.beta_code)
    assert connected
    # Alpha's token and conversation mean nothing on beta's app.
    await beta.send_json_to({"type": "session", "token": alpha_session["token"],
                             "conversation_id": alpha_end["conversation_id"]})
    beta_session = await beta.receive_json_from(timeout=10)
    assert beta_session["site"]["title"] == "Beta bot"
    assert beta_session["end_user_id"] != alpha_session["end_user_id"] and beta_session["messages"] == []
    await beta.send_json_to({"type": "chat", "query": "Hi", "inputs": {}, "auto_generate_name": False,
                             "conversation_id": alpha_end["conversation_id"]})
    error = await beta.receive_json_from(timeout=10)
    assert error["code"] == "not_found"
    await beta.send_json_to({"type": "chat", "query": "Beta question", "inputs": {},
                             "auto_generate_name": False})
    beta_end = (await _until_end(beta))[-1]
    assert beta_end["event"] == "message_end"

    def rows() -> tuple[list[str], list[str], bool]:
        with schema_context("ws_alpha"):
            alpha_queries = list(Message.objects.values_list("query", flat=True))
        with schema_context("ws_beta"):
            beta_queries = list(Message.objects.values_list("query", flat=True))
            alpha_end_user_in_beta = EndUser.objects.filter(pk=alpha_session["end_user_id"]).exists()
            assert Conversation.objects.filter(pk=beta_end["conversation_id"]).exists()
        return alpha_queries, beta_queries, alpha_end_user_in_beta

    alpha_queries, beta_queries, leaked = await sync_to_async(rows)()
    assert alpha_queries == ["Alpha question"] and beta_queries == ["Beta question"] and not leaked
    await alpha.disconnect()
    await beta.disconnect()


# --- The iframe, the script and the console -------------------------------------------------------

def test_iframe_page_may_be_framed_by_allowed_origins_only(web) -> None:  # type: ignore[no-untyped-def]
    response = Client().get(f"/chat/{web.chat_code}")
    assert csp(response)["frame-ancestors"] == "'self'"
    assert "X-Frame-Options" not in response
    _set_site(web.chat, allowed_origins=["https://shop.example", "http://localhost:8001"])
    response = Client().get(f"/chat/{web.chat_code}")
    assert csp(response)["frame-ancestors"] == "'self' https://shop.example http://localhost:8001"
    # The page's script policy holds inside the frame too (one policy, both parts).
    assert csp(response)["script-src"].startswith("'self' 'nonce-")
    _set_site(web.chat, allowed_origins=["*"])
    assert csp(Client().get(f"/chat/{web.chat_code}"))["frame-ancestors"] == "*"
    # Everything else still refuses to be framed.
    assert Client().get("/chat/nope-not-a-code")["X-Frame-Options"] == "DENY"
    assert Client().get("/accounts/login/")["X-Frame-Options"] == "DENY"


def test_widget_script_is_served_at_a_stable_url() -> None:
    response = Client().get("/webapp/embed.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "public, max-age=3600"
    body = response.content.decode()
    assert "/ws/chat/" in body and "localStorage" in body and "innerHTML" not in body
    assert Client().post("/webapp/embed.js").status_code == 405


def test_console_embed_dialog_gives_both_snippets(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    page = client_for(world_tx.editor.user).get(f"/console/alpha/apps/{web.chat.pk}/webapp/").content.decode()
    assert 'id="embed-dialog"' in page
    assert f"http://testserver/chat/{web.chat_code}" in page
    assert "http://testserver/webapp/embed.js" in page and f'data-code="{web.chat_code}"' in page.replace(
        "&quot;", '"')
    assert "&lt;iframe" in page and "&lt;script" in page
    # Tag names in the help texts are shown, not parsed.
    assert "&lt;head&gt; or &lt;body&gt;" in page and "&lt;div&gt; or &lt;section&gt;" in page


def test_console_accepts_star_as_an_origin(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world_tx.editor.user)
    response = client.post(f"/console/alpha/apps/{web.chat.pk}/webapp/", {
        "enable_site": "on", "title": "Helper", "icon": "🤖", "icon_background": "#E4EEF9",
        "default_language": "en", "allowed_origins_text": "https://a.example\n*\n*",
        "rate_limit_per_user": "5", "rate_limit_per_ip": "5"})
    assert response.status_code == 302
    with schema_context("ws_alpha"):
        assert Site.objects.get(app=web.chat).allowed_origins == ["https://a.example", "*"]


def test_console_embed_dialog_of_another_workspace_is_404(web, world_tx) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world_tx.other.user)  # a member of beta only
    assert client.get(f"/console/beta/apps/{web.chat.pk}/webapp/").status_code == 404
    assert client.get(f"/console/alpha/apps/{web.chat.pk}/webapp/").status_code in (403, 404)


@pytest.mark.asyncio
async def test_widget_texts_come_in_the_sites_language(web) -> None:  # type: ignore[no-untyped-def]
    await sync_to_async(_set_site)(web.chat, default_language="ja")
    socket, _, _ = await _socket(web.chat_code)
    await socket.send_json_to({"type": "session"})
    strings = (await socket.receive_json_from(timeout=10))["strings"]
    assert strings["start"] == "チャットを開始"
    assert strings["unavailable"] == "このチャットはこのサイトでは利用できません。"
    await socket.disconnect()


@pytest.mark.asyncio
async def test_a_chatflow_streams_its_workflow_events_too(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.webapp.conftest import site_of
    from tests.workflows.conftest import build

    def setup() -> str:
        return site_of("ws_alpha", build(world_tx, fake_openai).chatflow).code

    code = await sync_to_async(setup)()
    fake_openai.script("chat", Reply("Flow answer.", chunk_size=1), Reply("Again."))
    socket, connected, _ = await _socket(code)
    assert connected
    await socket.send_json_to({"type": "session"})
    session = await socket.receive_json_from(timeout=10)
    assert session["parameters"]["opening_statement"] == "Hello!"
    await socket.send_json_to({"type": "chat", "query": "Hi", "inputs": {}, "auto_generate_name": False})
    events = await _until_end(socket)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "workflow_started" and "node_finished" in kinds and kinds[-1] == "message_end"
    assert "".join(e["answer"] for e in events if e["event"] == "message") == "Flow answer."
    await socket.send_json_to({"type": "chat", "query": "More", "inputs": {}, "auto_generate_name": False,
                               "conversation_id": events[-1]["conversation_id"]})
    again = await _until_end(socket)
    conversation_id = events[-1]["conversation_id"]
    assert (again[-1]["event"], again[-1]["conversation_id"]) == ("message_end", conversation_id)
    await socket.disconnect()


@pytest.mark.asyncio
async def test_widget_streams_an_agents_steps_and_returns_them_with_the_history(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.applications.test_agent import import_clock_agent, last_tool_result
    from tests.fakes.base import FakeToolCall
    from tests.webapp.conftest import site_of

    await sync_to_async(cache.clear)()
    app, _key = await sync_to_async(import_clock_agent)(world_tx, fake_openai)
    code = (await sync_to_async(site_of)(world_tx.alpha.schema_name, app)).code
    fake_openai.script("chat", Reply(tool_calls=[FakeToolCall("current_time", {})]))
    fake_openai.responder = lambda request: Reply(f"It is {last_tool_result(request)}.")
    socket, connected, _ = await _socket(code)
    assert connected
    await socket.send_json_to({"type": "session"})
    session = await socket.receive_json_from(timeout=10)
    await socket.send_json_to({"type": "chat", "query": "Time?", "inputs": {}, "auto_generate_name": False})
    events = await _until_end(socket)
    thoughts = [e for e in events if e["event"] == "agent_thought"]
    assert [t["tool"] for t in thoughts][:3] == ["", "current_time", "current_time"]
    assert "".join(e["answer"] for e in events if e["event"] == "agent_message").startswith("It is ")
    await socket.disconnect()

    again, _, _ = await _socket(code)
    await again.send_json_to({"type": "session", "token": session["token"],
                              "conversation_id": events[-1]["conversation_id"]})
    resumed = await again.receive_json_from(timeout=10)
    [message] = resumed["messages"]
    assert [t["tool"] for t in message["agent_thoughts"]] == ["current_time", ""]
    await again.disconnect()
