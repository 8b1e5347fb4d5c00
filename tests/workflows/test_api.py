"""The workflow Service API: /v1/workflows/run (blocking, streaming, by version), run detail,
logs, stop, chatflow turns through /v1/chat-messages, /v1/parameters, and isolation."""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import ThreadSensitiveContext
from django.test import AsyncClient
from django_tenants.utils import schema_context

from apps.logs.models import Message
from apps.workflows import services
from apps.workflows.models import ConversationVariable, Workflow, WorkflowNodeExecution, WorkflowRun
from tests.fakes.base import Fail, Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def call(method: str, path: str, key: str | None, body: dict | None = None):  # type: ignore[no-untyped-def]
    client = AsyncClient()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with ThreadSensitiveContext():
        if method == "GET":
            return await client.get(path, body or {}, headers=headers)
        return await client.post(path, data=json.dumps(body or {}), content_type="application/json",
                                 headers=headers)


async def sse(response) -> list[dict]:  # type: ignore[no-untyped-def]
    raw = b"".join([chunk async for chunk in response.streaming_content]).decode()
    return [json.loads(block[6:]) for block in raw.split("\n\n") if block.startswith("data: ")]


def in_schema(schema: str, fn):  # type: ignore[no-untyped-def]
    def wrapped():  # type: ignore[no-untyped-def]
        with schema_context(schema):
            return fn()
    return asyncio.to_thread(wrapped)


RUN = {"inputs": {"q": "capital of France", "n": "3"}, "user": "u-1"}


async def test_blocking_run_returns_end_outputs_and_stores_run_and_nodes(wf, fake_openai) -> None:
    fake_openai.script("chat", Reply("Paris", usage=(12, 1)))
    response = await call("POST", "/v1/workflows/run", wf.key, RUN)
    assert response.status_code == 200, response.content
    body = response.json()
    data = body["data"]
    assert data["status"] == "succeeded" and data["outputs"] == {"text": "Paris", "n": 3}
    assert data["error"] is None and data["total_tokens"] == 13 and data["total_steps"] == 3
    assert body["workflow_run_id"] == data["id"] and uuid.UUID(body["task_id"])
    assert {"workflow_id", "elapsed_time", "created_at", "finished_at"} <= set(data)
    sent = fake_openai.requests[-1].json
    assert sent["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Answer: capital of France"}]

    def stored():  # type: ignore[no-untyped-def]
        run = WorkflowRun.objects.select_related("created_by_end_user").get(pk=data["id"])
        nodes = list(WorkflowNodeExecution.objects.filter(run=run).order_by("index"))
        return run, nodes

    run, nodes = await in_schema("ws_alpha", stored)
    assert run.status == "succeeded" and run.outputs == {"text": "Paris", "n": 3} and run.total_tokens == 13
    assert run.triggered_from == "app-run" and run.created_by_end_user.session_id == "u-1"
    assert run.inputs["q"] == "capital of France" and run.inputs["sys.workflow_run_id"] == data["id"]
    assert [n.node_type for n in nodes] == ["start", "llm", "end"]
    llm = nodes[1]
    assert llm.status == "succeeded" and llm.total_tokens == 13 and llm.outputs["text"] == "Paris"
    assert llm.process_data["prompts"][1]["text"] == "Answer: capital of France"
    assert llm.execution_metadata["total_tokens"] == 13 and llm.elapsed_time > 0


