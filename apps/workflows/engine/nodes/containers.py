"""Iteration and Loop: containers that run their child subgraph once per item or round (§3.14–3.15)."""

import asyncio
import json
import time
from typing import Any

from apps.workflows.engine import conditions
from apps.workflows.engine.entities import NodeError, NodeResult, WorkflowFailed
from apps.workflows.engine.graph import Graph, GraphError
from apps.workflows.engine.nodes.base import Node


class PassNode(Node):
    """iteration-start / loop-start: the entry of a container's subgraph."""

    async def run(self) -> NodeResult:
        return NodeResult()


class LoopEndNode(Node):
    async def run(self) -> NodeResult:
        self.engine.break_loop = True
        return NodeResult()


class _Container(Node):
    kind = ""

    def subgraph(self) -> Graph:
        try:
            return Graph.parse(self.ctx.raw_graph, container=self.spec.id)
        except GraphError as exc:
            raise NodeError(str(exc), "GraphError") from None

    def event(self, name: str, **fields: Any) -> None:
        self.ctx.emit(f"{self.kind}_{name}", {"data": {
            "id": getattr(self, "exec_id", ""), "node_id": self.spec.id, "node_type": self.spec.type,
            "title": self.spec.title, "created_at": int(time.time()), "extras": {}, **fields}})

    async def round(self, graph: Graph, pool: Any, scope: Any) -> Any:
        from apps.workflows.engine.engine import GraphEngine

        engine = GraphEngine(self.ctx, graph, pool, scope)
        await engine.run()
        return engine


class IterationNode(_Container):
    kind = "iteration"

    async def run(self) -> NodeResult:
        from apps.workflows.engine.engine import Scope

        items = self.pool.get(self.selector("iterator_selector"))
        if not isinstance(items, list):
            raise NodeError("The iteration variable must be an array.", "InvalidIteratorValue")
        graph = self.subgraph()
        output_selector = self.data.get("output_selector") or []
        mode = self.data.get("error_handle_mode") or "terminated"
        started = time.time()
        self.event("started", metadata={"iterator_length": len(items)}, inputs={"iterator_selector": items},
                   inputs_truncated=False)
        outputs: list[Any] = [None] * len(items)
        failed: set[int] = set()
        tokens_before = self.ctx.total_tokens

        async def one(index: int, item: Any) -> None:
            pool = self.pool.child()
            pool.add(self.spec.id, "item", item)
            pool.add(self.spec.id, "index", index)
            self.event("next", index=index)
            try:
                await self.round(graph, pool, Scope(iteration_id=self.spec.id, iteration_index=index,
                                                    parallel=bool(self.data.get("is_parallel"))))
            except WorkflowFailed as exc:
                if mode == "terminated":
                    raise NodeError(f"Iteration {index} failed: {exc}", "IterationError") from None
                failed.add(index)
                return
            outputs[index] = pool.get(output_selector, None) if output_selector else None

        if self.data.get("is_parallel"):
            limit = asyncio.Semaphore(max(1, min(int(self.data.get("parallel_nums") or 10), 100)))

            async def bounded(index: int, item: Any) -> None:
                async with limit:
                    await one(index, item)

            await asyncio.gather(*(bounded(i, item) for i, item in enumerate(items)))
        else:
            for index, item in enumerate(items):
                await one(index, item)
        if mode == "remove-abnormal-output":
            outputs = [o for i, o in enumerate(outputs) if i not in failed]
        if self.data.get("flatten_output", True) and outputs and all(isinstance(o, list) for o in outputs):
            outputs = [x for o in outputs for x in o]
        result = {"output": outputs}
        self.event("completed", outputs=result, outputs_truncated=False, inputs={"iterator_selector": items},
                   inputs_truncated=False, status="succeeded", error=None,
                   elapsed_time=round(time.time() - started, 6), total_tokens=self.ctx.total_tokens - tokens_before,
                   execution_metadata={"iteration_duration_map": {}}, finished_at=int(time.time()),
                   steps=len(items))
        return NodeResult(inputs={"iterator_selector": items}, outputs=result,
                          metadata={"iterator_length": len(items)})


def _loop_value(var: dict[str, Any], pool: Any) -> Any:
    if var.get("value_type") == "variable":
        return pool.get(var.get("value") or [], None)
    value, kind = var.get("value"), str(var.get("var_type") or "string")
    if not isinstance(value, str):
        return value
    try:
        if kind == "number":
            return float(value) if "." in value else int(value or 0)
        if kind == "boolean":
            return value.strip().lower() in ("true", "1", "yes")
        if kind == "object" or kind.startswith("array"):
            return json.loads(value) if value.strip() else ({} if kind == "object" else [])
    except ValueError:
        raise NodeError(f"Loop variable {var.get('label')} has an invalid {kind} value", "InvalidLoopValue") from None
    return value


class LoopNode(_Container):
    kind = "loop"

    async def run(self) -> NodeResult:
        from apps.workflows.engine.engine import Scope

        graph = self.subgraph()
        count = int(self.data.get("loop_count") or 0)
        break_conditions = self.data.get("break_conditions") or []
        operator = self.data.get("logical_operator") or "and"
        variables = [v for v in self.data.get("loop_variables") or [] if isinstance(v, dict) and v.get("label")]
        for var in variables:
            self.pool.add(self.spec.id, str(var["label"]), _loop_value(var, self.pool))

        def current(pool: Any) -> dict[str, Any]:
            return {str(v["label"]): pool.get([self.spec.id, str(v["label"])], None) for v in variables}

        started = time.time()
        self.event("started", metadata={"loop_length": count}, inputs=current(self.pool), inputs_truncated=False)
        rounds = 0
        if not (break_conditions and conditions.evaluate(self.pool, break_conditions, operator)[0]):
            for index in range(count):
                pool = self.pool.child()
                pool.add(self.spec.id, "index", index)
                self.event("next", index=index, pre_loop_output=current(pool))
                try:
                    engine = await self.round(graph, pool, Scope(loop_id=self.spec.id, loop_index=index))
                except WorkflowFailed as exc:
                    raise NodeError(f"Loop round {index} failed: {exc}", "LoopError") from None
                for name, value in current(pool).items():
                    self.pool.add(self.spec.id, name, value)
                rounds = index + 1
                if engine.break_loop:
                    break
                if break_conditions and conditions.evaluate(pool, break_conditions, operator)[0]:
                    break
        outputs = {**current(self.pool), "loop_round": rounds}
        self.event("completed", outputs=outputs, outputs_truncated=False, inputs={}, inputs_truncated=False,
                   status="succeeded", error=None, elapsed_time=round(time.time() - started, 6),
                   total_tokens=0, execution_metadata={"loop_round": rounds}, finished_at=int(time.time()),
                   steps=rounds)
        return NodeResult(inputs={}, outputs=outputs, metadata={"loop_round": rounds})
