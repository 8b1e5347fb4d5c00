"""The chat WebApp in a real browser (Daphne + Chromium + the fake model): share link, variables,
streamed answers, conversation management, end-user isolation, <script> shown as text, regenerated
links. Every page visited is saved under var/screenshots/."""

import re

import pytest
from django_tenants.utils import schema_context

from apps.applications import services
from apps.applications.models import Site
from apps.logs.models import Conversation, MessageFeedback, Source
from tests.browser import alpine_ready, shot
from tests.fakes.base import Reply
from tests.webapp.conftest import build_web_setup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    return context, page


def test_share_link_variables_streamed_answer_feedback_and_script_as_text(  # type: ignore[no-untyped-def]
        live_url, browser, world_tx, fake_openai) -> None:
    web = build_web_setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        services.site_update(site=Site.objects.get(app=web.chat), description="Answers about Alpha.",
                             copyright="Alpha Inc.", privacy_policy="https://alpha.test/privacy",
                             custom_disclaimer="Answers may be wrong.")
    fake_openai.script("chat", Reply("Hello **Ada**!\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```py\nprint(1)\n```",
                                     chunk_size=3),
                       Reply("Look: <script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">",
                             chunk_size=5))
    context, page = _page(browser)
    page.goto(f"{live_url}/chat/{web.chat_code}")
    assert page.title() == "Helper"
    body = page.inner_text("body")
    assert "Answers about Alpha." in body and "Alpha Inc." in body and "Answers may be wrong." in body
    assert page.get_attribute("footer a[href='https://alpha.test/privacy']", "href")
    shot(page, "webapp-chat-variables")

    # The required variable must be filled before chatting (WEB-11).
    alpine_ready(page)
    page.click("[data-testid=start-chat]")
    page.locator("[data-testid=variables-form]").filter(has_text="Please fill in “Name”.").wait_for()
    assert page.locator("[data-testid=query]").is_hidden()
    page.fill("#var-name", "Ada")
    page.click("[data-testid=start-chat]")
    # The opening statement uses the variables; the suggested questions are offered.
    page.locator("[data-testid=opening]").filter(has_text="Hi Ada!").wait_for()
    assert "What can you do?" in page.inner_text("[data-testid=starters]")
    shot(page, "webapp-chat-ready")

    page.fill("[data-testid=query]", "Hello")
    page.click("[data-testid=send]")
    answer = page.locator("[data-testid=answer]").last
    answer.locator("pre code").wait_for()
    assert answer.locator("strong").inner_text() == "Ada"
    assert answer.locator("table td").first.inner_text() == "1"
    assert "print(1)" in answer.locator("pre").inner_text()
    # The streamed answer was requested with the variables, and the prompt used them.
    assert fake_openai.requests[-1].json["stream"] is True
    assert "You help Ada in a warm tone." in fake_openai.requests[-1].json["messages"][0]["content"]
    page.click("[data-testid=like]")
    page.locator("[data-testid=like][aria-pressed=true]").wait_for()
    shot(page, "webapp-chat-answer")

    # Model output with <script> and an event handler is shown as text / stripped, never run.
    page.fill("[data-testid=query]", "Try to break out")
    page.click("[data-testid=send]")
    last = page.locator("[data-testid=answer]").last
    last.filter(has_text="Look:").wait_for()
    page.locator("[data-testid=send]").wait_for()
    text = last.inner_text()
    assert "<script>window.pwned = 1</script>" in text and '<img src=x onerror="window.pwned = 2">' in text
    assert page.locator("[data-testid=thread] script").count() == 0
    assert page.locator("[data-testid=thread] img[onerror]").count() == 0
    assert page.evaluate("window.pwned") is None
    shot(page, "webapp-chat-script-as-text")

    with schema_context("ws_alpha"):
        conversation = Conversation.objects.get(app=web.chat)
        assert conversation.from_source == Source.WEBAPP and conversation.messages.count() == 2
        assert conversation.end_user.type == "browser"
        feedback = MessageFeedback.objects.get(message__conversation=conversation)
        assert feedback.rating == "like" and feedback.from_source == "user"
    context.close()


