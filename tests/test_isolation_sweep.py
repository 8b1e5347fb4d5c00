"""Issue 20, item 8: every /v1 route and every WebApp route, called with workspace B's key or site
code and workspace A's ids, reveals nothing of A and changes nothing of A.

The routes are read from the URL resolver, so a new route joins the sweep by itself; ROUTES names
each route pattern with the requests to send, and the test fails when the resolver has a pattern
ROUTES lacks (add it, with its requests) or ROUTES has one the resolver lost. Each request must
answer without a server error, with no content of A in its body and no id of A it was not given;
`EXPECT` pins the status of the routes whose answer to a foreign id is a 404 (a few answer as the
reference server does, e.g. stop is always "success" and a foreign workflow run reads as all
nulls). Afterwards a snapshot of A's rows is compared with the one taken before."""

import json
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from apps.applications import services as apps
from apps.applications.models import App, Site, UploadFile
from apps.applications.webapp import identity
from apps.datasets import keys as dataset_keys
from apps.datasets import services as datasets
from apps.datasets.models import Dataset, Document, MetadataField, Segment
from apps.logs.models import CompletionBatch, Conversation, EndUser, Message, MessageFeedback, Source
from apps.workflows.models import ConversationVariable, Workflow, WorkflowRun
from tests.datasets.conftest import add_text
from tests.fakes.base import Reply
from tests.workflows.conftest import MODEL, build

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "alpha-secret-7f3c"  # in every piece of A's content the sweep could leak
WEB = {"X-Tessera-WebApp": "1"}
J = "json"