async def test_streaming_events_in_order_and_shape(wf, fake_openai) -> None:
    fake_openai.script("chat", Reply("one two three", chunk_size=1))
    response = await call("POST", "/v1/workflows/run", wf.key, {**RUN, "response_mode": "streaming"})
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    events = await sse(response)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_finished"
    assert [k for k in kinds if k.startswith("node")] == ["node_started", "node_finished"] * 3
    chunks = [e for e in events if e["event"] == "text_chunk"]
    assert "".join(c["data"]["text"] for c in chunks) == "one two three"
    assert chunks[0]["data"]["from_variable_selector"] == ["llm", "text"]
    # text chunks arrive while the LLM node runs: after its node_started, before its node_finished
    llm_start = next(i for i, e in enumerate(events) if e["event"] == "node_started" and e["data"]["node_id"] == "llm")
    llm_end = next(i for i, e in enumerate(events) if e["event"] == "node_finished" and e["data"]["node_id"] == "llm")
    assert all(llm_start < events.index(c) < llm_end for c in chunks)
    run_id = events[0]["workflow_run_id"]
    assert all(e["workflow_run_id"] == run_id and e["task_id"] == events[0]["task_id"] for e in events)
    started = events[0]["data"]
    assert set(started) >= {"id", "workflow_id", "inputs", "created_at"} and started["id"] == run_id
    node_started = events[1]["data"]
    assert set(node_started) >= {"id", "node_id", "node_type", "title", "index", "predecessor_node_id", "inputs",
                                 "created_at", "extras", "iteration_id", "loop_id"}
    node_finished = next(e["data"] for e in events if e["event"] == "node_finished")
    assert set(node_finished) >= {"id", "node_id", "node_type", "title", "index", "inputs", "process_data", "outputs",
                                  "status", "error", "elapsed_time", "execution_metadata", "created_at",
                                  "finished_at", "files"}
    finished = events[-1]["data"]
    assert finished["status"] == "succeeded" and finished["outputs"]["text"] == "one two three"
    assert finished["created_by"] == {"id": finished["created_by"]["id"], "user": "u-1"}
    assert set(finished) >= {"id", "workflow_id", "error", "elapsed_time", "total_tokens", "total_steps",
                             "created_at", "finished_at", "exceptions_count", "files"}


async def test_a_failed_workflow_is_not_an_http_error(wf, fake_openai) -> None:
    fake_openai.script("chat", Fail(400, "upstream exploded"))
    response = await call("POST", "/v1/workflows/run", wf.key, RUN)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "failed" and data["error"] and data["outputs"] == {}
    fake_openai.script("chat", Fail(400, "upstream exploded"))
    events = await sse(await call("POST", "/v1/workflows/run", wf.key, {**RUN, "response_mode": "streaming"}))
    assert events[-1]["event"] == "workflow_finished" and events[-1]["data"]["status"] == "failed"
    assert "error" not in [e["event"] for e in events]
    failed = [e["data"] for e in events if e["event"] == "node_finished" and e["data"]["status"] == "failed"]
    assert failed[0]["node_id"] == "llm" and failed[0]["error"]


async def test_input_validation_and_wrong_app_mode(wf) -> None:
    missing = await call("POST", "/v1/workflows/run", wf.key, {"inputs": {}, "user": "u"})
    assert missing.status_code == 400 and missing.json()["message"] == "q is required in input form"
    no_user = await call("POST", "/v1/workflows/run", wf.key, {"inputs": {"q": "x"}})
    assert no_user.status_code == 400 and no_user.json()["code"] == "invalid_param"
    bad_number = await call("POST", "/v1/workflows/run", wf.key, {"inputs": {"q": "x", "n": "lots"}, "user": "u"})
    assert bad_number.status_code == 400 and "valid number" in bad_number.json()["message"]
    wrong = await call("POST", "/v1/workflows/run", wf.plain_chat_key, RUN)
    assert wrong.status_code == 400 and wrong.json()["code"] == "not_workflow_app"
    wrong_chatflow = await call("POST", "/v1/workflows/run", wf.chat_key, RUN)
    assert wrong_chatflow.json()["code"] == "not_workflow_app"
    unauthorised = await call("POST", "/v1/workflows/run", None, RUN)
    assert unauthorised.status_code == 401


