"""Nodes that call a language model through apps.providers.runtime: LLM, Question Classifier and
Parameter Extractor (dsl.md §3.4, §3.6, §3.16). Usage is priced by the runtime and added to the
run's totals; text streams to the Answer or End node the LLM feeds."""

import json
import re
from typing import Any

from apps.providers import selectors as provider_selectors
from apps.providers.catalog import provider_id_of
from apps.providers.runtime.entities import ImagePart, PromptMessage, ToolDefinition, Usage
from apps.workflows.engine.entities import NodeError, NodeResult
from apps.workflows.engine.nodes.base import Node, record_usage
from apps.workflows.engine.nodes.basic import render_jinja
from apps.workflows.engine.variables import to_text
from apps.workspaces.sync import run_hot

DEFAULT_HISTORY = 50


async def resolve_model(ctx: Any, config: dict[str, Any] | None) -> Any:
    config = config or {}
    provider, name = provider_id_of(str(config.get("provider") or "")), str(config.get("name") or "")
    if not provider or not name:
        raise NodeError("No model is selected.", "ModelNotConfigured")
    key = (provider, name)
    if key not in ctx.models:
        ctx.models[key] = await run_hot(ctx.tenant, provider_selectors.resolve, "llm", provider, name)
    return ctx.models[key]


def _params(config: dict[str, Any]) -> tuple[dict[str, Any], list[str] | None]:
    params = dict((config or {}).get("completion_params") or {})
    stop = params.pop("stop", None) or None
    return params, stop


class ModelNode(Node):
    def history(self) -> list[PromptMessage]:
        memory = self.data.get("memory")
        if not memory or self.ctx.mode != "advanced-chat":
            return []
        window = memory.get("window") or {}
        size = int(window.get("size") or DEFAULT_HISTORY) if window.get("enabled") else DEFAULT_HISTORY
        messages: list[PromptMessage] = []
        for query, answer in self.ctx.history[-size:] if size > 0 else []:
            messages += [PromptMessage("user", query), PromptMessage("assistant", answer)]
        return messages

    def images(self) -> list[ImagePart]:
        vision = self.data.get("vision") or {}
        if not vision.get("enabled"):
            return []
        selector = (vision.get("configs") or {}).get("variable_selector") or ["sys", "files"]
        detail = (vision.get("configs") or {}).get("detail") or "high"
        value = self.pool.get(selector, None)
        files = value if isinstance(value, list) else [value] if value else []
        return [ImagePart(url=f["url"], detail=detail) for f in files
                if isinstance(f, dict) and f.get("type") == "image" and f.get("url")]

    async def call(self, messages: list[PromptMessage], *, stream_to: str | None = None,
                   tools: list[ToolDefinition] | None = None) -> tuple[str, Usage | None, str, list]:
        model = await resolve_model(self.ctx, self.data.get("model"))
        params, stop = _params(self.data.get("model") or {})
        top_level = not self.engine.scope.iteration_id and not self.engine.scope.loop_id
        text: list[str] = []
        usage, finish = None, "stop"
        calls: dict[int, dict[str, str]] = {}
        async for chunk in model.stream(messages, params=params, stop=stop, tools=tools, user=self.ctx.user_id):
            self.ctx.check_stop()
            if chunk.delta:
                text.append(chunk.delta)
                if stream_to and top_level:
                    self.ctx.stream_llm(stream_to, chunk.delta)
            for delta in chunk.tool_calls:
                call = calls.setdefault(delta.index, {"name": "", "arguments": ""})
                call["name"] = delta.name or call["name"]
                call["arguments"] += delta.arguments
            if chunk.usage is not None:
                usage, finish = chunk.usage, chunk.finish_reason or finish
        return "".join(text), usage, finish, list(calls.values())


def _log(messages: list[PromptMessage]) -> list[dict[str, Any]]:
    return [{"role": m.role, "text": m.text,
             "files": [p.url[:80] for p in m.content if isinstance(p, ImagePart)] if isinstance(m.content, list)
             else []} for m in messages]


def _context_text(value: Any) -> str:
    """Knowledge results (a list of chunks) join their `content`; anything else renders as text."""
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return "\n".join(str(v.get("content") or "") for v in value)
    return to_text(value)