# pattern → [(method, body)], the body a JSON object (J-encoded) or multipart ("files") or None.
_KAPI = "v1/datasets/<uuid:dataset_id>/"
_DOC = _KAPI + "documents/<uuid:document_id>/"
ROUTES: dict[str, list[tuple[str, Any]]] = {
    # The Knowledge API (B's dataset key)
    "v1/datasets": [("get", None)],
    "v1/datasets/<uuid:dataset_id>": [("get", None), ("patch", {"name": "B was here"}), ("delete", None)],
    _KAPI + "documents/status/<str:action>": [("patch", {"document_ids": ["{document_id}"]})],
    _KAPI + "document/create_by_text": [("post", {"name": "b", "text": "b"})],
    _KAPI + "document/create-by-text": [("post", {"name": "b", "text": "b"})],
    _KAPI + "document/create_by_file": [("post", "files")],
    _KAPI + "document/create-by-file": [("post", "files")],
    _DOC + "update_by_text": [("post", {"name": "b", "text": "b"})],
    _DOC + "update-by-text": [("post", {"name": "b", "text": "b"})],
    _DOC + "update_by_file": [("post", "files")],
    _DOC + "update-by-file": [("post", "files")],
    _KAPI + "documents": [("get", None)],
    _KAPI + "documents/metadata": [("post", {"operation_data": [{
        "document_id": "{document_id}", "partial_update": False,
        "metadata_list": [{"id": "{metadata_id}", "name": "team", "value": "b"}]}]})],
    _KAPI + "documents/<str:batch>/indexing-status": [("get", None)],
    _KAPI + "documents/<uuid:document_id>": [("get", None), ("delete", None)],
    _DOC + "segments": [("get", None), ("post", {"segments": [{"content": "b"}]})],
    _DOC + "segment": [("get", None), ("post", {"segments": [{"content": "b"}]})],
    _DOC + "segments/<uuid:segment_id>": [("get", None), ("post", {"segment": {"content": "b"}}),
                                          ("delete", None)],
    _KAPI + "retrieve": [("post", {"query": SECRET})],
    _KAPI + "hit-testing": [("post", {"query": SECRET})],
    _KAPI + "metadata": [("get", None), ("post", {"type": "string", "name": "b"})],
    _KAPI + "metadata/built-in": [("get", None)],
    _KAPI + "metadata/built-in/<str:action>": [("post", None)],
    _KAPI + "metadata/<uuid:metadata_id>": [("patch", {"name": "b"}), ("delete", None)],
    # The Service API (B's app keys)
    "v1/": [("get", None)],
    "v1/docs": [("get", None)],
    "v1/openapi.json": [("get", None)],
    "v1/docs/swagger": [("get", None)],
    "v1/docs/redoc": [("get", None)],
    "v1/chat-messages": [("post", {"query": "hi", "inputs": {}, "user": "u-1", "response_mode": "blocking",
                                   "conversation_id": "{conversation_id}"})],
    "v1/chat-messages/<str:task_id>/stop": [("post", {"user": "u-1"})],
    "v1/completion-messages": [("post", {"inputs": {"query": "x"}, "user": "u-1", "response_mode": "blocking",
                                         "files": [{"type": "document", "transfer_method": "local_file",
                                                    "upload_file_id": "{file_id}"}]})],
    "v1/completion-messages/<str:task_id>/stop": [("post", {"user": "u-1"})],
    "v1/messages": [("get", {"user": "u-1", "conversation_id": "{conversation_id}"})],
    "v1/messages/<str:message_id>/feedbacks": [("post", {"rating": "dislike", "user": "u-1"})],
    "v1/messages/<str:message_id>/suggested": [("get", {"user": "u-1"})],
    "v1/app/feedbacks": [("get", None)],
    "v1/conversations": [("get", {"user": "u-1"})],
    "v1/conversations/<str:conversation_id>": [("delete", {"user": "u-1"})],
    "v1/conversations/<str:conversation_id>/name": [("post", {"name": "B was here", "user": "u-1"})],
    "v1/conversations/<str:conversation_id>/variables": [("get", {"user": "u-1"})],
    "v1/conversations/<str:conversation_id>/variables/<str:variable_id>": [("put", {"value": 99, "user": "u-1"})],
    "v1/parameters": [("get", None)],
    "v1/meta": [("get", None)],
    "v1/info": [("get", None)],
    "v1/site": [("get", None)],
    "v1/files/upload": [("post", "files")],
    "v1/files/<str:file_id>/preview": [("get", {"user": "u-1"})],
    "v1/files/<str:file_id>/file-preview": [("get", None)],
    "v1/workflows/run": [("post", {"inputs": {"q": "x", "n": "1"}, "user": "u-1", "response_mode": "blocking",
                                   "files": [{"type": "document", "transfer_method": "local_file",
                                              "upload_file_id": "{file_id}"}]})],
    "v1/workflows/run/<str:run_id>": [("get", None)],
    "v1/workflows/tasks/<str:task_id>/stop": [("post", {"user": "u-1"})],
    "v1/workflows/logs": [("get", None)],
    "v1/workflows/<str:workflow_id>/run": [("post", {"inputs": {"q": "x", "n": "1"}, "user": "u-1",
                                                     "response_mode": "blocking"})],
    "v1/audio-to-text": [("post", "files")],
    "v1/text-to-audio": [("post", {"message_id": "{message_id}", "user": "u-1"})],
}
_W = "webapp/<str:code>/api/"
WEBAPP_ROUTES: dict[str, list[tuple[str, Any]]] = {
    "chat/<str:code>": [("get", None)],
    "completion/<str:code>": [("get", None)],
    "webapp/embed.js": [("get", None)],
    _W + "site": [("get", None)],
    _W + "parameters": [("get", None)],
    _W + "chat-messages": [("post", {"query": "hi", "inputs": {}, "conversation_id": "{web_conversation_id}",
                                     "response_mode": "blocking"})],
    _W + "chat-messages/<str:task_id>/stop": [("post", {})],
    _W + "completion-messages": [("post", {"inputs": {"query": "x"}, "response_mode": "blocking"})],
    _W + "completion-messages/<str:task_id>/stop": [("post", {})],
    _W + "messages": [("get", {"conversation_id": "{web_conversation_id}"})],
    _W + "messages/<str:message_id>/feedbacks": [("post", {"rating": "dislike"})],
    _W + "messages/<str:message_id>/suggested": [("get", None)],
    _W + "conversations": [("get", None)],
    _W + "conversations/<str:conversation_id>": [("delete", None)],
    _W + "conversations/<str:conversation_id>/name": [("post", {"name": "B was here"})],
    _W + "conversations/<str:conversation_id>/pin": [("patch", None), ("post", None)],
    _W + "conversations/<str:conversation_id>/unpin": [("patch", None), ("post", None)],
    _W + "files/upload": [("post", "files")],
    _W + "audio-to-text": [("post", "files")],
    _W + "text-to-audio": [("post", {"message_id": "{web_message_id}"})],
    _W + "messages/<str:message_id>/more-like-this": [("get", {"response_mode": "blocking"})],
    _W + "saved-messages": [("get", None), ("post", {"message_id": "{web_message_id}"})],
    _W + "saved-messages/<str:message_id>": [("delete", None)],
    _W + "completion-batches": [("get", None)],
    _W + "completion-batches/template": [("get", None)],
    _W + "completion-batches/<str:batch_id>": [("get", None)],
    _W + "completion-batches/<str:batch_id>/export": [("get", None)],
}
# Routes whose every request, with A's id in the path, must be a 404.
EXPECT_404 = {
    *[p for p in ROUTES if p.startswith(_KAPI) and "<uuid:dataset_id>" in p],
    "v1/datasets/<uuid:dataset_id>",
    "v1/messages/<str:message_id>/feedbacks", "v1/messages/<str:message_id>/suggested",
    "v1/conversations/<str:conversation_id>", "v1/conversations/<str:conversation_id>/name",
    "v1/conversations/<str:conversation_id>/variables",
    "v1/conversations/<str:conversation_id>/variables/<str:variable_id>",
    "v1/workflows/<str:workflow_id>/run", "v1/files/<str:file_id>/preview",
    _W + "messages/<str:message_id>/feedbacks", _W + "conversations/<str:conversation_id>",
    _W + "conversations/<str:conversation_id>/name", _W + "conversations/<str:conversation_id>/pin",
    _W + "conversations/<str:conversation_id>/unpin", _W + "completion-batches/<str:batch_id>",
    _W + "completion-batches/<str:batch_id>/export",
}


