"""Fuzzing every /v1 route (issue 20, item 7a): table-driven over the routes the URL resolver
serves under /v1 plus the lean ASGI app's chat/completion routes, with valid keys of a real
workspace, through the production ASGI application. Each class of bad input (strings: long, NUL,
lone surrogates, emoji, wrong types; nesting; body sizes; encodings and content types; wrong
methods; bad path ids; bad query values) is sent to every route it applies to, and every answer
must be a non-5xx that is either JSON in the error format {code, message, status} or a success of
the route's documented kind. Failures are collected and shown together, with the case counts.
"""

import dataclasses
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest
import pytest_asyncio
from django.urls import URLPattern, URLResolver, get_resolver

from apps.applications.api.asgi import PATHS as LEAN_PATHS
from tests.asgi_http import Answer, asgi_request
from tests.v1_target import Target, v1_target

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

# --- The routes --------------------------------------------------------------------------------------


def v1_route_views() -> list[tuple[str, Any]]:
    """Every route pattern the URLconf serves under /v1/ (e.g. "v1/datasets/<uuid:dataset_id>")
    with its view."""
    found: list[tuple[str, Any]] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("v1/"):
                found.append((route, pattern.callback))

    walk(get_resolver().url_patterns, "")
    return found


def v1_routes() -> list[str]:
    """The /v1 routes, plus the paths config.asgi hands to the lean generation app."""
    return sorted({route for route, _ in v1_route_views()} | {path.lstrip("/") for path in LEAN_PATHS})


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

# Valid bodies of the routes that read one (JSON unless noted); the base of every body mutation.
# A route that reads a body and is missing here fails test_every_body_route_has_a_base_body.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("v1/chat-messages", "POST"): {"inputs": {}, "query": "Hi", "user": "fuzz", "response_mode": "blocking",
                                   "conversation_id": "", "auto_generate_name": False},
    ("v1/chat-messages/<str:task_id>/stop", "POST"): {"user": "fuzz"},
    ("v1/completion-messages", "POST"): {"inputs": {"topic": "sea"}, "user": "fuzz",
                                         "response_mode": "blocking"},
    ("v1/completion-messages/<str:task_id>/stop", "POST"): {"user": "fuzz"},
    ("v1/messages/<str:message_id>/feedbacks", "POST"): {"rating": "like", "user": "fuzz", "content": "ok"},
    ("v1/conversations/<str:conversation_id>", "DELETE"): {"user": "someone-else"},
    ("v1/conversations/<str:conversation_id>/name", "POST"): {"name": "Trip", "auto_generate": False,
                                                              "user": "fuzz"},
    ("v1/conversations/<str:conversation_id>/variables/<str:variable_id>", "PUT"): {"value": 1,
                                                                                   "user": "fuzz"},
    ("v1/workflows/run", "POST"): {"inputs": {"q": "Why?"}, "user": "fuzz", "response_mode": "blocking"},
    ("v1/workflows/<str:workflow_id>/run", "POST"): {"inputs": {"q": "Why?"}, "user": "fuzz"},
    ("v1/workflows/tasks/<str:task_id>/stop", "POST"): {"user": "fuzz"},
    ("v1/text-to-audio", "POST"): {"text": "Hello", "user": "fuzz", "voice": "alloy", "message_id": ""},
    ("v1/datasets", "POST"): {"name": "Fuzzed", "description": "d", "indexing_technique": "economy",
                              "permission": "only_me"},
    ("v1/datasets/<uuid:dataset_id>", "PATCH"): {
        "name": "Handbook", "description": "d", "permission": "only_me",
        "retrieval_model": {"search_method": "keyword_search", "top_k": 2}},
    ("v1/datasets/<uuid:dataset_id>/documents/status/<str:action>", "PATCH"): {
        "document_ids": ["{document_id}"]},
    ("v1/datasets/<uuid:dataset_id>/document/create_by_text", "POST"): {
        "name": "fuzz.txt", "text": "Some text.", "doc_language": "English", "doc_form": "text_model",
        "process_rule": {"mode": "automatic"}},
    ("v1/datasets/<uuid:dataset_id>/documents/<uuid:document_id>/update_by_text", "POST"): {
        "name": "fuzz.txt", "text": "Other text.", "doc_language": "English"},
    ("v1/datasets/<uuid:dataset_id>/documents/metadata", "POST"): {"operation_data": [
        {"document_id": "{document_id}", "partial_update": True,
         "metadata_list": [{"id": "{metadata_id}", "name": "author", "value": "Ann"}]}]},
    ("v1/datasets/<uuid:dataset_id>/documents/<uuid:document_id>/segments", "POST"): {
        "segments": [{"content": "More", "answer": "", "keywords": ["k"]}]},
    ("v1/datasets/<uuid:dataset_id>/documents/<uuid:document_id>/segments/<uuid:segment_id>", "POST"): {
        "segment": {"content": "Changed", "enabled": True, "keywords": ["k"]}},
    ("v1/datasets/<uuid:dataset_id>/retrieve", "POST"): {
        "query": "refund", "retrieval_model": {"search_method": "keyword_search", "top_k": 2}},
    ("v1/datasets/<uuid:dataset_id>/metadata", "POST"): {"name": "source", "type": "string"},
    ("v1/datasets/<uuid:dataset_id>/metadata/<uuid:metadata_id>", "PATCH"): {"name": "origin"},
    ("v1/datasets/<uuid:dataset_id>/metadata/built-in/<str:action>", "POST"): {},
}
# The same handlers under the reference's other spellings (`-` for `_`; `segment` for `segments`,
# in _alias).
ALIASES = {"create-by-text": "create_by_text", "update-by-text": "update_by_text",
           "create-by-file": "create_by_file", "update-by-file": "update_by_file", "hit-testing": "retrieve"}
