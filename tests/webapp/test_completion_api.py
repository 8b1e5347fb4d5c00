"""The text-generation WebApp's endpoints (WEB-07…WEB-10): saved results, more like this, and batch
runs from a CSV. Everything is per browser (end-user cookie) and per workspace."""

import csv
import datetime
import io
import json

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.test import AsyncClient, Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.applications import services
from apps.applications.models import App
from apps.applications.webapp import identity
from apps.logs.models import (
    CompletionBatch,
    CompletionBatchRow,
    Conversation,
    EndUser,
    Message,
    SavedMessage,
    Source,
)
from tests.fakes.base import Fail, Reply

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = {"X-Tessera-WebApp": "1"}


def _browser(schema: str, app: App) -> tuple[EndUser, Client]:
    """A new browser (end user) of `app`, with its cookie."""
    with schema_context(schema):
        end_user, token = identity.end_user_for_token(app, None)
    client = Client()
    client.cookies[identity.cookie_name(app)] = token
    return end_user, client


def _result(schema: str, app: App, end_user: EndUser, answer: str = "A poem", topic: str = "the sea") -> str:
    """A finished WebApp result of this end user (as a run once stores it)."""
    with schema_context(schema):
        conversation = Conversation.objects.create(
            app=app, end_user=end_user, from_source=Source.WEBAPP, mode="completion", inputs={"topic": topic}
        )
        message = Message.objects.create(
            app=app,
            conversation=conversation,
            end_user=end_user,
            from_source=Source.WEBAPP,
            inputs={"topic": topic},
            answer=answer,
            status="normal",
        )
    return str(message.pk)


def _api(code: str, path: str) -> str:
    return f"/webapp/{code}/api/{path}"


@pytest.fixture
def gen(web):  # type: ignore[no-untyped-def]
    """The alpha completion app of the WebApp fixtures, a second one with More like this on, and a
    completion app in beta."""
    with schema_context("ws_alpha"):
        config = {**web.completion.live_config, "more_like_this": {"enabled": True}}
        more = services.app_create(name="Writer plus", mode="completion", config=config)
        services.app_publish(app=more)
        more_code = services.site_get_or_create(app=more).code
    with schema_context("ws_beta"):
        beta = services.app_create(
            name="Beta writer",
            mode="completion",
            config={
                "model": web.beta_chat.live_config["model"],
                "pre_prompt": "Write about {{topic}}.",
                "user_input_form": [{"paragraph": {"variable": "topic", "label": "Topic", "required": True}}],
            },
        )
        services.app_publish(app=beta)
        beta_code = services.site_get_or_create(app=beta).code
    web.more, web.more_code, web.beta_completion, web.beta_completion_code = more, more_code, beta, beta_code
    return web


# --- Saved results (WEB-08) -------------------------------------------------------------------------


def test_save_list_and_remove_a_result(gen) -> None:  # type: ignore[no-untyped-def]
    end_user, client = _browser("ws_alpha", gen.completion)
    first = _result("ws_alpha", gen.completion, end_user, answer="First **poem**")
    second = _result("ws_alpha", gen.completion, end_user, answer="Second poem", topic="hills")
    code = gen.completion_code
    for message_id in (first, second, second):  # saving twice keeps one entry
        response = client.post(
            _api(code, "saved-messages"),
            {"message_id": message_id},
            content_type="application/json",
            headers=HEADERS,
        )
        assert response.status_code == 200 and response.json() == {"result": "success"}
    listed = client.get(_api(code, "saved-messages")).json()
    assert listed["has_more"] is False and listed["limit"] == 20
    assert [(m["id"], m["answer"], m["inputs"]) for m in listed["data"]] == [
        (second, "Second poem", {"topic": "hills"}),
        (first, "First **poem**", {"topic": "the sea"}),
    ]
    assert set(listed["data"][0]) == {
        "id",
        "inputs",
        "query",
        "answer",
        "message_files",
        "feedback",
        "created_at",
    }
    page = client.get(_api(code, "saved-messages"), {"limit": 1}).json()
    assert [m["id"] for m in page["data"]] == [second] and page["has_more"] is True
    after = client.get(_api(code, "saved-messages"), {"limit": 1, "last_id": second}).json()
    assert [m["id"] for m in after["data"]] == [first] and after["has_more"] is False

    removed = client.delete(_api(code, f"saved-messages/{second}"), headers=HEADERS)
    assert removed.status_code == 204
    assert [m["id"] for m in client.get(_api(code, "saved-messages")).json()["data"]] == [first]
    again = client.delete(_api(code, f"saved-messages/{second}"), headers=HEADERS)
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    with schema_context("ws_alpha"):  # the message itself stays in the Logs
        assert Message.objects.filter(pk=second).exists()