def resolver_routes(urlconf: str | None = None) -> set[str]:
    """Every URL pattern of the site (or of `urlconf`) as a route string (includes joined)."""
    def walk(patterns: list, prefix: str) -> set[str]:
        found: set[str] = set()
        for entry in patterns:
            if isinstance(entry, URLResolver):
                found |= walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                found.add(prefix + str(entry.pattern))
        return found

    return walk(get_resolver(urlconf).url_patterns, "")


def test_the_route_tables_match_the_resolver() -> None:
    routes = resolver_routes()
    v1 = {r for r in routes if r.startswith("v1/")}
    webapp = {r for r in routes if r.startswith(("webapp/", "chat/", "completion/"))}
    assert v1 - set(ROUTES) == set(), "new /v1 routes: add them to ROUTES in tests/test_isolation_sweep.py"
    assert set(ROUTES) - v1 == set(), "ROUTES names /v1 routes the resolver no longer has"
    assert webapp - set(WEBAPP_ROUTES) == set(), "new WebApp routes: add them to WEBAPP_ROUTES"
    assert set(WEBAPP_ROUTES) - webapp == set(), "WEBAPP_ROUTES names routes the resolver no longer has"
    assert EXPECT_404 <= set(ROUTES) | set(WEBAPP_ROUTES)


# --- Workspace A's data, and B's callers ---------------------------------------------------------------