def test_conversations_pin_rename_delete_and_a_second_browser_sees_none(  # type: ignore[no-untyped-def]
        live_url, browser, world_tx, fake_openai) -> None:
    web = build_web_setup(world_tx, fake_openai)
    fake_openai.script("chat", Reply("First answer"), Reply("Second answer"))
    context, page = _page(browser)
    page.goto(f"{live_url}/chat/{web.chat_code}")
    page.fill("#var-name", "Ada")
    page.click("[data-testid=start-chat]")
    for question, reply in (("First question", "First answer"), ("Second question", "Second answer")):
        page.fill("[data-testid=query]", question)
        page.click("[data-testid=send]")
        page.locator("[data-testid=answer]").last.filter(has_text=reply).wait_for()
        page.locator("[data-testid=send]").wait_for()
        page.locator("[data-testid=conversation]").filter(has_text=question).wait_for()
        if question == "First question":
            page.click("[data-testid=new-conversation]")
            page.fill("#var-name", "Ada")
            page.click("[data-testid=start-chat]")
    recent = page.locator("[data-testid=recent-list] [data-testid=conversation]")
    assert recent.count() == 2
    # The newest conversation is on top until the older one is pinned.
    assert "Second question" in recent.first.inner_text()
    first = page.locator("[data-testid=conversation]").filter(has_text="First question")
    first.locator("[data-testid=pin]").click()
    pinned = page.locator("[data-testid=pinned-list] [data-testid=conversation]")
    pinned.first.wait_for()
    assert "First question" in pinned.first.inner_text()
    assert page.locator("[data-testid=recent-list] [data-testid=conversation]").count() == 1
    shot(page, "webapp-chat-pinned")

    # Rename the pinned one.
    pinned.first.locator("[data-testid=rename]").click()
    page.fill("[data-testid=rename-input]", "Trip planning")
    page.press("[data-testid=rename-input]", "Enter")
    page.locator("[data-testid=conversation]").filter(has_text="Trip planning").wait_for()
    # Reopen it: its messages load.
    page.locator("[data-testid=conversation]").filter(has_text="Trip planning").locator(".wa-conv__open").click()
    page.locator("[data-testid=answer]").filter(has_text="First answer").wait_for()
    shot(page, "webapp-chat-renamed")

    # A second browser (another end user) sees none of these conversations.
    other_context, other = _page(browser)
    other.goto(f"{live_url}/chat/{web.chat_code}")
    other.locator("[data-testid=variables-form]").wait_for()
    other.wait_for_load_state("networkidle")
    assert other.locator("[data-testid=conversation]").count() == 0
    shot(other, "webapp-chat-second-browser")
    other_context.close()

    # Unpin, then delete.
    page.locator("[data-testid=conversation]").filter(has_text="Trip planning").locator("[data-testid=unpin]").click()
    page.locator("[data-testid=pinned-list] [data-testid=conversation]").first.wait_for(state="detached")
    page.locator("[data-testid=conversation]").filter(has_text="Trip planning").locator("[data-testid=delete]").click()
    page.locator("[data-testid=conversation]").filter(has_text="Trip planning").wait_for(state="detached")
    assert page.locator("[data-testid=conversation]").count() == 1
    shot(page, "webapp-chat-deleted")
    with schema_context("ws_alpha"):
        assert Conversation.objects.get(name="Trip planning").is_deleted
    # After a reload the same browser still has its remaining conversation (the cookie).
    page.reload()
    page.locator("[data-testid=conversation]").filter(has_text="Second question").wait_for()
    context.close()