def test_saved_results_refuse_bad_input(gen) -> None:  # type: ignore[no-untyped-def]
    end_user, client = _browser("ws_alpha", gen.completion)
    code = gen.completion_code
    no_header = client.post(
        _api(code, "saved-messages"), {"message_id": "x"}, content_type="application/json"
    )
    assert no_header.status_code == 403 and no_header.json()["code"] == "forbidden"
    missing = client.post(_api(code, "saved-messages"), {}, content_type="application/json", headers=HEADERS)
    assert missing.json() == {"code": "invalid_param", "message": "message_id is required", "status": 400}
    unknown = client.post(
        _api(code, "saved-messages"),
        {"message_id": "not-a-uuid"},
        content_type="application/json",
        headers=HEADERS,
    )
    assert unknown.status_code == 404 and unknown.json()["message"] == "Message Not Exists."
    bad_page = client.get(_api(code, "saved-messages"), {"last_id": "00000000-0000-0000-0000-000000000000"})
    assert bad_page.status_code == 404
    # A chat app has no Saved tab.
    _chat_user, chat_client = _browser("ws_alpha", gen.chat)
    wrong = chat_client.get(_api(gen.chat_code, "saved-messages"))
    assert wrong.status_code == 400 and wrong.json()["code"] == "not_completion_app"


def test_saved_results_belong_to_one_browser_and_one_workspace(gen) -> None:  # type: ignore[no-untyped-def]
    owner, owner_client = _browser("ws_alpha", gen.completion)
    message_id = _result("ws_alpha", gen.completion, owner)
    code = gen.completion_code
    assert (
        owner_client.post(
            _api(code, "saved-messages"),
            {"message_id": message_id},
            content_type="application/json",
            headers=HEADERS,
        ).status_code
        == 200
    )

    _other, other_client = _browser("ws_alpha", gen.completion)
    assert other_client.get(_api(code, "saved-messages")).json()["data"] == []
    steal = other_client.post(
        _api(code, "saved-messages"),
        {"message_id": message_id},
        content_type="application/json",
        headers=HEADERS,
    )
    assert steal.status_code == 404
    forget = other_client.delete(_api(code, f"saved-messages/{message_id}"), headers=HEADERS)
    assert forget.status_code == 404
    # Another app of the same workspace, and beta's code, never reach it either.
    _more_user, more_client = _browser("ws_alpha", gen.more)
    assert (
        more_client.post(
            _api(gen.more_code, "saved-messages"),
            {"message_id": message_id},
            content_type="application/json",
            headers=HEADERS,
        ).status_code
        == 404
    )
    _beta_user, beta_client = _browser("ws_beta", gen.beta_completion)
    beta = gen.beta_completion_code
    assert beta_client.get(_api(beta, "saved-messages")).json()["data"] == []
    assert (
        beta_client.post(
            _api(beta, "saved-messages"),
            {"message_id": message_id},
            content_type="application/json",
            headers=HEADERS,
        ).status_code
        == 404
    )
    assert beta_client.delete(_api(beta, f"saved-messages/{message_id}"), headers=HEADERS).status_code == 404
    with schema_context("ws_alpha"):
        assert list(SavedMessage.objects.values_list("end_user_id", flat=True)) == [owner.pk]
    with schema_context("ws_beta"):
        assert SavedMessage.objects.count() == 0


# --- More like this (WEB-10) ------------------------------------------------------------------------


