"""Running a workflow or chatflow: prepare (sync, in the workspace schema), then run detached.

Like apps.applications.generation, a run lives in its own asyncio task, apart from the HTTP
response that relays its events: a client that disconnects does not stop it, and the run, every
node execution and (chatflow) the message are stored complete. Runs register in the same RUNNING
table as chat generations, so a stop from any process reaches them through the same shared-cache
flag and watcher (generation.request_stop / _watch_stops).
"""

import asyncio
import contextvars
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.applications import generation, naming
from apps.applications.inputs import validate_inputs
from apps.applications.models import App
from apps.core.errors import ServiceError, invalid_param
from apps.logs.models import Conversation, EndUser, Message
from apps.providers.runtime.entities import Usage
from apps.workflows import files, variables
from apps.workflows.engine.engine import GraphEngine, RunContext
from apps.workflows.engine.entities import WorkflowFailed, WorkflowStopped, max_seconds
from apps.workflows.engine.graph import Graph, GraphError
from apps.workflows.engine.variables import VariablePool
from apps.workflows.models import ConversationVariable, Workflow, WorkflowNodeExecution, WorkflowRun
from apps.workspaces.sync import run_hot

logger = logging.getLogger(__name__)

STANDARD_KINDS = ("text-input", "paragraph", "select", "number", "checkbox")


@dataclass
class Prepared:
    tenant: Any
    app_id: str
    mode: str
    task_id: str
    run_id: str
    workflow_id: str
    graph: dict[str, Any]
    inputs: dict[str, Any]
    system: dict[str, Any]
    env: dict[str, Any]
    conversation_vars: dict[str, Any]
    created_at: int
    end_user_id: str | None
    created_by: dict[str, Any]
    message_id: str | None = None
    conversation_id: str | None = None
    history: list[tuple[str, str]] = field(default_factory=list)
    active_key: str | None = None
    generate_name: bool = False


