"""The chat widget and the iframe embed in a real browser (WEB-04): pages served from another local
port (a tiny http.server in the test) embed the app from Daphne; Chromium runs them against the
fake model. Every page visited is saved under var/screenshots/."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django_tenants.utils import schema_context

from apps.applications import services
from apps.applications.models import Site
from apps.logs.models import Message
from tests.browser import log_in, shot
from tests.fakes.base import Reply
from tests.webapp.conftest import build_web_setup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@contextmanager
def host_page(html: str) -> Iterator[str]:
    """Serve `html` at / from another local port: the "customer's site". Yields its origin."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _allow(web, *origins: str) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        services.site_update(site=Site.objects.get(app=web.chat), allowed_origins=list(origins))


def _shop(snippet: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Alpha Shop</title>
<style>body {{ font: 16px/1.5 Georgia, serif; margin: 2rem; background: #fbf7f0; }}
.msg {{ color: red !important; }}</style>{snippet}</head>
<body><h1>Alpha Shop</h1><p>Handmade things. Questions? Use the chat.</p></body></html>"""


def test_widget_on_another_site_chats_over_websocket(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    web = build_web_setup(world_tx, fake_openai)
    fake_openai.script(
        "chat",
        Reply("Hello Ada, we ship worldwide.", chunk_size=1),
        Reply('Look: <script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> **bold**',
              chunk_size=2))
    snippet = (f'<script src="{live_url}/webapp/embed.js" data-code="{web.chat_code}" data-color="#7c3aed" '
               f'data-position="left" data-button-text="Ask us" defer></script>')
    with host_page(_shop(snippet)) as shop:
        _allow(web, shop)
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(shop)
        launcher = page.locator(".launcher")
        launcher.wait_for()
        assert launcher.inner_text() == "Ask us"
        # Our options: colour and corner.
        box = launcher.bounding_box()
        assert box is not None and box["x"] < 100
        assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(124, 58, 237)"
        shot(page, "widget-closed")

        launcher.click()
        # The app's required variable first (the start form), then the opener.
        page.locator("form.inputs").wait_for()
        assert page.locator(".panel .title").inner_text() == "Helper"
        page.click("form.inputs button[type=submit]")
        page.locator("form.inputs .msg.error").filter(has_text="Please fill in “Name”.").wait_for()
        page.fill("form.inputs input[name=name]", "Ada")
        page.click("form.inputs button[type=submit]")
        page.locator(".msg.bot").filter(has_text="Hi Ada!").wait_for()
        assert page.locator(".chip").inner_text() == "What can you do?"
        shot(page, "widget-open")

        page.fill(".composer textarea", "Do you ship abroad?")
        page.keyboard.press("Enter")
        answer = page.locator(".msg.bot").nth(1)
        answer.filter(has_text="Hello Ada, we ship worldwide.").wait_for()
        page.locator(".composer button.btn:not(.ghost)").wait_for()  # back to Send
        stored = page.evaluate(f"JSON.parse(localStorage.getItem('tessera-chat:{web.chat_code}'))")
        assert stored["token"] and stored["conversation_id"]
        assert stored["inputs"] == {"name": "Ada", "tone": "warm"}
        # The host page's styles do not reach into the widget.
        assert answer.evaluate("n => getComputedStyle(n).color") != "rgb(255, 0, 0)"
        shot(page, "widget-answer")

        # Model output with markup is shown as text and never runs.
        page.fill(".composer textarea", "Show me markup")
        page.keyboard.press("Enter")
        markup = page.locator(".msg.bot").nth(2)
        markup.filter(has_text="**bold**").wait_for()
        assert "<script>window.pwned = 1</script>" in markup.inner_text()
        assert page.evaluate("window.pwned") is None
        assert markup.locator("script, img").count() == 0
        shot(page, "widget-script-as-text")

        # Another visit to the shop: the same end user, the conversation goes on.
        page.reload()
        page.locator(".launcher").click()
        page.locator(".msg.user").filter(has_text="Do you ship abroad?").wait_for()
        assert page.locator(".msg.bot").filter(has_text="Hello Ada, we ship worldwide.").count() == 1
        shot(page, "widget-history")
        context.close()

    with schema_context("ws_alpha"):
        messages = list(Message.objects.filter(app=web.chat).order_by("created_at"))
    assert [m.query for m in messages] == ["Do you ship abroad?", "Show me markup"]
    assert {m.from_source for m in messages} == {"webapp"}
    assert messages[0].conversation_id == messages[1].conversation_id
    assert messages[0].inputs == {"name": "Ada", "tone": "warm"}


def test_widget_on_a_site_that_is_not_allowed_is_refused(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    web = build_web_setup(world_tx, fake_openai)
    snippet = f'<script src="{live_url}/webapp/embed.js" data-code="{web.chat_code}" defer></script>'
    with host_page(_shop(snippet)) as allowed, host_page(_shop(snippet)) as stranger:
        _allow(web, allowed)
        context = browser.new_context()
        page = context.new_page()
        page.goto(stranger)
        page.locator(".launcher").click()
        page.locator(".msg.error").filter(has_text="This chat is not available on this site.").wait_for()
        assert page.locator(".composer").is_hidden()
        assert page.locator(".panel .title").inner_text() == ""  # nothing of the app was sent
        assert page.evaluate(f"localStorage.getItem('tessera-chat:{web.chat_code}')") is None
        shot(page, "widget-refused")
        context.close()
    assert fake_openai.requests_to("chat") == []


def test_iframe_embed_renders_only_on_allowed_sites(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    web = build_web_setup(world_tx, fake_openai)
    frame = (f'<iframe src="{live_url}/chat/{web.chat_code}" title="Chat" '
             'style="width: 100%; height: 640px; border: 0"></iframe>')
    page_html = f"""<!doctype html><html><head><meta charset="utf-8"><title>Alpha Help</title></head>
<body><h1>Help centre</h1><section>{frame}</section></body></html>"""
    with host_page(page_html) as allowed, host_page(page_html) as stranger:
        _allow(web, allowed)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(allowed)
        inner = page.frame_locator("iframe")
        inner.locator("[data-testid=start-chat]").wait_for()
        assert "Helper" in inner.locator("body").inner_text()
        shot(page, "iframe-allowed")

        page.goto(stranger)
        page.wait_for_load_state("load")
        blocked = page.frames[1]
        # Chromium refuses to draw the frame (CSP frame-ancestors): no WebApp inside.
        assert blocked.url.startswith("chrome-error://")
        assert blocked.locator("[data-testid=start-chat]").count() == 0
        shot(page, "iframe-refused")
        context.close()


def test_console_embed_dialog_snippet_works_on_another_site(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    web = build_web_setup(world_tx, fake_openai)
    fake_openai.script("chat", Reply("Welcome to the shop.", chunk_size=1))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    page = context.new_page()
    log_in(page, live_url)
    page.goto(f"{live_url}/console/alpha/apps/{web.chat.pk}/webapp/")
    page.click("[data-testid=embed-open]")
    dialog = page.locator("[data-testid=embed-dialog]")
    dialog.wait_for()
    iframe_snippet = page.input_value("[data-testid=embed-iframe]")
    assert iframe_snippet.startswith(f'<iframe src="{live_url}/chat/{web.chat_code}"')
    assert page.input_value("[data-testid=embed-script]") == (
        f'<script src="{live_url}/webapp/embed.js" data-code="{web.chat_code}" defer></script>')
    page.fill("[data-testid=embed-color]", "#b42318")
    page.select_option("[data-testid=embed-position]", "left")
    page.fill("[data-testid=embed-text]", 'Help "now"')
    snippet = page.input_value("[data-testid=embed-script]")
    assert snippet == (f'<script src="{live_url}/webapp/embed.js" data-code="{web.chat_code}" '
                       'data-color="#b42318" data-position="left" data-button-text="Help &quot;now&quot;" '
                       'defer></script>')
    page.click("[data-testid=embed-copy-script]")
    assert page.evaluate("navigator.clipboard.readText()") == snippet
    shot(page, "console-embed-dialog")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    # The snippet, pasted into another site that the settings allow, draws the bubble and chats.
    with host_page(_shop(snippet)) as shop:
        page.fill("#id_allowed_origins_text", shop)
        page.click("form.form button[type=submit]")
        page.locator(".alert--success").wait_for()
        visitor = context.new_page()
        visitor.goto(shop)
        launcher = visitor.locator(".launcher")
        assert launcher.inner_text() == 'Help "now"'
        assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(180, 35, 24)"
        launcher.click()
        visitor.fill("form.inputs input[name=name]", "Ada")
        visitor.click("form.inputs button[type=submit]")
        visitor.fill(".composer textarea", "Hello")
        visitor.keyboard.press("Enter")
        visitor.locator(".msg.bot").filter(has_text="Welcome to the shop.").wait_for()
        shot(visitor, "widget-from-console-snippet")
    context.close()


def test_widget_stop_keeps_the_partial_answer(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    web = build_web_setup(world_tx, fake_openai)
    words = " ".join(f"word{i}" for i in range(300))
    fake_openai.script("chat", Reply(words, chunk_size=2, delay_between_chunks=0.05))
    snippet = (f'<script src="{live_url}/webapp/embed.js" data-code="{web.chat_code}" '
               'data-inputs=\'{"name": "Ada"}\' data-open="true" defer></script>')
    with host_page(_shop(snippet)) as shop:
        _allow(web, shop)
        context = browser.new_context()
        page = context.new_page()
        page.goto(shop)
        # Open at load, and the variables came with the snippet: no start form.
        page.locator(".msg.bot").filter(has_text="Hi Ada!").wait_for()
        assert page.locator("form.inputs").count() == 0
        page.fill(".composer textarea", "Count")
        page.keyboard.press("Enter")
        answer = page.locator(".msg.bot").nth(1)
        answer.filter(has_text="word3").wait_for()
        stop = page.locator(".composer button.btn.ghost")
        assert stop.inner_text() == "Stop"
        stop.click()
        page.locator(".composer button.btn:not(.ghost)").wait_for()
        shown = answer.inner_text()
        shot(page, "widget-stopped")
        context.close()
    with schema_context("ws_alpha"):
        message = Message.objects.get(app=web.chat)
    assert message.status == "stopped" and message.answer.strip() == shown.strip()
    assert "word3" in message.answer and message.answer != words
