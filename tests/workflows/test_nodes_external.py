"""Nodes that reach a model, a server, the sandbox or stored files: LLM (context, memory, vision,
jinja2), Question Classifier, Parameter Extractor, HTTP Request (through the SSRF guard), Code
(through the sandbox) and Document Extractor."""

import asyncio
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_tenants.utils import schema_context

from apps.applications.models import App, UploadFile
from tests.fakes.base import FakeToolCall, Reply
from tests.workflows.conftest import MODEL, setup_model
from tests.workflows.helpers import arun, chain, edge, graph, node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

START = node("start", "start", variables=[{"variable": "q", "type": "text-input"}])


def end(**outputs: list[str]) -> dict:
    return node("end", "end", outputs=[{"variable": k, "value_selector": v} for k, v in outputs.items()])


@pytest.fixture
def alpha(world_tx, fake_openai):  # type: ignore[no-untyped-def]
    with schema_context(world_tx.alpha.schema_name):
        setup_model(fake_openai)
    return world_tx.alpha


async def one(tenant, node_data: dict, inputs: dict | None = None, **kwargs):  # type: ignore[no-untyped-def]
    outputs = kwargs.pop("outputs", {"r": [node_data["id"], "text"]})
    raw = graph([START, node_data, end(**outputs)], chain("start", node_data["id"], "end"))
    return await arun(raw, inputs or {}, tenant=tenant, **kwargs)


# --- LLM ----------------------------------------------------------------------------------------


async def test_llm_prompt_with_context_jinja_and_usage(alpha, fake_openai) -> None:
    fake_openai.script("chat", Reply("fine answer", usage=(30, 2)))
    data = node("llm", "llm", model=MODEL, context={"enabled": True, "variable_selector": ["sys", "chunks"]},
                prompt_template=[{"role": "system", "text": "Use: {{#context#}}"},
                                 {"role": "user", "edition_type": "jinja2", "jinja2_text": "Q={{ q | upper }}"}],
                prompt_config={"jinja2_variables": [{"variable": "q", "value_selector": ["start", "q"]}]})
    result = await one(alpha, data, {"q": "why"}, system={"chunks": [{"content": "c1"}, {"content": "c2"}]})
    assert result.status == "succeeded" and result.outputs == {"r": "fine answer"}
    assert fake_openai.requests[-1].json["messages"] == [{"role": "system", "content": "Use: c1\nc2"},
                                                         {"role": "user", "content": "Q=WHY"}]
    finished = result.finished("llm")
    assert finished["outputs"]["usage"]["total_tokens"] == 32 and finished["outputs"]["finish_reason"] == "stop"
    assert finished["execution_metadata"]["total_tokens"] == 32 and result.ctx.total_tokens == 32
    assert finished["process_data"]["prompts"][0]["text"] == "Use: c1\nc2"


async def test_llm_memory_window_in_a_chatflow_and_none_in_a_workflow(alpha, fake_openai) -> None:
    history = [("q1", "a1"), ("q2", "a2"), ("q3", "a3")]
    data = node("llm", "llm", model=MODEL, prompt_template=[{"role": "system", "text": "sys"}],
                memory={"window": {"enabled": True, "size": 2}, "query_prompt_template": "now: {{#sys.query#}}"})
    await one(alpha, data, mode="advanced-chat", system={"query": "q4"}, history=history,
              outputs={"r": ["llm", "text"]})
    sent = fake_openai.requests[-1].json["messages"]
    assert [m["content"] for m in sent] == ["sys", "q2", "a2", "q3", "a3", "now: q4"]
    await one(alpha, data, history=history, system={"query": "q4"})
    assert [m["content"] for m in fake_openai.requests[-1].json["messages"]] == ["sys"]


