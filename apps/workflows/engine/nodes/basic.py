"""Nodes that need nothing outside the run: Start, End, Answer, IF/ELSE, Template, Variable
Aggregator, Variable Assigner, List Operator and Document Extractor (dsl.md §3)."""

import asyncio
import copy
import csv
import io
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from apps.workflows.engine import conditions
from apps.workflows.engine.entities import NodeError, NodeResult
from apps.workflows.engine.nodes.base import Node
from apps.workflows.engine.variables import to_text

TEMPLATE_MAX_LENGTH = 400_000
_JINJA = SandboxedEnvironment(undefined=jinja2.ChainableUndefined, autoescape=False)


def render_jinja(template: str, variables: dict[str, Any]) -> str:
    """Jinja2 in a sandbox: no attribute access to internals, no imports, no file system."""
    try:
        return _JINJA.from_string(template or "").render(**variables)
    except jinja2.TemplateError as exc:
        raise NodeError(f"Template error: {exc}", "TemplateError") from None


class StartNode(Node):
    type = "start"

    async def run(self) -> NodeResult:
        values = dict(self.ctx.inputs)
        for name, value in (self.pool.values.get("sys") or {}).items():
            values[f"sys.{name}"] = value
        return NodeResult(inputs=values, outputs=values)


class EndNode(Node):
    type = "end"

    async def run(self) -> NodeResult:
        outputs: dict[str, Any] = {}
        for item in self.data.get("outputs") or []:
            if isinstance(item, dict) and item.get("variable"):
                selector = item.get("value_selector") or []
                outputs[str(item["variable"])] = self.pool.get(selector, None) if selector else None
        if not self.engine.scope.iteration_id and not self.engine.scope.loop_id:
            self.ctx.outputs.update(outputs)
        return NodeResult(inputs=outputs, outputs=outputs)


class AnswerNode(Node):
    """Chatflow text: constant text and variables, in order. Text of an LLM node right before it was
    already streamed while the LLM wrote it; only the rest goes out now."""

    type = "answer"

    async def run(self) -> NodeResult:
        template = str(self.data.get("answer") or "")
        segments = self.pool.segments(template)
        stream = next((s for streams in self.ctx.streams.values() for s in streams
                       if s.target_id == self.spec.id and s.started), None)
        start = stream.llm_index + 1 if stream is not None else 0
        if not self.engine.scope.iteration_id and not self.engine.scope.loop_id:
            for segment in segments[start:]:
                if isinstance(segment, str):
                    self.ctx.message(segment, None)
                else:
                    self.ctx.message(to_text(self.pool.get(segment, None)), segment)
        text = self.pool.render(template)
        return NodeResult(outputs={"answer": text, "files": []})


class IfElseNode(Node):
    type = "if-else"

    async def run(self) -> NodeResult:
        cases = self.data.get("cases")
        if cases is None:  # legacy: one condition list, edges 'true' / 'false'
            cases = [{"case_id": "true", "logical_operator": self.data.get("logical_operator") or "and",
                      "conditions": self.data.get("conditions") or []}]
        logs = []
        for case in cases:
            if not isinstance(case, dict):
                continue
            passed, log = conditions.evaluate(self.pool, case.get("conditions") or [],
                                              case.get("logical_operator") or "and")
            logs.append({"case_id": case.get("case_id"), "conditions": log, "result": passed})
            if passed:
                case_id = str(case.get("case_id") or "true")
                return NodeResult(inputs={"conditions": logs}, process_data={"condition_results": logs},
                                  outputs={"result": True, "selected_case_id": case_id}, edge_handle=case_id)
        return NodeResult(inputs={"conditions": logs}, process_data={"condition_results": logs},
                          outputs={"result": False, "selected_case_id": "false"}, edge_handle="false")


class TemplateNode(Node):
    type = "template-transform"

    async def run(self) -> NodeResult:
        variables = self.named_variables()
        # Off the event loop: a heavy template must not stall other runs, and the node timeout holds.
        text = await asyncio.to_thread(render_jinja, str(self.data.get("template") or ""), variables)
        if len(text) > TEMPLATE_MAX_LENGTH:
            raise NodeError(f"Output length exceeds {TEMPLATE_MAX_LENGTH} characters", "OutputTooLong")
        return NodeResult(inputs=variables, outputs={"output": text})


class AggregatorNode(Node):
    """The first value that exists among the listed variables: the one from the branch that ran."""

    type = "variable-aggregator"

    def _first(self, selectors: list[Any]) -> Any:
        for selector in selectors or []:
            value = self.pool.get(selector, None) if isinstance(selector, list) else None
            if value is not None:
                return value
        return None

    async def run(self) -> NodeResult:
        advanced = self.data.get("advanced_settings") or {}
        if advanced.get("group_enabled"):
            outputs = {str(g.get("group_name")): {"output": self._first(g.get("variables") or [])}
                       for g in advanced.get("groups") or [] if isinstance(g, dict)}
        else:
            outputs = {"output": self._first(self.data.get("variables") or [])}
        return NodeResult(inputs={}, outputs=outputs)


_EMPTY = {"string": "", "number": 0, "integer": 0, "float": 0.0, "boolean": False, "object": {}}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "none"