def _client_call(client: Client, method: str, path: str, body: Any, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    if body == "files":
        from django.core.files.uploadedfile import SimpleUploadedFile

        payload = {"file": SimpleUploadedFile("b.txt", b"B's file", content_type="text/plain"), "user": "u-1",
                   "data": json.dumps({"indexing_technique": "economy", "process_rule": {"mode": "automatic"}})}
        return client.post(path, payload, headers=headers)
    if method == "get":
        return client.get(path, body or {}, headers=headers)
    data = json.dumps(body) if body is not None else ""
    return getattr(client, method)(path, data, content_type="application/json", headers=headers)


def _seed(world, fake) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A's chatflow conversation (with a variable), a WebApp conversation, an uploaded file, a
    workflow run, a completion batch and a dataset with a document, segment and metadata field;
    B's keys and site code."""
    setup = build(world, fake)
    fake.script("chat", Reply(f"{SECRET} answer"), Reply(f"{SECRET} run"))
    client, a = Client(), {"Authorization": f"Bearer {setup.chat_key}"}
    chat = client.post("/v1/chat-messages", json.dumps({"query": SECRET, "inputs": {}, "user": "u-1",
                                                        "response_mode": "blocking"}),
                       content_type="application/json", headers=a).json()
    variables = client.get(f"/v1/conversations/{chat['conversation_id']}/variables", {"user": "u-1"},
                           headers=a).json()["data"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = client.post("/v1/files/upload", {"file": SimpleUploadedFile(f"{SECRET}.txt", SECRET.encode(),
                                                                         content_type="text/plain"),
                                              "user": "u-1"}, headers=a).json()
    run = client.post("/v1/workflows/run", json.dumps({"inputs": {"q": SECRET, "n": "1"}, "user": "u-1",
                                                       "response_mode": "blocking"}),
                      content_type="application/json", headers={"Authorization": f"Bearer {setup.key}"}).json()
    with schema_context(world.alpha.schema_name):
        site = apps.site_get_or_create(app=setup.chat)
        end_user, _ = identity.end_user_for_token(setup.chat, None)
        web_conversation = Conversation.objects.create(app=setup.chat, end_user=end_user, from_source=Source.WEBAPP,
                                                       mode="chat", name=SECRET, inputs={})
        web_message = Message.objects.create(app=setup.chat, conversation=web_conversation, end_user=end_user,
                                             from_source=Source.WEBAPP, query=SECRET, answer=SECRET,
                                             status="normal")
        batch = CompletionBatch.objects.create(app=setup.chat, end_user=end_user, file_name=SECRET)
        dataset = datasets.dataset_create(name=SECRET[:40], actor_id=None, indexing_technique="economy")
        document = add_text(world, dataset, f"{SECRET} document text.", name=f"{SECRET}.txt")
        field = datasets.metadata_field_create(dataset=dataset, name="team", type="string")
        segment_id = str(document.segments.get().pk)
        version = str(Workflow.objects.filter(app=setup.workflow).exclude(version="draft").get().pk)
    with schema_context(world.beta.schema_name):
        beta_chat = apps.app_create(name="Beta chat", mode="chat", config={"model": MODEL})
        apps.app_publish(app=beta_chat)
        _, beta_chat_key = apps.api_key_create(app=beta_chat)
        _, beta_dataset_key = dataset_keys.api_key_create()
        beta_code = apps.site_get_or_create(app=beta_chat).code
        _, beta_token = identity.end_user_for_token(beta_chat, None)
        beta_writer = apps.app_create(name="Beta writer", mode="completion", config={
            "model": MODEL, "pre_prompt": "{{query}}",
            "user_input_form": [{"paragraph": {"variable": "query", "label": "Query", "required": True}}]})
        apps.app_publish(app=beta_writer)
        writer_code = apps.site_get_or_create(app=beta_writer).code
        _, writer_token = identity.end_user_for_token(beta_writer, None)
    assert chat.get("message_id") and run.get("workflow_run_id") and upload.get("id"), (chat, run, upload)
    return {
        "ids": {"conversation_id": chat["conversation_id"], "message_id": chat["message_id"],
                "task_id": chat["task_id"], "variable_id": variables[0]["id"], "file_id": upload["id"],
                "run_id": run["workflow_run_id"], "workflow_id": version, "web_conversation_id": str(web_conversation.pk),
                "web_message_id": str(web_message.pk), "batch_id": str(batch.pk), "dataset_id": str(dataset.pk),
                "document_id": str(document.pk), "segment_id": segment_id,
                "metadata_id": str(field.pk), "batch": document.batch, "action": "disable", "code": beta_code},
        "alpha_code": site.code,
        "keys": {"kapi": beta_dataset_key, "app": [setup.beta_key, beta_chat_key]},
        "web": [(beta_chat, beta_code, beta_token), (beta_writer, writer_code, writer_token)],
    }


def _snapshot(schema: str) -> dict[str, Any]:
    with schema_context(schema):
        return {
            "conversations": sorted(Conversation.objects.values_list("id", "name", "pinned", "is_deleted")),
            "messages": sorted(Message.objects.values_list("id", "answer")),
            "feedbacks": MessageFeedback.objects.count(),
            "variables": sorted(ConversationVariable.objects.values_list("id", "value")),
            "files": UploadFile.objects.count(),
            "runs": WorkflowRun.objects.count(),
            "batches": CompletionBatch.objects.count(),
            "datasets": sorted(Dataset.objects.values_list("id", "name", "built_in_field_enabled")),
            "documents": sorted(Document.objects.values_list("id", "name", "enabled", "archived", "metadata")),
            "segments": sorted(Segment.objects.values_list("id", "content", "enabled")),
            "fields": sorted(MetadataField.objects.values_list("id", "name")),
            "sites": sorted(Site.objects.values_list("code", flat=True)),
            "end_users": EndUser.objects.count(),
        }


def _fill(route: str, ids: dict[str, Any]) -> str:
    path = route
    for name, value in ids.items():
        for conv in ("str", "uuid"):
            path = path.replace(f"<{conv}:{name}>", str(value))
    assert "<" not in path, path
    return "/" + path


def _fill_body(body: Any, ids: dict[str, Any]) -> Any:
    if body is None or body == "files":
        return body
    text = json.dumps(body)
    for name, value in ids.items():
        text = text.replace("{" + name + "}", str(value))
    return json.loads(text)


def _check(response, route: str, path: str, body: Any, ids: dict[str, Any]) -> bool:  # type: ignore[no-untyped-def]
    """Assert the response leaks nothing; True when it is the 404 of an unknown id."""
    where = f"{route} {path}"
    assert response.status_code < 500, (where, response.status_code, response.content[:300])
    content = b"".join(response.streaming_content) if response.streaming else response.content
    text = content.decode(errors="replace")
    assert SECRET not in text, (where, text[:300])
    given = path + json.dumps(body)
    for name, value in ids.items():
        if value and name not in ("action", "code", "batch") and str(value) not in given:
            assert str(value) not in text, (where, name, text[:300])
    if route in EXPECT_404 and response.status_code != 404:
        # A key of the wrong app mode is refused before any id is looked up (e.g. not_chat_app);
        # the sweep still needs one 404 for the route from B's key of the right mode.
        assert response.status_code == 400 and json.loads(text)["code"].endswith("_app"), (where, text[:300])
    return response.status_code == 404


def test_every_v1_route_refuses_workspace_as_ids_to_bs_keys(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    seeded = _seed(world_tx, fake_openai)
    ids = seeded["ids"]
    before = _snapshot("ws_alpha")
    fake_openai.script("chat", *[Reply("beta's own answer")] * 20)
    swept, not_found = set(), set()
    for route, requests in ROUTES.items():
        keys = [seeded["keys"]["kapi"]] if route.startswith("v1/datasets") else seeded["keys"]["app"]
        for method, body in requests:
            for key in keys:
                path, filled = _fill(route, ids), _fill_body(body, ids)
                response = _client_call(Client(), method, path, filled, {"Authorization": f"Bearer {key}"})
                if _check(response, route, path, filled, ids):
                    not_found.add(route)
                swept.add(route)
    assert swept == set(ROUTES)
    assert {r for r in EXPECT_404 if r.startswith("v1/")} - not_found == set()
    assert _snapshot("ws_alpha") == before


def test_every_webapp_route_refuses_workspace_as_ids_to_bs_site_code(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    seeded = _seed(world_tx, fake_openai)
    ids = {**seeded["ids"], "message_id": seeded["ids"]["web_message_id"],
           "conversation_id": seeded["ids"]["web_conversation_id"]}
    before = _snapshot("ws_alpha")
    fake_openai.script("chat", *[Reply("beta's own answer")] * 20)
    not_found = set()
    for route, requests in WEBAPP_ROUTES.items():
        for method, body in requests:
            for app, code, token in seeded["web"]:  # B's chat and completion WebApps, each with its visitor
                client = Client()
                client.cookies[identity.cookie_name(app)] = token
                path, filled = _fill(route, {**ids, "code": code}), _fill_body(body, ids)
                response = _client_call(client, method, path, filled, WEB)
                if _check(response, route, path, filled, ids):
                    not_found.add(route)
    assert {r for r in EXPECT_404 if not r.startswith("v1/")} - not_found == set()
    assert _snapshot("ws_alpha") == before
    assert seeded["alpha_code"] not in {code for _, code, _ in seeded["web"]}


# --- The console: every workspace route, sync and async, with A's ids under B's workspace ----------------

CONSOLE_IDS = ("app_id", "key_id", "message_id", "task_id", "conversation_id", "node_id", "run_id", "workflow_id",
               "dataset_id", "document_id", "segment_id", "field_id", "invitation_id", "member_id",
               "credential_id")


def test_every_console_route_with_an_id_is_404_for_another_workspaces_ids(world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """B's owner, in B's console, names A's ids in every route that takes one (GET and POST; the
    async debug chat, workflow run and stop views among them): each is a 404 and A is unchanged.
    Routes without an id are B's own pages: they show nothing of A."""
    from apps.applications.models import ApiKey
    from apps.datasets.models import DatasetApiKey
    from apps.providers.models import ProviderCredential
    from apps.workspaces import services as workspaces
    from tests.conftest import client_for

    seeded = _seed(world_tx, fake_openai)
    ids = seeded["ids"]
    invitation = workspaces.invitation_create(actor=world_tx.owner, email="sweep@alpha.test", role="normal")
    with schema_context("ws_alpha"):
        app_id = str(App.objects.get(name="Chatflow").pk)
        console_ids = {
            "app_id": app_id, "key_id": str(ApiKey.objects.filter(app_id=app_id).first().pk),
            "message_id": ids["message_id"], "task_id": str(uuid4()), "conversation_id": ids["conversation_id"],
            "node_id": "llm", "run_id": ids["run_id"], "workflow_id": ids["workflow_id"],
            "dataset_id": ids["dataset_id"], "document_id": ids["document_id"], "segment_id": ids["segment_id"],
            "field_id": ids["metadata_id"], "invitation_id": str(invitation.invitation.pk),
            "member_id": str(world_tx.admin.pk), "credential_id": str(ProviderCredential.objects.first().pk),
            "action": "disable", "provider": "openai_api_compatible",
        }
        dataset_key = DatasetApiKey.objects.first()
        if dataset_key is None:
            dataset_key, _ = dataset_keys.api_key_create()
        console_ids["key_id_dataset"] = str(dataset_key.pk)
    routes = resolver_routes("config.urls_tenant")
    with_ids = {r for r in routes if any(f":{name}>" in r for name in CONSOLE_IDS)}
    assert len(with_ids) >= 40, sorted(with_ids)
    assert "apps/<uuid:app_id>/debug/chat/" in with_ids and "apps/<uuid:app_id>/workflow/run/" in with_ids
    before = _snapshot("ws_alpha")
    bruno = client_for(world_tx.other.user)  # the owner of beta
    form = {"query": "B asks", "inputs": "{}", "name": "B was here", "role": "normal", "rating": "like",
            "content": "b", "type": "string", "user": "u", "response_mode": "blocking"}
    for route in sorted(with_ids):
        filled = {**console_ids, "key_id": console_ids["key_id_dataset"]} if route.startswith("datasets/api/") \
            else console_ids
        path = "/console/beta/" + route
        for name, value in filled.items():
            path = path.replace(f"<uuid:{name}>", value).replace(f"<str:{name}>", value) \
                .replace(f"<int:{name}>", value).replace(f"<slug:{name}>", value)
        assert "<" not in path, path
        statuses = []
        for method in ("get", "post"):
            response = getattr(bruno, method)(path, form)
            content = b"".join(response.streaming_content) if response.streaming else response.content
            # 405: the view takes only the other method, refused before any lookup.
            assert response.status_code in (404, 405), (method, path, response.status_code, content[:200])
            assert SECRET.encode() not in content
            statuses.append(response.status_code)
        assert 404 in statuses, path
    for route in sorted(routes - with_ids):
        path = "/console/beta/" + route.replace("<slug:provider>", "openai")
        response = bruno.get(path)
        assert response.status_code < 500 and SECRET.encode() not in response.content, (path, response.status_code)
    assert _snapshot("ws_alpha") == before
    with schema_context("ws_alpha"):
        assert App.objects.filter(pk=app_id).exists()