def test_regenerated_code_makes_the_old_link_404(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    web = build_web_setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        new_code = services.site_regenerate_code(site=Site.objects.get(app=web.chat)).code
    context, page = _page(browser)
    response = page.goto(f"{live_url}/chat/{web.chat_code}")
    assert response.status == 404
    assert page.locator("[data-testid=unavailable]").is_visible()
    shot(page, "webapp-chat-old-link-404")
    response = page.goto(f"{live_url}/chat/{new_code}")
    assert response.status == 200 and re.search("Helper", page.title())
    shot(page, "webapp-chat-new-link")
    context.close()


def test_published_follow_up_suggestions_and_citations_show(  # type: ignore[no-untyped-def]
        live_url, browser, world_tx, fake_openai) -> None:
    from apps.applications.models import App
    from apps.applications.webapp import identity
    from apps.logs.models import Message
    from apps.providers import services as providers

    web = build_web_setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        providers.default_model_set(model_type="llm", provider_id="openai_api_compatible", model="fake-chat")
        app = App.objects.get(pk=web.chat.pk)
        services.draft_save(app=app, config={**app.draft_config,
                                             "suggested_questions_after_answer": {"enabled": True}})
        services.app_publish(app=app)  # WEB-06: the WebApp follows the published config
        # An earlier answer of this browser's end user that cited a document.
        end_user, token = identity.end_user_for_token(app, None)
        conversation = Conversation.objects.create(app=app, end_user=end_user, from_source=Source.WEBAPP,
                                                   mode="chat", name="Handbook", inputs={"name": "Ada"})
        Message.objects.create(app=app, conversation=conversation, end_user=end_user, from_source=Source.WEBAPP,
                               query="Holidays?", answer="25 days.", status="normal", retriever_resources=[
                                   {"position": 1, "dataset_name": "HR", "document_name": "Handbook.pdf",
                                    "segment_id": "s1", "content": "Staff get 25 days of paid holiday."}])
    fake_openai.script("chat", Reply("Paris is the capital."), Reply("Capitals"),
                       Reply('["What about Lyon?", "How big is Paris?", "Best time to visit?"]'))
    context, page = _page(browser)
    context.add_cookies([{"name": identity.cookie_name(app), "value": token, "url": live_url}])
    page.goto(f"{live_url}/chat/{web.chat_code}")
    page.locator("[data-testid=conversation]").filter(has_text="Handbook").locator(".wa-conv__open").click()
    cites = page.locator("[data-testid=citations]")
    cites.wait_for()
    cites.locator("summary").click()
    assert "Handbook.pdf" in cites.inner_text() and "Staff get 25 days of paid holiday." in cites.inner_text()
    shot(page, "webapp-chat-citations")

    page.click("[data-testid=new-conversation]")
    page.fill("#var-name", "Ada")
    page.click("[data-testid=start-chat]")
    page.fill("[data-testid=query]", "Capital of France?")
    page.click("[data-testid=send]")
    suggestions = page.locator("[data-testid=suggestions]")
    suggestions.wait_for()
    assert "What about Lyon?" in suggestions.inner_text()
    shot(page, "webapp-chat-suggestions")
    # A suggestion is a question: clicking it asks it.
    fake_openai.script("chat", Reply("Lyon is lovely."), Reply('["More?"]'))
    suggestions.locator("button", has_text="What about Lyon?").click()
    page.locator("[data-testid=answer]").filter(has_text="Lyon is lovely.").wait_for()
    context.close()


def test_phone_layout_in_the_sites_language(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    web = build_web_setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        services.site_update(site=Site.objects.get(app=web.chat), default_language="ja")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="en-US")
    page = context.new_page()
    page.goto(f"{live_url}/chat/{web.chat_code}")
    # The site's language wins over the browser's Accept-Language.
    assert page.get_attribute("html", "lang") == "ja"
    assert page.inner_text("[data-testid=start-chat]") == "チャットを開始"
    # On a phone the conversation list is a drawer behind the menu button.
    assert not page.locator("[data-testid=new-conversation]").is_visible() or \
        page.locator("#wa-side").bounding_box()["x"] < 0
    shot(page, "webapp-chat-phone")
    page.click(".wa-top__menu")
    page.locator("[data-testid=new-conversation]").wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#wa-side').getBoundingClientRect().x >= 0")
    shot(page, "webapp-chat-phone-drawer")
    context.close()


def test_console_settings_show_on_the_webapp_and_regenerate_breaks_the_old_link(  # type: ignore[no-untyped-def]
        live_url, browser, world_tx, fake_openai) -> None:
    from tests.conftest import PASSWORD

    web = build_web_setup(world_tx, fake_openai)
    context, page = _page(browser)
    page.goto(f"{live_url}/accounts/login/")
    page.fill("input[name=login]", "edith@alpha.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/alpha/.*"))
    page.goto(f"{live_url}/console/alpha/apps/{web.chat.pk}/")
    page.click("nav.tabs >> text=WebApp")
    page.wait_for_url(re.compile(r".*/webapp/$"))
    page.fill("#id_title", "Alpha support")
    page.fill("#id_description", "We answer questions about Alpha.")
    page.select_option("#id_default_language", "zh-Hans")
    page.fill("#id_copyright", "Alpha Inc.")
    page.fill("#id_privacy_policy", "https://alpha.test/privacy")
    page.click("form.form button[type=submit]")
    page.locator(".alert--success").wait_for()
    shot(page, "console-webapp-settings")
    old_link = page.input_value("#share-url")
    assert old_link.endswith(f"/chat/{web.chat_code}")

    visitor_context, visitor = _page(browser)
    visitor.goto(old_link)
    assert visitor.title() == "Alpha support"
    assert "We answer questions about Alpha." in visitor.inner_text("[data-testid=site-description]")
    assert visitor.get_attribute("html", "lang") == "zh-hans"
    assert visitor.inner_text("[data-testid=start-chat]") == "开始对话"
    assert "Alpha Inc." in visitor.inner_text("footer")
    shot(visitor, "webapp-chat-from-console-settings")

    # Regenerate (confirmed in the dialog): the old link is gone at once, the new one works.
    page.click("button:has-text('Regenerate link')")
    page.locator(".alert--success").wait_for()
    assert page.dialogs and "stops working" in page.dialogs[-1]
    new_link = page.input_value("#share-url")
    assert new_link != old_link
    assert visitor.goto(old_link).status == 404
    shot(visitor, "webapp-old-link-after-regenerate")
    assert visitor.goto(new_link).status == 200
    visitor_context.close()
    context.close()


