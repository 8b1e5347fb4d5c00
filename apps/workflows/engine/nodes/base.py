"""The node base class: a node reads the pool, does its work and returns a NodeResult."""

from typing import Any

from apps.providers.runtime.entities import Usage
from apps.workflows.engine.entities import NodeError, NodeResult
from apps.workflows.engine.graph import NodeSpec
from apps.workflows.engine.variables import VariablePool


class Node:
    type = ""

    def __init__(self, spec: NodeSpec, engine: Any) -> None:
        self.spec, self.engine, self.data = spec, engine, spec.data

    @property
    def pool(self) -> VariablePool:
        return self.engine.pool

    @property
    def ctx(self) -> Any:
        return self.engine.ctx

    async def run(self) -> NodeResult:  # pragma: no cover - every node overrides it
        raise NotImplementedError

    def selector(self, key: str) -> list[str]:
        value = self.data.get(key)
        if isinstance(value, str):  # some files give "node.var"
            value = value.split(".")
        if not isinstance(value, list) or len(value) < 2:
            raise NodeError(f"{self.spec.title}: {key} is not set.", "ConfigError")
        return [str(v) for v in value]

    def named_variables(self, key: str = "variables") -> dict[str, Any]:
        """`[{variable, value_selector}]` → {variable: value}; a missing value is None."""
        values: dict[str, Any] = {}
        for item in self.data.get(key) or []:
            if isinstance(item, dict) and item.get("variable"):
                selector = item.get("value_selector") or []
                values[str(item["variable"])] = self.pool.get(selector, None) if selector else None
        return values


def record_usage(result: NodeResult, usage: Usage | None) -> None:
    """A model call's tokens and price count toward the node (its metadata) and so the run."""
    if usage is not None:
        result.usage = usage
        result.tokens, result.price, result.currency = usage.total_tokens, usage.total_price, usage.currency
        result.metadata.update(total_tokens=usage.total_tokens, total_price=str(usage.total_price),
                               currency=usage.currency)


class UnsupportedNode(Node):
    """A node type Tessera cannot run yet: the run fails with a clear reason."""

    reason = ""

    async def run(self) -> NodeResult:
        raise NodeError(self.reason or f"Unknown node type: {self.spec.type}", "UnsupportedNode")