# Multipart routes: the file field and the form fields beside it.
MULTIPART: dict[tuple[str, str], dict[str, str]] = {
    ("v1/files/upload", "POST"): {"user": "fuzz"},
    ("v1/audio-to-text", "POST"): {"user": "fuzz"},
    ("v1/datasets/<uuid:dataset_id>/document/create_by_file", "POST"): {
        "data": json.dumps({"indexing_technique": "economy", "process_rule": {"mode": "automatic"}})},
    ("v1/datasets/<uuid:dataset_id>/documents/<uuid:document_id>/update_by_file", "POST"): {
        "data": json.dumps({"name": "fuzz.txt"})},
}
# Query parameters the GET routes read.
QUERIES: dict[str, tuple[str, ...]] = {
    "v1/messages": ("conversation_id", "user", "first_id", "limit"),
    "v1/conversations": ("user", "last_id", "limit", "sort_by"),
    "v1/conversations/<str:conversation_id>/variables": ("user", "last_id", "limit", "variable_name"),
    "v1/app/feedbacks": ("page", "limit"),
    "v1/messages/<str:message_id>/suggested": ("user",),
    "v1/workflows/logs": ("keyword", "status", "page", "limit", "created_at__before",
                          "created_by_end_user_session_id", "created_by_account"),
    "v1/files/<str:file_id>/preview": ("as_attachment", "user"),
    "v1/files/<str:file_id>/file-preview": ("timestamp", "nonce", "sign", "tenant", "as_attachment"),
    "v1/datasets": ("keyword", "page", "limit"),
    "v1/datasets/<uuid:dataset_id>/documents": ("keyword", "status", "page", "limit"),
    "v1/datasets/<uuid:dataset_id>/documents/<uuid:document_id>": ("metadata",),
    "v1/datasets/<uuid:dataset_id>/documents/<uuid:document_id>/segments": ("status", "keyword", "page",
                                                                            "limit"),
}

LONG = "x" * 100_000
STRINGS = {"long": LONG, "over-255": "u" * 256, "nul": "a\x00b", "high-surrogate": "\ud800",
           "low-surrogate": "a\udfffb", "emoji": "\U0001F600\U0001F1EF\U0001F1F5\u200d", "empty": "",
           "spaces": "   ", "rtl": "\u202e\u0645\u0631\u062d\u0628\u0627"}
WRONG_TYPES = {"null": None, "int": 7, "float": 1e308, "bool": True, "list": ["a", 1], "object": {"a": [1]}}
QUERY_VALUES = {"nul": "%00", "nul-inside": "a%00b", "surrogate-bytes": "%ED%A0%80", "bad-utf8": "%FF%FE",
                "long": "x" * 8000, "over-255": "u" * 256, "emoji": quote("\U0001F600"), "negative": "-1",
                "huge-number": "9" * 40, "repeated": "a&{name}=b"}
PATH_VALUES = {"nul": "%00", "nul-inside": "a%00b", "surrogate-bytes": "%ED%A0%80", "bad-utf8": "%FF",
               "long": "x" * 5000, "emoji": quote("\U0001F600"), "not-a-uuid": "not-a-uuid",
               "unknown-uuid": str(uuid.UUID(int=7)), "dot-dot": "..", "percent": "%25", "space": "a%20b"}


def _alias(route: str) -> str:
    for spelled, canonical in ALIASES.items():
        route = route.replace(spelled, canonical)
    return route + "s" if route.endswith("/segment") else route


@pytest_asyncio.fixture
async def target(world_tx, fake_openai) -> Target:  # type: ignore[no-untyped-def]
    return await v1_target(world_tx, fake_openai)


# --- What every answer must be ---------------------------------------------------------------------