async def _post_stream(client: AsyncClient, url: str) -> tuple[int, list[dict] | dict]:
    async with ThreadSensitiveContext():
        response = await client.post(url, data="{}", content_type="application/json", headers=HEADERS)
    if response.status_code != 200:
        return response.status_code, response.json()
    raw = b"".join([chunk async for chunk in response.streaming_content]).decode()
    return 200, [json.loads(block[6:]) for block in raw.split("\n\n") if block.startswith("data: ")]


@pytest.mark.asyncio
async def test_more_like_this_streams_another_take_on_the_same_inputs(gen, fake_openai) -> None:  # type: ignore[no-untyped-def]
    end_user, sync_client = await sync_to_async(_browser)("ws_alpha", gen.more)
    original = await sync_to_async(_result)("ws_alpha", gen.more, end_user, topic="autumn")
    client = AsyncClient()
    client.cookies = sync_client.cookies
    fake_openai.script("chat", Reply("Leaves fall softly", chunk_size=2))
    status, events = await _post_stream(client, _api(gen.more_code, f"messages/{original}/more-like-this"))
    assert status == 200, events
    assert [e["event"] for e in events][-1] == "message_end"
    assert "".join(e["answer"] for e in events if e["event"] == "message") == "Leaves fall softly"
    sent = fake_openai.requests[-1].json
    assert sent["temperature"] == 0.9 and "Write about autumn." in json.dumps(sent["messages"])

    def stored() -> tuple:
        with schema_context("ws_alpha"):
            new = Message.objects.get(pk=events[-1]["message_id"])
            return new.inputs, new.answer, new.from_source, new.end_user_id

    assert await sync_to_async(stored)() == (
        {"topic": "autumn"},
        "Leaves fall softly",
        Source.WEBAPP,
        end_user.pk,
    )


@pytest.mark.asyncio
async def test_more_like_this_only_when_enabled_and_only_for_own_results(gen, fake_openai) -> None:  # type: ignore[no-untyped-def]
    end_user, sync_client = await sync_to_async(_browser)("ws_alpha", gen.completion)
    message_id = await sync_to_async(_result)("ws_alpha", gen.completion, end_user)
    client = AsyncClient()
    client.cookies = sync_client.cookies
    status, body = await _post_stream(
        client, _api(gen.completion_code, f"messages/{message_id}/more-like-this")
    )
    assert status == 403 and body["code"] == "app_more_like_this_disabled"

    owner, _owner_client = await sync_to_async(_browser)("ws_alpha", gen.more)
    theirs = await sync_to_async(_result)("ws_alpha", gen.more, owner)
    _stranger, stranger_client = await sync_to_async(_browser)("ws_alpha", gen.more)
    client = AsyncClient()
    client.cookies = stranger_client.cookies
    status, body = await _post_stream(client, _api(gen.more_code, f"messages/{theirs}/more-like-this"))
    assert status == 404 and body["message"] == "Message Not Exists."
    beta_status, _ = await _post_stream(
        AsyncClient(), _api(gen.beta_completion_code, f"messages/{theirs}/more-like-this")
    )
    assert beta_status == 404
    assert fake_openai.requests == []


# --- Batch runs (WEB-09) ----------------------------------------------------------------------------


def _csv_file(text: str, name: str = "rows.csv", encoding: str = "utf-8") -> io.BytesIO:
    upload = io.BytesIO(text.encode(encoding))
    upload.name = name
    return upload


def _upload(client: Client, code: str, upload: io.BytesIO | None):  # type: ignore[no-untyped-def]
    data = {"file": upload} if upload is not None else {}
    return client.post(_api(code, "completion-batches"), data, headers=HEADERS)


