"""What nodes return and raise, and the settings that bound a run."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

SUCCEEDED, FAILED, EXCEPTION, STOPPED = "succeeded", "failed", "exception", "stopped"


def max_steps() -> int:
    return int(getattr(settings, "WORKFLOW_MAX_EXECUTION_STEPS", 500))


def max_seconds() -> float:
    return float(getattr(settings, "WORKFLOW_MAX_EXECUTION_TIME", 1200))


def node_max_seconds() -> float:
    return float(getattr(settings, "WORKFLOW_NODE_MAX_EXECUTION_TIME", 600))


class NodeError(Exception):
    """A node failed; `error_type` is reported with it (and exposed on fail branches)."""

    def __init__(self, message: str, error_type: str = "NodeError") -> None:
        super().__init__(message)
        self.error_type = error_type


class WorkflowStopped(Exception):
    """The run was stopped by a user."""


class WorkflowFailed(Exception):
    def __init__(self, message: str, node_id: str | None = None) -> None:
        super().__init__(message)
        self.node_id = node_id


@dataclass
class NodeResult:
    outputs: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] | None = None
    process_data: dict[str, Any] | None = None
    edge_handle: str = "source"
    status: str = SUCCEEDED
    error: str | None = None
    error_type: str | None = None
    tokens: int = 0
    price: Decimal = Decimal("0")
    currency: str = "USD"
    usage: Any = None  # the model runtime's Usage of an LLM-type node
    metadata: dict[str, Any] = field(default_factory=dict)