def start_variables(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """The Start node's input variables (dsl.md §3.1)."""
    for node in (graph or {}).get("nodes") or []:
        data = node.get("data") if isinstance(node, dict) else None
        if isinstance(data, dict) and data.get("type") == "start" and not node.get("parentId"):
            return [v for v in data.get("variables") or [] if isinstance(v, dict) and v.get("variable")]
    return []


def user_input_form(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """Start variables in /parameters' "old structure": {type: variable} (§2.22)."""
    return [{v.get("type") or "text-input": v} for v in start_variables(graph)]


def clean_inputs(app: App, graph: dict[str, Any], inputs: Any) -> dict[str, Any]:
    """Start inputs checked as the Service API checks a form (§1.2), files resolved in this app."""
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise invalid_param("inputs must be an object")
    specs = start_variables(graph)
    standard = [{v.get("type") or "text-input": v} for v in specs if (v.get("type") or "text-input") in STANDARD_KINDS]
    clean = validate_inputs({"user_input_form": standard}, inputs)
    for spec in specs:
        kind, name = spec.get("type") or "text-input", spec["variable"]
        if kind in STANDARD_KINDS:
            continue
        value = inputs.get(name)
        if value is None:
            if spec.get("required"):
                raise invalid_param(f"{name} is required in input form")
            clean[name] = spec.get("default")
            continue
        if kind == "file":
            if not isinstance(value, dict):
                raise invalid_param(f"{name} in input form must be a file")
            clean[name] = files.build(app.pk, value)
        elif kind == "file-list":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise invalid_param(f"{name} in input form must be a list of files")
            if spec.get("max_length") and len(value) > int(spec["max_length"]):
                raise invalid_param(f"{name} in input form must be less than {spec['max_length']} files")
            clean[name] = [files.build(app.pk, v) for v in value]
        elif kind == "json_object":
            if not isinstance(value, dict):
                raise invalid_param(f"{name} in input form must be a JSON object")
            clean[name] = value
        else:
            clean[name] = value
    return clean


def clean_files(app: App, features: dict[str, Any], raw_files: list[Any]) -> list[dict[str, Any]]:
    """`files` (sys.files) checked against the file_upload feature (§2.21): ignored when uploads are
    off, as in Dify; otherwise the number limit, the transfer methods and the file types apply."""
    config = features.get("file_upload") or {}
    image = config.get("image") or {}
    if not raw_files or not (config.get("enabled") or image.get("enabled")):
        return []
    limit = int(config.get("number_limits") or image.get("number_limits") or 3)
    if len(raw_files) > limit:
        raise invalid_param(f"Number of files exceeds the maximum limit of {limit}")
    built = [files.build(app.pk, f) for f in raw_files]
    methods = config.get("allowed_file_upload_methods") or image.get("transfer_methods") or ["local_file",
                                                                                              "remote_url"]
    types = config.get("allowed_file_types") or ["image"]
    extensions = [str(e).lower().lstrip(".") for e in config.get("allowed_file_extensions") or []]
    for file in built:
        if file["transfer_method"] not in methods:
            raise invalid_param(f"File transfer method {file['transfer_method']} is not allowed")
        extension = str(file.get("extension") or "").lower().lstrip(".")
        if file["type"] not in types and not ("custom" in types and extension in extensions):
            raise invalid_param(f"File type {file['type']} is not allowed")
    return built


def _created_by(end_user: EndUser | None, account: Any) -> dict[str, Any]:
    if end_user is not None:
        return {"id": str(end_user.pk), "user": end_user.session_id}
    if account is not None:
        return {"id": str(account.pk), "name": getattr(account, "display_name", "") or "",
                "email": account.email}
    return {}


def prepare(*, tenant: Any, app: App, workflow: Workflow, inputs: Any, end_user: EndUser | None,
            query: str = "", raw_files: Any = None, conversation_id: str | None = None, account: Any = None,
            source: str = "api", auto_generate_name: bool = False) -> Prepared:
    """Validate a run and store it (status running). In the workspace schema."""
    graph = workflow.graph
    try:
        Graph.parse(graph)
    except GraphError as exc:
        raise ServiceError("app_unavailable", f"App unavailable, please check your app configurations. {exc}") from None
    inputs = clean_inputs(app, graph, inputs)
    if raw_files is not None and not isinstance(raw_files, list):
        raise invalid_param("files must be a list")
    sys_files = clean_files(app, workflow.features or {}, raw_files or [])
    chat = app.mode == App.Mode.ADVANCED_CHAT
    account_id = account.pk if account is not None else None
    conversation, message, history = None, None, []
    conversation_vars: dict[str, Any] = {}
    if chat:
        conversation = generation._conversation(app, conversation_id, end_user, source, account_id)
        generate_name = conversation is None and auto_generate_name
        if conversation is None:
            name = (query[:20] + "…") if len(query) > 20 else (query or app.name)
            conversation = Conversation.objects.create(
                app=app, end_user=end_user, from_source=source, from_account_id=account_id, mode=app.mode,
                name=name, inputs=_jsonable(inputs))
            # Every conversation variable exists from the first turn (listed by the API, §2.19).
            ConversationVariable.objects.bulk_create([ConversationVariable(
                app=app, conversation=conversation, variable_id=v.get("id", ""), name=v["name"],
                value_type=v.get("value_type", "string"), value=v.get("value"), description=v.get("description", ""))
                for v in workflow.conversation_variables or []])
        rows = (Message.objects.filter(conversation=conversation, status__in=[Message.Status.NORMAL,
                                                                            Message.Status.STOPPED])
                .order_by("created_at").values_list("query", "answer"))
        history = list(rows)
        stored = {v.name: v.value for v in ConversationVariable.objects.filter(conversation=conversation)}
        conversation_vars = {v["name"]: stored.get(v["name"], v.get("value"))
                             for v in workflow.conversation_variables or []}
        message = Message.objects.create(
            app=app, conversation=conversation, end_user=end_user, from_source=source, from_account_id=account_id,
            inputs=_jsonable(inputs), query=query)
    else:
        generate_name = False
    run_id = str(uuid.uuid4())
    system = {"query": query, "files": sys_files, "conversation_id": str(conversation.pk) if conversation else "",
              "user_id": str(end_user.pk) if end_user else str(account_id or ""), "app_id": str(app.pk),
              "workflow_id": str(workflow.pk), "workflow_run_id": run_id,
              "dialogue_count": len(history) + 1 if chat else 0, "timestamp": int(time.time())}
    if not chat:
        system.pop("query")
        system.pop("conversation_id")
        system.pop("dialogue_count")
    stored_inputs = {**_jsonable(inputs), **{f"sys.{k}": v for k, v in system.items()}}
    run = WorkflowRun.objects.create(
        id=run_id, app=app, workflow=workflow, workflow_version=workflow.version, mode=app.mode,
        task_id=message.task_id if message else uuid.uuid4(),
        triggered_from=(WorkflowRun.TriggeredFrom.DEBUGGING if source == "debugger"
                        else WorkflowRun.TriggeredFrom.APP_RUN),
        created_from={"api": "service-api", "webapp": "web-app"}.get(source, source), inputs=stored_inputs,
        created_by_end_user=end_user, created_by_account_id=account_id, conversation=conversation,
        message=message)
    return Prepared(
        tenant=tenant, app_id=str(app.pk), mode=app.mode, task_id=str(run.task_id), run_id=run_id,
        workflow_id=str(workflow.pk), graph=graph, inputs=inputs, system=system,
        env=variables.unseal(connection.schema_name, workflow.environment_variables),
        conversation_vars=conversation_vars, created_at=int(run.created_at.timestamp()),
        end_user_id=str(end_user.pk) if end_user else None, created_by=_created_by(end_user, account),
        message_id=str(message.pk) if message else None,
        conversation_id=str(conversation.pk) if conversation else None, history=history,
        generate_name=generate_name)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def sum_usage(usages: list[Usage]) -> Usage:
    """The run's usage: the sum of its LLM-type nodes (§3.4)."""
    total = Usage()
    for usage in usages:
        total.prompt_tokens += usage.prompt_tokens
        total.completion_tokens += usage.completion_tokens
        total.prompt_price += usage.prompt_price
        total.completion_price += usage.completion_price
        total.total_tokens += usage.total_tokens
        total.total_price += usage.total_price
        total.latency = round(total.latency + usage.latency, 3)
        total.currency = usage.currency
        total.prompt_unit_price, total.prompt_price_unit = usage.prompt_unit_price, usage.prompt_price_unit
        total.completion_unit_price = usage.completion_unit_price
        total.completion_price_unit = usage.completion_price_unit
    return total


def _store(p: Prepared, ctx: RunContext, status: str, error: str | None, elapsed: float, answer: str,
           usage: Usage) -> None:
    """The outcome: the run, its node executions, and for chatflows the message and the
    conversation variables the run changed. In the workspace schema."""
    finished = timezone.now()
    with transaction.atomic():
        WorkflowRun.objects.filter(pk=p.run_id).update(
            status=status, outputs=_jsonable(ctx.outputs), error=error, elapsed_time=round(elapsed, 6),
            total_tokens=ctx.total_tokens, total_price=ctx.total_price, currency=ctx.currency, total_steps=ctx.steps,
            exceptions_count=ctx.exceptions, finished_at=finished)
        WorkflowNodeExecution.objects.bulk_create([
            WorkflowNodeExecution(run_id=p.run_id, app_id=p.app_id, **{
                **row, "inputs": _jsonable(row["inputs"]), "outputs": _jsonable(row["outputs"]),
                "process_data": _jsonable(row["process_data"]),
                "execution_metadata": _jsonable(row["execution_metadata"])})
            for row in ctx.executions])
        if p.message_id:
            message_status = {"succeeded": Message.Status.NORMAL, "partial-succeeded": Message.Status.NORMAL,
                              "stopped": Message.Status.STOPPED}.get(status, Message.Status.ERROR)
            Message.objects.filter(pk=p.message_id).update(
                answer=answer, status=message_status, error=error or "", message_tokens=usage.prompt_tokens,
                answer_tokens=usage.completion_tokens, total_price=usage.total_price, currency=usage.currency,
                latency=elapsed, usage=usage.model_dump(mode="json"), updated_at=finished)
            Conversation.objects.filter(pk=p.conversation_id).update(updated_at=finished)
            if ctx.conversation_dirty and ctx.pool is not None:
                _save_conversation_vars(p, ctx)
            if p.generate_name and message_status == Message.Status.NORMAL:
                naming.schedule(p.conversation_id)


def _save_conversation_vars(p: Prepared, ctx: RunContext) -> None:
    workflow = Workflow.objects.filter(pk=p.workflow_id).first()
    definitions = {v["name"]: v for v in (workflow.conversation_variables if workflow else [])}
    values = ctx.pool.values.get("conversation") or {}
    for name in ctx.conversation_dirty:
        definition = definitions.get(name, {})
        ConversationVariable.objects.update_or_create(
            conversation_id=p.conversation_id, name=name,
            defaults={"app_id": p.app_id, "variable_id": definition.get("id", ""),
                      "value_type": definition.get("value_type", "string"), "value": _jsonable(values.get(name)),
                      "description": definition.get("description", "")})


class WorkflowGeneration:
    """One detached run; quacks like generation.Generation for the shared stop machinery."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.events: asyncio.Queue = asyncio.Queue()
        self.stop_requested = False
        self.done = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.status = WorkflowRun.Status.RUNNING
        self.error_text: str | None = None  # the run's error, as stored and reported
        self.error: ServiceError | None = None  # chatflow only: a failed run is an error answer
        self.ctx: RunContext | None = None
        self.finished: dict[str, Any] = {}

    @property
    def chat(self) -> bool:
        return self.prepared.mode == App.Mode.ADVANCED_CHAT

    def envelope(self, event: str, fields: dict[str, Any]) -> dict[str, Any]:
        p = self.prepared
        body: dict[str, Any] = {"event": event, "task_id": p.task_id}
        if self.chat:
            if event in ("message", "message_end"):
                body["id"] = p.message_id
            body.update(conversation_id=p.conversation_id, message_id=p.message_id, created_at=p.created_at)
        if event not in ("message", "message_end", "error"):
            body["workflow_run_id"] = p.run_id
        body.update(fields)
        return body

    def emit(self, event: str, fields: dict[str, Any]) -> None:
        self.events.put_nowait(self.envelope(event, fields))

    def start(self) -> "WorkflowGeneration":
        generation.RUNNING[self.prepared.task_id] = self  # type: ignore[assignment]
        self.task = asyncio.get_running_loop().create_task(self._run(), context=contextvars.Context())
        return self

    async def _run(self) -> None:
        p = self.prepared
        generation._watch_stops()
        started = time.perf_counter()
        pool = VariablePool({"sys": dict(p.system), "env": dict(p.env),
                             "conversation": dict(p.conversation_vars)})
        ctx = self.ctx = RunContext(
            mode=p.mode, app_id=p.app_id, workflow_id=p.workflow_id, run_id=p.run_id, raw_graph=p.graph,
            emit=self.emit, tenant=p.tenant, inputs=p.inputs, user_id=p.end_user_id or p.created_by.get("id"),
            conversation_id=p.conversation_id, history=p.history, stop_check=lambda: self.stop_requested, pool=pool)
        self.emit("workflow_started", {"data": {"id": p.run_id, "workflow_id": p.workflow_id,
                                                "inputs": _jsonable({**p.inputs, **{f"sys.{k}": v for k, v in
                                                                                    p.system.items()}}),
                                                "created_at": p.created_at}})
        limit = max_seconds()
        try:
            async with asyncio.timeout(limit):
                await GraphEngine(ctx, Graph.parse(p.graph), pool).run()
            self.status = WorkflowRun.Status.PARTIAL if ctx.exceptions else WorkflowRun.Status.SUCCEEDED
        except WorkflowStopped:
            self.status, self.error_text = WorkflowRun.Status.STOPPED, "Stopped by user."
        except WorkflowFailed as exc:
            self.status, self.error_text = WorkflowRun.Status.FAILED, str(exc)
        except TimeoutError:
            self.status, self.error_text = WorkflowRun.Status.FAILED, f"Max execution time {limit:g}s reached."
        except GraphError as exc:
            self.status, self.error_text = WorkflowRun.Status.FAILED, str(exc)
        except Exception as exc:  # a bug must still end the stream and be stored
            logger.exception("workflow run %s crashed", p.run_id)
            self.status, self.error_text = WorkflowRun.Status.FAILED, f"Internal error: {type(exc).__name__}"
        finally:
            await self._finish(ctx, time.perf_counter() - started)

    async def _finish(self, ctx: RunContext, elapsed: float) -> None:
        p = self.prepared
        answer = "".join(ctx.answer)
        usage = sum_usage(ctx.usages)
        try:
            # On the hot-path threads: they keep their connection and schema between runs.
            await run_hot(p.tenant, _store, p, ctx, self.status, self.error_text, elapsed, answer,
                                         usage)
        except Exception:
            logger.exception("storing workflow run %s failed", p.run_id)
        if p.active_key:
            await run_hot(None, generation.release_slot, p.active_key)
        outputs = files.with_urls(_jsonable(ctx.outputs), getattr(p.tenant, "pk", ""))
        self.finished = {"id": p.run_id, "workflow_id": p.workflow_id, "status": str(self.status),
                         "outputs": outputs, "error": self.error_text, "elapsed_time": round(elapsed, 6),
                         "total_tokens": ctx.total_tokens, "total_steps": ctx.steps, "created_by": p.created_by,
                         "created_at": p.created_at, "finished_at": int(time.time()),
                         "exceptions_count": ctx.exceptions, "files": []}
        self.emit("workflow_finished", {"data": self.finished})
        if self.chat:
            if self.status == WorkflowRun.Status.FAILED:
                self.error = invalid_param(f"Run failed: {self.error_text}")
                self.emit("error", self.error.as_body())
            else:
                self.emit("message_end", {"metadata": self.metadata(), "files": []})
        self.usage = usage
        self.done.set()
        generation.RUNNING.pop(p.task_id, None)

    def metadata(self) -> dict[str, Any]:
        usage = sum_usage(self.ctx.usages if self.ctx else [])
        return {"annotation_reply": None, "retriever_resources": [], "usage": usage.model_dump(mode="json")}

    async def sse(self) -> AsyncIterator[bytes]:
        last = ("message_end", "error") if self.chat else ("workflow_finished",)
        async for batch in generation.sse_batches(self.events, last):
            if batch is None:
                yield generation.PING_FRAME
                continue
            yield b"".join(b"data: " + json.dumps(event, ensure_ascii=False, separators=(",", ":"),
                                                  default=str).encode() + b"\n\n" for event in batch)

    def blocking_body(self) -> dict[str, Any]:
        p = self.prepared
        if self.chat:
            return {"event": "message", "task_id": p.task_id, "id": p.message_id, "message_id": p.message_id,
                    "conversation_id": p.conversation_id, "mode": p.mode,
                    "answer": "".join(self.ctx.answer if self.ctx else []), "metadata": self.metadata(),
                    "created_at": p.created_at}
        data = {k: self.finished[k] for k in ("id", "workflow_id", "status", "outputs", "error", "elapsed_time",
                                              "total_tokens", "total_steps", "created_at", "finished_at")}
        return {"task_id": p.task_id, "workflow_run_id": p.run_id, "data": data}