async def test_unpublished_app_and_specific_versions(wf, fake_openai) -> None:
    def draft_only():  # type: ignore[no-untyped-def]
        from apps.applications import services as apps

        app = services.workflow_app_create(name="Draft only", mode="workflow")
        _, key = apps.api_key_create(app=app)
        draft = Workflow.objects.get(app=app, version="draft")
        published = Workflow.objects.filter(app=wf.workflow).exclude(version="draft").get()
        return key, str(draft.pk), str(published.pk)

    key, draft_id, published_id = await in_schema("ws_alpha", draft_only)
    response = await call("POST", "/v1/workflows/run", key, {"inputs": {}, "user": "u"})
    assert response.status_code == 400 and response.json() == {
        "code": "invalid_param", "message": "Workflow not published", "status": 400}
    fake_openai.script("chat", Reply("v1"))
    ok = await call("POST", f"/v1/workflows/{published_id}/run", wf.key, RUN)
    assert ok.status_code == 200 and ok.json()["data"]["workflow_id"] == published_id
    draft = await call("POST", f"/v1/workflows/{draft_id}/run", key, {"inputs": {}, "user": "u"})
    assert draft.status_code == 400 and draft.json()["code"] == "bad_request"
    unknown = await call("POST", f"/v1/workflows/{uuid.uuid4()}/run", wf.key, RUN)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    malformed = await call("POST", "/v1/workflows/not-a-uuid/run", wf.key, RUN)
    assert malformed.status_code == 400 and malformed.json()["code"] == "bad_request"
    # another app's published version is unknown here
    other = await call("POST", f"/v1/workflows/{published_id}/run", key, {"inputs": {}, "user": "u"})
    assert other.status_code == 404


async def test_run_detail_and_logs(wf, fake_openai) -> None:
    fake_openai.script("chat", Reply("first"), Fail(400, "boom"))
    ok = (await call("POST", "/v1/workflows/run", wf.key, RUN)).json()
    failed = (await call("POST", "/v1/workflows/run", wf.key, {**RUN, "user": "u-2"})).json()
    detail = (await call("GET", f"/v1/workflows/run/{ok['workflow_run_id']}", wf.key)).json()
    assert detail["status"] == "succeeded" and detail["id"] == ok["workflow_run_id"]
    assert json.loads(detail["outputs"]) == {"text": "first", "n": 3}
    assert json.loads(detail["inputs"])["q"] == "capital of France" and detail["total_steps"] == 3
    missing = await call("GET", f"/v1/workflows/run/{uuid.uuid4()}", wf.key)
    assert missing.status_code == 200 and set(missing.json().values()) == {None}
    logs = (await call("GET", "/v1/workflows/logs", wf.key)).json()
    assert logs["total"] == 2 and logs["page"] == 1 and logs["has_more"] is False
    item = logs["data"][0]
    assert item["workflow_run"]["status"] == "failed" and item["created_by_end_user"]["session_id"] == "u-2"
    assert item["created_from"] == "service-api" and item["created_by_role"] == "end_user"
    only_ok = (await call("GET", "/v1/workflows/logs", wf.key, {"status": "succeeded"})).json()
    assert [d["id"] for d in only_ok["data"]] == [ok["workflow_run_id"]]
    by_user = (await call("GET", "/v1/workflows/logs", wf.key, {"created_by_end_user_session_id": "u-2"})).json()
    assert [d["id"] for d in by_user["data"]] == [failed["workflow_run_id"]]
    keyword = (await call("GET", "/v1/workflows/logs", wf.key, {"keyword": "FIRST"})).json()
    assert [d["id"] for d in keyword["data"]] == [ok["workflow_run_id"]]  # found in the outputs, any case
    after = (await call("GET", "/v1/workflows/logs", wf.key, {"created_at__after": "2999-01-01T00:00:00Z"})).json()
    assert after["total"] == 0
    paged = (await call("GET", "/v1/workflows/logs", wf.key, {"limit": 1})).json()
    assert paged["has_more"] is True and len(paged["data"]) == 1
    bad = await call("GET", "/v1/workflows/logs", wf.key, {"status": "exploded"})
    assert bad.status_code == 400