async def test_llm_vision_sends_image_files(alpha, fake_openai) -> None:
    image = {"type": "image", "url": "https://img.example/cat.png", "transfer_method": "remote_url"}
    data = node("llm", "llm", model=MODEL, prompt_template=[{"role": "user", "text": "what is it?"}],
                vision={"enabled": True, "configs": {"variable_selector": ["sys", "files"], "detail": "low"}})
    result = await one(alpha, data, system={"files": [image, {"type": "document", "url": "https://x/doc.pdf"}]})
    assert result.status == "succeeded"
    content = fake_openai.requests[-1].json["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "what is it?"}
    assert content[1]["image_url"] == {"url": "https://img.example/cat.png", "detail": "low"} and len(content) == 2


async def test_llm_errors_fail_the_node(alpha, fake_openai) -> None:
    no_model = node("llm", "llm", model={"provider": "", "name": ""}, prompt_template=[{"role": "user", "text": "x"}])
    result = await one(alpha, no_model)
    assert result.status == "failed" and "No model is selected" in result.error
    unknown = node("llm", "llm", model={"provider": "openai", "name": "gpt-4o"},
                   prompt_template=[{"role": "user", "text": "x"}])
    result = await one(alpha, unknown)
    assert result.status == "failed" and result.finished("llm")["status"] == "failed"
    assert "credentials" in result.error


# --- Question classifier and parameter extractor -------------------------------------------------

CLASSES = [{"id": "c-billing", "name": "billing"}, {"id": "c-tech", "name": "tech"}]


def _classifier() -> dict:
    return graph([START, node("qc", "question-classifier", model=MODEL, classes=CLASSES,
                              query_variable_selector=["start", "q"], instruction="Be strict."),
                  node("billing", "template-transform", template="to billing", variables=[]),
                  node("tech", "template-transform", template="to tech", variables=[])],
                 [edge("start", "qc"), edge("qc", "billing", "c-billing"), edge("qc", "tech", "c-tech")])


async def test_question_classifier_follows_the_class_edge(alpha, fake_openai) -> None:
    fake_openai.script("chat", Reply('{"category_id": "c-billing", "category_name": "billing"}'),
                       Reply("I think this is tech"), Reply("no idea"))
    billing = await arun(_classifier(), {"q": "my invoice is wrong"}, tenant=alpha)
    assert billing.ran() == ["start", "qc", "billing"]
    assert billing.finished("qc")["outputs"]["class_name"] == "billing"
    sent = fake_openai.requests[-1].json["messages"]
    assert "c-billing" in sent[0]["content"] and "Be strict." in sent[0]["content"]
    assert sent[-1] == {"role": "user", "content": "my invoice is wrong"}
    tech = await arun(_classifier(), {"q": "it crashes"}, tenant=alpha)
    assert tech.ran()[-1] == "tech"
    fallback = await arun(_classifier(), {"q": "hm"}, tenant=alpha)
    assert fallback.ran()[-1] == "billing"  # an answer that names no class falls back to the first


async def test_parameter_extractor_function_call_and_prompt_modes(alpha, fake_openai) -> None:
    params = [{"name": "city", "type": "string", "description": "city", "required": True},
              {"name": "days", "type": "number", "description": "days", "required": False},
              {"name": "tags", "type": "array[string]", "description": "tags", "required": False}]
    fake_openai.script("chat", Reply(tool_calls=[FakeToolCall("extract_parameters",
                                                             {"city": "Oslo", "days": 3, "tags": ["a"]})]))
    data = node("pe", "parameter-extractor", model=MODEL, query=["start", "q"], parameters=params,
                reasoning_mode="function_call")
    outputs = {"city": ["pe", "city"], "days": ["pe", "days"], "ok": ["pe", "__is_success"],
               "reason": ["pe", "__reason"]}
    result = await one(alpha, data, {"q": "3 days in Oslo"}, outputs=outputs)
    assert result.outputs == {"city": "Oslo", "days": 3, "ok": 1, "reason": None}
    assert fake_openai.requests[-1].json["tools"][0]["function"]["name"] == "extract_parameters"
    fake_openai.script("chat", Reply('Sure: {"days": "5"}'))
    prompt = node("pe", "parameter-extractor", model=MODEL, query=["start", "q"], parameters=params,
                  reasoning_mode="prompt")
    missing = await one(alpha, prompt, {"q": "5 days"}, outputs=outputs)
    assert missing.outputs == {"city": None, "days": 5, "ok": 0, "reason": "Missing required parameter: city"}
    reserved = node("pe", "parameter-extractor", model=MODEL, query=["start", "q"],
                    parameters=[{"name": "__reason", "type": "string"}])
    assert "reserved" in (await one(alpha, reserved, {"q": "x"}, outputs={})).error


# --- HTTP request -------------------------------------------------------------------------------

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


class Echo(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path.startswith("/image"):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)
            return
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
            return
        payload = json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers),
                              "body": body}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer


