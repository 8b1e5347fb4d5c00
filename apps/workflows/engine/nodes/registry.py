"""One registered definition per node type (dsl.md §3): the executor class the engine runs, the
palette group, label and description the editor shows, the data a new node starts with, and where
it may be placed. The engine's catalogue (`NODES`), the checklist and the canvas all read this
table, so a node type is described once, here, and never again in JavaScript."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.workflows.engine.nodes import agent, basic, containers, external, llm, tool
from apps.workflows.engine.nodes.base import Node

WORKFLOW, CHATFLOW = "workflow", "advanced-chat"
BOTH = (WORKFLOW, CHATFLOW)

# Palette groups, in the order the editor lists them.
GROUPS: tuple[tuple[str, Promise], ...] = (
    ("basics", _("Basics")),
    ("model", _("Models and knowledge")),
    ("logic", _("Logic")),
    ("transform", _("Transform")),
)


def _model() -> dict[str, Any]:
    return {"provider": "", "name": "", "mode": "chat", "completion_params": {"temperature": 0.7}}


def _llm() -> dict[str, Any]:
    return {"model": _model(), "prompt_template": [{"role": "system", "text": ""}],
            "context": {"enabled": False, "variable_selector": []}, "vision": {"enabled": False}}


def _if_else() -> dict[str, Any]:
    return {"cases": [{"case_id": "true", "logical_operator": "and", "conditions": []}]}


def _classifier() -> dict[str, Any]:
    return {"query_variable_selector": [], "model": _model(), "instruction": "",
            "classes": [{"id": "1", "name": ""}, {"id": "2", "name": ""}], "vision": {"enabled": False}}


def _code() -> dict[str, Any]:
    return {"code_language": "python3", "variables": [{"variable": "arg1", "value_selector": []}],
            "code": 'def main(arg1: str) -> dict:\n    return {"result": arg1}\n',
            "outputs": {"result": {"type": "string", "children": None}}}


def _http() -> dict[str, Any]:
    return {"method": "get", "url": "", "authorization": {"type": "no-auth", "config": None},
            "headers": "", "params": "", "body": {"type": "none", "data": []},
            "timeout": {"connect": 10, "read": 60, "write": 20}, "ssl_verify": True,
            "retry_config": {"retry_enabled": False, "max_retries": 3, "retry_interval": 100}}


def _knowledge() -> dict[str, Any]:
    return {"query_variable_selector": [], "dataset_ids": [], "retrieval_mode": "multiple",
            "multiple_retrieval_config": {"top_k": 4, "score_threshold": None, "reranking_enable": False}}


def _iteration() -> dict[str, Any]:
    return {"iterator_selector": [], "output_selector": [], "is_parallel": False, "parallel_nums": 10,
            "error_handle_mode": "terminated", "flatten_output": True, "width": 480, "height": 220}


def _loop() -> dict[str, Any]:
    return {"loop_count": 10, "break_conditions": [], "logical_operator": "and", "loop_variables": [],
            "width": 480, "height": 220}


@dataclass(frozen=True)
class Field:
    """One inspector field: `key` is a path into the node's data ("context.variable_selector"),
    `widget` names how the editor draws it, `options` are (value, label) pairs for selects."""

    key: str
    widget: str
    label: Promise | str
    options: tuple[tuple[str, Promise | str], ...] = ()
    modes: tuple[str, ...] = ("workflow", "advanced-chat")
    model_type: str = "llm"

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "widget": self.widget, "label": str(self.label), "modes": list(self.modes),
                "options": [[value, str(label)] for value, label in self.options],
                "model_type": self.model_type}


def _choices(*values: str) -> tuple[tuple[str, str], ...]:
    return tuple((v, v) for v in values)


MODEL_FIELD = Field("model", "model", _("Model"))
FORMS: dict[str, tuple[Field, ...]] = {
    "start": (Field("variables", "start-variables", _("Input fields")),),
    "end": (Field("outputs", "outputs", _("Output variables")),),
    "answer": (Field("answer", "template", _("Reply")),),
    "llm": (MODEL_FIELD, Field("prompt_template", "prompt", _("Prompt")),
            Field("context.enabled", "switch", _("Use context")),
            Field("context.variable_selector", "selector", _("Context variable")),
            Field("memory.window.enabled", "switch", _("Remember the conversation"),
                  modes=("advanced-chat",)),
            Field("memory.window.size", "number", _("Messages remembered"), modes=("advanced-chat",)),
            Field("vision.enabled", "switch", _("Vision"))),
    "knowledge-retrieval": (
        Field("query_variable_selector", "selector", _("Query variable")),
        Field("dataset_ids", "datasets", _("Knowledge bases")),
        Field("retrieval_mode", "select", _("Retrieval"),
              options=(("multiple", _("Multi-path")), ("single", _("N-to-1 (a model picks one)")))),
        Field("multiple_retrieval_config.top_k", "number", _("Top K")),
        Field("multiple_retrieval_config.score_threshold", "number", _("Score threshold")),
        Field("single_retrieval_config.model", "model", _("Routing model"))),
    "question-classifier": (Field("query_variable_selector", "selector", _("Query variable")), MODEL_FIELD,
                            Field("instruction", "template", _("Instructions"))),
    "parameter-extractor": (Field("query", "selector", _("Input variable")), MODEL_FIELD,
                            Field("instruction", "template", _("Instructions")),
                            Field("reasoning_mode", "select", _("Reasoning mode"),
                                  options=(("function_call", _("Function call")), ("prompt", _("Prompt"))))),
    "if-else": (Field("cases", "conditions", _("Conditions")),),
    "iteration": (Field("iterator_selector", "selector", _("List to go through")),
                  Field("output_selector", "selector", _("Collect from each round")),
                  Field("is_parallel", "switch", _("Run items in parallel")),
                  Field("parallel_nums", "number", _("At most in parallel")),
                  Field("error_handle_mode", "select", _("When an item fails"), options=(
                      ("terminated", _("Stop")), ("continue-on-error", _("Go on")),
                      ("remove-abnormal-output", _("Go on, drop its output"))))),
    "loop": (Field("loop_count", "number", _("Most rounds")),
             Field("logical_operator", "select", _("Break when"), options=(("and", _("all hold")),
                                                                           ("or", _("any holds"))))),
    "code": (Field("code_language", "select", _("Language"), options=_choices("python3", "javascript")),
             Field("variables", "named-variables", _("Input variables")), Field("code", "code", _("Code"))),
    "template-transform": (Field("variables", "named-variables", _("Input variables")),
                           Field("template", "code", _("Template (Jinja2)"))),
    "variable-aggregator": (Field("output_type", "select", _("Output type"), options=_choices(
                                "string", "number", "object", "array[string]", "array[number]",
                                "array[object]", "file", "array[file]")),
                            Field("variables", "selector-list", _("Variables, first with a value wins"))),
    "http-request": (Field("method", "select", _("Method"), options=_choices(
                         "get", "post", "put", "patch", "delete", "head", "options")),
                     Field("url", "template-line", _("URL")),
                     Field("authorization.type", "select", _("Authorization"),
                           options=(("no-auth", _("None")), ("api-key", _("API key")))),
                     Field("headers", "template", _("Headers (one key:value a line)")),
                     Field("params", "template", _("Query parameters (one key:value a line)")),
                     Field("body.type", "select", _("Body"), options=_choices(
                         "none", "form-data", "x-www-form-urlencoded", "raw-text", "json", "binary")),
                     Field("timeout.connect", "number", _("Connect timeout (s)")),
                     Field("timeout.read", "number", _("Read timeout (s)")),
                     Field("timeout.write", "number", _("Write timeout (s)")),
                     Field("ssl_verify", "switch", _("Verify TLS certificates"))),
    "list-operator": (Field("variable", "selector", _("List variable")),),
    "document-extractor": (Field("variable_selector", "selector", _("File variable")),),
}

OUTPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "llm": (("text", "string"), ("reasoning_content", "string"), ("usage", "object")),
    "knowledge-retrieval": (("result", "array[object]"),),
    "question-classifier": (("class_name", "string"), ("class_id", "string")),
    "parameter-extractor": (("__is_success", "number"), ("__reason", "string")),
    "if-else": (("result", "boolean"), ("selected_case_id", "string")),
    "template-transform": (("output", "string"),),
    "variable-aggregator": (("output", "any"),),
    "http-request": (("status_code", "number"), ("body", "string"), ("headers", "object"),
                     ("files", "array[file]")),
    "list-operator": (("result", "array"), ("first_record", "any"), ("last_record", "any")),
    "document-extractor": (("text", "string"),),
    "iteration": (("output", "array"),),
    "loop": (("loop_round", "number"),),
}

# IF/ELSE and loop-break operators offered per variable type (dsl.md §3.7).
OPERATORS: dict[str, tuple[str, ...]] = {
    "string": ("contains", "not contains", "start with", "end with", "is", "is not", "empty", "not empty"),
    "number": ("=", "≠", ">", "<", "≥", "≤", "empty", "not empty"),
    "boolean": ("is", "is not"),
    "array": ("contains", "not contains", "empty", "not empty"),
    "file": ("exists", "not exists"),
    "object": ("empty", "not empty", "null", "not null"),
    "any": ("contains", "not contains", "is", "is not", "=", "≠", ">", "<", "empty", "not empty"),
}
UNARY_OPERATORS = ("empty", "not empty", "null", "not null", "exists", "not exists")


# Types whose settings offer error_strategy and retry_config (the engine honours them on any node;
# these are the ones where a failure is expected: model, network, sandbox and data calls).
ERROR_HANDLING = frozenset({"llm", "code", "http-request", "question-classifier", "parameter-extractor",
                            "knowledge-retrieval", "template-transform", "list-operator",
                            "document-extractor"})


@dataclass(frozen=True)
class NodeType:
    """A node type: what runs it and how the editor offers it."""

    type: str
    cls: type[Node]
    group: str
    label: Promise | str
    description: Promise | str
    defaults: Callable[[], dict[str, Any]] = dict
    modes: tuple[str, ...] = BOTH
    palette: bool = True          # False: created by the editor itself (container starts) or legacy names
    container: bool = False       # Iteration and Loop hold child nodes
    only_in_container: bool = False
    single: bool = False          # at most one per workflow

    @property
    def error_handling(self) -> bool:
        return self.type in ERROR_HANDLING

    @property
    def form(self) -> tuple["Field", ...]:
        """The inspector's fields, in order (the editor draws each by its widget)."""
        return FORMS.get(self.type, ())

    @property
    def outputs(self) -> tuple[tuple[str, str], ...]:
        """Variables every node of this type offers downstream, as (name, type). Outputs that depend
        on the node's own settings (Start fields, Code outputs, extracted parameters, loop variables)
        are read from its data by the editor's variable picker."""
        return OUTPUTS.get(self.type, ())

    def new_data(self) -> dict[str, Any]:
        """The data of a freshly added node: type, title and the defaults."""
        return {"type": self.type, "title": str(self.label), "desc": "", **self.defaults()}