def _attach(messages: list[PromptMessage], images: list[ImagePart]) -> None:
    if not images:
        return
    for message in reversed(messages):
        if message.role == "user":
            message.content = [message.text, *images]
            return
    messages.append(PromptMessage("user", [*images]))


class LLMNode(ModelNode):
    type = "llm"

    def _render(self, item: dict[str, Any], context: str, jinja_vars: dict[str, Any]) -> str:
        if item.get("edition_type") == "jinja2":
            return render_jinja(str(item.get("jinja2_text") or ""), jinja_vars)
        return self.pool.render(str(item.get("text") or ""), {"context": context})

    async def run(self) -> NodeResult:
        data = self.data
        context = ""
        context_config = data.get("context") or {}
        if context_config.get("enabled") and context_config.get("variable_selector"):
            context = _context_text(self.pool.get(context_config["variable_selector"], None))
        jinja_vars = {str(v.get("variable")): self.pool.get(v.get("value_selector") or [], None)
                      for v in (data.get("prompt_config") or {}).get("jinja2_variables") or []
                      if isinstance(v, dict) and v.get("variable")}
        template = data.get("prompt_template") or []
        messages: list[PromptMessage] = []
        if isinstance(template, dict):  # completion model: one text
            messages.append(PromptMessage("user", self._render(template, context, jinja_vars)))
        else:
            for item in template:
                if isinstance(item, dict):
                    role = item.get("role") if item.get("role") in ("system", "user", "assistant") else "user"
                    messages.append(PromptMessage(role, self._render(item, context, jinja_vars)))
        memory = data.get("memory")
        if memory and self.ctx.mode == "advanced-chat":
            messages += self.history()
            query = self.pool.render(memory.get("query_prompt_template") or "") if memory.get(
                "query_prompt_template") else to_text(self.pool.get(["sys", "query"], ""))
            if query:
                messages.append(PromptMessage("user", query))
        messages = [m for m in messages if m.role != "system" or m.text]
        _attach(messages, self.images())
        if not messages:
            raise NodeError("The prompt is empty.", "EmptyPrompt")
        text, usage, finish, _ = await self.call(messages, stream_to=self.spec.id)
        model = data.get("model") or {}
        usage_json = usage.model_dump(mode="json") if usage else None
        result = NodeResult(
            inputs={}, outputs={"text": text, "reasoning_content": "", "usage": usage_json, "finish_reason": finish},
            process_data={"model_mode": model.get("mode") or "chat", "prompts": _log(messages), "usage": usage_json,
                          "finish_reason": finish, "model_provider": model.get("provider"),
                          "model_name": model.get("name")})
        record_usage(result, usage)
        return result


def _json_in(text: str) -> Any:
    """The first JSON object in a model's answer (models like to wrap it in prose or fences)."""
    match = re.search(r"\{.*\}", text or "", re.S)
    if not match:
        return None
    try:
        return json.loads(match.group(0))
    except ValueError:
        return None


CLASSIFIER_PROMPT = (
    "You are a text classification engine. Classify the user's input into exactly one of these "
    "categories and answer only with JSON {{\"category_id\": \"...\", \"category_name\": \"...\"}}.\n"
    "Categories: {categories}\n{instruction}")


class QuestionClassifierNode(ModelNode):
    type = "question-classifier"

    async def run(self) -> NodeResult:
        classes = [c for c in self.data.get("classes") or [] if isinstance(c, dict) and c.get("id")]
        if not classes:
            raise NodeError("The Question Classifier has no classes.", "ConfigError")
        query = to_text(self.pool.get(self.selector("query_variable_selector"), None))
        instruction = self.pool.render(str(self.data.get("instruction") or ""))
        categories = json.dumps([{"category_id": str(c["id"]), "category_name": c.get("name")} for c in classes],
                                ensure_ascii=False)
        messages = [PromptMessage("system", CLASSIFIER_PROMPT.format(categories=categories,
                                                                     instruction=instruction)),
                    *self.history(), PromptMessage("user", query)]
        _attach(messages, self.images())
        text, usage, finish, _ = await self.call(messages)
        answer = _json_in(text) or {}
        chosen = next((c for c in classes if str(c["id"]) == str(answer.get("category_id"))), None)
        if chosen is None:
            chosen = next((c for c in classes if c.get("name") and c.get("name") == answer.get("category_name")), None)
        if chosen is None:
            chosen = next((c for c in classes if c.get("name") and str(c["name"]).lower() in text.lower()), classes[0])
        usage_json = usage.model_dump(mode="json") if usage else None
        result = NodeResult(
            inputs={"query": query},
            outputs={"class_name": chosen.get("name"), "class_id": str(chosen["id"]), "usage": usage_json},
            process_data={"prompts": _log(messages), "usage": usage_json, "finish_reason": finish,
                          "model_answer": text},
            edge_handle=str(chosen["id"]))
        record_usage(result, usage)
        return result


