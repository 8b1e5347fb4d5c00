"""The graph of a workflow: nodes, edges and the root, parsed from the DSL's `graph` dict (dsl.md §2.3–2.4).

Sticky notes (`custom-note`) are dropped. Iteration and loop children stay in `nodes` but belong
to their container's subgraph (`parentId`); the top level never runs them directly.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

START_TYPES = ("start", "datasource", "trigger-webhook", "trigger-schedule", "trigger-plugin")


class GraphError(Exception):
    """The graph cannot be run (no start node, an edge to nowhere, a malformed node)."""


@dataclass
class NodeSpec:
    id: str
    type: str
    data: dict[str, Any]
    parent_id: str | None = None

    @property
    def title(self) -> str:
        return str(self.data.get("title") or self.type)


@dataclass
class Edge:
    id: str
    source: str
    target: str
    handle: str = "source"


@dataclass
class Graph:
    nodes: dict[str, NodeSpec]
    edges: list[Edge]
    root_id: str
    outgoing: dict[str, list[Edge]] = field(default_factory=dict)
    incoming: dict[str, list[Edge]] = field(default_factory=dict)
    all_nodes: dict[str, NodeSpec] = field(default_factory=dict)

    @classmethod
    def parse(cls, graph: dict[str, Any], *, container: str | None = None) -> "Graph":
        all_nodes = parse_nodes(graph)
        members = {nid: n for nid, n in all_nodes.items() if n.parent_id == container}
        edges = []
        for raw in graph.get("edges") or []:
            if not isinstance(raw, dict):
                continue
            source, target = str(raw.get("source", "")), str(raw.get("target", ""))
            if source in members and target in members:
                edges.append(Edge(id=str(raw.get("id") or f"{source}-{target}"), source=source, target=target,
                                  handle=str(raw.get("sourceHandle") or "source")))
        if container is None:
            root = _root(members, edges)
        else:
            start = str(all_nodes[container].data.get("start_node_id") or "")
            if start not in members:
                starts = [n.id for n in members.values() if n.type in ("iteration-start", "loop-start")]
                if not starts:
                    raise GraphError(f"The container {container} has no start node.")
                start = starts[0]
            root = start
        reachable = _reachable(root, edges)
        edges = [e for e in edges if e.source in reachable]
        outgoing: dict[str, list[Edge]] = defaultdict(list)
        incoming: dict[str, list[Edge]] = defaultdict(list)
        for edge in edges:
            outgoing[edge.source].append(edge)
            incoming[edge.target].append(edge)
        return cls(nodes={k: v for k, v in members.items() if k in reachable}, edges=edges, root_id=root,
                   outgoing=dict(outgoing), incoming=dict(incoming), all_nodes=all_nodes)

    def subgraph(self, container: str, raw: dict[str, Any]) -> "Graph":
        return Graph.parse(raw, container=container)


def parse_nodes(graph: dict[str, Any]) -> dict[str, NodeSpec]:
    if not isinstance(graph, dict):
        raise GraphError("The graph must be a mapping with nodes and edges.")
    nodes: dict[str, NodeSpec] = {}
    for raw in graph.get("nodes") or []:
        if not isinstance(raw, dict) or raw.get("type") == "custom-note":
            continue
        data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
        node_type = str(data.get("type") or "")
        if not node_type:
            continue
        node_id = str(raw.get("id") or "")
        if not node_id:
            raise GraphError("A node has no id.")
        parent = raw.get("parentId") or data.get("iteration_id") or data.get("loop_id")
        if data.get("isInIteration") is False and data.get("isInLoop") is False:
            parent = raw.get("parentId")
        nodes[node_id] = NodeSpec(id=node_id, type=node_type, data=data, parent_id=str(parent) if parent else None)
    return nodes


def _root(nodes: dict[str, NodeSpec], edges: list[Edge]) -> str:
    targets = {e.target for e in edges}
    candidates = [n for n in nodes.values() if n.id not in targets]
    for node in candidates:
        if node.type in START_TYPES:
            return node.id
    if candidates:
        return candidates[0].id
    raise GraphError("The workflow has no start node.")


def _reachable(root: str, edges: list[Edge]) -> set[str]:
    by_source: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        by_source[edge.source].append(edge.target)
    seen, stack = {root}, [root]
    while stack:
        for target in by_source[stack.pop()]:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen
