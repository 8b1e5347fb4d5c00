"""The /v1 OpenAPI document (apps/core/openapi.py): it validates as OpenAPI 3.1, describes every
route and method of the URL conf and nothing else, carries every endpoint and field that
service-api.md documents, and real responses (through Daphne, SSE included) match it. The docs
pages serve Swagger UI and Redoc from our own static files."""

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from apps.core.openapi import document
from apps.datasets import keys

ROOT = Path(__file__).resolve().parents[2]
DOCS_ROUTES = {"/v1/openapi.json", "/v1/docs", "/v1/docs/swagger", "/v1/docs/redoc"}
METHODS = ("get", "post", "put", "patch", "delete")


def served_schema() -> dict[str, Any]:
    response = Client().get("/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return json.loads(response.content)


# --- The document itself -----------------------------------------------------------------------------


def test_the_schema_is_valid_openapi_3_1_and_the_same_at_every_address(db) -> None:
    schema = served_schema()
    validate(schema)  # raises on any violation of the OpenAPI 3.1 meta-schema
    assert schema["openapi"] == "3.1.0"
    assert schema == json.loads(Client().get("/v1/docs", HTTP_ACCEPT="application/json").content)
    as_yaml = Client().get("/v1/docs")
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(as_yaml.content) == schema
    schemes = schema["components"]["securitySchemes"]
    assert schemes["AppKey"]["scheme"] == schemes["DatasetKey"]["scheme"] == "bearer"
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"code", "message", "status"}


def test_the_document_is_made_once_and_served_from_memory(db, django_assert_num_queries) -> None:
    served_schema()
    assert document() is document()
    with django_assert_num_queries(0):
        Client().get("/v1/openapi.json")


def test_no_workspace_data_in_the_schema_and_every_key_reads_the_same(world) -> None:
    """The document is the product's, not a workspace's: the same without a key and with keys of
    either workspace, and it names none of their objects."""
    anonymous = Client().get("/v1/openapi.json").content
    with schema_context(world.alpha.schema_name):
        _, alpha_key = keys.api_key_create(actor_id=world.owner.user_id)
    with schema_context(world.beta.schema_name):
        _, beta_key = keys.api_key_create(actor_id=world.other.user_id)
    for key in (alpha_key, beta_key):
        assert (
            Client().get("/v1/openapi.json", headers={"Authorization": f"Bearer {key}"}).content == anonymous
        )
    text = anonymous.decode()
    for workspace in (world.alpha, world.beta):
        assert workspace.schema_name not in text and workspace.name not in text


# --- Every route of the URL conf -----------------------------------------------------------------------


def v1_routes() -> list[tuple[str, str, Any]]:
    """(OpenAPI path, concrete URL, view) of every URL pattern under /v1/."""
    found = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("v1/"):
                template = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
                concrete = "/" + re.sub(
                    r"<uuid:\w+>", lambda _: str(uuid.uuid4()), re.sub(r"<(?:str:)?\w+>", "x1", route)
                )
                found.append((template, concrete, pattern.callback))

    walk(get_resolver().url_patterns, "")
    return found


def served_methods(concrete: str, view: Any) -> set[str]:
    """The methods a route answers: a DRF view's handlers; for plain views, every method that is
    not answered 405 (asked without a key, so nothing runs)."""
    if hasattr(view, "cls"):
        return {m for m in METHODS if hasattr(view.cls, m)}
    client = Client()
    return {m for m in METHODS if getattr(client, m)(concrete).status_code != 405}


