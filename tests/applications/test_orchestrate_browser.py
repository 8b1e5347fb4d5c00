"""Orchestrate in a real browser: edit the prompt, preview a streamed answer, follow-up
suggestions, stop a running preview, publish."""

import re

import pytest
from django_tenants.utils import schema_context

from apps.applications.models import App
from apps.logs.models import Message
from apps.providers import services as providers
from tests.applications.test_orchestrate import _setup
from tests.browser import SHOTS
from tests.conftest import PASSWORD
from tests.fakes.base import Reply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_url: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in as Edith, an editor of alpha."""
    page.goto(f"{live_url}/accounts/login/")
    page.fill("input[name=login]", "edith@alpha.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/alpha/.*"))


def test_edit_preview_and_publish(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world_tx, fake_openai)
    with schema_context("ws_alpha"):
        providers.default_model_set(model_type="llm", provider_id="openai_api_compatible", model="fake-chat")
    slow = Reply(" ".join(f"yo{i}" for i in range(80)), delay_between_chunks=0.2)
    fake_openai.script("chat", Reply("Arr! Here is <script>alert(1)</script>\nNew line.", chunk_size=4),
                       Reply('["Where is the treasure?", "Who is the captain?", "What ship?"]'), slow)
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _login(page, live_url)

    page.goto(f"{live_url}/console/alpha/apps/{app.pk}/orchestrate/")
    page.fill("#pre-prompt", "You are a pirate. Greet {{crew}}.")
    # Typing an undeclared {{crew}} offers to add it as a variable.
    page.click("button:has-text('Add as variable')")
    page.fill("#in-crew", "Jack")
    page.locator("input[name=suggested_questions_after_answer]").check(force=True)

    # Preview: the unsaved edit is saved as the draft, then the answer streams into the panel.
    page.fill("#debug-query", "Hello")
    page.click(".orch-composer button[type=submit]")
    answer = page.locator(".orch-turn--assistant [data-testid=bubble]").last
    answer.filter(has_text="New line.").wait_for()
    text = answer.inner_text()
    assert "<script>alert(1)</script>" in text and "\nNew line." in text  # shown as text, lines kept
    assert page.locator("[data-testid=thread] script").count() == 0 and not dialogs
    page.click("button:has-text('Prompt log')")
    log = page.locator("[data-testid=prompt-log]").last.inner_text()
    assert "You are a pirate. Greet Jack." in log
    assert any(r.json["messages"][0]["content"] == "You are a pirate. Greet Jack." for r in fake_openai.requests)
    # Follow-up suggestions from the default model appear under the answer; one asks the next turn.
    follow_ups = page.locator("[data-testid=follow-ups] .chip")
    follow_ups.first.wait_for()
    assert follow_ups.all_inner_texts() == ["Where is the treasure?", "Who is the captain?", "What ship?"]
    page.screenshot(path=str(SHOTS / "orchestrate-preview.png"), full_page=True)

    # A slow answer streams; Stop ends it, the partial answer stays, marked as stopped.
    follow_ups.first.click()
    streaming = page.locator(".orch-turn--assistant [data-testid=bubble]").last
    streaming.filter(has_text="yo2").wait_for()
    page.click("[data-testid=stop]")
    page.locator(".orch-turn--assistant [data-testid=stopped]").wait_for()
    page.locator(".orch-composer button[type=submit]").wait_for()  # Send is back: the run is over
    partial = streaming.inner_text()
    assert partial.startswith("yo0 yo1 yo2") and not partial.endswith("yo79")
    with schema_context("ws_alpha"):
        stopped = Message.objects.filter(app_id=app.pk, query="Where is the treasure?").get()
        assert stopped.status == Message.Status.STOPPED and stopped.answer == partial
    assert page.locator("[data-testid=follow-ups]").count() == 0  # none after a stopped answer
    page.screenshot(path=str(SHOTS / "orchestrate-stopped.png"), full_page=True)

    with schema_context("ws_alpha"):
        current = App.objects.select_related("published").get(pk=app.pk)
        assert current.draft_config["pre_prompt"] == "You are a pirate. Greet {{crew}}."
        assert current.live_config["pre_prompt"] == "Be brief."

    # Publish: the live config changes and the page says which version is live.
    with page.expect_navigation():
        page.click("button:has-text('Publish')")
    assert "Published v2" in page.inner_text("body")
    with schema_context("ws_alpha"):
        current = App.objects.select_related("published").get(pk=app.pk)
        assert current.published.number == 2
        assert current.live_config["pre_prompt"] == "You are a pirate. Greet {{crew}}."
        assert current.live_config["user_input_form"][0]["text-input"]["variable"] == "crew"
    page.screenshot(path=str(SHOTS / "orchestrate-published.png"), full_page=True)


def test_preview_with_an_image_for_a_vision_model(live_url, browser, world_tx, fake_openai, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.applications.test_debug_panel import PNG, _vision_app

    app = _vision_app(fake_openai, image_enabled=False)
    fake_openai.script("chat", Reply("A small picture."))
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    _login(page, live_url)
    page.goto(f"{live_url}/console/alpha/apps/{app.pk}/orchestrate/")

    # The switch shows for the vision model; turning it on offers an image button in the preview.
    assert not page.locator(".orch-attach").is_visible()
    page.locator("input[name=image_upload]").check(force=True)
    page.locator(".orch-attach").wait_for()
    page.set_input_files("[data-testid=image-input]", str(image))
    page.locator("[data-testid=pending-image]").filter(has_text="dot.png").wait_for()
    page.fill("#debug-query", "What is in it?")
    page.click(".orch-composer button[type=submit]")
    page.locator(".orch-turn--assistant [data-testid=bubble]").last.filter(has_text="A small picture.").wait_for()
    assert page.locator("[data-testid=turn-images]").inner_text() == "dot.png"
    assert page.locator("[data-testid=pending-image]").count() == 0
    content = fake_openai.requests[-1].json["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "What is in it?"}
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    page.screenshot(path=str(SHOTS / "orchestrate-image.png"), full_page=True)


@pytest.fixture
def mic_browser():  # type: ignore[no-untyped-def]
    """Chromium with its built-in fake microphone (a generated tone) and no permission prompt."""
    import os

    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        try:
            yield instance
        finally:
            instance.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def test_preview_microphone_and_read_aloud(live_url, mic_browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.applications.test_debug_panel import _speech_app

    app = _speech_app(world_tx, fake_openai)
    fake_openai.script("transcriptions", Reply("tell me a joke"))
    fake_openai.script("chat", Reply("Why did the chicken cross the road?"))
    context = mic_browser.new_context(viewport={"width": 1440, "height": 1000})
    context.grant_permissions(["microphone"])
    page = context.new_page()
    _login(page, live_url)
    page.goto(f"{live_url}/console/alpha/apps/{app.pk}/orchestrate/")

    # The workspace has speech models: both switches exist; the mic shows once speech to text is on.
    assert not page.locator("[data-testid=mic]").is_visible()
    page.locator("input[name=speech_to_text]").check(force=True)
    page.locator("input[name=text_to_speech]").check(force=True)
    page.fill("#tts-voice", "nova")
    page.locator("input[name=tts_autoplay]").check()
    page.click("[data-testid=mic]")
    page.locator("[data-testid=mic][aria-pressed=true]").wait_for()
    page.click("[data-testid=mic]")  # stop recording: the audio goes to the transcription model
    page.wait_for_function("() => document.getElementById('debug-query').value === 'tell me a joke'")
    upload = next(r for r in fake_openai.requests if r.path.endswith("/audio/transcriptions"))
    assert upload.path.endswith("/audio/transcriptions")

    page.click(".orch-composer button[type=submit]")
    page.locator(".orch-turn--assistant [data-testid=bubble]").last.filter(has_text="chicken").wait_for()
    page.click("[data-testid=read-aloud]")
    page.locator("[data-testid=tts-audio]").wait_for(state="attached")
    assert page.locator("[data-testid=tts-audio]").get_attribute("src").startswith("blob:")
    speech = fake_openai.requests[-1]
    assert speech.path.endswith("/audio/speech") and speech.json["input"] == "Why did the chicken cross the road?"
    page.screenshot(path=str(SHOTS / "orchestrate-speech.png"), full_page=True)
    with schema_context("ws_alpha"):
        app.refresh_from_db()
    # The preview saved the draft with the voice and autoPlay (API streams then end with tts_message events).
    assert app.draft_config["text_to_speech"] == {"enabled": True, "voice": "nova", "language": "",
                                                  "autoPlay": "enabled"}


def test_completion_preview_more_like_this(live_url, browser, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    app = _setup(world_tx, fake_openai, mode="completion")
    fake_openai.script("chat", Reply("First draft."), Reply("Second take."))
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    _login(page, live_url)
    page.goto(f"{live_url}/console/alpha/apps/{app.pk}/orchestrate/")
    page.locator("input[name=more_like_this]").check(force=True)
    page.click(".orch-composer button[type=submit]")
    bubbles = page.locator(".orch-turn--assistant [data-testid=bubble]")
    bubbles.first.filter(has_text="First draft.").wait_for()
    page.click("button:has-text('More like this')")
    bubbles.nth(1).filter(has_text="Second take.").wait_for()
    assert [r.json["temperature"] for r in fake_openai.requests[-2:]] == [0.3, 0.9]