def test_stop_generating_keeps_the_partial_answer(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from apps.logs.models import Message

    web = build_web_setup(world_tx, fake_openai)
    words = " ".join(f"word{i}" for i in range(200))
    fake_openai.script("chat", Reply(words, chunk_size=6, delay_between_chunks=0.1))
    context, page = _page(browser)
    page.goto(f"{live_url}/chat/{web.chat_code}")
    page.fill("#var-name", "Ada")
    page.click("[data-testid=start-chat]")
    page.fill("[data-testid=query]", "Talk a lot")
    page.click("[data-testid=send]")
    answer = page.locator("[data-testid=answer]").last
    answer.filter(has_text="word3").wait_for()
    page.click("[data-testid=stop]")
    page.locator("[data-testid=send]").wait_for()
    shot(page, "webapp-chat-stopped")
    with schema_context("ws_alpha"):
        message = Message.objects.get(app=web.chat)
    assert message.status == "stopped"
    assert message.answer.startswith("word0") and "word199" not in message.answer
    assert "word199" not in answer.inner_text()
    context.close()


def test_vision_app_takes_an_image_with_the_question(  # type: ignore[no-untyped-def]
        live_url, browser, world_tx, fake_openai, tmp_path) -> None:
    from apps.applications.models import App
    from tests.webapp.test_api import PNG

    web = build_web_setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        app = App.objects.get(pk=web.chat.pk)
        services.draft_save(app=app, config={**app.draft_config, "file_upload": {"image": {
            "enabled": True, "number_limits": 2, "detail": "low", "transfer_methods": ["local_file"]}}})
        services.app_publish(app=app)
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    fake_openai.script("chat", Reply("A single dot."))
    context, page = _page(browser)
    page.goto(f"{live_url}/chat/{web.chat_code}")
    page.fill("#var-name", "Ada")
    page.click("[data-testid=start-chat]")
    page.set_input_files("[data-testid=image-input]", str(image))
    page.locator(".wa-attachment img").wait_for()
    page.fill("[data-testid=query]", "What is this?")
    page.click("[data-testid=send]")
    page.locator("[data-testid=answer]").filter(has_text="A single dot.").wait_for()
    assert page.locator("[data-testid=user-bubble] img.wa-thumb").count() == 1
    shot(page, "webapp-chat-image")
    content = fake_openai.requests[-1].json["messages"][-1]["content"]
    assert content[-1]["type"] == "image_url" and content[-1]["image_url"]["url"].startswith("data:image/png")
    context.close()