def test_every_route_and_method_is_described_and_nothing_else(db) -> None:
    schema = served_schema()
    described = {
        (path, method) for path, item in schema["paths"].items() for method in item if method in METHODS
    }
    routed = {
        (template, method)
        for template, concrete, view in v1_routes()
        if template not in DOCS_ROUTES
        for method in served_methods(concrete, view)
    }
    assert routed - described == set(), "routes without a description"
    assert described - routed == set(), "described operations that no route serves"
    assert len(described) > 60
    for path, item in schema["paths"].items():
        for method, op in item.items():
            names = set(re.findall(r"{(\w+)}", path))
            assert {p["name"] for p in op.get("parameters", []) if p["in"] == "path"} == names, (path, method)
            assert op["security"] in ([{"AppKey": []}], [{"DatasetKey": []}], []), (path, method)
            assert any(code.startswith("2") for code in op["responses"]), (path, method)
            if op["security"]:
                assert "401" in op["responses"], (path, method)


# --- Every endpoint and field of service-api.md -------------------------------------------------------


def spec_text() -> str:
    """service-api.md from the shared specs beside the repository (in CI: a copy next to the clone)."""
    for folder in (ROOT, *ROOT.parents):
        candidate = folder / "shared" / "spec" / "service-api.md"
        if candidate.exists():
            return candidate.read_text()
    pytest.fail("shared/spec/service-api.md not found beside the repository")


# Documented endpoints Tessera does not serve (yet). Kept honest below: none of them may be routed.
NOT_SERVED = {
    ("get", "/apps/annotations"),
    ("post", "/apps/annotations"),
    ("put", "/apps/annotations/{}"),
    ("delete", "/apps/annotations/{}"),
    ("post", "/apps/annotation-reply/{}"),
    ("get", "/apps/annotation-reply/{}/status/{}"),
    ("get", "/workspaces/current/models/model-types/{}"),
    ("get", "/datasets/tags"),
    ("post", "/datasets/tags"),
    ("patch", "/datasets/tags"),
    ("delete", "/datasets/tags"),
    ("post", "/datasets/tags/binding"),
    ("post", "/datasets/tags/unbinding"),
    ("get", "/datasets/{}/tags"),
    ("post", "/datasets/{}/documents/{}/segments/{}/child_chunks"),
    ("get", "/datasets/{}/documents/{}/segments/{}/child_chunks"),
    ("patch", "/datasets/{}/documents/{}/segments/{}/child_chunks/{}"),
    ("delete", "/datasets/{}/documents/{}/segments/{}/child_chunks/{}"),
    ("get", "/datasets/{}/documents/{}/upload-file"),  # removed upstream (§5.6)
}
ENDPOINT = re.compile(r"`?\b(GET|POST|PUT|PATCH|DELETE) (/[\w\-{}/<>:.|]*)")


def _shape(path: str) -> str:
    path = path.split("?")[0].removeprefix("/v1").rstrip("/.`*")
    path = re.sub(r"<(?:\w+:)?\w+>|{[^}]*}", "{}", path)
    return path


def spec_endpoints(text: str) -> set[tuple[str, str]]:
    found = set()
    # §5.3 abbreviates the child-chunk routes with "…/".
    text = text.replace(" …/segments/", " /datasets/{d}/documents/{doc}/segments/")
    text = text.replace(" …/child_chunks/", " /datasets/{d}/documents/{doc}/segments/{s}/child_chunks/")
    for line in text.splitlines():
        if not line.startswith(("### 2.", "**", "* `", "  * `", "* **", "* `GET", "* `POST")):
            continue
        for method, path in ENDPOINT.findall(line):
            found.add((method.lower(), _shape(path)))
    return found


def schema_endpoints(schema: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m, _shape(p)) for p, item in schema["paths"].items() for m in item}


def test_every_documented_endpoint_is_described(db) -> None:
    documented = spec_endpoints(spec_text())
    assert ("post", "/chat-messages") in documented and ("post", "/datasets/{}/retrieve") in documented
    assert len(documented) > 50
    missing = documented - schema_endpoints(served_schema())
    assert missing == NOT_SERVED, f"documented but not described: {sorted(missing - NOT_SERVED)}"
    routed = {_shape(template) for template, _, _ in v1_routes()}
    assert not {path for _, path in NOT_SERVED} & routed, "a served endpoint is listed as not served"


