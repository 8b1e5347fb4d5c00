"""The node catalogue (dsl.md §3): type name → class."""

from apps.workflows.engine.nodes import agent, basic, containers, external, llm, tool
from apps.workflows.engine.nodes.base import Node, UnsupportedNode

NODES: dict[str, type[Node]] = {
    "start": basic.StartNode,
    "end": basic.EndNode,
    "answer": basic.AnswerNode,
    "if-else": basic.IfElseNode,
    "template-transform": basic.TemplateNode,
    "variable-aggregator": basic.AggregatorNode,
    "variable-assigner": basic.AggregatorNode,  # the legacy name of the aggregator
    "assigner": basic.AssignerNode,
    "list-operator": basic.ListOperatorNode,
    "document-extractor": basic.DocumentExtractorNode,
    "llm": llm.LLMNode,
    "question-classifier": llm.QuestionClassifierNode,
    "parameter-extractor": llm.ParameterExtractorNode,
    "iteration": containers.IterationNode,
    "iteration-start": containers.PassNode,
    "loop": containers.LoopNode,
    "loop-start": containers.PassNode,
    "loop-end": containers.LoopEndNode,
    "http-request": external.HttpRequestNode,
    "code": external.CodeNode,
    "knowledge-retrieval": external.KnowledgeRetrievalNode,
    "tool": tool.ToolNode,
    "agent": agent.AgentNode,
}


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