@pytest.fixture
def echo():  # type: ignore[no-untyped-def]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def http_node(url: str, **data) -> dict:  # type: ignore[no-untyped-def]
    return node("http", "http-request", url=url, **{"method": "get", "headers": "", "params": "",
                                                     "body": {"type": "none", "data": []}, **data})


HTTP_OUT = {"status": ["http", "status_code"], "body": ["http", "body"], "files": ["http", "files"]}


async def test_http_get_with_headers_params_and_auth(alpha, echo, settings) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.1/32"
    data = http_node(echo + "/echo", headers="X-Test:{{#start.q#}}", params="page:2\nq:{{#start.q#}}",
                     authorization={"type": "api-key", "config": {"type": "bearer", "api_key": "tok"}})
    result = await one(alpha, data, {"q": "hello"}, outputs=HTTP_OUT)
    assert result.status == "succeeded" and result.outputs["status"] == 200
    echoed = json.loads(result.outputs["body"])
    assert echoed["path"] == "/echo?page=2&q=hello" and echoed["headers"]["X-Test"] == "hello"
    assert echoed["headers"]["Authorization"] == "Bearer tok"
    assert result.finished("http")["process_data"]["request"]["headers"]["Authorization"] == "***"


@pytest.mark.parametrize(("body", "expected", "content_type"), [
    ({"type": "json", "data": [{"key": "", "type": "text", "value": '{"q": "{{#start.q#}}"}'}]}, '{"q": "hi"}',
     "application/json"),
    ({"type": "raw-text", "data": "plain {{#start.q#}}"}, "plain hi", "text/plain"),
    ({"type": "x-www-form-urlencoded", "data": [{"key": "a", "type": "text", "value": "{{#start.q#}}"}]}, "a=hi",
     "application/x-www-form-urlencoded"),
])
async def test_http_post_bodies(alpha, echo, settings, body, expected, content_type) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.1/32"
    result = await one(alpha, http_node(echo + "/post", method="POST", body=body), {"q": "hi"}, outputs=HTTP_OUT)
    echoed = json.loads(result.outputs["body"])
    assert result.outputs["status"] == 201 and echoed["body"] == expected
    assert echoed["headers"]["Content-Type"].startswith(content_type)


def _app() -> str:
    with schema_context("ws_alpha"):
        return str(App.objects.create(name="Files", mode="workflow").pk)


async def test_http_image_response_becomes_a_file(alpha, echo, settings) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.1/32"
    app_id = await asyncio.to_thread(_app)
    result = await one(alpha, http_node(echo + "/image/cat.png"), outputs=HTTP_OUT, app_id=app_id)
    assert result.status == "succeeded", result.error
    [file] = result.outputs["files"]
    assert result.outputs["body"] == "" and file["type"] == "image" and file["size"] == len(PNG)

    def stored() -> bytes:
        with schema_context("ws_alpha"):
            row = UploadFile.objects.get(pk=file["related_id"], app_id=app_id)
            with default_storage.open(row.key, "rb") as handle:
                return handle.read()

    assert await asyncio.to_thread(stored) == PNG