# Success bodies that are not JSON, by route: audio, a file, the schema, an event stream.
# Routes in the OpenAPI spelling ("{file_id}"); problem() reads Django's ("<str:file_id>") the same.
NON_JSON_SUCCESS = {"v1/text-to-audio": "audio/", "v1/files/{file_id}/preview": "",
                    "v1/files/{file_id}/file-preview": "", "v1/docs": "application/vnd.oai.openapi"}


def problem(route: str, answer: Answer) -> str | None:
    """What is wrong with ``answer``, or None."""
    if answer.status >= 500:
        return f"server error {answer.status}: {answer.content[:200]!r}"
    content_type = answer.content_type
    if answer.status >= 400:
        if not content_type.startswith("application/json"):
            return f"{answer.status} as {content_type or 'no content type'}: {answer.content[:120]!r}"
        try:
            body = answer.json()
        except ValueError:
            return f"{answer.status} with a body that is not JSON"
        if not (isinstance(body, dict) and isinstance(body.get("code"), str)
                and isinstance(body.get("message"), str) and body.get("status") == answer.status):
            return f"{answer.status} not in the error format: {body!r:.200}"
        return None
    if content_type.startswith("text/event-stream"):
        return None if b"data: " in answer.content else "an empty event stream"
    if content_type.startswith("application/json"):
        try:
            answer.json()
        except ValueError:
            return "a success body that is not JSON"
        return None
    expected = NON_JSON_SUCCESS.get(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    if expected is None or not content_type.startswith(expected):
        return f"{answer.status} success as {content_type!r}"
    return None


@dataclasses.dataclass
class Run:
    target: Target
    cases: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)

    async def send(self, route: str, method: str, label: str, *, path: str | None = None, body: bytes = b"",
                   content_type: str | None = "application/json", query: bytes = b"") -> None:
        raw = path or self.target.path(route)
        answer = await asgi_request(method, unquote(raw, errors="replace"), key=self.target.key_for(route),
                                    body=body, content_type=content_type, query=query, raw_path=raw.encode())
        self.cases += 1
        if (found := problem(route, answer)) is not None:
            self.failures.append(f"{method} {raw[:120]} [{label}]: {found}")

    def verdict(self, name: str) -> None:
        print(f"\n{name}: {self.cases} cases, {len(self.failures)} failures")
        assert not self.failures, f"{len(self.failures)} of {self.cases} cases failed:\n" + "\n".join(
            self.failures[:60])


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: surrogates travel as \u escapes