async def test_stop_a_streaming_run(wf, fake_openai) -> None:
    fake_openai.script("chat", Reply(" ".join(["word"] * 200), chunk_size=1, delay_between_chunks=0.05))
    response = await call("POST", "/v1/workflows/run", wf.key, {**RUN, "response_mode": "streaming"})
    stream = response.streaming_content.__aiter__()
    events = []
    while True:
        raw = await stream.__anext__()
        for block in raw.decode().split("\n\n"):
            if block.startswith("data: "):
                events.append(json.loads(block[6:]))
        if any(e["event"] == "text_chunk" for e in events):
            break
    task_id = events[0]["task_id"]
    other_user = await call("POST", f"/v1/workflows/tasks/{task_id}/stop", wf.key, {"user": "someone-else"})
    assert other_user.json() == {"result": "success"}
    other_workspace = await call("POST", f"/v1/workflows/tasks/{task_id}/stop", wf.beta_key, {"user": "u-1"})
    assert other_workspace.json() == {"result": "success"}
    # neither stopped it: more text keeps coming
    seen = len([e for e in events if e["event"] == "text_chunk"])
    while len([e for e in events if e["event"] == "text_chunk"]) < seen + 30:
        raw = await stream.__anext__()
        events += [json.loads(b[6:]) for b in raw.decode().split("\n\n") if b.startswith("data: ")]
    assert events[-1]["event"] != "workflow_finished"
    stopped = await call("POST", f"/v1/workflows/tasks/{task_id}/stop", wf.key, {"user": "u-1"})
    assert stopped.json() == {"result": "success"}
    async for raw in stream:
        for block in raw.decode().split("\n\n"):
            if block.startswith("data: "):
                events.append(json.loads(block[6:]))
    finished = events[-1]
    assert finished["event"] == "workflow_finished" and finished["data"]["status"] == "stopped"
    assert finished["data"]["error"] == "Stopped by user."
    run = await in_schema("ws_alpha", lambda: WorkflowRun.objects.get(pk=finished["workflow_run_id"]))
    assert run.status == "stopped"
    no_user = await call("POST", f"/v1/workflows/tasks/{task_id}/stop", wf.key, {})
    assert no_user.status_code == 400
    wrong_mode = await call("POST", f"/v1/workflows/tasks/{task_id}/stop", wf.plain_chat_key, {"user": "u-1"})
    assert wrong_mode.json()["code"] == "not_workflow_app"


async def test_chatflow_turns_with_memory_and_conversation_variables(wf, fake_openai) -> None:
    fake_openai.script("chat", Reply("Hi Ada!"), Reply("You said hello."))
    first = await call("POST", "/v1/chat-messages", wf.chat_key,
                       {"query": "hello", "inputs": {"name": "Ada"}, "user": "u-1"})
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["event"] == "message" and body["mode"] == "advanced-chat" and body["answer"] == "Hi Ada!"
    assert body["metadata"]["usage"]["total_tokens"] > 0 and body["id"] == body["message_id"]
    second = await call("POST", "/v1/chat-messages", wf.chat_key,
                        {"query": "what did I say?", "inputs": {"name": "Ada"}, "user": "u-1",
                         "conversation_id": body["conversation_id"]})
    assert second.json()["answer"] == "You said hello."
    sent = fake_openai.requests[-1].json["messages"]
    assert sent == [{"role": "system", "content": "You help Ada."}, {"role": "user", "content": "hello"},
                    {"role": "assistant", "content": "Hi Ada!"}, {"role": "user", "content": "what did I say?"}]

    def stored():  # type: ignore[no-untyped-def]
        messages = list(Message.objects.filter(conversation_id=body["conversation_id"]).order_by("created_at"))
        turns = ConversationVariable.objects.get(conversation_id=body["conversation_id"], name="turns")
        runs = WorkflowRun.objects.filter(conversation_id=body["conversation_id"]).count()
        return messages, turns, runs

    messages, turns, runs = await in_schema("ws_alpha", stored)
    assert [(m.query, m.answer, m.status) for m in messages] == [("hello", "Hi Ada!", "normal"),
                                                                 ("what did I say?", "You said hello.", "normal")]
    assert turns.value == 2 and runs == 2
    # /v1/messages lists chatflow turns like any chat app
    history = (await call("GET", "/v1/messages", wf.chat_key,
                          {"conversation_id": body["conversation_id"], "user": "u-1"})).json()
    assert [m["answer"] for m in history["data"]] == ["Hi Ada!", "You said hello."]


async def test_chatflow_streaming_event_order(wf, fake_openai) -> None:
    fake_openai.script("chat", Reply("a b c", chunk_size=1))
    response = await call("POST", "/v1/chat-messages", wf.chat_key,
                          {"query": "hi", "inputs": {}, "user": "u-1", "response_mode": "streaming"})
    events = await sse(response)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "workflow_started" and kinds[-2:] == ["workflow_finished", "message_end"]
    messages = [e for e in events if e["event"] == "message"]
    assert "".join(m["answer"] for m in messages) == "a b c"
    assert messages[0]["from_variable_selector"] == ["llm", "text"]
    for event in events:
        assert event["conversation_id"] and event["message_id"] and event["task_id"]
    assert all(e["id"] == e["message_id"] for e in messages)
    assert events[-1]["metadata"]["usage"]["total_tokens"] > 0