class AssignerNode(Node):
    """Writes conversation variables (chatflow) or loop variables: `assigner` v1 and v2 (§3.11)."""

    type = "assigner"

    async def run(self) -> NodeResult:
        if str(self.data.get("version") or "1") == "2":
            items = self.data.get("items") or []
        else:  # v1: one target, write_mode over-write | append | clear
            items = [{"variable_selector": self.data.get("assigned_variable_selector"), "input_type": "variable",
                      "operation": self.data.get("write_mode") or "over-write",
                      "value": self.data.get("input_variable_selector")}]
        updated = []
        for item in items:
            if not isinstance(item, dict):
                continue
            target = [str(s) for s in item.get("variable_selector") or []]
            if len(target) < 2:
                raise NodeError("The variable to assign is not set.", "ConfigError")
            current = self.pool.get(target)
            operation = item.get("operation") or "over-write"
            value = None
            if operation not in ("clear", "remove-first", "remove-last"):
                raw = item.get("value")
                value = self.pool.get(raw) if item.get("input_type", "variable") == "variable" else raw
            new = self._apply(operation, current, value, target)
            self.pool.add(target[0], target[1], new)
            if target[0] == "conversation":
                self.ctx.conversation_dirty.add(target[1])
            updated.append({"selector": target, "operation": operation, "value": new})
        return NodeResult(inputs={}, process_data={"updated_variables": updated}, outputs={})

    def _apply(self, operation: str, current: Any, value: Any, target: list[str]) -> Any:
        kind = _kind(current)
        name = ".".join(target)
        if operation == "over-write":
            return copy.deepcopy(value)
        if operation == "clear":
            return [] if kind == "array" else _EMPTY.get(kind)
        if operation == "set":
            if kind == "array":
                raise NodeError(f"Operation set is not supported for {name} (array)", "InvalidOperation")
            return copy.deepcopy(value)
        if operation in ("+=", "-=", "*=", "/="):
            if kind != "number" or isinstance(value, bool) or not isinstance(value, (int, float)):
                raise NodeError(f"Operation {operation} needs numbers ({name})", "InvalidOperation")
            if operation == "/=" and value == 0:
                raise NodeError("Division by zero", "InvalidOperation")
            return {"+=": current + value, "-=": current - value, "*=": current * value,
                    "/=": current / value}[operation]
        if operation in ("append", "extend", "remove-first", "remove-last"):
            if kind != "array":
                raise NodeError(f"Operation {operation} needs an array ({name})", "InvalidOperation")
            if operation == "append":
                return [*current, value]
            if operation == "extend":
                if not isinstance(value, list):
                    raise NodeError("extend needs an array value", "InvalidOperation")
                return [*current, *value]
            return current[1:] if operation == "remove-first" else current[:-1]
        raise NodeError(f"Unknown operation: {operation}", "InvalidOperation")


class ListOperatorNode(Node):
    type = "list-operator"

    async def run(self) -> NodeResult:
        items = self.pool.get(self.selector("variable"))
        if not isinstance(items, list):
            raise NodeError("The List Operator needs an array variable.", "InvalidVariable")
        result = list(items)
        filter_by = self.data.get("filter_by") or {}
        if filter_by.get("enabled"):
            for condition in filter_by.get("conditions") or []:
                key, op = condition.get("key") or "", condition.get("comparison_operator") or "contains"
                expected = condition.get("value")
                if isinstance(expected, str):
                    expected = self.pool.render(expected)
                result = [x for x in result
                          if conditions.compare(op, conditions._file_attr(x, key) if key else x, expected)]
        order = self.data.get("order_by") or {}
        if order.get("enabled"):
            key = order.get("key") or ""
            result.sort(key=lambda x: (conditions._file_attr(x, key) if key else x),
                        reverse=order.get("value") == "desc")
        limit = self.data.get("limit") or {}
        if limit.get("enabled") and int(limit.get("size") or -1) >= 0:
            result = result[: int(limit["size"])]
        extract = self.data.get("extract_by") or {}
        if extract.get("enabled"):
            serial = int(self.pool.render(str(extract.get("serial") or "1")) or 1)
            if serial < 1 or serial > len(result):
                raise NodeError(f"Serial {serial} is out of range (1..{len(result)})", "InvalidSerial")
            result = [result[serial - 1]]
        return NodeResult(inputs={"variable": items}, outputs={
            "result": result, "first_record": result[0] if result else None,
            "last_record": result[-1] if result else None})


def extract_text(content: bytes, extension: str) -> str:
    """The text of a document, by extension; tables as Markdown."""
    ext = extension.lower().lstrip(".")
    if ext in ("txt", "md", "markdown", "mdx", "html", "htm", "xml", "vtt", "properties", "log", "json",
               "yaml", "yml"):
        return content.decode("utf-8", errors="replace")
    if ext == "csv":
        rows = list(csv.reader(io.StringIO(content.decode("utf-8", errors="replace"))))
        return _markdown_table(rows)
    if ext == "pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
    if ext == "docx":
        import docx

        return "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)
    if ext in ("xlsx", "xls"):
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        parts = []
        for sheet in book.worksheets:
            rows = [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]
            parts.append(_markdown_table(rows))
        return "\n\n".join(parts)
    raise NodeError(f"Unsupported file type: {ext or 'unknown'}", "UnsupportedFileType")


def _markdown_table(rows: list[list[str]]) -> str:
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


class DocumentExtractorNode(Node):
    type = "document-extractor"

    async def run(self) -> NodeResult:
        from apps.workflows import files

        value = self.pool.get(self.selector("variable_selector"))
        many = isinstance(value, list)
        texts = []
        for file in value if many else [value]:
            if not isinstance(file, dict):
                raise NodeError("The Document Extractor needs a file.", "InvalidVariable")
            content = await files.read(self.ctx, file)
            texts.append(extract_text(content, str(file.get("extension") or "")))
        output: Any = texts if many else texts[0]
        return NodeResult(inputs={"variable_selector": self.data.get("variable_selector")},
                          outputs={"text": output})