def _rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_template_has_the_variable_columns(gen) -> None:  # type: ignore[no-untyped-def]
    _user, client = _browser("ws_alpha", gen.completion)
    response = client.get(_api(gen.completion_code, "completion-batches/template"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="template.csv"' in response["Content-Disposition"]
    assert _rows(response.content) == [["Topic"]]


@pytest.mark.parametrize(
    ("text", "encoding", "message"),
    [
        ("Topic\ncafé\n", "latin-1", "The CSV file must be Unicode (UTF-8) encoded."),
        ("", "utf-8", "The CSV file is empty."),
        ("Topic\n", "utf-8", "The CSV file has no rows under its header."),
        ("Subject\nsea\n", "utf-8", "Unknown column “Subject”. Use the template's header row."),
        ("Topic\na\nb\nc\n", "utf-8", "A batch can have at most 2 rows; this file has 3."),
    ],
)
def test_upload_errors_are_clear(gen, settings, text, encoding, message) -> None:  # type: ignore[no-untyped-def]
    settings.WEBAPP_BATCH_MAX_ROWS = 2
    _user, client = _browser("ws_alpha", gen.completion)
    response = _upload(client, gen.completion_code, _csv_file(text, encoding=encoding))
    assert response.status_code == 400
    assert response.json() == {"code": "invalid_param", "message": message, "status": 400}
    with schema_context("ws_alpha"):
        assert CompletionBatch.objects.count() == 0


def test_upload_needs_every_variable_column(gen) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        form = [
            {"paragraph": {"variable": "topic", "label": "Topic", "required": True}},
            {"text-input": {"variable": "audience", "label": "Audience", "required": False}},
        ]
        app = services.app_create(
            name="Two", mode="completion", config={**gen.completion.live_config, "user_input_form": form}
        )
        services.app_publish(app=app)
        code = services.site_get_or_create(app=app).code
    _user, client = _browser("ws_alpha", app)
    template = client.get(_api(code, "completion-batches/template"))
    assert _rows(template.content) == [["Topic", "Audience"]]
    response = _upload(client, code, _csv_file("topic\nsea\n"))
    assert response.json() == {
        "code": "invalid_param",
        "status": 400,
        "message": "Missing columns: Audience. Use the template's header row.",
    }
    # Keys work as headers too, in any order; an optional cell may stay empty.
    ok = _upload(client, code, _csv_file("audience,topic\n,sea\n"))
    assert ok.status_code == 201 and ok.json()["rows"][0]["inputs"] == {"topic": "sea", "audience": ""}


def test_upload_needs_a_file_the_header_and_one_batch_at_a_time(gen) -> None:  # type: ignore[no-untyped-def]
    end_user, client = _browser("ws_alpha", gen.completion)
    missing = _upload(client, gen.completion_code, None)
    assert missing.json() == {"code": "invalid_param", "message": "file is required", "status": 400}
    no_header = client.post(
        _api(gen.completion_code, "completion-batches"), {"file": _csv_file("Topic\na\n")}
    )
    assert no_header.status_code == 403
    with schema_context("ws_alpha"):
        CompletionBatch.objects.create(app=gen.completion, end_user=end_user, status="running")
    busy = _upload(client, gen.completion_code, _csv_file("Topic\na\n"))
    assert busy.status_code == 409 and busy.json()["code"] == "batch_running"
    with schema_context("ws_alpha"):  # a batch whose task was lost stops blocking after an hour
        CompletionBatch.objects.update(created_at=timezone.now() - datetime.timedelta(hours=2))
    assert _upload(client, gen.completion_code, _csv_file("Topic\na\n")).status_code == 201


def _responder(request):  # type: ignore[no-untyped-def]
    """The fake model fails the row about "BROKEN" and writes about the others."""
    prompt = " ".join(str(m.get("content")) for m in request.json["messages"])
    if "BROKEN" in prompt:
        return Fail(status=400, message="The model refused this row.")
    topic = prompt.split("Write about ")[1].split(".")[0]
    return Reply(f"A text about {topic}")


def test_batch_runs_rows_reports_failures_per_row_and_exports_csv(gen, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """Tests run Celery eagerly: the upload runs the batch before it answers (the worker test
    below runs it in a real worker)."""
    fake_openai.responder = _responder
    end_user, client = _browser("ws_alpha", gen.completion)
    # A BOM, an ignored blank column and line, a quoted cell, a formula, and a row without a topic.
    text = '\ufeffTopic,\nthe sea,\nBROKEN,\n\n"hills, ""and"" valleys",\n=cmd,\n,note\n'
    created = _upload(client, gen.completion_code, _csv_file(text))
    assert created.status_code == 201, created.content
    body = created.json()
    batch_id = body["id"]
    detail = client.get(_api(gen.completion_code, f"completion-batches/{batch_id}")).json()
    assert detail["status"] == "finished" and detail["total"] == 5
    assert (detail["completed"], detail["succeeded"], detail["failed"]) == (5, 3, 2)
    by_index = {r["index"]: r for r in detail["rows"]}
    assert by_index[1]["status"] == "succeeded" and by_index[1]["answer"] == "A text about the sea"
    assert by_index[2]["status"] == "failed" and "The model refused this row." in by_index[2]["error"]
    assert by_index[3]["answer"] == 'A text about hills, "and" valleys'
    assert by_index[5] == {
        **by_index[5],
        "status": "failed",
        "answer": "",
        "error": "topic is required in input form",
        "message_id": None,
    }
    # Each run row is a WebApp message of this end user, in the Logs.
    with schema_context("ws_alpha"):
        messages = Message.objects.filter(app=gen.completion, end_user=end_user, from_source=Source.WEBAPP)
        assert sorted(messages.values_list("status", flat=True)) == ["error", "normal", "normal", "normal"]

    export = client.get(_api(gen.completion_code, f"completion-batches/{batch_id}/export"))
    assert export.status_code == 200 and 'filename="results-' in export["Content-Disposition"]
    rows = _rows(export.content)
    assert rows[0] == ["Topic", "Output", "Status", "Error"]
    assert len(rows) == 6
    assert rows[1] == ["the sea", "A text about the sea", "succeeded", ""]
    assert rows[2][0] == "BROKEN" and rows[2][2] == "failed"
    assert rows[4] == ["'=cmd", "A text about =cmd", "succeeded", ""]  # no spreadsheet formula
    listed = client.get(_api(gen.completion_code, "completion-batches")).json()["data"]
    assert [(b["id"], b["total"]) for b in listed] == [(batch_id, 5)] and "rows" not in listed[0]


def test_batches_belong_to_one_browser_and_one_workspace(gen, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.responder = _responder
    _owner, client = _browser("ws_alpha", gen.completion)
    batch_id = _upload(client, gen.completion_code, _csv_file("Topic\nthe sea\n")).json()["id"]
    _other, other = _browser("ws_alpha", gen.completion)
    assert other.get(_api(gen.completion_code, "completion-batches")).json()["data"] == []
    for path in (f"completion-batches/{batch_id}", f"completion-batches/{batch_id}/export"):
        response = other.get(_api(gen.completion_code, path))
        assert response.status_code == 404 and response.json()["message"] == "Batch Not Exists."
    _beta_user, beta = _browser("ws_beta", gen.beta_completion)
    for path in (
        f"completion-batches/{batch_id}",
        f"completion-batches/{batch_id}/export",
        "completion-batches/x",
    ):
        assert beta.get(_api(gen.beta_completion_code, path)).status_code == 404
    assert beta.get(_api(gen.beta_completion_code, "completion-batches")).json()["data"] == []
    with schema_context("ws_beta"):
        assert CompletionBatch.objects.count() == 0 and CompletionBatchRow.objects.count() == 0


# --- Run once, feedback in the console's Logs (WEB-07), limits and the WebApp toggle ---------------


@pytest.mark.asyncio
async def test_run_once_and_its_feedback_show_in_the_console_logs(gen, fake_openai, world_tx) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import client_for

    fake_openai.script("chat", Reply("A short text about the moon", chunk_size=3))
    client = AsyncClient()
    async with ThreadSensitiveContext():
        response = await client.post(
            _api(gen.completion_code, "completion-messages"),
            content_type="application/json",
            data=json.dumps({"inputs": {"topic": "the moon"}}),
            headers=HEADERS,
        )
    raw = b"".join([chunk async for chunk in response.streaming_content]).decode()
    events = [json.loads(block[6:]) for block in raw.split("\n\n") if block.startswith("data: ")]
    assert events[-1]["event"] == "message_end" and "conversation_id" not in events[-1]
    message_id = events[-1]["message_id"]
    async with ThreadSensitiveContext():
        liked = await client.post(
            _api(gen.completion_code, f"messages/{message_id}/feedbacks"),
            data=json.dumps({"rating": "like"}),
            content_type="application/json",
            headers=HEADERS,
        )
    assert liked.json() == {"result": "success"}

    def liked_in_logs() -> set:
        console = client_for(world_tx.editor.user)
        rows = console.get(f"/console/alpha/apps/{gen.completion.pk}/logs/", {"rating": "like"}).context[
            "rows"
        ]
        return {str(c.pk) for c in rows}

    def conversation_of(message_id: str) -> str:
        with schema_context("ws_alpha"):
            return str(Message.objects.get(pk=message_id).conversation_id)

    assert await sync_to_async(liked_in_logs)() == {await sync_to_async(conversation_of)(message_id)}


def test_batch_upload_and_more_like_this_count_against_the_rate_limit(gen) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        services.site_update(site=services.site_get_or_create(app=gen.completion), rate_limit_per_user=1)
    _user, client = _browser("ws_alpha", gen.completion)
    first = _upload(client, gen.completion_code, _csv_file("Topic\n"))
    assert first.status_code == 400  # counted, though refused for its content
    second = _upload(client, gen.completion_code, _csv_file("Topic\nsea\n"))
    assert second.status_code == 429 and second.json()["code"] == "too_many_requests"
    # Reading is not limited.
    assert client.get(_api(gen.completion_code, "saved-messages")).status_code == 200


def test_a_switched_off_webapp_answers_404_everywhere(gen) -> None:  # type: ignore[no-untyped-def]
    end_user, client = _browser("ws_alpha", gen.completion)
    message_id = _result("ws_alpha", gen.completion, end_user)
    with schema_context("ws_alpha"):
        services.app_update(app=gen.completion, enable_site=False)
    code = gen.completion_code
    assert client.get(f"/completion/{code}").status_code == 404
    for response in (
        client.get(_api(code, "saved-messages")),
        client.get(_api(code, "completion-batches/template")),
        client.post(
            _api(code, "saved-messages"),
            {"message_id": message_id},
            content_type="application/json",
            headers=HEADERS,
        ),
        _upload(client, code, _csv_file("Topic\nsea\n")),
    ):
        assert response.status_code == 404 and response.json()["code"] == "site_unavailable"


@pytest.mark.parametrize("concurrency", [1, 3])
def test_batch_rows_run_at_the_same_time_up_to_the_setting(gen, fake_openai, settings, concurrency) -> None:  # type: ignore[no-untyped-def]
    """With room for 3, every row's message is stored (prepared) before the first one finishes;
    with room for 1, each row starts only after the previous one finished."""
    settings.WEBAPP_BATCH_CONCURRENCY = concurrency
    fake_openai.script("chat", *[Reply(f"Text {i}", first_chunk_delay=0.3) for i in range(3)])
    end_user, client = _browser("ws_alpha", gen.completion)
    created = _upload(client, gen.completion_code, _csv_file("Topic\na\nb\nc\n"))
    assert created.status_code == 201
    with schema_context("ws_alpha"):
        runs = list(Message.objects.filter(end_user=end_user).order_by("created_at")
                    .values_list("created_at", "updated_at", "status"))
    assert [status for _c, _u, status in runs] == ["normal"] * 3
    first_finished = min(updated for _c, updated, _s in runs)
    if concurrency == 3:
        assert all(created_at < first_finished for created_at, _u, _s in runs)
    else:
        assert all(runs[i][1] <= runs[i + 1][0] for i in range(2))


def test_batch_refusals_and_export_speak_the_pages_language(gen, fake_openai) -> None:  # type: ignore[no-untyped-def]
    with schema_context("ws_alpha"):
        services.site_update(site=services.site_get_or_create(app=gen.completion), default_language="ja")
    _user, client = _browser("ws_alpha", gen.completion)
    refused = _upload(client, gen.completion_code, _csv_file(""))
    assert refused.json()["message"] == "CSV ファイルが空です。"
    batch_id = _upload(client, gen.completion_code, _csv_file("Topic\nsea\n")).json()["id"]
    export = client.get(_api(gen.completion_code, f"completion-batches/{batch_id}/export"))
    assert _rows(export.content)[0] == ["Topic", "出力", "ステータス", "エラー"]
    # The visitor's own language choice wins over the site's.
    client.cookies["django_language"] = "zh-hans"
    assert _upload(client, gen.completion_code, _csv_file("")).json()["message"] == "CSV 文件为空。"
