"""The run loop: traverse the graph from its root, run ready nodes (parallel branches at once),
apply each node's retry, timeout and error strategy, and report every step as an event.

Routing works on edge states. A finished node marks each outgoing edge taken (its branch handle
matches) or skipped; a node runs once all its incoming edges are settled and one was taken, and a
node whose edges were all skipped is skipped in turn. So joins after IF/ELSE run once, and
parallel branches (several taken edges) run as concurrent asyncio tasks.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from apps.providers.runtime.errors import RuntimeModelError
from apps.workflows.engine.conditions import ConditionError
from apps.workflows.engine.entities import (
    EXCEPTION,
    FAILED,
    STOPPED,
    SUCCEEDED,
    NodeError,
    NodeResult,
    WorkflowFailed,
    WorkflowStopped,
    max_steps,
    node_max_seconds,
)
from apps.workflows.engine.graph import Graph, NodeSpec
from apps.workflows.engine.variables import VariableNotFound, VariablePool

logger = logging.getLogger(__name__)


def now_ts() -> int:
    return int(time.time())


@dataclass
class AnswerStream:
    """An Answer (or End) node fed directly by an LLM node: its text streams as the LLM writes."""

    target_id: str
    segments: list[Any]
    llm_index: int  # the segment that is the LLM's text
    kind: str  # "answer" | "end"
    started: bool = False
    failed: bool = False


@dataclass
class RunContext:
    """What every node of one run shares: identity, the event sink, totals and limits."""

    mode: str  # workflow | advanced-chat
    app_id: str
    workflow_id: str
    run_id: str
    raw_graph: dict[str, Any]
    emit: Callable[[str, dict[str, Any]], None]
    tenant: Any = None
    inputs: dict[str, Any] = field(default_factory=dict)
    models: dict[tuple[str, str], Any] = field(default_factory=dict)
    user_id: str | None = None
    conversation_id: str | None = None
    history: list[tuple[str, str]] = field(default_factory=list)  # (query, answer), oldest first
    stop_check: Callable[[], bool] = lambda: False
    total_tokens: int = 0
    total_price: Decimal = Decimal("0")
    currency: str = "USD"
    steps: int = 0
    index: int = 0
    exceptions: int = 0
    executions: list[dict[str, Any]] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    conversation_dirty: set[str] = field(default_factory=set)
    streams: dict[str, list[AnswerStream]] = field(default_factory=dict)
    max_steps: int = field(default_factory=max_steps)
    pool: Any = None  # the top-level variable pool
    usages: list[Any] = field(default_factory=list)  # of every LLM-type node, for the message's usage

    def check_stop(self) -> None:
        if self.stop_check():
            raise WorkflowStopped()

    def stream_llm(self, llm_id: str, delta: str) -> None:
        """An LLM node's text delta, passed on to the Answer/End node it feeds directly."""
        for stream in self.streams.get(llm_id, ()):
            if stream.kind == "answer" and not stream.started:
                stream.started = True
                for segment in stream.segments[: stream.llm_index]:
                    if isinstance(segment, str):
                        self.message(segment, None)
                    elif self.pool is not None:
                        from apps.workflows.engine.variables import to_text

                        self.message(to_text(self.pool.get(segment, None)), segment)
            stream.started = True
            self.message(delta, [llm_id, "text"])

    def next_index(self) -> int:
        self.index += 1
        return self.index

    def message(self, text: str, selector: list[str] | None) -> None:
        """Chatflow answer text (streamed as `message`) or workflow End text (`text_chunk`)."""
        if not text:
            return
        if self.mode == "advanced-chat":
            self.answer.append(text)
            self.emit("message", {"answer": text, "from_variable_selector": selector})
        else:
            self.emit("text_chunk", {"data": {"text": text, "from_variable_selector": selector}})


@dataclass
class Scope:
    """Where a node runs: top level, or inside an iteration/loop round."""

    iteration_id: str | None = None
    iteration_index: int | None = None
    loop_id: str | None = None
    loop_index: int | None = None
    parallel: bool = False


def _matches(edge_handle: str, chosen: str) -> bool:
    if edge_handle == chosen:
        return True
    return {edge_handle, chosen} == {"source", "success-branch"}


def _iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