async def test_chatflow_failure_ends_with_workflow_finished_then_error(wf, fake_openai) -> None:
    fake_openai.script("chat", Fail(400, "boom"))
    events = await sse(await call("POST", "/v1/chat-messages", wf.chat_key,
                                  {"query": "hi", "inputs": {}, "user": "u-1", "response_mode": "streaming"}))
    assert [e["event"] for e in events][-2:] == ["workflow_finished", "error"]
    assert events[-2]["data"]["status"] == "failed"
    assert events[-1]["code"] == "invalid_param" and events[-1]["message"].startswith("Run failed: ")
    fake_openai.script("chat", Fail(400, "boom"))
    blocking = await call("POST", "/v1/chat-messages", wf.chat_key, {"query": "hi", "inputs": {}, "user": "u-1"})
    assert blocking.status_code == 400 and blocking.json()["message"].startswith("Run failed: ")


async def test_parameters_reflect_start_node_and_features(wf) -> None:
    params = (await call("GET", "/v1/parameters", wf.key)).json()
    assert params["user_input_form"][0]["text-input"]["variable"] == "q"
    assert params["user_input_form"][1]["number"]["variable"] == "n"
    assert {"system_parameters", "file_upload", "speech_to_text", "text_to_speech"} <= set(params)
    chat = (await call("GET", "/v1/parameters", wf.chat_key)).json()
    assert chat["opening_statement"] == "Hello!" and chat["suggested_questions"] == ["Hi?"]


async def test_isolation_between_workspaces_and_apps(wf, fake_openai) -> None:
    fake_openai.script("chat", Reply("alpha secret"))
    alpha = (await call("POST", "/v1/workflows/run", wf.key, RUN)).json()
    run_id = alpha["workflow_run_id"]
    # beta's key cannot read alpha's run, its logs are its own, and alpha's versions are unknown to it
    foreign = (await call("GET", f"/v1/workflows/run/{run_id}", wf.beta_key)).json()
    assert set(foreign.values()) == {None}
    assert (await call("GET", "/v1/workflows/logs", wf.beta_key)).json()["total"] == 0
    version = await in_schema("ws_alpha", lambda: str(Workflow.objects.filter(app=wf.workflow).exclude(
        version="draft").get().pk))
    assert (await call("POST", f"/v1/workflows/{version}/run", wf.beta_key, RUN)).status_code == 404
    # the chatflow of the same workspace cannot see the workflow app's run either
    same_ws = (await call("GET", f"/v1/workflows/run/{run_id}", wf.chat_key)).json()
    assert set(same_ws.values()) == {None}
    # beta runs its own workflow and stores it in its own schema
    fake_openai.script("chat", Reply("beta"))
    beta = (await call("POST", "/v1/workflows/run", wf.beta_key, RUN)).json()
    assert beta["data"]["outputs"]["text"] == "beta"
    assert await in_schema("ws_beta", lambda: WorkflowRun.objects.count()) == 1
    assert await in_schema("ws_alpha", lambda: WorkflowRun.objects.filter(pk=beta["workflow_run_id"]).count()) == 0
    # a conversation of the chatflow is unknown to another app's key
    fake_openai.script("chat", Reply("hi"))
    chat = (await call("POST", "/v1/chat-messages", wf.chat_key, {"query": "q", "inputs": {}, "user": "u-1"})).json()
    cross = await call("POST", "/v1/chat-messages", wf.plain_chat_key,
                       {"query": "q", "inputs": {}, "user": "u-1", "conversation_id": chat["conversation_id"]})
    assert cross.status_code == 404


