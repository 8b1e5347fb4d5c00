"""The Tool node (dsl.md §3.13): one tool of any provider type (builtin, api, workflow, mcp)
through apps.tools.runtime. Outputs: `text`, `files`, `json`."""

from __future__ import annotations

from typing import Any

from apps.workflows.engine.entities import NodeError, NodeResult
from apps.workflows.engine.nodes.base import Node


def _file_object(message: Any) -> dict[str, Any]:
    """A tool's stored file as the variable pool holds files (apps.workflows.files)."""
    from apps.workflows import files

    meta = message.meta
    name = str(meta.get("filename") or "")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {"dify_model_identity": files.IDENTITY, "type": files.file_type(extension),
            "transfer_method": "tool_file", "remote_url": None, "url": message.payload,
            "related_id": meta.get("upload_file_id"), "filename": name,
            "extension": f".{extension}" if extension else "", "mime_type": meta.get("mime_type") or "",
            "size": meta.get("size", -1)}


SPEC_KEYS = ("provider_type", "provider_id", "provider_name", "tool_name")


def tool_problem(data: dict[str, Any]) -> str | None:
    """Why a Tool node's tool cannot be used in this workspace (in its schema), or None: for the
    import report and the checklist (an unauthorised provider, a deleted custom tool ...)."""
    from apps.tools.runtime import unavailable_reason

    return unavailable_reason({k: data.get(k) for k in SPEC_KEYS})


class ToolNode(Node):
    type = "tool"

    def arguments(self) -> dict[str, Any]:
        """tool_parameters: {name: {type: mixed|variable|constant, value}} (legacy: plain values)."""
        values: dict[str, Any] = {}
        for name, item in (self.data.get("tool_parameters") or {}).items():
            if not isinstance(item, dict) or "type" not in item:
                values[name] = item
                continue
            kind, value = item.get("type"), item.get("value")
            if kind == "variable":
                selector = value.split(".") if isinstance(value, str) else value
                values[name] = self.pool.get(selector, None) if selector else None
            elif kind == "mixed":
                values[name] = self.pool.render(str(value if value is not None else ""))
            else:
                values[name] = value
        return values

    def tool_spec(self) -> dict[str, Any]:
        configurations = {}
        for name, item in (self.data.get("tool_configurations") or {}).items():
            # A configuration may be templated ({type: mixed, value: "{{#start.x#}}"}) in newer files.
            if isinstance(item, dict) and item.get("type") == "mixed":
                item = self.pool.render(str(item.get("value") or ""))
            elif isinstance(item, dict) and item.get("type") == "variable":
                item = self.pool.get(item.get("value") or [], None)
            configurations[name] = item
        return {k: self.data.get(k) for k in SPEC_KEYS} | {"tool_configurations": configurations}

    async def run(self) -> NodeResult:
        from apps.tools.entities import ToolInvokeError, ToolUnavailable
        from apps.tools.runtime import resolve_tool
        from apps.workspaces.sync import run_in_tenant_detached

        arguments, spec = self.arguments(), self.tool_spec()
        try:
            handle = await run_in_tenant_detached(self.ctx.tenant, resolve_tool, self.ctx.tenant, spec)
        except ToolUnavailable as exc:
            raise NodeError(str(exc), "ToolNodeError") from None
        try:
            messages = await handle.invoke(arguments, context=self.ctx)
        except ToolInvokeError as exc:
            raise NodeError(f"{handle.name}: {exc.message}", "ToolInvokeError") from None
        text, files, json_items = [], [], []
        for message in messages:
            if message.type == "text":
                text.append(str(message.payload))
            elif message.type == "link":
                text.append(f"Link: {message.payload}\n")
            elif message.type == "json":
                json_items.append(message.payload)
            elif message.meta.get("upload_file_id"):
                files.append(_file_object(message))
            else:
                text.append(message.as_text())
        inputs = {**spec["tool_configurations"], **arguments}
        return NodeResult(inputs=inputs, outputs={"text": "".join(text), "files": files, "json": json_items},
                          metadata={"tool_info": {"provider_type": handle.provider_type,
                                                  "provider_id": handle.provider_id,
                                                  "tool_name": handle.name}})