class GraphEngine:
    def __init__(self, ctx: RunContext, graph: Graph, pool: VariablePool, scope: Scope | None = None) -> None:
        self.ctx, self.graph, self.pool = ctx, graph, pool
        self.scope = scope or Scope()
        self.state: dict[str, str] = {}
        self.tasks: set[asyncio.Task] = set()
        self.break_loop = False  # a loop-end node ran
        self.steps = 0
        if self.scope == Scope() and not ctx.streams:
            ctx.streams = plan_streams(graph, ctx.mode)

    async def run(self) -> None:
        """Run until no node is left; raises WorkflowFailed / WorkflowStopped."""
        self._schedule(self.graph.root_id, None)
        try:
            while self.tasks:
                if len(self.tasks) == 1:  # a chain: await the one task without asyncio.wait's machinery
                    task = next(iter(self.tasks))
                    await task
                    done = {task}
                else:
                    done, _ = await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    self.tasks.discard(task)
                    node_id, result = task.result()
                    self._route(node_id, result.edge_handle)
        finally:
            for task in self.tasks:
                task.cancel()
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)

    def _schedule(self, node_id: str, predecessor: str | None) -> None:
        spec = self.graph.nodes[node_id]
        self.tasks.add(asyncio.ensure_future(self._execute(spec, predecessor)))

    def _route(self, node_id: str, handle: str) -> None:
        edges = self.graph.outgoing.get(node_id, [])
        for edge in edges:
            self.state[edge.id] = "taken" if _matches(edge.handle, handle) else "skipped"
        for edge in edges:
            self._settle(edge.target)

    def _settle(self, node_id: str) -> None:
        incoming = self.graph.incoming.get(node_id, [])
        states = [self.state.get(e.id) for e in incoming]
        if any(s is None for s in states) or node_id in self.state:
            return
        self.state[node_id] = "visited"
        taken = [e for e in incoming if self.state.get(e.id) == "taken"]
        if taken:
            self._schedule(node_id, taken[0].source)
            return
        for edge in self.graph.outgoing.get(node_id, []):  # skipped: so are its successors
            self.state[edge.id] = "skipped"
        for edge in self.graph.outgoing.get(node_id, []):
            self._settle(edge.target)

    # --- One node ---------------------------------------------------------------------------

    def _node_base(self, spec: NodeSpec, exec_id: str, index: int, predecessor: str | None,
                   started: float) -> dict[str, Any]:
        return {"id": exec_id, "node_id": spec.id, "node_type": spec.type, "title": spec.title, "index": index,
                "predecessor_node_id": predecessor, "created_at": int(started),
                "iteration_id": self.scope.iteration_id, "loop_id": self.scope.loop_id}

    async def _execute(self, spec: NodeSpec, predecessor: str | None) -> tuple[str, NodeResult]:
        from apps.workflows.engine.nodes import node_class

        ctx = self.ctx
        ctx.check_stop()
        ctx.steps += 1  # every node run, for the run's total_steps
        self.steps += 1  # the limit applies per graph: the top level, and each iteration/loop round
        if self.steps > ctx.max_steps:
            raise WorkflowFailed(f"Max steps {ctx.max_steps} reached.", spec.id)
        exec_id, index, started = str(uuid.uuid4()), ctx.next_index(), time.time()
        base = self._node_base(spec, exec_id, index, predecessor, started)
        ctx.emit("node_started", {"data": {**base, "inputs": None, "inputs_truncated": False, "extras": {},
                                           "agent_strategy": None}})
        node = node_class(spec.type)(spec, self)
        node.exec_id = exec_id
        retry = spec.data.get("retry_config") or {}
        retries = int(retry.get("max_retries") or 0) if retry.get("retry_enabled") else 0
        timeout = _node_timeout(spec.data)
        attempt = 0
        while True:
            result = await self._attempt(node, timeout)
            if result.status != FAILED or attempt >= retries:
                break
            attempt += 1
            ctx.emit("node_retry", {"data": {**base, **self._finished_fields(result, started), "retry_index": attempt}})
            await asyncio.sleep(float(retry.get("retry_interval") or 0) / 1000)
            ctx.check_stop()
        if result.status == STOPPED:
            self._record(spec, base, result, started)
            raise WorkflowStopped()
        if result.status == FAILED:
            result = self._error_strategy(spec, result)
        if attempt:
            result.metadata["retry_count"] = attempt
        if result.status != FAILED:
            self.pool.add_many(spec.id, result.outputs)
        self._record(spec, base, result, started)
        if result.status == FAILED:
            raise WorkflowFailed(result.error or "Node failed.", spec.id)
        return spec.id, result

    async def _attempt(self, node: Any, timeout: float) -> NodeResult:
        try:
            async with asyncio.timeout(timeout):  # no extra task per node, unlike wait_for
                return await node.run()
        except WorkflowStopped:
            return NodeResult(status=STOPPED, error="Stopped by user.")
        except TimeoutError:
            return NodeResult(status=FAILED, error=f"Node timed out after {timeout:g}s.",
                              error_type="TimeoutError")
        except NodeError as exc:
            return NodeResult(status=FAILED, error=str(exc), error_type=exc.error_type)
        except (VariableNotFound, ConditionError) as exc:
            return NodeResult(status=FAILED, error=str(exc), error_type=type(exc).__name__)
        except RuntimeModelError as exc:
            return NodeResult(status=FAILED, error=exc.message, error_type=type(exc).__name__)
        except WorkflowFailed:
            raise
        except Exception as exc:  # a bug in a node fails the node, not the process
            logger.exception("node %s (%s) crashed", node.spec.id, node.spec.type)
            return NodeResult(status=FAILED, error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__)

    def _error_strategy(self, spec: NodeSpec, result: NodeResult) -> NodeResult:
        strategy = spec.data.get("error_strategy")
        if strategy not in ("fail-branch", "default-value"):
            return result
        self.ctx.exceptions += 1
        outputs: dict[str, Any] = {}
        if strategy == "default-value":
            for item in spec.data.get("default_value") or []:
                if isinstance(item, dict) and item.get("key"):
                    outputs[item["key"]] = item.get("value")
        outputs.update(error_message=result.error, error_type=result.error_type)
        result.outputs, result.status = outputs, EXCEPTION
        result.edge_handle = "fail-branch" if strategy == "fail-branch" else "source"
        return result

    def _finished_fields(self, result: NodeResult, started: float) -> dict[str, Any]:
        finished = time.time()
        metadata = dict(result.metadata)
        if result.tokens or "total_tokens" in metadata:
            metadata.update(total_tokens=result.tokens, total_price=str(result.price), currency=result.currency)
        if self.scope.iteration_id:
            metadata.update(iteration_id=self.scope.iteration_id, iteration_index=self.scope.iteration_index)
        if self.scope.loop_id:
            metadata.update(loop_id=self.scope.loop_id, loop_index=self.scope.loop_index)
        return {"inputs": result.inputs, "inputs_truncated": False, "process_data": result.process_data,
                "process_data_truncated": False, "outputs": result.outputs if result.status != FAILED else None,
                "outputs_truncated": False, "status": result.status, "error": result.error,
                "elapsed_time": round(finished - started, 6), "execution_metadata": metadata or None,
                "finished_at": int(finished), "files": []}

    def _record(self, spec: NodeSpec, base: dict[str, Any], result: NodeResult, started: float) -> None:
        ctx = self.ctx
        if result.status in (SUCCEEDED, EXCEPTION) and result.tokens:
            ctx.total_tokens += result.tokens
            ctx.total_price += result.price
            ctx.currency = result.currency
            if result.usage is not None:
                ctx.usages.append(result.usage)
        fields = self._finished_fields(result, started)
        ctx.emit("node_finished", {"data": {**base, **fields}})
        ctx.executions.append({
            "id": base["id"], "index": base["index"], "predecessor_node_id": base["predecessor_node_id"],
            "node_id": spec.id, "node_type": spec.type, "title": spec.title, "inputs": result.inputs,
            "process_data": result.process_data, "outputs": fields["outputs"], "status": result.status,
            "error": result.error, "elapsed_time": fields["elapsed_time"], "total_tokens": result.tokens,
            "total_price": result.price, "execution_metadata": fields["execution_metadata"],
            "created_at": _iso(started), "finished_at": _iso(time.time()),
        })