def _mutations(base: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``base`` with one field (or one field of an object field) replaced by each bad value."""
    values = {**STRINGS, **WRONG_TYPES}
    for field, original in base.items():
        for label, value in values.items():
            yield f"{field}={label}", {**base, field: value}
        if isinstance(original, dict):
            for inner in [*original, "extra"]:
                for label, value in STRINGS.items():
                    yield f"{field}.{inner}={label}", {**base, field: {**original, inner: value}}
            yield f"{field}:bad-key", {**base, field: {**original, "\ud800\x00": 1}}
    for label, value in STRINGS.items():
        yield f"extra-field={label}", {**base, f"extra{label}": value}


def _multipart(fields: dict[str, str], file: tuple[str, bytes, str] | None) -> tuple[bytes, str]:
    boundary = "fuzz-boundary-7"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode(
        "utf-8", "surrogatepass") for name, value in fields.items()]
    if file is not None:
        name, content, kind = file
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                     f"Content-Type: {kind}\r\n\r\n".encode("utf-8", "surrogatepass") + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --- The tests ---------------------------------------------------------------------------------------


async def test_the_tables_cover_every_route() -> None:
    """Every /v1 route is fuzzed: the tables name only routes that exist, and each route that
    reads a body (a view of a POST/PUT/PATCH route, or a DELETE with a body) has its base body."""
    routes = set(v1_routes())
    assert len(routes) >= 45, routes
    named = {r for r, _ in BODIES} | {r for r, _ in MULTIPART} | set(QUERIES)
    assert named <= routes, named - routes
    # Every view that reads a body: the Service API's api_view views declare their methods, the
    # Knowledge API's views their handlers; each (route, method) that takes a body has a base.
    with_bodies = {(r, m) for r, m in {*BODIES, *MULTIPART}}
    for route, view in v1_route_views():
        for method in ("POST", "PUT", "PATCH"):
            handles = method in getattr(view, "methods", ()) or hasattr(getattr(view, "view_class", None),
                                                                         method.lower())
            if handles:
                assert (_alias(route), method) in with_bodies, (route, method)


async def test_wrong_methods_and_bad_path_ids_on_every_route(target) -> None:  # type: ignore[no-untyped-def]
    run = Run(target)
    for route in v1_routes():
        for method in METHODS:  # the right ones too: with an empty body, each must still answer cleanly
            await run.send(route, method, "method", body=b"")
        names = [p[1:-1].split(":")[-1] for p in route.split("/") if p.startswith("<")]
        for name in names:
            for label, value in PATH_VALUES.items():
                await run.send(route, "GET", f"{name}={label}", path=target.path(route, {name: value}))
                await run.send(route, "POST", f"{name}={label}", path=target.path(route, {name: value}),
                               body=b'{"user": "fuzz"}')
    for label, suffix in {"unknown": "/nope", "trailing-slash": "/", "nul": "%00", "double": "//x"}.items():
        for route in ("v1/datasets", "v1/chat-messages", "v1/conversations", "v1/workflows/run"):
            await run.send(route, "GET", label, path=target.path(route) + suffix)
    run.verdict("methods and path ids")


async def test_bad_strings_and_types_in_every_body(target) -> None:  # type: ignore[no-untyped-def]
    run = Run(target)
    for route in v1_routes():
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            base = BODIES.get((_alias(route), method))
            if base is None:
                continue
            base = target.fill(base)
            for label, body in _mutations(base):
                await run.send(route, method, label, body=_json(body))
    run.verdict("body strings and types")


async def test_bad_strings_in_every_query_string(target) -> None:  # type: ignore[no-untyped-def]
    run = Run(target)
    for route in v1_routes():
        names = QUERIES.get(_alias(route), ("user", "keyword"))  # unread names must be harmless too
        for name in names:
            for label, value in QUERY_VALUES.items():
                query = f"{name}={value.format(name=name)}&user=fuzz".encode()
                await run.send(route, "GET", f"?{name}={label}", query=query)
        await run.send(route, "GET", "?many", query="&".join(f"k{i}=v" for i in range(1500)).encode())
    run.verdict("query strings")


async def test_nesting_sizes_and_encodings_on_every_route(target, settings) -> None:  # type: ignore[no-untyped-def]
    run = Run(target)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    deep = "[" * 1000 + "]" * 1000
    bodies: dict[str, tuple[bytes, str | None]] = {
        "nested-65": (_json({"user": "fuzz", "inputs": {"a": json.loads("[" * 64 + "]" * 64)}}),
                      "application/json"),
        "nested-1000": (('{"user": "fuzz", "inputs": {"a": %s}, "query": %s}' % (deep, deep)).encode(),
                        "application/json"),
        "nested-100000": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        "over-limit": (b'{"user": "' + b"x" * (limit + 1) + b'"}', "application/json"),
        "empty": (b"", "application/json"),
        "null": (b"null", "application/json"),
        "array": (b"[1, 2]", "application/json"),
        "string": (b'"text"', "application/json"),
        "not-json": (b"{user: fuzz", "application/json"),
        "bad-utf8": (b'{"user": "caf\xe9"}', "application/json"),
        "utf16": ('{"user": "fuzz"}'.encode("utf-16"), "application/json"),
        "raw-nul": (b'{"user": "a\x00b"}', "application/json"),
        "bom": (b'\xef\xbb\xbf{"user": "fuzz"}', "application/json"),
        "text-plain": (b'{"user": "fuzz"}', "text/plain"),
        "no-content-type": (b'{"user": "fuzz"}', None),
        "form": (b"user=fuzz&query=a%00b", "application/x-www-form-urlencoded"),
        "multipart-no-boundary": (b"--x\r\n\r\nabc", "multipart/form-data"),
        "multipart-bad-boundary": (b"garbage", "multipart/form-data; boundary=zz"),
        "json-charset": (b'{"user": "fuzz"}', "application/json; charset=latin-1"),
    }
    for route in v1_routes():
        for method in ("POST", "PUT", "PATCH"):
            for label, (body, content_type) in bodies.items():
                await run.send(route, method, label, body=body, content_type=content_type)
    run.verdict("nesting, sizes and encodings")


async def test_multipart_fields_and_files(target) -> None:  # type: ignore[no-untyped-def]
    run = Run(target)
    files = {"text": ("a.txt", b"Hello there.", "text/plain"),
             "emoji-name": ("\U0001F600.txt", b"hi", "text/plain"),
             "nul-name": ("a\x00.txt", b"hi", "text/plain"), "empty": ("e.txt", b"", "text/plain"),
             "binary-as-pdf": ("x.pdf", b"\x7fELF\x00\x01", "application/pdf"), "none": None}
    for (route, method), fields in MULTIPART.items():
        for label, file in files.items():
            body, content_type = _multipart(fields, file)
            await run.send(route, method, f"file={label}", body=body, content_type=content_type)
        for field in [*fields, "extra"]:
            for label, value in STRINGS.items():
                body, content_type = _multipart({**fields, field: value}, files["text"])
                await run.send(route, method, f"{field}={label}", body=body, content_type=content_type)
    run.verdict("multipart")
