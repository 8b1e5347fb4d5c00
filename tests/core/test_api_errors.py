"""The /v1 validation layer (apps.core.inputs) and error format (apps.core.middleware), through the
production ASGI application: the Service API's Django views, its lean chat/completion app and the
Knowledge API refuse bad strings, deep nesting and oversized bodies with a 4xx in the format
{code, message, status}, and every error under /v1 is that JSON whatever DEBUG says (issue 20,
items 2 and 3)."""

import json
import logging
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.http import HttpRequest
from django.urls import include, path
from django_tenants.utils import schema_context

from apps.core.inputs import MAX_JSON_DEPTH
from apps.datasets import keys
from apps.datasets.models import Dataset, Document
from apps.logs.models import EndUser
from tests.applications.conftest import build_api_setup
from tests.asgi_http import asgi_request, assert_error
from tests.datasets.conftest import make_dataset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _explode(request: HttpRequest) -> None:
    raise RuntimeError("a bug in a view")


# A URLconf with one view that fails the way a bug would, under the real /v1 routes.
urlpatterns = [path("v1/test-explode", _explode), path("", include("config.urls_public"))]


@pytest.fixture
def api(world_tx, fake_openai):  # type: ignore[no-untyped-def]
    return build_api_setup(world_tx, fake_openai)


@pytest.fixture
def knowledge(world_tx):  # type: ignore[no-untyped-def]
    """A dataset key of alpha and one economy dataset."""
    with schema_context(world_tx.alpha.schema_name):
        _, key = keys.api_key_create(actor_id=world_tx.owner.user_id)
        dataset = make_dataset(world_tx, name="Handbook", technique="economy")
    return key, dataset


def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def _end_users() -> int:
    with schema_context("ws_alpha"):
        return EndUser.objects.count()


def _documents() -> list[Document]:
    with schema_context("ws_alpha"):
        return list(Document.objects.all())


def _dataset(pk: object) -> Dataset:
    with schema_context("ws_alpha"):
        return Dataset.objects.get(pk=pk)


# --- Item 3: every /v1 response is JSON in the error format, DEBUG on or off ----------------------------

DEBUG = pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])


@DEBUG
async def test_an_unhandled_error_is_a_logged_json_500(api, settings, caplog, debug) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = debug
    settings.ROOT_URLCONF = __name__
    with caplog.at_level(logging.ERROR):
        answer = await asgi_request("GET", "/v1/test-explode", key=api.chat_key)
    body = assert_error(answer, 500, "internal_server_error")
    assert "a bug in a view" not in answer.content.decode() and "Traceback" not in body["message"]
    logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], RuntimeError)]
    assert logged and logged[0].levelno == logging.ERROR


@DEBUG
@pytest.mark.parametrize("route", ["/v1/nope", "/v1/datasets/not-a-uuid", f"/v1/datasets/{uuid.uuid4()}/nope",
                                   "/v1/chat-messages/", "/v1/workflows/run/a/b"])
async def test_unknown_routes_and_bad_path_ids_are_json_404(api, settings, debug, route) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = debug
    assert_error(await asgi_request("GET", route, key=api.chat_key), 404, "not_found")


@DEBUG
@pytest.mark.parametrize("route", ["/v1/workflows/run", f"/v1/workflows/{uuid.uuid4()}/run",
                                   "/v1/workflows/tasks/t-1/stop", "/v1/chat-messages/t-1/stop"])
async def test_wrong_methods_on_workflow_routes_are_json_405(api, settings, debug, route) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = debug
    for method in ("GET", "PUT", "DELETE"):
        assert_error(await asgi_request(method, route, key=api.chat_key), 405, "method_not_allowed")


@DEBUG
async def test_multipart_without_a_boundary_is_a_json_400(api, settings, debug) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = debug
    answer = await asgi_request("POST", "/v1/files/upload", key=api.chat_key, body=b"--x\r\n\r\nabc",
                                content_type="multipart/form-data")
    assert_error(answer, 400, "bad_request")


@DEBUG
async def test_knowledge_multipart_without_a_boundary_is_a_json_400(knowledge, settings, debug) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = debug
    key, dataset = knowledge
    answer = await asgi_request("POST", f"/v1/datasets/{dataset.pk}/document/create_by_file", key=key,
                                body=b"--x\r\n\r\nabc", content_type="multipart/form-data")
    assert_error(answer, 400, "bad_request")