def _node_timeout(data: dict[str, Any]) -> float:
    limit = node_max_seconds()
    value = data.get("timeout")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return min(float(value), limit)
    return limit


def plan_streams(graph: Graph, mode: str) -> dict[str, list[AnswerStream]]:
    """Answer/End nodes whose single predecessor is an LLM node whose text they show: that text
    streams while the LLM writes it (WF-12), instead of arriving when the Answer node runs."""
    from apps.workflows.engine.variables import TEMPLATE_RE

    streams: dict[str, list[AnswerStream]] = {}
    for node in graph.nodes.values():
        incoming = graph.incoming.get(node.id, [])
        if len(incoming) != 1:
            continue
        source = graph.nodes.get(incoming[0].source)
        if source is None or source.type != "llm":
            continue
        if mode == "advanced-chat" and node.type == "answer":
            template = str(node.data.get("answer") or "")
            segments: list[Any] = []
            position = 0
            for match in TEMPLATE_RE.finditer(template):
                if match.start() > position:
                    segments.append(template[position:match.start()])
                segments.append(match.group(1).split("."))
                position = match.end()
            if position < len(template):
                segments.append(template[position:])
            for i, segment in enumerate(segments):
                if segment == [source.id, "text"]:
                    streams.setdefault(source.id, []).append(AnswerStream(node.id, segments, i, "answer"))
                    break
        elif mode == "workflow" and node.type == "end":
            for output in node.data.get("outputs") or []:
                if isinstance(output, dict) and list(output.get("value_selector") or []) == [source.id, "text"]:
                    streams.setdefault(source.id, []).append(AnswerStream(node.id, [], 0, "end"))
                    break
    return streams