_TYPES = {"bool": "boolean", "select": "string"}
_JSON_TYPES = {"string": "string", "number": "number", "boolean": "boolean", "array[string]": "array",
               "array[number]": "array", "array[object]": "array", "array[boolean]": "array"}


def _check_type(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind.startswith("array"):
        inner = kind[6:-1]
        return isinstance(value, list) and all(_check_type(inner, v) if inner != "object" else isinstance(v, dict)
                                               for v in value)
    return True


class ParameterExtractorNode(ModelNode):
    type = "parameter-extractor"

    async def run(self) -> NodeResult:
        parameters = [p for p in self.data.get("parameters") or [] if isinstance(p, dict) and p.get("name")]
        for param in parameters:
            param["type"] = _TYPES.get(param.get("type"), param.get("type") or "string")
            if param["name"] in ("__reason", "__is_success"):
                raise NodeError(f"Parameter name {param['name']} is reserved.", "ConfigError")
        query = to_text(self.pool.get(self.selector("query"), None))
        schema = {"type": "object", "properties": {}, "required": []}
        for param in parameters:
            prop: dict[str, Any] = {"type": _JSON_TYPES.get(param["type"], "string"),
                                    "description": param.get("description") or ""}
            if param.get("options"):
                prop["enum"] = param["options"]
            schema["properties"][param["name"]] = prop
            if param.get("required"):
                schema["required"].append(param["name"])
        instruction = self.pool.render(str(self.data.get("instruction") or ""))
        model = await resolve_model(self.ctx, self.data.get("model"))
        # Models without tool calling get the prompt form, as in Dify.
        function_call = ((self.data.get("reasoning_mode") or "function_call") == "function_call"
                         and bool(getattr(model.resolved.spec, "function_calling", False)))
        system = ("Extract the parameters from the user's text." + (f"\n{instruction}" if instruction else "")
                  + ("" if function_call else
                     "\nAnswer only with a JSON object that matches this schema:\n" + json.dumps(schema)))
        messages = [PromptMessage("system", system), *self.history(), PromptMessage("user", query)]
        tools = [ToolDefinition("extract_parameters", "Extract parameters from the text", schema)] \
            if function_call else None
        text, usage, finish, calls = await self.call(messages, tools=tools)
        found = None
        if calls:
            try:
                found = json.loads(calls[0]["arguments"] or "{}")
            except ValueError:
                found = None
        if found is None:
            found = _json_in(text)
        outputs: dict[str, Any] = {}
        reason = None
        if not isinstance(found, dict):
            found, reason = {}, "The model's answer holds no parameters."
        for param in parameters:
            value = found.get(param["name"])
            if value is None:
                if param.get("required") and reason is None:
                    reason = f"Missing required parameter: {param['name']}"
                value = [] if param["type"].startswith("array") else None
            elif param["type"] == "number" and isinstance(value, str):
                try:
                    value = float(value) if "." in value else int(value)
                except ValueError:
                    reason = reason or f"Parameter {param['name']} is not a number"
            elif not _check_type(param["type"], value):
                reason = reason or f"Parameter {param['name']} is not a valid {param['type']}"
            outputs[param["name"]] = value
        usage_json = usage.model_dump(mode="json") if usage else None
        outputs.update({"__is_success": 0 if reason else 1, "__reason": reason, "__usage": usage_json})
        result = NodeResult(inputs={"query": query}, outputs=outputs,
                            process_data={"prompts": _log(messages), "usage": usage_json, "finish_reason": finish,
                                          "function": calls[0] if calls else None, "model_answer": text})
        record_usage(result, usage)
        return result