@DEBUG
@pytest.mark.parametrize("route", ["/v1/datasets", "/v1/chat-messages", "/v1/messages/m-1/feedbacks"])
async def test_bodies_over_the_limit_are_json_413(api, knowledge, settings, debug, route) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = debug
    key = knowledge[0] if route.startswith("/v1/datasets") else api.chat_key
    too_long = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = json.dumps({"name": "big", "user": "u-1", "query": too_long})
    answer = await asgi_request("POST", route, key=key, body=body.encode())
    assert_error(answer, 413, "request_entity_too_large")


async def test_a_multipart_upload_may_exceed_the_json_limit_up_to_its_file_limit(api, settings) -> None:  # type: ignore[no-untyped-def]
    """The body limit of multipart requests leaves room for the file; the endpoint's own file
    limit still answers with its documented error."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n{'x' * 5000}\r\n--{boundary}--\r\n").encode()
    answer = await asgi_request("POST", "/v1/files/upload", key=api.chat_key, body=body,
                                content_type=f"multipart/form-data; boundary={boundary}")
    assert answer.status == 201, answer.content
    assert answer.json()["size"] == 5000


# --- Item 2: one validation layer ----------------------------------------------------------------------


async def test_user_longer_than_its_column_is_refused_everywhere(api) -> None:  # type: ignore[no-untyped-def]
    before = await sync_to_async(_end_users)()
    long_user = "u" * 256
    chat = {"inputs": {"name": "Ada"}, "query": "Hi", "user": long_user}
    body = assert_error(await asgi_request("POST", "/v1/chat-messages", key=api.chat_key,
                                           body=json.dumps(chat).encode()), 400, "invalid_param")
    assert body["message"] == "user must be at most 255 characters"
    assert_error(await asgi_request("GET", "/v1/conversations", key=api.chat_key,
                                    query=f"user={long_user}".encode()), 400, "invalid_param")
    assert_error(await asgi_request("POST", "/v1/chat-messages/t-1/stop", key=api.chat_key,
                                    body=json.dumps({"user": long_user}).encode()), 400, "invalid_param")
    assert await sync_to_async(_end_users)() == before  # nothing half-written


@pytest.mark.parametrize("bad", ["a\u0000b", "\ud800", "x\udfffy"],
                         ids=["nul", "high-surrogate", "low-surrogate"])
async def test_nul_bytes_and_lone_surrogates_in_bodies_are_refused(api, knowledge, bad) -> None:  # type: ignore[no-untyped-def]
    key, dataset = knowledge
    cases = [
        ("/v1/chat-messages", api.chat_key, {"inputs": {"name": "Ada"}, "query": bad, "user": "u-1"}),
        ("/v1/completion-messages", api.completion_key, {"inputs": {"topic": bad}, "user": "u-1"}),
        ("/v1/chat-messages", api.chat_key, {"inputs": {"name": "Ada"}, "query": "Hi", "user": bad}),
        ("/v1/messages/m-1/feedbacks", api.chat_key, {"rating": "like", "user": "u-1", "content": bad}),
        ("/v1/datasets", key, {"name": "N", "description": bad}),
        (f"/v1/datasets/{dataset.pk}/document/create_by_text", key, {"name": "a.txt", "text": bad}),
        (f"/v1/datasets/{dataset.pk}/retrieve", key, {"query": "q", "retrieval_model": {bad: 1}}),
    ]
    for route, token, payload in cases:
        raw = json.dumps(payload).encode()  # ensure_ascii: the surrogate travels as a \ud800 escape
        assert_error(await asgi_request("POST", route, key=token, body=raw), 400, "invalid_param")
    assert await sync_to_async(_documents)() == []


async def test_nul_in_query_parameters_and_path_segments(api, knowledge) -> None:  # type: ignore[no-untyped-def]
    key, dataset = knowledge
    for route, token, query in [
        ("/v1/messages", api.chat_key, b"conversation_id=%00&user=u-1"),
        ("/v1/conversations", api.chat_key, b"user=a%00b"),
        ("/v1/conversations", api.chat_key, b"last_id=%00"),
        ("/v1/workflows/logs", api.chat_key, b"keyword=%00"),
        ("/v1/datasets", key, b"keyword=%00"),
        (f"/v1/datasets/{dataset.pk}/documents", key, b"keyword=x%00"),
    ]:
        assert_error(await asgi_request("GET", route, key=token, query=query), 400, "invalid_param")
    for route, token, method in [
        ("/v1/conversations/\x00/name", api.chat_key, "POST"),
        ("/v1/messages/\x00/feedbacks", api.chat_key, "POST"),
        ("/v1/workflows/run/\x00", api.chat_key, "GET"),
        ("/v1/chat-messages/\x00/stop", api.chat_key, "POST"),
        (f"/v1/datasets/{dataset.pk}/documents/\x00/indexing-status", key, "GET"),
        (f"/v1/datasets/{dataset.pk}/metadata/built-in/\x00", key, "POST"),
    ]:
        answer = await asgi_request(method, route, key=token, body=b'{"user": "u-1"}',
                                    raw_path=route.replace("\x00", "%00").encode())
        assert_error(answer, 404, "not_found")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
async def test_json_nested_too_deep_is_refused(api, knowledge, depth) -> None:  # type: ignore[no-untyped-def]
    key, dataset = knowledge
    nested = "[" * depth + "]" * depth  # built as text: json.dumps itself would recurse too deep
    for route, token, template in [
        ("/v1/chat-messages", api.chat_key, '{"inputs": {"name": %s}, "query": "Hi", "user": "u"}'),
        ("/v1/workflows/run", api.chat_key, '{"inputs": %s, "user": "u"}'),
        ("/v1/messages/m-1/feedbacks", api.chat_key, '{"rating": "like", "user": "u", "x": %s}'),
        ("/v1/datasets", key, '{"name": "deep", "retrieval_model": %s}'),
        (f"/v1/datasets/{dataset.pk}/retrieve", key, '{"query": "q", "retrieval_model": %s}'),
    ]:
        # The body object is one level, so the nested value brings it to depth + 1.
        raw = (template % nested).encode()
        body = assert_error(await asgi_request("POST", route, key=token, body=raw), 400, "invalid_param")
        assert body["message"] == f"The JSON payload is nested deeper than {MAX_JSON_DEPTH} levels."


async def test_json_at_the_depth_limit_is_read(api) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps({"rating": "like", "user": "u", "x": _nested(MAX_JSON_DEPTH - 1)}).encode()
    answer = await asgi_request("POST", "/v1/messages/m-1/feedbacks", key=api.chat_key, body=raw)
    assert_error(answer, 404, "not_found")  # the body was read; the message does not exist


async def test_dataset_patch_checks_its_field_types(knowledge) -> None:  # type: ignore[no-untyped-def]
    key, dataset = knowledge
    route = f"/v1/datasets/{dataset.pk}"
    for payload in [{"retrieval_model": "semantic_search"}, {"retrieval_model": [1]}, {"retrieval_model": 5},
                    {"description": ["a"]}, {"description": {"a": 1}}, {"description": 7},
                    {"name": ["x"]}, {"permission": 1}]:
        body = assert_error(await asgi_request("PATCH", route, key=key, body=json.dumps(payload).encode()),
                            400, "invalid_param")
        assert body["params"] == next(iter(payload))
    stored = await sync_to_async(_dataset)(dataset.pk)
    assert (stored.name, stored.description) == ("Handbook", "")
    answer = await asgi_request("PATCH", route, key=key, body=b'{"description": "Policies \\u2615"}')
    assert answer.status == 200 and answer.json()["description"] == "Policies \u2615"


@pytest.mark.parametrize(("language", "status"), [("x" * 41, 400), ("\U0001F1EF\U0001F1F5" * 21, 400),
                                                   ("\U0001F1EF\U0001F1F5", 200), ("Japanese", 200)])
async def test_create_by_text_doc_language(knowledge, language, status) -> None:  # type: ignore[no-untyped-def]
    key, dataset = knowledge
    payload = {"name": "a.txt", "text": "Some text.", "doc_language": language}
    answer = await asgi_request("POST", f"/v1/datasets/{dataset.pk}/document/create_by_text", key=key,
                                body=json.dumps(payload).encode())
    if status == 400:
        assert assert_error(answer, 400, "invalid_param")["params"] == "doc_language"
        assert await sync_to_async(_documents)() == []
    else:
        assert answer.status == 200, answer.content
        [stored] = await sync_to_async(_documents)()
        assert str(stored.pk) == answer.json()["document"]["id"] and stored.doc_language == language