async def test_http_refuses_private_addresses_and_bad_config(alpha, echo, settings) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = ""
    blocked = await one(alpha, http_node(echo + "/echo"), outputs=HTTP_OUT)
    assert blocked.status == "failed" and blocked.finished("http")["status"] == "failed"
    assert "127.0.0.1" in blocked.error
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.1/32"
    redirected = await one(alpha, http_node(echo + "/redirect"), outputs=HTTP_OUT)
    assert redirected.status == "failed" and "169.254.169.254" in redirected.error
    assert "must start with http" in (await one(alpha, http_node("file:///etc/passwd"), outputs=HTTP_OUT)).error
    bad_json = http_node(echo, method="POST", body={"type": "json", "data": [{"key": "", "value": "{nope"}]})
    assert "not valid JSON" in (await one(alpha, bad_json, outputs=HTTP_OUT)).error


async def test_http_failure_with_default_value_strategy(alpha, settings) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = ""
    data = http_node("http://10.0.0.1/x", error_strategy="default-value",
                     default_value=[{"key": "status_code", "type": "number", "value": 599}])
    result = await one(alpha, data, outputs={"status": ["http", "status_code"], "err": ["http", "error_type"]})
    assert result.status == "partial-succeeded" and result.outputs == {"status": 599, "err": "OutboundBlocked"}


# --- Code ---------------------------------------------------------------------------------------


async def test_code_node_runs_python_and_checks_outputs(alpha) -> None:
    code = "def main(a: str, n: int) -> dict:\n    return {'result': a.upper() * n, 'items': [n, n + 1]}\n"
    data = node("code", "code", code_language="python3", code=code,
                variables=[{"variable": "a", "value_selector": ["start", "q"]},
                           {"variable": "n", "value_selector": ["sys", "n"]}],
                outputs={"result": {"type": "string"}, "items": {"type": "array[number]"}})
    result = await one(alpha, data, {"q": "ab"}, system={"n": 2},
                       outputs={"r": ["code", "result"], "i": ["code", "items"]})
    assert result.status == "succeeded" and result.outputs == {"r": "ABAB", "i": [2, 3]}
    wrong = {**data["data"], "outputs": {"result": {"type": "number"}, "items": {"type": "array[number]"}}}
    result = await one(alpha, {**data, "data": wrong}, {"q": "ab"}, system={"n": 2}, outputs={})
    assert result.status == "failed" and result.finished("code")["status"] == "failed"
    raising = node("code", "code", code_language="python3", code="def main() -> dict:\n    raise ValueError('nope')\n",
                   variables=[], outputs={"result": {"type": "string"}})
    result = await one(alpha, raising, outputs={})
    assert result.status == "failed" and "nope" in result.error


# --- Document extractor ---------------------------------------------------------------------


async def test_document_extractor_reads_this_apps_files_only(alpha) -> None:
    def upload():  # type: ignore[no-untyped-def]
        with schema_context("ws_alpha"):
            app = App.objects.create(name="Docs", mode="workflow")
            key = default_storage.save("upload_files/ws_alpha/test.csv", ContentFile(b"a,b\n1,2\n"))
            row = UploadFile.objects.create(app=app, key=key, name="t.csv", size=8, extension="csv",
                                            mime_type="text/csv")
            return str(app.pk), str(row.pk)

    app_id, file_id = await asyncio.to_thread(upload)
    file = {"type": "document", "transfer_method": "local_file", "related_id": file_id, "extension": ".csv"}
    data = node("doc", "document-extractor", variable_selector=["sys", "file"])
    raw = graph([START, data, end(r=["doc", "text"])], chain("start", "doc", "end"))
    other = await asyncio.to_thread(_app)
    result = await arun(raw, {}, tenant=alpha, system={"file": file}, app_id=other)
    assert result.status == "failed" and "not found" in result.error  # the file belongs to another app
    result = await arun(raw, {}, tenant=alpha, system={"file": file}, app_id=app_id)
    assert result.outputs == {"r": "| a | b |\n|---|---|\n| 1 | 2 |"}
    listed = await arun(raw, {}, tenant=alpha, system={"file": [file, file]}, app_id=app_id)
    assert listed.outputs["r"] == [result.outputs["r"]] * 2
    unsupported = await arun(raw, {}, tenant=alpha, system={"file": {**file, "extension": ".bin"}}, app_id=app_id)
    assert "Unsupported file type" in unsupported.error