async def test_max_run_time_fails_the_run(wf, fake_openai, settings) -> None:
    from tests.fakes.base import Hang

    settings.WORKFLOW_MAX_EXECUTION_TIME = 1
    fake_openai.script("chat", Hang(30))
    data = (await call("POST", "/v1/workflows/run", wf.key, RUN)).json()["data"]
    assert data["status"] == "failed" and data["error"] == "Max execution time 1s reached."
    run = await in_schema("ws_alpha", lambda: WorkflowRun.objects.get(pk=data["id"]))
    assert run.status == "failed" and run.error == "Max execution time 1s reached."


async def test_chatflow_stop_through_chat_messages(wf, fake_openai) -> None:
    fake_openai.script("chat", Reply(" ".join(["word"] * 200), chunk_size=1, delay_between_chunks=0.05))
    response = await call("POST", "/v1/chat-messages", wf.chat_key,
                          {"query": "hi", "inputs": {}, "user": "u-1", "response_mode": "streaming"})
    stream = response.streaming_content.__aiter__()
    events: list[dict] = []
    while not any(e["event"] == "message" for e in events):
        raw = await stream.__anext__()
        events += [json.loads(b[6:]) for b in raw.decode().split("\n\n") if b.startswith("data: ")]
    stopped = await call("POST", f"/v1/chat-messages/{events[0]['task_id']}/stop", wf.chat_key, {"user": "u-1"})
    assert stopped.json() == {"result": "success"}
    async for raw in stream:
        events += [json.loads(b[6:]) for b in raw.decode().split("\n\n") if b.startswith("data: ")]
    assert [e["event"] for e in events][-2:] == ["workflow_finished", "message_end"]
    assert events[-2]["data"]["status"] == "stopped"
    message = await in_schema("ws_alpha", lambda: Message.objects.get(pk=events[0]["message_id"]))
    assert message.status == "stopped" and message.answer.startswith("word")


async def test_files_reach_sys_files_and_a_vision_prompt(wf, fake_openai) -> None:
    def vision_flow():  # type: ignore[no-untyped-def]
        from apps.applications import services as apps
        from tests.workflows.conftest import MODEL
        from tests.workflows.helpers import chain, graph, node

        g = graph([node("start", "start", variables=[{"variable": "doc", "type": "file", "required": False}]),
                   node("llm", "llm", model=MODEL, prompt_template=[{"role": "user", "text": "describe"}],
                        vision={"enabled": True, "configs": {"variable_selector": ["sys", "files"]}}),
                   node("end", "end", outputs=[{"variable": "text", "value_selector": ["llm", "text"]},
                                               {"variable": "name", "value_selector": ["start", "doc", "name"]}])],
                  chain("start", "llm", "end"))
        app = services.workflow_app_create(name="Vision", mode="workflow", graph=g, features={"file_upload": {
            "enabled": True, "allowed_file_types": ["image"], "allowed_file_upload_methods": ["remote_url"],
            "number_limits": 2}})
        services.publish(app=app)
        return apps.api_key_create(app=app)[1]

    key = await in_schema("ws_alpha", vision_flow)
    fake_openai.script("chat", Reply("a cat"))
    image = {"type": "image", "transfer_method": "remote_url", "url": "https://img.example/cat.png"}
    doc = {"type": "document", "transfer_method": "remote_url", "url": "https://files.example/report.pdf"}
    body = (await call("POST", "/v1/workflows/run", key, {"inputs": {"doc": doc}, "files": [image], "user": "u"})).json()
    assert body["data"]["outputs"] == {"text": "a cat", "name": "report.pdf"}
    content = fake_openai.requests[-1].json["messages"][0]["content"]
    assert content[1]["image_url"]["url"] == "https://img.example/cat.png"
    bad = await call("POST", "/v1/workflows/run", key, {"inputs": {"doc": "not a file"}, "user": "u"})
    assert bad.status_code == 400 and "must be a file" in bad.json()["message"]
    foreign = await call("POST", "/v1/workflows/run", key, {"inputs": {}, "user": "u", "files": [
        {"type": "image", "transfer_method": "local_file", "upload_file_id": str(uuid.uuid4())}]})
    assert foreign.status_code == 400 and "not found" in foreign.json()["message"]
    too_many = await call("POST", "/v1/workflows/run", key, {"inputs": {}, "user": "u", "files": [image] * 3})
    assert too_many.json()["message"] == "Number of files exceeds the maximum limit of 2"
    wrong_type = await call("POST", "/v1/workflows/run", key, {"inputs": {}, "user": "u", "files": [doc]})
    assert wrong_type.json()["message"] == "File type document is not allowed"
    # the plain workflow app has uploads off: its files are ignored, as in Dify
    fake_openai.script("chat", Reply("fine"))
    ignored = (await call("POST", "/v1/workflows/run", wf.key, {**RUN, "files": [image]})).json()
    assert ignored["data"]["status"] == "succeeded"
    run = await in_schema("ws_alpha", lambda: WorkflowRun.objects.get(pk=ignored["workflow_run_id"]))
    assert run.inputs["sys.files"] == []


