"""Knowledge bases as tools (AG-04): an agent searches a dataset when it decides to, instead of
every turn getting the context up front as a chat app does."""

import uuid
from dataclasses import dataclass, field
from typing import Any

from apps.datasets import context as knowledge
from apps.datasets import retrieval
from apps.tools.runtime import ToolInvokeError, ToolMessage
from apps.workspaces.sync import run_hot

QUERY_SCHEMA = {"type": "object", "properties": {"query": {"type": "string",
                                                           "description": "What to look up in the knowledge base."}},
                "required": ["query"]}


@dataclass
class DatasetTool:
    """One dataset, callable like a tool (the interface of apps.tools.runtime.ToolHandle)."""

    tenant: Any
    dataset: Any
    source: str
    cited: bool
    resources: list[dict[str, Any]] = field(default_factory=list)  # citations of what was found

    @property
    def name(self) -> str:
        return f"{knowledge.TOOL_PREFIX}{self.dataset.pk.hex}"

    @property
    def label(self) -> str:
        return self.dataset.name

    @property
    def description(self) -> str:
        about = self.dataset.description or self.dataset.name
        return f"Search the knowledge base {self.dataset.name!r}: {about}"[:1000]

    def parameters_schema(self) -> dict[str, Any]:
        return QUERY_SCHEMA

    def _search(self, query: str) -> str:
        hits = retrieval.retrieve(datasets=[self.dataset], query=query)
        if self.cited and hits:
            found = knowledge.resources(hits, [self.dataset], self.source)
            seen = {(r["dataset_id"], r["document_id"]) for r in self.resources}
            for resource in found:
                if (resource["dataset_id"], resource["document_id"]) not in seen:
                    self.resources.append({**resource, "position": len(self.resources) + 1})
        return knowledge.context_text(hits)

    async def invoke(self, arguments: dict[str, Any], *, context: Any = None) -> list[ToolMessage]:
        query = str(arguments.get("query") or "").strip()[: retrieval.MAX_QUERY_CHARS]
        if not query:
            raise ToolInvokeError("Missing required parameter: query.")
        text = await run_hot(self.tenant, self._search, query)
        return [ToolMessage("text", text or "Nothing in this knowledge base matches the query.")]


def dataset_tools(tenant: Any, config: dict[str, Any], source: str) -> list[DatasetTool]:
    """The app's datasets as tools (sync, in the workspace schema). Datasets of another workspace
    are not found here; unindexed ones are left out."""
    ids = []
    for raw in knowledge.dataset_ids(config):
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    cited = bool((config.get("retriever_resource") or {}).get("enabled"))
    return [DatasetTool(tenant, d, source, cited) for d in retrieval.datasets_by_id(ids) if d.indexing_technique]
