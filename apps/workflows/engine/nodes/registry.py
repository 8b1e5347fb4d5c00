"""One registered definition per node type (dsl.md §3): the executor class the engine runs, the
palette group, label and description the editor shows, the data a new node starts with, and where
it may be placed. The engine's catalogue (`NODES`), the checklist and the canvas all read this
table, so a node type is described once, here, and never again in JavaScript."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.workflows.engine.nodes import basic, containers, external, llm, tool
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
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def error_handling(self) -> bool:
        return self.type in ERROR_HANDLING

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
    NodeType("agent", external.AgentNode, "model", _("Agent"), _("An agent strategy with tools."),
             palette=False),
)}


def node_type(name: str) -> NodeType | None:
    return TYPES.get(name)