TYPES: dict[str, NodeType] = {t.type: t for t in (
    NodeType("start", basic.StartNode, "basics", _("Start"), _("The inputs a run begins with."),
             lambda: {"variables": []}, single=True, palette=False),
    NodeType("end", basic.EndNode, "basics", _("End"), _("The workflow's outputs."),
             lambda: {"outputs": []}, modes=(WORKFLOW,)),
    NodeType("answer", basic.AnswerNode, "basics", _("Answer"),
             _("A reply streamed to the chat; several answers are joined in order."),
             lambda: {"answer": ""}, modes=(CHATFLOW,)),
    NodeType("llm", llm.LLMNode, "model", _("LLM"), _("Calls a language model with a prompt."), _llm),
    NodeType("knowledge-retrieval", external.KnowledgeRetrievalNode, "model", _("Knowledge Retrieval"),
             _("Finds passages in knowledge bases for a query."), _knowledge),
    NodeType("question-classifier", llm.QuestionClassifierNode, "model", _("Question Classifier"),
             _("A model sorts the question into one of your classes; each class is a branch."), _classifier),
    NodeType("parameter-extractor", llm.ParameterExtractorNode, "model", _("Parameter Extractor"),
             _("A model pulls structured parameters out of text."),
             lambda: {"model": _model(), "query": [], "parameters": [], "instruction": "",
                      "reasoning_mode": "prompt", "vision": {"enabled": False}}),
    NodeType("if-else", basic.IfElseNode, "logic", _("IF/ELSE"),
             _("Branches on conditions: the first case that holds wins, otherwise ELSE."), _if_else),
    NodeType("iteration", containers.IterationNode, "logic", _("Iteration"),
             _("Runs the nodes inside it once for every item of a list."), _iteration, container=True),
    NodeType("loop", containers.LoopNode, "logic", _("Loop"),
             _("Repeats the nodes inside it until a condition holds or the count runs out."), _loop,
             container=True),
    NodeType("loop-end", containers.LoopEndNode, "logic", _("Exit Loop"), _("Leaves the loop at once."),
             only_in_container=True),
    NodeType("iteration-start", containers.PassNode, "logic", _("Iteration start"), "", palette=False),
    NodeType("loop-start", containers.PassNode, "logic", _("Loop start"), "", palette=False),
    NodeType("code", external.CodeNode, "transform", _("Code"),
             _("Runs Python or JavaScript in the sandbox."), _code),
    NodeType("template-transform", basic.TemplateNode, "transform", _("Template"),
             _("Renders variables into text with Jinja2."),
             lambda: {"variables": [], "template": ""}),
    NodeType("variable-aggregator", basic.AggregatorNode, "transform", _("Variable Aggregator"),
             _("Joins branches: the first variable that has a value wins."),
             lambda: {"output_type": "string", "variables": []}),
    NodeType("variable-assigner", basic.AggregatorNode, "transform", _("Variable Aggregator"), "",
             palette=False),
    NodeType("assigner", basic.AssignerNode, "transform", _("Variable Assigner"),
             _("Writes conversation or loop variables."), lambda: {"version": "2", "items": []}),
    NodeType("http-request", external.HttpRequestNode, "transform", _("HTTP Request"),
             _("Calls a web API and returns its status, headers and body."), _http),
    NodeType("list-operator", basic.ListOperatorNode, "transform", _("List Operator"),
             _("Filters, sorts and slices a list."),
             lambda: {"variable": [], "filter_by": {"enabled": False, "conditions": []},
                      "order_by": {"enabled": False, "key": "", "value": "asc"},
                      "limit": {"enabled": False, "size": 10},
                      "extract_by": {"enabled": False, "serial": "1"}}),
    NodeType("document-extractor", basic.DocumentExtractorNode, "transform", _("Document Extractor"),
             _("Turns uploaded files into text."), lambda: {"variable_selector": [], "is_array_file": False}),
    NodeType("tool", tool.ToolNode, "transform", _("Tool"), _("Calls a tool."), palette=False),
    NodeType("agent", agent.AgentNode, "model", _("Agent"), _("An agent strategy with tools."),
             palette=False),
)}


def node_type(name: str) -> NodeType | None:
    return TYPES.get(name)