def resolve(schema: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def properties(schema: dict[str, Any], node: Any, seen: set[int] | None = None) -> dict[str, list[Any]]:
    """Every property name reachable from `node` (through $ref, allOf/anyOf/oneOf, items and
    additionalProperties), with the schemas given for it."""
    seen = set() if seen is None else seen
    node = resolve(schema, node)
    out: dict[str, list[Any]] = {}
    if not isinstance(node, dict) or id(node) in seen:
        return out
    seen.add(id(node))
    children = [*node.get("allOf", []), *node.get("anyOf", []), *node.get("oneOf", [])]
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            children.append(node[key])
    for name, child in node.get("properties", {}).items():
        out.setdefault(name, []).append(resolve(schema, child))
        children.append(child)
    for child in children:
        for name, found in properties(schema, child, seen).items():
            out.setdefault(name, []).extend(found)
    return out


def enum_values(schema: dict[str, Any], node: Any) -> set[Any]:
    node = resolve(schema, node)
    values = set(node.get("enum", []))
    if "const" in node:
        values.add(node["const"])
    for child in node.get("anyOf", []):
        values |= enum_values(schema, child)
    return values


def sections(text: str) -> dict[str, str]:
    """service-api.md cut at its headings and bold endpoint lines, by the heading's text."""
    parts: dict[str, str] = {}
    current = "top"
    for line in text.splitlines():
        bold = re.match(r"^\*\*([A-Z]+ /.+?)\*\*", line)
        # Headings, bold endpoint lines and object captions (RetrievalModel:, Segment object:).
        if line.startswith("#") or bold or re.match(r"^([A-Z][a-z]+[A-Z]\w*|\w+ object\b.*):$", line):
            current = bold.group(1) if bold else line.strip("# :")
            parts.setdefault(current, "")
        parts[current] = parts.get(current, "") + line + "\n"
    return parts


def section_of(parts: dict[str, str], title: str) -> str:
    """The section whose title is `title` or begins with it."""
    found = parts.get(title) or next((body for name, body in parts.items() if name.startswith(title)), None)
    assert found, f"service-api.md has no section {title!r}"
    return found


# The JSON examples of service-api.md and the component that describes each. Keys are the section
# titles and which ```json block of the section (0: the first).
RESPONSE_OBJECTS = {
    ("2.7 GET /workflows/run/{workflow_run_id}", 0): "WorkflowRunDetail",
    ("2.9 GET /workflows/logs", 0): "WorkflowLogList",
    ("2.10 POST /files/upload", 0): "UploadedFile",
    ("2.12 GET /messages (conversation history; CHAT-like apps)", 0): "MessageList",
    ("2.16 GET /conversations (CHAT-like)", 0): "ConversationList",
    ("2.19 GET /conversations/{conversation_id}/variables", 0): "ConversationVariableList",
    ("2.22 GET /parameters", 0): "Parameters",
    ("2.25 GET /site", 0): "Site",
    ("3.1 Completion app", 0): "CompletionMessageResponse",
    ("3.2 Chat, agent-chat and advanced-chat apps", 0): "ChatMessageResponse",
    ("3.3 Workflow app", 0): "WorkflowRunResponse",
    ("3.4 Usage object (`core/model_runtime/entities/llm_entities.py::LLMUsage`)", 0): "Usage",
    ("3.5 RetrieverResource (`core/rag/entities/citation_metadata.py`)", 0): "RetrieverResource",
    ("4.4 Error event (`AppGenerateResponseConverter._error_to_stream_response`)", 0): "ErrorEvent",
    ("RetrievalModel", 0): "RetrievalModel",
    ("Dataset object (`fields/dataset_fields.py::dataset_detail_fields`)", 0): "Dataset",
    ("ProcessRule", 0): "ProcessRule",
    ("Document object (`fields/document_fields.py::document_fields`)", 0): "Document",
    ("Segment object", 0): "Segment",
    ("POST /datasets/{dataset_id}/retrieve", 0): "RetrieveRequest",
    ("POST /datasets/{dataset_id}/retrieve", 1): "RetrieveResponse",
}
# Keys of the examples that are data, not field names: an example's input variable, the controls of
# a user_input_form item.
DYNAMIC_KEYS = {
    "MessageList": {"name"},
    "Parameters": {"paragraph", "select", "number", "file", "checkbox", "json_object"},
}
KEY = re.compile(r'(?<=[{,])\s*"(\w+)"\s*(?=[:,}])')
KEY_ENUM = re.compile(r'"(\w+)":"([\w\-]+(?:\|[\w\-]+)+)"')


def test_documented_response_fields_and_enums_are_in_the_schema(db) -> None:
    schema = served_schema()
    parts = sections(spec_text())
    for (title, index), component in RESPONSE_OBJECTS.items():
        blocks = re.findall(r"```json\n(.*?)```", section_of(parts, title), re.S)
        assert len(blocks) > index, title
        example = blocks[index].replace("\n", "")
        described = properties(schema, {"$ref": f"#/components/schemas/{component}"})
        fields = set(KEY.findall(example)) - DYNAMIC_KEYS.get(component, set())
        assert fields, title
        assert fields <= set(described), f"{component} lacks {sorted(fields - set(described))} ({title})"
        for field, values in KEY_ENUM.findall(example):
            allowed = set().union(*(enum_values(schema, s) for s in described[field]))
            assert set(values.split("|")) <= allowed, f"{component}.{field}: {values} vs {allowed}"


# Request tables of service-api.md → (path, method) of the operation; the `field` column must be in
# its request body, and a type cell of `a` \| `b` values must be its enum (DEVIATIONS aside).
REQUEST_TABLES = {
    "2.1 POST /completion-messages (completion apps only)": ("/v1/completion-messages", "post"),
    "2.3 POST /chat-messages (chat, agent-chat, advanced-chat)": ("/v1/chat-messages", "post"),
    "2.5 POST /workflows/run (workflow apps only)": ("/v1/workflows/run", "post"),
    "POST /datasets": ("/v1/datasets", "post"),
    "POST /datasets/{dataset_id}/document/create-by-text": (
        "/v1/datasets/{dataset_id}/document/create-by-text",
        "post",
    ),
    "POST /datasets/{dataset_id}/retrieve": ("/v1/datasets/{dataset_id}/retrieve", "post"),
}
# Values the reference accepts and Tessera refuses with invalid_param (so the schema leaves them out).
DEVIATIONS = {("/v1/datasets", "permission"): {"partial_members"}, ("/v1/datasets", "provider"): {"external"}}


def test_documented_request_fields_and_enums_are_in_the_schema(db) -> None:
    schema = served_schema()
    text = spec_text()
    parts = sections(text)
    for title, (path, method) in REQUEST_TABLES.items():
        section = section_of(parts, title)
        body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        described = properties(schema, body)
        rows = re.findall(r"^\| `(\w+)` \| ([^|]*(?:\\\|[^|]*)*) \|", section, re.M)
        assert rows, title
        for field, kind in rows:
            assert field in described, f"{path} {method}: no {field}"
            values = {v.strip('"') for v in re.findall(r"`([^`]+)`", kind)} if "\\|" in kind else set()
            if values and not kind.startswith("RetrievalModel"):
                allowed = set().union(*(enum_values(schema, s) for s in described[field]))
                assert values - DEVIATIONS.get((path, field), set()) <= allowed, (
                    path,
                    field,
                    values,
                    allowed,
                )


def test_sse_event_types_have_one_schema_each(db) -> None:
    schema = served_schema()
    documented = set(re.findall(r"^\* `(\w+)`:", spec_text(), re.M)) - {"ping"}
    streamed = schema["paths"]["/v1/chat-messages"]["post"]["responses"]["200"]["content"][
        "text/event-stream"
    ]
    workflow = schema["paths"]["/v1/workflows/run"]["post"]["responses"]["200"]["content"][
        "text/event-stream"
    ]
    mapped = set(streamed["schema"]["discriminator"]["mapping"]) | set(
        workflow["schema"]["discriminator"]["mapping"]
    )
    assert documented <= mapped, sorted(documented - mapped)
    for event, target in {
        **streamed["schema"]["discriminator"]["mapping"],
        **workflow["schema"]["discriminator"]["mapping"],
    }.items():
        event_schema = resolve(schema, {"$ref": target})
        assert event_schema["properties"]["event"]["enum"] == [event]
        assert {"event", "task_id"} <= set(event_schema["required"])


# --- Swagger UI and Redoc, offline ----------------------------------------------------------------------


@pytest.mark.parametrize("page", ["/v1/docs/swagger", "/v1/docs/redoc"])
def test_docs_pages_load_only_our_own_files(db, page) -> None:
    response = Client().get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/v1/openapi.json" in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
    for source in sources:
        assert source.startswith("/static/"), source
        assert finders.find(source.removeprefix("/static/")), f"{source} is not a static file"
    assert not re.search(r"https?://(?:cdn|unpkg|fonts)", html)


# --- Real responses conform ---------------------------------------------------------------------------


class Conformance:
    """Validates real responses against the operation the document gives for them."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.checked: set[tuple[str, str, int]] = set()

    def _schema_for(self, path: str, method: str, status: int, media: str) -> dict[str, Any]:
        responses = self.schema["paths"][path][method]["responses"]
        assert str(status) in responses, f"{method} {path}: {status} is not described"
        content = responses[str(status)].get("content", {})
        assert media in content or "*/*" in content, f"{method} {path} {status}: {media} is not described"
        return content.get(media) or content["*/*"]

    def validator(self, body_schema: dict[str, Any]) -> Draft202012Validator:
        return Draft202012Validator({**body_schema, "components": self.schema["components"]})

    def check(self, path: str, method: str, response: httpx.Response) -> Any:
        responses = self.schema["paths"][path][method]["responses"]
        if response.status_code == 204:
            assert "content" not in responses.get("204", {"content": None}) and not response.content
            self.checked.add((path, method, 204))
            return None
        media = response.headers.get("content-type", "").split(";")[0]
        described = self._schema_for(path, method, response.status_code, media)
        self.checked.add((path, method, response.status_code))
        if media == "text/event-stream":
            events = [
                json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
            ]
            assert events
            validator = self.validator(described["schema"])
            for event in events:
                errors = [e.message for e in validator.iter_errors(event)]
                assert not errors, (path, event["event"], errors)
            return events
        if media == "application/json":
            body = response.json()
            errors = [
                f"{list(e.absolute_path)}: {e.message}"
                for e in self.validator(described["schema"]).iter_errors(body)
            ]
            assert not errors, (method, path, response.status_code, errors)
            return body
        return response.content


def _sse_request(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    response = client.post(path, json={**body, "response_mode": "streaming"})
    response.read()
    return response


@pytest.mark.django_db(transaction=True)
def test_real_service_api_responses_conform(live_url, world_tx, fake_openai) -> None:
    from tests.applications.conftest import build_api_setup
    from tests.workflows.conftest import build as build_workflows

    api = build_api_setup(world_tx, fake_openai)
    wf = build_workflows(world_tx, fake_openai)
    c = Conformance(served_schema())
    chat = {"query": "Hello there", "inputs": {"name": "Ada"}, "user": "u-1"}
    with httpx.Client(
        base_url=live_url, headers={"Authorization": f"Bearer {api.chat_key}"}, timeout=60
    ) as client:
        c.check("/v1/", "get", client.get("/v1/"))
        for path in ("/v1/parameters", "/v1/meta", "/v1/info", "/v1/site"):
            c.check(path, "get", client.get(path))
        answer = c.check("/v1/chat-messages", "post", client.post("/v1/chat-messages", json=chat))
        events = c.check("/v1/chat-messages", "post", _sse_request(client, "/v1/chat-messages", chat))
        assert events[-1]["event"] == "message_end"
        conversation = answer["conversation_id"]
        messages = c.check(
            "/v1/messages",
            "get",
            client.get("/v1/messages", params={"conversation_id": conversation, "user": "u-1"}),
        )
        message_id = messages["data"][0]["id"]
        c.check(
            "/v1/messages/{message_id}/feedbacks",
            "post",
            client.post(f"/v1/messages/{message_id}/feedbacks", json={"rating": "like", "user": "u-1"}),
        )
        c.check("/v1/app/feedbacks", "get", client.get("/v1/app/feedbacks"))
        c.check(
            "/v1/messages/{message_id}/suggested",
            "get",
            client.get(f"/v1/messages/{message_id}/suggested", params={"user": "u-1"}),
        )  # disabled: 400
        c.check("/v1/conversations", "get", client.get("/v1/conversations", params={"user": "u-1"}))
        c.check(
            "/v1/conversations/{conversation_id}/name",
            "post",
            client.post(f"/v1/conversations/{conversation}/name", json={"name": "Renamed", "user": "u-1"}),
        )
        c.check(
            "/v1/conversations/{conversation_id}/variables",
            "get",
            client.get(f"/v1/conversations/{conversation}/variables", params={"user": "u-1"}),
        )
        c.check(
            "/v1/chat-messages/{task_id}/stop",
            "post",
            client.post(f"/v1/chat-messages/{answer['task_id']}/stop", json={"user": "u-1"}),
        )
        c.check(
            "/v1/conversations/{conversation_id}",
            "delete",
            client.request("DELETE", f"/v1/conversations/{conversation}", json={"user": "u-1"}),
        )
        c.check(
            "/v1/messages", "get", client.get("/v1/messages", params={"conversation_id": str(uuid.uuid4())})
        )
        c.check("/v1/chat-messages", "post", client.post("/v1/chat-messages", content=b"{not json"))
        c.check(
            "/v1/completion-messages",
            "post",
            client.post("/v1/completion-messages", json={"inputs": {}, "user": "u"}),
        )  # a chat app: 400 app_unavailable
        c.check("/v1/files/upload", "post", client.post("/v1/files/upload", data={"user": "u-1"}))  # no file
        c.check("/v1/text-to-audio", "post", client.post("/v1/text-to-audio", json={"text": "hi"}))  # TTS off
        c.check(
            "/v1/workflows/run", "post", client.post("/v1/workflows/run", json={"inputs": {}, "user": "u"})
        )
        c.check("/v1/workflows/logs", "get", client.get("/v1/workflows/logs"))
        c.check("/v1/info", "get", client.get("/v1/info", headers={"Authorization": "Bearer app-nope"}))
    with httpx.Client(
        base_url=live_url, headers={"Authorization": f"Bearer {api.completion_key}"}, timeout=60
    ) as client:
        body = {"inputs": {"topic": "otters"}, "user": "w-1"}
        c.check("/v1/completion-messages", "post", client.post("/v1/completion-messages", json=body))
        c.check("/v1/completion-messages", "post", _sse_request(client, "/v1/completion-messages", body))
    with httpx.Client(base_url=live_url, headers={"Authorization": f"Bearer {wf.key}"}, timeout=60) as client:
        run = c.check(
            "/v1/workflows/run",
            "post",
            client.post("/v1/workflows/run", json={"inputs": {"q": "Why?"}, "user": "w-1"}),
        )
        events = c.check(
            "/v1/workflows/run",
            "post",
            _sse_request(client, "/v1/workflows/run", {"inputs": {"q": "Why?"}, "user": "w-1"}),
        )
        assert events[0]["event"] == "workflow_started" and events[-1]["event"] == "workflow_finished"
        assert {"node_started", "node_finished"} <= {e["event"] for e in events}
        c.check(
            "/v1/workflows/run/{run_id}", "get", client.get(f"/v1/workflows/run/{run['workflow_run_id']}")
        )
        c.check("/v1/workflows/run/{run_id}", "get", client.get(f"/v1/workflows/run/{uuid.uuid4()}"))
        c.check("/v1/workflows/logs", "get", client.get("/v1/workflows/logs"))
        c.check(
            "/v1/workflows/tasks/{task_id}/stop",
            "post",
            client.post(f"/v1/workflows/tasks/{run['task_id']}/stop", json={"user": "w-1"}),
        )
        c.check("/v1/parameters", "get", client.get("/v1/parameters"))
    with httpx.Client(
        base_url=live_url, headers={"Authorization": f"Bearer {wf.chat_key}"}, timeout=60
    ) as client:
        turn = {"query": "Hi", "inputs": {}, "user": "c-1"}
        events = c.check("/v1/chat-messages", "post", _sse_request(client, "/v1/chat-messages", turn))
        assert events[-1]["event"] == "message_end" and events[0]["event"] == "workflow_started"
        blocking = c.check("/v1/chat-messages", "post", client.post("/v1/chat-messages", json=turn))
        variables = c.check(
            "/v1/conversations/{conversation_id}/variables",
            "get",
            client.get(f"/v1/conversations/{blocking['conversation_id']}/variables", params={"user": "c-1"}),
        )
        variable = variables["data"][0]
        c.check(
            "/v1/conversations/{conversation_id}/variables/{variable_id}",
            "put",
            client.put(
                f"/v1/conversations/{blocking['conversation_id']}/variables/{variable['id']}",
                json={"value": 5, "user": "c-1"},
            ),
        )
        c.check("/v1/parameters", "get", client.get("/v1/parameters"))
    assert len(c.checked) >= 28


@pytest.mark.django_db(transaction=True)
def test_real_knowledge_api_responses_conform(live_url, world_tx) -> None:
    with schema_context(world_tx.alpha.schema_name):
        _, raw = keys.api_key_create(actor_id=world_tx.owner.user_id)
    c = Conformance(served_schema())
    with httpx.Client(base_url=live_url, headers={"Authorization": f"Bearer {raw}"}, timeout=120) as client:
        created = c.check(
            "/v1/datasets",
            "post",
            client.post(
                "/v1/datasets",
                json={
                    "name": "Handbook",
                    "indexing_technique": "high_quality",
                    "embedding_model_provider": "local",
                    "embedding_model": "all-MiniLM-L6-v2",
                },
            ),
        )
        d = created["id"]
        c.check("/v1/datasets", "post", client.post("/v1/datasets", json={"name": "Handbook"}))  # 409
        c.check("/v1/datasets", "get", client.get("/v1/datasets"))
        c.check("/v1/datasets/{dataset_id}", "get", client.get(f"/v1/datasets/{d}"))
        c.check(
            "/v1/datasets/{dataset_id}",
            "patch",
            client.patch(f"/v1/datasets/{d}", json={"description": "HR"}),
        )
        field = c.check(
            "/v1/datasets/{dataset_id}/metadata",
            "post",
            client.post(f"/v1/datasets/{d}/metadata", json={"type": "string", "name": "team"}),
        )
        made = c.check(
            "/v1/datasets/{dataset_id}/document/create_by_text",
            "post",
            client.post(
                f"/v1/datasets/{d}/document/create_by_text",
                json={
                    "name": "policy.txt",
                    "text": "Refunds within 30 days.\n\nThe office cat is Miso.",
                    "process_rule": {"mode": "automatic"},
                },
            ),
        )
        doc = made["document"]["id"]
        c.check(
            "/v1/datasets/{dataset_id}/documents/{batch}/indexing-status",
            "get",
            client.get(f"/v1/datasets/{d}/documents/{made['batch']}/indexing-status"),
        )
        c.check(
            "/v1/datasets/{dataset_id}/documents/metadata",
            "post",
            client.post(
                f"/v1/datasets/{d}/documents/metadata",
                json={
                    "operation_data": [
                        {
                            "document_id": doc,
                            "metadata_list": [{"id": field["id"], "name": "team", "value": "HR"}],
                        }
                    ]
                },
            ),
        )
        c.check("/v1/datasets/{dataset_id}/documents", "get", client.get(f"/v1/datasets/{d}/documents"))
        for metadata in ("all", "only", "without"):
            c.check(
                "/v1/datasets/{dataset_id}/documents/{document_id}",
                "get",
                client.get(f"/v1/datasets/{d}/documents/{doc}", params={"metadata": metadata}),
            )
        segments = c.check(
            "/v1/datasets/{dataset_id}/documents/{document_id}/segments",
            "get",
            client.get(f"/v1/datasets/{d}/documents/{doc}/segments"),
        )
        segment = segments["data"][0]["id"]
        c.check(
            "/v1/datasets/{dataset_id}/documents/{document_id}/segments/{segment_id}",
            "get",
            client.get(f"/v1/datasets/{d}/documents/{doc}/segments/{segment}"),
        )
        c.check(
            "/v1/datasets/{dataset_id}/documents/{document_id}/segments/{segment_id}",
            "post",
            client.post(
                f"/v1/datasets/{d}/documents/{doc}/segments/{segment}",
                json={"segment": {"keywords": ["cat"]}},
            ),
        )
        c.check(
            "/v1/datasets/{dataset_id}/documents/{document_id}/segments",
            "post",
            client.post(
                f"/v1/datasets/{d}/documents/{doc}/segments",
                json={"segments": [{"content": "Lunch is at noon."}]},
            ),
        )
        c.check(
            "/v1/datasets/{dataset_id}/retrieve",
            "post",
            client.post(f"/v1/datasets/{d}/retrieve", json={"query": "office cat"}),
        )
        c.check("/v1/datasets/{dataset_id}/metadata", "get", client.get(f"/v1/datasets/{d}/metadata"))
        c.check(
            "/v1/datasets/{dataset_id}/metadata/built-in",
            "get",
            client.get(f"/v1/datasets/{d}/metadata/built-in"),
        )
        c.check(
            "/v1/datasets/{dataset_id}/metadata/built-in/{action}",
            "post",
            client.post(f"/v1/datasets/{d}/metadata/built-in/enable"),
        )
        c.check(
            "/v1/datasets/{dataset_id}/metadata/{metadata_id}",
            "patch",
            client.patch(f"/v1/datasets/{d}/metadata/{field['id']}", json={"name": "group"}),
        )
        c.check(
            "/v1/datasets/{dataset_id}/documents/status/{action}",
            "patch",
            client.patch(f"/v1/datasets/{d}/documents/status/disable", json={"document_ids": [doc]}),
        )
        c.check(
            "/v1/datasets/{dataset_id}/documents/{document_id}/segments/{segment_id}",
            "delete",
            client.delete(f"/v1/datasets/{d}/documents/{doc}/segments/{segment}"),
        )
        c.check(
            "/v1/datasets/{dataset_id}/metadata/{metadata_id}",
            "delete",
            client.delete(f"/v1/datasets/{d}/metadata/{field['id']}"),
        )
        c.check(
            "/v1/datasets/{dataset_id}/documents/{document_id}",
            "delete",
            client.delete(f"/v1/datasets/{d}/documents/{doc}"),
        )
        c.check("/v1/datasets/{dataset_id}", "get", client.get(f"/v1/datasets/{uuid.uuid4()}"))  # 404
        c.check("/v1/datasets/{dataset_id}", "delete", client.delete(f"/v1/datasets/{d}"))
        c.check(
            "/v1/datasets", "get", client.get("/v1/datasets", headers={"Authorization": "Bearer dataset-no"})
        )
    assert len(c.checked) >= 25
