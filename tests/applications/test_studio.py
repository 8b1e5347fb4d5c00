"""The Studio in the console: the app list (search, filter), create (blank and from a template), edit,
duplicate, delete; an app's Overview (access switches, versions, week stats), API access (keys shown
once, stored hashed, revoked for good) and Logs (filters, detail, operator marks); roles and isolation."""

import datetime
import json
import re
import uuid

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from apps.applications import services
from apps.applications.models import ApiKey, App
from apps.logs.models import Conversation, EndUser, Message, MessageFeedback, Source
from apps.workspaces.models import ApiKeyRoute, hash_secret
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

BASE = "/console/alpha/apps/"


@pytest.fixture(autouse=True)
def _no_apps(request) -> None:  # type: ignore[no-untyped-def]
    """Start without apps: workspace schemas outlive transactional tests elsewhere."""
    world = request.getfixturevalue("world_tx" if "world_tx" in request.fixturenames else "world")
    for workspace in (world.alpha, world.beta):
        with schema_context(workspace.schema_name):
            App.objects.all().delete()


def _in(world, slug: str = "alpha"):  # type: ignore[no-untyped-def]
    return schema_context(getattr(world, slug).schema_name)


def _app(world, name: str = "Helper", mode: str = "chat", **kwargs) -> App:  # type: ignore[no-untyped-def]
    with _in(world):
        return services.app_create(name=name, mode=mode, **kwargs)


def _apps(world, slug: str = "alpha") -> list[App]:  # type: ignore[no-untyped-def]
    with _in(world, slug):
        return list(App.objects.order_by("created_at"))