async def test_chatflow_conversation_variables_api(wf, fake_openai) -> None:
    fake_openai.script("chat", Reply("hi"))
    chat = (await call("POST", "/v1/chat-messages", wf.chat_key, {"query": "q", "inputs": {}, "user": "u-1"})).json()
    url = f"/v1/conversations/{chat['conversation_id']}/variables"
    listed = (await call("GET", url, wf.chat_key, {"user": "u-1"})).json()
    assert listed["has_more"] is False and len(listed["data"]) == 1
    turns = listed["data"][0]
    assert (turns["name"], turns["value_type"], turns["value"]) == ("turns", "number", "1")
    assert {"id", "description", "created_at", "updated_at"} <= set(turns)
    client = AsyncClient()
    async with ThreadSensitiveContext():
        put = await client.put(f"{url}/{turns['id']}", data=json.dumps({"value": 7, "user": "u-1"}),
                               content_type="application/json", headers={"Authorization": f"Bearer {wf.chat_key}"})
        wrong = await client.put(f"{url}/{turns['id']}", data=json.dumps({"value": "seven", "user": "u-1"}),
                                 content_type="application/json",
                                 headers={"Authorization": f"Bearer {wf.chat_key}"})
        missing = await client.put(f"{url}/nope", data=json.dumps({"value": 1, "user": "u-1"}),
                                   content_type="application/json",
                                   headers={"Authorization": f"Bearer {wf.chat_key}"})
    assert put.status_code == 200 and put.json()["value"] == "7"
    assert wrong.status_code == 400 and wrong.json()["message"] == \
        "Type mismatch: variable expects number, but got string type"
    assert missing.status_code == 404
    fake_openai.script("chat", Reply("again"))
    await call("POST", "/v1/chat-messages", wf.chat_key,
               {"query": "q", "inputs": {}, "user": "u-1", "conversation_id": chat["conversation_id"]})
    assert (await call("GET", url, wf.chat_key, {"user": "u-1"})).json()["data"][0]["value"] == "8"
    # another user, and another app's key, do not see the conversation
    assert (await call("GET", url, wf.chat_key, {"user": "u-2"})).status_code == 404
    assert (await call("GET", url, wf.plain_chat_key, {"user": "u-1"})).status_code == 404
    filtered = (await call("GET", url, wf.chat_key, {"user": "u-1", "variable_name": "nothing"})).json()
    assert filtered["data"] == []


async def test_chatflow_features_reach_the_feature_endpoints(wf, fake_openai) -> None:
    def enable():  # type: ignore[no-untyped-def]
        draft = Workflow.objects.get(app=wf.chatflow, version="draft")
        services.draft_sync(app=wf.chatflow, graph=draft.graph, features={
            **draft.features, "suggested_questions_after_answer": {"enabled": True}},
            conversation_variables=draft.conversation_variables)
        services.publish(app=wf.chatflow)
        from apps.providers import services as providers

        providers.default_model_set(model_type="llm", provider_id="openai_api_compatible", model="fake-chat")

    await in_schema("ws_alpha", enable)
    fake_openai.script("chat", Reply("answer"), Reply('["One?", "Two?", "Three?"]'))
    chat = (await call("POST", "/v1/chat-messages", wf.chat_key, {"query": "q", "inputs": {}, "user": "u-1",
                                                                 "auto_generate_name": False})).json()
    suggested = await call("GET", f"/v1/messages/{chat['message_id']}/suggested", wf.chat_key, {"user": "u-1"})
    assert suggested.status_code == 200, suggested.content
    assert suggested.json()["data"] == ["One?", "Two?", "Three?"]