# --- Knowledge retrieval ---------------------------------------------------------------------


def _knowledge(world) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    from tests.datasets.conftest import add_text, make_dataset

    with schema_context("ws_alpha"):
        pets = make_dataset(world, name="Pets", description="Cats, dogs and their care")
        add_text(world, pets, "Cats sleep up to sixteen hours a day.\n\nDogs need a walk twice a day.")
        cars = make_dataset(world, name="Cars", description="Engines and tyres")
        add_text(world, cars, "Tyre pressure should be checked monthly.")
        return str(pets.pk), str(cars.pk)


async def test_knowledge_retrieval_multi_path_returns_chunks(alpha, fake_openai, world_tx) -> None:
    pets, cars = await asyncio.to_thread(_knowledge, world_tx)
    data = node("kr", "knowledge-retrieval", query_variable_selector=["start", "q"], dataset_ids=[pets, cars],
                retrieval_mode="multiple", multiple_retrieval_config={"top_k": 2, "reranking_enable": False})
    result = await one(alpha, data, {"q": "how long do cats sleep"}, outputs={"r": ["kr", "result"]})
    assert result.status == "succeeded", result.error
    chunks = result.outputs["r"]
    assert 1 <= len(chunks) <= 2 and "sixteen hours" in chunks[0]["content"]
    meta = chunks[0]["metadata"]
    assert meta["dataset_id"] == pets and meta["dataset_name"] == "Pets" and meta["retriever_from"] == "workflow"
    assert meta["position"] == 1 and 0 <= meta["score"] <= 1 and chunks[0]["title"] == "doc.txt"
    template = node("t", "template-transform", template="{% for c in chunks %}{{ c.title }}:{{ c.metadata.score > 0 }}"
                    "{% endfor %}", variables=[{"variable": "chunks", "value_selector": ["kr", "result"]}])
    raw = graph([START, data, template, end(r=["t", "output"])], chain("start", "kr", "t", "end"))
    assert (await arun(raw, {"q": "cats sleep"}, tenant=alpha)).outputs["r"].startswith("doc.txt:True")
    empty = node("kr", "knowledge-retrieval", query_variable_selector=["start", "q"], dataset_ids=[])
    nothing = await one(alpha, empty, {"q": "x"}, outputs={"r": ["kr", "result"]})  # issue 14: the run goes on
    assert nothing.status == "succeeded" and nothing.outputs == {"r": []}
    foreign = node("kr", "knowledge-retrieval", query_variable_selector=["start", "q"],
                   dataset_ids=["6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"])
    assert (await one(alpha, foreign, {"q": "cats"}, outputs={"r": ["kr", "result"]})).outputs == {"r": []}


async def test_knowledge_retrieval_n_to_1_routes_with_the_model(alpha, fake_openai, world_tx) -> None:
    import uuid as _uuid

    pets, cars = await asyncio.to_thread(_knowledge, world_tx)
    fake_openai.script("chat", Reply(tool_calls=[FakeToolCall(f"dataset_{_uuid.UUID(cars).hex}", {"query": "tyres"})]))
    data = node("kr", "knowledge-retrieval", query_variable_selector=["start", "q"], dataset_ids=[pets, cars],
                retrieval_mode="single", single_retrieval_config={"model": MODEL})
    result = await one(alpha, data, {"q": "when should I check tyre pressure"}, outputs={"r": ["kr", "result"]})
    assert result.status == "succeeded", result.error
    assert {c["metadata"]["dataset_name"] for c in result.outputs["r"]} == {"Cars"}
    assert "monthly" in result.outputs["r"][0]["content"]
