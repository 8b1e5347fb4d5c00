"""Running one node alone (WF-23 step test): the values it reads are given by the user."""

from typing import Any

from apps.workflows.engine.engine import GraphEngine, RunContext
from apps.workflows.engine.entities import WorkflowFailed
from apps.workflows.engine.graph import Graph, NodeSpec
from apps.workflows.engine.variables import VariablePool, selectors_in

RESERVED = ("sys", "env", "conversation")


def referenced_selectors(data: Any) -> list[list[str]]:
    """Every `[node_id, name, …]` a node's data reads: selector lists and `{{#…#}}` templates."""
    found: list[list[str]] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            if ("selector" in key or key in ("variable", "query", "value")) and len(value) >= 2 and all(
                    isinstance(v, str) for v in value):
                found.append(list(value))
            elif key == "variables" and all(isinstance(v, list) for v in value):  # the aggregator
                for v in value:
                    walk(v, "selector")
            else:
                for v in value:
                    walk(v, key)
        elif isinstance(value, str):
            found.extend(selectors_in(value))

    walk(data)
    unique: list[list[str]] = []
    for selector in found:
        if selector not in unique:
            unique.append(selector)
    return unique


async def run_node(spec: NodeSpec, values: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Run `spec` with `values` ({"node.var": value}) in the pool; returns its node_finished data.
    `context` are the RunContext fields (mode, app_id, tenant, raw_graph, …)."""
    pool = VariablePool({"sys": {}, "env": {}, "conversation": {}})
    for dotted, value in values.items():
        parts = str(dotted).split(".")
        if len(parts) >= 2:
            pool.add(parts[0], ".".join(parts[1:]) if parts[0] in RESERVED else parts[1], value)
    events: list[tuple[str, dict[str, Any]]] = []
    ctx = RunContext(emit=lambda event, data: events.append((event, data)), pool=pool, **context)
    graph = Graph(nodes={spec.id: spec}, edges=[], root_id=spec.id, all_nodes={spec.id: spec})
    try:
        await GraphEngine(ctx, graph, pool).run()
    except WorkflowFailed:
        pass  # the node's own failure is in its node_finished event
    finished = [data["data"] for event, data in events if event == "node_finished"]
    return finished[-1] if finished else {}
