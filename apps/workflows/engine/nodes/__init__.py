"""The node catalogue (dsl.md §3): type name → class, read from the registry."""

from apps.workflows.engine.nodes import registry
from apps.workflows.engine.nodes.base import Node, UnsupportedNode

# The engine's view of the registry (apps.workflows.engine.nodes.registry): type name → executor.
NODES: dict[str, type[Node]] = {name: t.cls for name, t in registry.TYPES.items()}


def unsupported_reason(node_type: str) -> str | None:
    """Why a node type cannot run here (None when it can): the import report and the checklist say it."""
    cls = NODES.get(node_type)
    if cls is None:
        return f"Unknown node type: {node_type}"
    if issubclass(cls, UnsupportedNode):
        return cls.reason or None
    check = getattr(cls, "unavailable", None)
    return check() if check else None


def node_class(node_type: str) -> type[Node]:
    cls = NODES.get(node_type)
    if cls is None:
        return type("Unknown", (UnsupportedNode,), {"reason": f"Unknown node type: {node_type}"})
    return cls
