"""Building graphs in tests and running them through the engine directly (no HTTP, no database
unless a node needs one)."""

import asyncio
from typing import Any

from apps.workflows.engine.engine import GraphEngine, RunContext
from apps.workflows.engine.entities import WorkflowFailed, WorkflowStopped
from apps.workflows.engine.graph import Graph
from apps.workflows.engine.variables import VariablePool


def node(node_id: str, node_type: str, parent: str | None = None, **data: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": node_id, "type": "custom", "data": {"type": node_type, "title": node_id, **data}}
    if parent:
        raw["parentId"] = parent
        raw["data"]["isInIteration"] = True
    return raw


def edge(source: str, target: str, handle: str = "source") -> dict[str, Any]:
    return {"id": f"{source}-{handle}-{target}", "source": source, "sourceHandle": handle, "target": target,
            "targetHandle": "target"}


def chain(*ids: str) -> list[dict[str, Any]]:
    return [edge(a, b) for a, b in zip(ids, ids[1:], strict=False)]


def graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodes": nodes, "edges": edges}


class Result:
    def __init__(self, status: str, error: str | None, ctx: RunContext, events: list[tuple[str, dict]]) -> None:
        self.status, self.error, self.ctx, self.events = status, error, ctx, events

    @property
    def outputs(self) -> dict[str, Any]:
        return self.ctx.outputs

    def finished(self, node_id: str) -> dict[str, Any]:
        return [d["data"] for e, d in self.events if e == "node_finished" and d["data"]["node_id"] == node_id][-1]

    def ran(self) -> list[str]:
        return [d["data"]["node_id"] for e, d in self.events if e == "node_finished"]

    def kinds(self) -> list[str]:
        return [e for e, _ in self.events]


async def arun(raw: dict[str, Any], inputs: dict[str, Any] | None = None, *, mode: str = "workflow",
               system: dict[str, Any] | None = None, env: dict[str, Any] | None = None,
               conversation: dict[str, Any] | None = None, tenant: Any = None, stop_after: int | None = None,
               history: list | None = None, app_id: str = "app") -> Result:
    events: list[tuple[str, dict]] = []
    pool = VariablePool({"sys": dict(system or {}), "env": dict(env or {}), "conversation": dict(conversation or {})})
    state = {"stop": False}

    def emit(event: str, data: dict) -> None:
        events.append((event, data))
        if stop_after is not None and sum(1 for e, _ in events if e == "node_finished") >= stop_after:
            state["stop"] = True

    ctx = RunContext(mode=mode, app_id=app_id, workflow_id="wf", run_id="run", raw_graph=raw, emit=emit,
                     tenant=tenant, inputs=dict(inputs or {}), stop_check=lambda: state["stop"], pool=pool,
                     history=list(history or []))
    status, error = "succeeded", None
    try:
        await GraphEngine(ctx, Graph.parse(raw), pool).run()
        if ctx.exceptions:
            status = "partial-succeeded"
    except WorkflowFailed as exc:
        status, error = "failed", str(exc)
    except WorkflowStopped:
        status, error = "stopped", "Stopped by user."
    return Result(status, error, ctx, events)


def run(raw: dict[str, Any], inputs: dict[str, Any] | None = None, **kwargs: Any) -> Result:
    return asyncio.run(arun(raw, inputs, **kwargs))