def _page(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


# --- Studio: list, search, filter ------------------------------------------------------------------


def test_studio_lists_cards_and_nav(world) -> None:  # type: ignore[no-untyped-def]
    app = _app(world, "Support bot", description="Answers tickets", icon="🎧", icon_background="#FDF1DC")
    with _in(world):
        services.app_publish(app=app)
    _app(world, "Summarizer", "completion")
    page = _page(client_for(world.owner.user).get(BASE))
    assert re.search(r'class="nav-link is-active" href="/console/alpha/apps/"', page)
    assert "Support bot" in page and "Summarizer" in page and "Answers tickets" in page
    assert "background: #FDF1DC" in page and "🎧" in page
    assert "Published · v1" in page and "Draft" in page
    assert "Chatbot" in page and "Text generator" in page
    assert f'href="/console/alpha/apps/{app.pk}/"' in page
    assert 'href="/console/alpha/apps/new/"' in page


def test_search_and_mode_filter(world) -> None:  # type: ignore[no-untyped-def]
    _app(world, "Support bot")
    _app(world, "Translator", "completion")
    _app(world, "Researcher", "agent-chat")
    client = client_for(world.normal.user)
    page = _page(client.get(BASE, {"q": "transl"}))
    assert "Translator" in page and "Support bot" not in page
    # The live search answers with the grid alone.
    partial = _page(client.get(BASE, {"q": "SUPPORT"}, HTTP_HX_REQUEST="true"))
    assert partial.lstrip().startswith('<div id="app-grid"') and "Support bot" in partial
    assert "<html" not in partial
    page = _page(client.get(BASE, {"mode": "agent-chat"}))
    assert "Researcher" in page and "Translator" not in page and "Support bot" not in page
    page = _page(client.get(BASE, {"q": "nothing-like-this"}))
    assert "No app matches this search." in page


def test_normal_member_sees_studio_without_edit_actions(world) -> None:  # type: ignore[no-untyped-def]
    app = _app(world)
    client = client_for(world.normal.user)
    page = _page(client.get(BASE))
    assert "Helper" in page
    assert "/apps/new/" not in page and "/duplicate/" not in page and "/delete/" not in page
    overview = _page(client.get(f"{BASE}{app.pk}/"))
    assert "/access/" not in overview and "/api/" not in overview and "/logs/" not in overview
    assert "/edit/" not in overview


# --- Create, edit, duplicate, delete ----------------------------------------------------------------


def test_create_blank_app(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.editor.user)
    assert client.get(f"{BASE}new/").status_code == 200
    response = client.post(f"{BASE}new/", {"template": "blank", "mode": "completion", "name": "  Poet  ",
                                           "icon": "💡", "icon_background": "#EFE8FB", "description": "Verses"})
    [app] = _apps(world)
    assert response.status_code == 302 and response["Location"] == f"{BASE}{app.pk}/"
    assert (app.name, app.mode, app.icon, app.icon_background, app.description) == (
        "Poet", "completion", "💡", "#EFE8FB", "Verses")
    assert app.draft_config["pre_prompt"] == "" and app.created_by_id == world.editor.user.pk
    assert "“Poet” was created." in _page(client.get(response["Location"]))


def test_create_from_template_takes_its_mode_and_config(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    page = _page(client.get(f"{BASE}new/"))
    for name in ("Customer support assistant", "Translator", "Meeting summarizer"):
        assert name in page
    # The posted mode is ignored: the template decides.
    client.post(f"{BASE}new/", {"template": "translator", "mode": "chat", "name": "My translator",
                                "icon": "🌐", "icon_background": "#E3F4EC", "description": ""})
    client.post(f"{BASE}new/", {"template": "support", "mode": "completion", "name": "Desk",
                                "icon": "🎧", "icon_background": "#E4EEF9"})
    translator, desk = _apps(world)
    assert translator.mode == "completion"
    variables = [next(iter(e.values()))["variable"] for e in translator.draft_config["user_input_form"]]
    assert variables == ["text", "target_language"]
    assert "{{target_language}}" in translator.draft_config["pre_prompt"]
    assert desk.mode == "chat" and desk.draft_config["opening_statement"].startswith("Hello!")
    assert desk.draft_config["pre_prompt"]


def test_create_validates(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    response = client.post(f"{BASE}new/", {"template": "blank", "mode": "assistant", "name": " ",
                                           "icon": "🤖", "icon_background": "#E4EEF9"})
    assert response.status_code == 200 and _apps(world) == []
    assert response.context["form"].errors.keys() >= {"name", "mode"}


def test_edit_app_info(world) -> None:  # type: ignore[no-untyped-def]
    app = _app(world)
    client = client_for(world.editor.user)
    page = _page(client.get(f"{BASE}{app.pk}/edit/"))
    assert 'value="Helper"' in page
    response = client.post(f"{BASE}{app.pk}/edit/", {"name": "Helper 2", "icon": "🚀",
                                                     "icon_background": "#FCE7E9", "description": "New"})
    assert response.status_code == 302
    [saved] = _apps(world)
    assert (saved.name, saved.icon, saved.icon_background, saved.description) == ("Helper 2", "🚀", "#FCE7E9", "New")
    assert saved.mode == "chat"


def test_duplicate_and_delete(world) -> None:  # type: ignore[no-untyped-def]
    app = _app(world, config={"pre_prompt": "Be kind."})
    with _in(world):
        _, raw = services.api_key_create(app=app)
    client = client_for(world.editor.user)
    assert client.get(f"{BASE}{app.pk}/duplicate/").status_code == 405
    response = client.post(f"{BASE}{app.pk}/duplicate/")
    assert response.status_code == 302 and response["Location"] == BASE
    original, copy = _apps(world)
    assert copy.name == "Helper (copy)" and copy.draft_config["pre_prompt"] == "Be kind."
    assert client.post(f"{BASE}{app.pk}/delete/").status_code == 302
    assert [a.pk for a in _apps(world)] == [copy.pk]
    with schema_context(get_public_schema_name()):
        assert not ApiKeyRoute.objects.filter(key_hash=hash_secret(raw)).exists()
    assert "“Helper” was deleted." in _page(client.get(BASE))


# --- Overview ------------------------------------------------------------------------------------


def test_overview_access_settings_and_versions(world) -> None:  # type: ignore[no-untyped-def]
    app = _app(world)
    with _in(world):
        services.app_publish(app=app, note="First cut")
        services.app_publish(app=app, note="Friendlier")
    client = client_for(world.admin.user)
    page = _page(client.get(f"{BASE}{app.pk}/"))
    assert "First cut" in page and "Friendlier" in page and "v2" in page and "Live" in page
    assert f'href="/console/alpha/apps/{app.pk}/api/"' in page and f'/apps/{app.pk}/logs/"' in page
    response = client.post(f"{BASE}{app.pk}/access/", {"enable_site": "on", "max_active_requests": "3"})
    assert response.status_code == 302
    [saved] = _apps(world)
    assert (saved.enable_api, saved.enable_site, saved.max_active_requests) == (False, True, 3)
    client.post(f"{BASE}{app.pk}/access/", {"enable_api": "on", "max_active_requests": "-1"})
    [saved] = _apps(world)
    assert saved.enable_api is False  # an invalid form changes nothing
    client.post(f"{BASE}{app.pk}/access/", {"enable_api": "on", "max_active_requests": "0"})
    [saved] = _apps(world)
    assert (saved.enable_api, saved.enable_site, saved.max_active_requests) == (True, False, 0)


def _conversation(app: App, source: str, queries: list[str], *, days_ago: int = 0,
                  answers: list[str] | None = None, user: str = "user-1") -> Conversation:
    end_user, _ = EndUser.objects.get_or_create(app=app, type="service-api", session_id=user)
    conversation = Conversation.objects.create(app=app, end_user=end_user, from_source=source, mode=app.mode)
    when = timezone.now() - datetime.timedelta(days=days_ago)
    for i, query in enumerate(queries):
        message = Message.objects.create(
            app=app, conversation=conversation, end_user=end_user, from_source=source, query=query,
            answer=(answers or [f"Answer to {query}"] * len(queries))[i], status="normal", message_tokens=10,
            answer_tokens=5, total_price="0.0001500", latency=1.25)
        Message.objects.filter(pk=message.pk).update(created_at=when + datetime.timedelta(seconds=i - len(queries)))
    Conversation.objects.filter(pk=conversation.pk).update(created_at=when, updated_at=when)
    return conversation


def test_overview_week_stats_leave_debugger_out(world) -> None:  # type: ignore[no-untyped-def]
    app = _app(world)
    with _in(world):
        _conversation(app, Source.API, ["a", "b"])
        _conversation(app, Source.WEBAPP, ["c"], days_ago=2)
        _conversation(app, Source.DEBUGGER, ["d", "e", "f"])
        _conversation(app, Source.API, ["old"], days_ago=20)
    response = client_for(world.normal.user).get(f"{BASE}{app.pk}/")
    stats = response.context["stats"]
    assert (stats["messages"], stats["conversations"]) == (3, 2)
    assert [r["messages"] for r in stats["rows"]][-1] == 2 and [r["messages"] for r in stats["rows"]][-3] == 1
    assert len(stats["rows"]) == 7 and stats["rows"][-1]["messages_pct"] == 100


# --- API access ----------------------------------------------------------------------------------


def test_key_is_shown_once_and_stored_hashed(world) -> None:  # type: ignore[no-untyped-def]
    app = _app(world, "Helper", "completion", config={
        "user_input_form": [{"paragraph": {"variable": "topic", "label": "Topic", "required": True}},
                            {"select": {"variable": "tone", "label": "Tone", "options": ["dry", "warm"]}}]})
    client = client_for(world.editor.user)
    page = _page(client.get(f"{BASE}{app.pk}/api/"))
    assert "No keys yet" in page and "http://testserver/v1" in page or "/v1" in page
    assert "/completion-messages" in page and "/chat-messages" not in page and "/parameters" in page
    # The example body uses the app's own variables.
    assert "&quot;topic&quot;: &quot;Topic&quot;" in page and "&quot;tone&quot;: &quot;dry&quot;" in page

    response = client.post(f"{BASE}{app.pk}/api/keys/")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    raw = response.context["raw_key"]
    assert raw.startswith("app-") and raw in _page(response) and "only time it is shown" in _page(response)
    with _in(world):
        [key] = ApiKey.objects.filter(app=app)
    assert key.key_hash == hash_secret(raw) and key.prefix == raw[:8] and raw not in key.key_hash
    # Never again: not on the API page, the overview or the Studio.
    for url in (f"{BASE}{app.pk}/api/", f"{BASE}{app.pk}/", BASE):
        later = _page(client.get(url))
        assert raw not in later
    api_page = _page(client.get(f"{BASE}{app.pk}/api/"))
    assert f"{key.prefix}…" in api_page
    # Its row: never used yet, and a revoke form aimed at this key.
    assert "Never" in api_page and f'action="{BASE}{app.pk}/api/keys/{key.pk}/revoke/"' in api_page


def test_chat_app_reference_lists_chat_endpoints(world) -> None:  # type: ignore[no-untyped-def]
    app = _app(world, config={"user_input_form": [{"text-input": {"variable": "name", "label": "Name"}}]})
    page = _page(client_for(world.owner.user).get(f"{BASE}{app.pk}/api/"))
    for path in ("/chat-messages", "/parameters", "/messages", "/conversations"):
        assert f"<code>{path}</code>" in page
    assert "&quot;response_mode&quot;: &quot;streaming&quot;" in page and "&quot;name&quot;" in page


@pytest.mark.django_db(transaction=True)
def test_revoked_key_is_refused_by_the_api(world_tx) -> None:  # type: ignore[no-untyped-def]
    """A real (async) /v1 request through django.test.Client: committed rows, so a transactional test."""
    world = world_tx
    app = _app(world)
    client = client_for(world.owner.user)
    raw = client.post(f"{BASE}{app.pk}/api/keys/").context["raw_key"]
    with _in(world):
        key = ApiKey.objects.get(app=app)
    api = Client()
    body = json.dumps({"inputs": {}, "query": "hi", "user": "u", "response_mode": "blocking"})
    before = api.post("/v1/chat-messages", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert before.status_code != 401
    assert client.post(f"{BASE}{app.pk}/api/keys/{key.pk}/revoke/").status_code == 302
    with schema_context(get_public_schema_name()):
        assert not ApiKeyRoute.objects.filter(key_hash=key.key_hash).exists()
    after = api.post("/v1/chat-messages", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert after.status_code == 401
    assert "No keys yet" in _page(client.get(f"{BASE}{app.pk}/api/"))


# --- Logs ----------------------------------------------------------------------------------------


@pytest.fixture
def logged(world):  # type: ignore[no-untyped-def]
    app = _app(world)
    with _in(world):
        recent = _conversation(app, Source.API, ["Where is my parcel?", "And the invoice?"],
                               answers=["It ships today.", "Attached."])
        webapp = _conversation(app, Source.WEBAPP, ["How do refunds work?"], days_ago=10, user="browser-9")
        old = _conversation(app, Source.API, ["Ancient question"], days_ago=60)
        debug = _conversation(app, Source.DEBUGGER, ["Debug only question"])
        first = recent.messages.order_by("created_at").first()
        MessageFeedback.objects.create(app=app, message=first, rating="like", from_source="user")
        MessageFeedback.objects.create(app=app, message=webapp.messages.get(), rating="dislike", from_source="user")
    return app, recent, webapp, old, debug


def test_logs_filters(world, logged) -> None:  # type: ignore[no-untyped-def]
    app, recent, webapp, old, debug = logged
    client = client_for(world.editor.user)
    url = f"{BASE}{app.pk}/logs/"

    def listed(**params) -> set:  # type: ignore[no-untyped-def]
        return {c.pk for c in client.get(url, params).context["rows"]}

    assert listed() == {recent.pk}  # last 7 days by default, debugger runs never
    assert listed(period="4w") == {recent.pk, webapp.pk}
    assert listed(period="3m") == {recent.pk, webapp.pk, old.pk}
    assert listed(period="all") == {recent.pk, webapp.pk, old.pk}
    assert listed(period="all", q="REFUND") == {webapp.pk}
    assert listed(period="all", q="ships today") == {recent.pk}  # answers too
    assert listed(period="all", rating="like") == {recent.pk}
    assert listed(period="all", rating="dislike") == {webapp.pk}
    assert listed(period="all", rating="none") == {old.pk}
    page = _page(client.get(url, {"period": "all"}))
    assert "Where is my parcel?" in page and "Debug only question" not in page
    partial = _page(client.get(url, {"period": "all", "q": "refund"}, HTTP_HX_REQUEST="true",
                               HTTP_HX_TARGET="log-list"))
    assert partial.lstrip().startswith('<div id="log-list"') and "How do refunds work?" in partial


def test_logs_paginate(world) -> None:  # type: ignore[no-untyped-def]
    app = _app(world)
    with _in(world):
        for i in range(23):
            _conversation(app, Source.API, [f"Question {i}"])
    client = client_for(world.owner.user)
    first = client.get(f"{BASE}{app.pk}/logs/")
    assert len(first.context["rows"]) == 20 and "page 1 of 2" in _page(first)
    assert len(client.get(f"{BASE}{app.pk}/logs/", {"page": 2}).context["rows"]) == 3


def test_log_detail_lists_messages(world, logged) -> None:  # type: ignore[no-untyped-def]
    app, recent, webapp, old, debug = logged
    client = client_for(world.editor.user)
    panel = _page(client.get(f"{BASE}{app.pk}/logs/{recent.pk}/", HTTP_HX_REQUEST="true"))
    assert "<html" not in panel
    assert panel.index("Where is my parcel?") < panel.index("And the invoice?")
    assert "It ships today." in panel and "Liked" in panel
    assert "15" in panel and "0.00015 USD" in panel and "1.25 s" in panel and "Completed" in panel
    full = client.get(f"{BASE}{app.pk}/logs/{recent.pk}/")
    assert full.status_code == 200 and "<html" in _page(full)
    # Debugger conversations are not part of the logs.
    assert client.get(f"{BASE}{app.pk}/logs/{debug.pk}/").status_code == 404


def test_operator_mark_last_one_wins(world, logged) -> None:  # type: ignore[no-untyped-def]
    app, recent, *_ = logged
    with _in(world):
        message = recent.messages.order_by("created_at").first()
    url = f"{BASE}{app.pk}/logs/messages/{message.pk}/feedback/"
    editor, admin = client_for(world.editor.user), client_for(world.admin.user)
    response = editor.post(url, {"rating": "like"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "is-on" in _page(response)
    admin.post(url, {"save_content": "1", "content": "It leaves our warehouse today."}, HTTP_HX_REQUEST="true")
    admin.post(url, {"rating": "dislike"})
    with _in(world):
        [mark] = MessageFeedback.objects.filter(message=message, from_source="admin")
        user_mark = MessageFeedback.objects.get(message=message, from_source="user")
    assert (mark.rating, mark.content, mark.from_account_id) == ("dislike", "It leaves our warehouse today.",
                                                                 world.admin.user.pk)
    assert user_mark.rating == "like"  # the end user's own rating is untouched
    panel = _page(editor.get(f"{BASE}{app.pk}/logs/{recent.pk}/", HTTP_HX_REQUEST="true"))
    assert "It leaves our warehouse today." in panel and "Improved answer" in panel


# --- Roles and isolation --------------------------------------------------------------------------


def _urls(app: App, conversation_id: object, message_id: object, key_id: object) -> list[tuple[str, str]]:
    a = f"apps/{app.pk}"
    return [
        ("get", "apps/new/"), ("post", "apps/new/"), ("get", f"{a}/edit/"), ("post", f"{a}/duplicate/"),
        ("post", f"{a}/delete/"), ("post", f"{a}/access/"), ("get", f"{a}/api/"), ("post", f"{a}/api/keys/"),
        ("post", f"{a}/api/keys/{key_id}/revoke/"), ("get", f"{a}/logs/"),
        ("get", f"{a}/logs/{conversation_id}/"), ("post", f"{a}/logs/messages/{message_id}/feedback/"),
    ]


def test_normal_member_is_refused_every_change(world, logged) -> None:  # type: ignore[no-untyped-def]
    app, recent, *_ = logged
    with _in(world):
        key, _raw = services.api_key_create(app=app)
        message = recent.messages.first()
    client = client_for(world.normal.user)
    for method, path in _urls(app, recent.pk, message.pk, key.pk):
        response = getattr(client, method)(f"/console/alpha/{path}", {"rating": "like"} if method == "post" else {})
        assert response.status_code == 403, (method, path)
    assert client.get(BASE).status_code == 200 and client.get(f"{BASE}{app.pk}/").status_code == 200
    assert len(_apps(world)) == 1
    with _in(world):
        assert ApiKey.objects.filter(app=app).count() == 1
        assert not MessageFeedback.objects.filter(from_source="admin").exists()


def test_editor_may_do_everything(world, logged) -> None:  # type: ignore[no-untyped-def]
    app, recent, *_ = logged
    client = client_for(world.editor.user)
    for path in ("new/", f"{app.pk}/edit/", f"{app.pk}/api/", f"{app.pk}/logs/", f"{app.pk}/"):
        assert client.get(f"{BASE}{path}").status_code == 200, path


def test_other_workspace_ids_are_404(world, logged) -> None:  # type: ignore[no-untyped-def]
    app, recent, *_ = logged
    with _in(world):
        key, _raw = services.api_key_create(app=app)
        message = recent.messages.first()
    bruno = client_for(world.other.user)
    paths = [("get", f"apps/{app.pk}/"), *_urls(app, recent.pk, message.pk, key.pk)[2:]]
    for method, path in paths:
        response = getattr(bruno, method)(f"/console/beta/{path}", {"rating": "like"} if method == "post" else {})
        assert response.status_code == 404, (method, path)
    # A beta app does not open another app's conversations either.
    with _in(world, "beta"):
        beta_app = services.app_create(name="Beta bot", mode="chat")
    assert bruno.get(f"/console/beta/apps/{beta_app.pk}/logs/{recent.pk}/").status_code == 404
    assert bruno.get(f"/console/beta/apps/{uuid.uuid4()}/").status_code == 404
    # Alpha's app is not listed in beta's Studio, and its owner cannot reach beta at all.
    assert "Helper" not in _page(bruno.get("/console/beta/apps/"))
    assert client_for(world.owner.user).get(f"/console/beta/apps/{app.pk}/").status_code in (403, 404)
    assert len(_apps(world)) == 1
