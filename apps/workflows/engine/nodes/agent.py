"""The Agent node (dsl.md §3.19, WF): the agent runtime of agent apps inside a workflow.

It reads the reference's strategy-plugin form: `agent_strategy_name` function_calling or ReAct
(of the `langgenius/agent` strategies), and `agent_parameters` model, tools, instruction, query and
maximum_iterations, each wrapped as {type: constant|mixed|variable, value}. Each step of the loop
is an agent_log event; the answer streams to the Answer node that shows it, like an LLM's text.
Outputs: text, files (what the tools produced) and json (the steps).
"""

from typing import Any

from apps.applications.agent import runner as agents
from apps.providers.runtime.entities import PromptMessage
from apps.tools.runtime import ToolMessage, available_tools
from apps.workflows.engine.entities import NodeError, NodeResult, WorkflowStopped
from apps.workflows.engine.nodes.base import record_usage
from apps.workflows.engine.nodes.llm import ModelNode, resolve_model
from apps.workflows.engine.variables import to_text
from apps.workspaces.sync import run_hot


def _unwrap(parameter: Any) -> Any:
    return parameter.get("value") if isinstance(parameter, dict) and "type" in parameter else parameter


def tool_spec(entry: dict[str, Any]) -> dict[str, Any]:
    """An agent node's tool entry as the tool runtime's spec: its fixed (non-auto) parameter and
    settings values become the form values."""
    values: dict[str, Any] = {}
    for key in ("settings", "parameters"):
        for name, item in (entry.get(key) or {}).items() if isinstance(entry.get(key), dict) else ():
            if isinstance(item, dict) and "auto" in item:
                if item.get("auto") or item.get("value") is None:
                    continue  # the model fills it
                item = item["value"]
            elif isinstance(item, dict) and "value" in item and "type" not in item:
                item = item["value"]
            values[str(name)] = item
    provider = str(entry.get("provider_name") or entry.get("provider_id") or "")
    return {"enabled": entry.get("enabled", True), "provider_type": entry.get("type") or entry.get("provider_type")
            or "builtin", "provider_id": entry.get("provider_id") or provider, "provider_name": provider,
            "tool_name": entry.get("tool_name"), "tool_parameters": values}


def strategy_name(data: dict[str, Any]) -> str:
    name = str(data.get("agent_strategy_name") or "").lower()
    return agents.REACT if name in ("react", "cot") else agents.FUNCTION_CALL


class AgentNode(ModelNode):
    type = "agent"

    def _value(self, name: str) -> Any:
        """An agent parameter's value: constants as they are, mixed templates rendered, variables read."""
        raw = (self.data.get("agent_parameters") or {}).get(name)
        if not isinstance(raw, dict) or "type" not in raw:
            return raw
        kind, value = raw.get("type"), raw.get("value")
        if kind == "mixed" and isinstance(value, str):
            return self.pool.render(value)
        if kind == "variable":
            return self.pool.get(value if isinstance(value, list) else str(value or "").split("."), None)
        return value

    async def run(self) -> NodeResult:
        ctx = self.ctx
        model_config = self._value("model") or {}
        if not isinstance(model_config, dict):
            raise NodeError("The Agent node has no model.", "ModelNotConfigured")
        model_config = {**model_config, "name": model_config.get("model") or model_config.get("name")}
        model = await resolve_model(ctx, model_config)
        entries = [tool_spec(t) for t in self._value("tools") or [] if isinstance(t, dict)]
        tools = await run_hot(ctx.tenant, available_tools, ctx.tenant, entries)
        instruction = to_text(self._value("instruction") or "")
        query = to_text(self._value("query") or "")
        if not query.strip():
            raise NodeError("The Agent node's query is empty.", "EmptyQuery")
        messages = [PromptMessage("system", instruction)] if instruction.strip() else []
        messages += [*self.history(), PromptMessage("user", query)]
        params = dict(model_config.get("completion_params") or {})
        stop = params.pop("stop", None) or None
        files: list[dict[str, Any]] = []

        async def keep(produced: list[ToolMessage]) -> list[dict[str, Any]]:
            kept = [_file(m) for m in produced]
            files.extend(kept)
            return kept

        run = agents.AgentRun(
            model=model, messages=messages, tools=tools, strategy=agents.strategy_for(strategy_name(self.data), model),
            max_iteration=self._value("maximum_iterations") or agents.DEFAULT_MAX_ITERATION, params=params, stop=stop,
            user=ctx.user_id, context=agents.tool_context(ctx.app_id, ctx.user_id, ctx.conversation_id),
            should_stop=ctx.stop_check, keep_files=keep)
        top_level = not self.engine.scope.iteration_id and not self.engine.scope.loop_id
        async for event in run.events():
            if isinstance(event, agents.Delta) and top_level:
                ctx.stream_llm(self.spec.id, event.text)
            elif isinstance(event, agents.Thought):
                ctx.emit("agent_log", {"data": self._log(event)})
        if run.stopped:
            raise WorkflowStopped()
        steps = [t.event_fields() for t in run.thoughts]
        result = NodeResult(inputs={"query": query, "instruction": instruction},
                            outputs={"text": run.text, "files": files, "json": steps},
                            process_data={"strategy": run.strategy, "iterations": len(steps),
                                          "tools": [t.name for t in tools]})
        record_usage(result, run.usage)
        result.metadata["agent_log"] = steps
        return result

    def _log(self, thought: agents.Thought) -> dict[str, Any]:
        """agent_log's data (service-api.md §4.3) for one step as it stands."""
        done = bool(thought.observation) or (bool(thought.thought) and not thought.tool)
        return {"node_execution_id": getattr(self, "exec_id", None), "id": thought.id,
                "label": thought.tool or f"ROUND {thought.position}", "parent_id": None, "error": None,
                "status": "success" if done else "start", "data": thought.event_fields(), "metadata": {},
                "node_id": self.spec.id}


def _file(message: ToolMessage) -> dict[str, Any]:
    """A tool's file as a workflow file variable (service-api.md §2.21)."""
    meta = message.meta or {}
    upload = meta.get("upload_file_id")
    return {"id": upload or str(message.payload)[:64], "type": "image" if message.type == "image" else "document",
            "transfer_method": "tool_file" if upload else "remote_url", "url": str(message.payload),
            "related_id": upload, "filename": meta.get("filename"), "mime_type": meta.get("mime_type"),
            "size": meta.get("size"), "belongs_to": "assistant"}
