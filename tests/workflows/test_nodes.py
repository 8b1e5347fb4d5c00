"""Each node type's success and error paths (dsl.md §3), run through the engine."""

import pytest

from apps.workflows.engine.conditions import compare
from tests.workflows.helpers import chain, edge, graph, node, run

START = node("start", "start", variables=[{"variable": "q", "type": "text-input"}])


def end(**outputs: list[str]) -> dict:
    return node("end", "end", outputs=[{"variable": k, "value_selector": v} for k, v in outputs.items()])


def one(node_data: dict, inputs: dict | None = None, **outputs: list[str]):  # type: ignore[no-untyped-def]
    """Start → the node → End(outputs)."""
    return run(graph([START, node_data, end(**outputs)], chain("start", node_data["id"], "end")), inputs or {},
               system={"files": []}, conversation={"items": [1, 2], "count": 5, "name": "x", "obj": {"a": 1}})


# --- IF/ELSE operators ------------------------------------------------------------------------

OPERATORS = [
    ("contains", "hello world", "world", True), ("contains", "hello", "x", False), ("contains", "", "x", False),
    ("contains", ["a", "b"], "a", True), ("not contains", "hello", "x", True), ("not contains", None, "x", True),
    ("start with", "hello", "he", True), ("start with", "", "", False), ("end with", "hello", "lo", True),
    ("end with", "hello", "he", False), ("is", "a", "a", True), ("is", None, "a", False), ("is not", None, "a", False),
    ("is not", "a", "b", True), ("is", True, "true", True), ("empty", "", None, True), ("empty", [], None, True),
    ("not empty", "x", None, True), ("not empty", 0, None, False), ("in", "a", ["a", "b"], True),
    ("not in", "c", ["a", "b"], True), ("all of", ["a", "b", "c"], ["a", "c"], True),
    ("all of", ["a"], ["a", "c"], False), ("=", 3, "3", True), ("≠", 3, "4", True), (">", 3.5, "3", True),
    ("<", 2, "3", True), ("≥", 3, "3", True), ("≤", 4, "3", False), ("=", None, "3", False),
    ("=", True, "1", True), ("null", None, None, True), ("not null", 0, None, True), ("exists", "x", None, True),
    ("not exists", None, None, True),
]


@pytest.mark.parametrize(("operator", "actual", "expected", "result"), OPERATORS)
def test_every_comparison_operator(operator, actual, expected, result) -> None:  # type: ignore[no-untyped-def]
    assert compare(operator, actual, expected) is result


def test_in_needs_a_list_and_unknown_operators_fail_the_node() -> None:
    cases = [{"case_id": "true", "conditions": [{"variable_selector": ["start", "q"], "comparison_operator": "in",
                                                "value": "a"}]}]
    result = one(node("if", "if-else", cases=cases), {"q": "a"})
    assert result.status == "failed" and "must be a list" in result.error
    cases[0]["conditions"][0]["comparison_operator"] = "resembles"
    assert "Unknown comparison operator" in one(node("if", "if-else", cases=cases), {"q": "a"}).error


def test_if_else_values_are_templated_and_numbers_compare_from_strings() -> None:
    cases = [{"case_id": "c1", "logical_operator": "and", "conditions": [
        {"variable_selector": ["start", "q"], "comparison_operator": "is", "value": "{{#conversation.name#}}"},
        {"variable_selector": ["conversation", "count"], "comparison_operator": "≥", "value": "5"}]}]
    raw = graph([START, node("if", "if-else", cases=cases), end(r=["if", "selected_case_id"])],
                [edge("start", "if"), edge("if", "end", "c1")])
    assert run(raw, {"q": "x"}, conversation={"name": "x", "count": 5}).outputs == {"r": "c1"}
    assert run(raw, {"q": "x"}, conversation={"name": "x", "count": 4}).ran() == ["start", "if"]


def test_if_else_file_sub_conditions() -> None:
    files = [{"type": "image", "extension": ".png", "filename": "a.png"}]
    cases = [{"case_id": "img", "conditions": [{
        "variable_selector": ["sys", "files"], "comparison_operator": "contains",
        "sub_variable_condition": {"logical_operator": "and", "conditions": [
            {"key": "type", "comparison_operator": "is", "value": "image"}]}}]}]
    raw = graph([START, node("if", "if-else", cases=cases), end(r=["if", "selected_case_id"])],
                [edge("start", "if"), edge("if", "end", "img"), edge("if", "end", "false")])
    assert run(raw, {}, system={"files": files}).outputs == {"r": "img"}
    assert run(raw, {}, system={"files": [{"type": "document"}]}).outputs == {"r": "false"}


# --- Template -------------------------------------------------------------------------------


def test_template_renders_full_jinja() -> None:
    text = ("{% for item in chunks %}{{ loop.index }}. {{ item.title | default('untitled') }}: "
            "{{ item.content | replace('\\n', ' ') }}\n{% endfor %}")
    data = node("t", "template-transform", template=text, variables=[{"variable": "chunks",
                                                                       "value_selector": ["sys", "chunks"]}])
    result = run(graph([START, data, end(r=["t", "output"])], chain("start", "t", "end")), {},
                 system={"chunks": [{"title": "A", "content": "x\ny"}, {"content": "z"}]})
    assert result.outputs == {"r": "1. A: x y\n2. untitled: z\n"}


def test_template_sandbox_refuses_internals() -> None:
    escape = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    result = one(node("t", "template-transform", template=escape, variables=[]), r=["t", "output"])
    assert result.status == "failed" and "Template error" in result.error


# --- Aggregator and assigner ------------------------------------------------------------------


def test_aggregator_groups() -> None:
    data = node("agg", "variable-aggregator", advanced_settings={"group_enabled": True, "groups": [
        {"group_name": "G1", "variables": [["missing", "x"], ["start", "q"]]},
        {"group_name": "G2", "variables": [["missing", "y"]]}]})
    result = one(data, {"q": "v"}, a=["agg", "G1", "output"], b=["agg", "G2", "output"])
    assert result.outputs == {"a": "v", "b": None}


def test_legacy_variable_assigner_type_aggregates() -> None:
    data = node("agg", "variable-assigner", output_type="string", variables=[["nope", "x"], ["start", "q"]])
    assert one(data, {"q": "v"}, r=["agg", "output"]).outputs == {"r": "v"}


@pytest.mark.parametrize(("target", "operation", "value", "expected"), [
    ("items", "append", 3, [1, 2, 3]), ("items", "extend", [3, 4], [1, 2, 3, 4]), ("items", "remove-first", None, [2]),
    ("items", "remove-last", None, [1]), ("items", "clear", None, []), ("count", "+=", 2, 7), ("count", "-=", 1, 4),
    ("count", "*=", 3, 15), ("count", "/=", 2, 2.5), ("name", "set", "y", "y"), ("name", "over-write", "z", "z"),
    ("name", "clear", None, ""), ("obj", "set", {"b": 2}, {"b": 2}),
])
def test_assigner_v2_operations(target, operation, value, expected) -> None:  # type: ignore[no-untyped-def]
    data = node("set", "assigner", version="2", items=[{"variable_selector": ["conversation", target],
                                                       "input_type": "constant", "operation": operation,
                                                       "value": value}])
    result = one(data, {}, r=["conversation", target])
    assert result.status == "succeeded" and result.outputs == {"r": expected}
    assert target in result.ctx.conversation_dirty


@pytest.mark.parametrize(("target", "operation", "value", "error"), [
    ("count", "/=", 0, "Division by zero"), ("name", "append", 1, "needs an array"), ("items", "+=", 1, "numbers"),
    ("items", "set", [1], "not supported"),
])
def test_assigner_v2_invalid_operations_fail(target, operation, value, error) -> None:  # type: ignore[no-untyped-def]
    data = node("set", "assigner", version="2", items=[{"variable_selector": ["conversation", target],
                                                       "input_type": "constant", "operation": operation,
                                                       "value": value}])
    result = one(data)
    assert result.status == "failed" and error in result.error


def test_assigner_v1_write_modes_from_a_variable() -> None:
    data = node("set", "assigner", assigned_variable_selector=["conversation", "items"], write_mode="append",
                input_variable_selector=["start", "q"])
    assert one(data, {"q": "new"}, r=["conversation", "items"]).outputs == {"r": [1, 2, "new"]}
    data = node("set", "assigner", assigned_variable_selector=["conversation", "name"], write_mode="over-write",
                input_variable_selector=["start", "q"])
    assert one(data, {"q": "new"}, r=["conversation", "name"]).outputs == {"r": "new"}


# --- List operator --------------------------------------------------------------------------

FILES = [{"type": "image", "extension": ".png", "filename": "b.png", "size": 20},
         {"type": "document", "extension": ".pdf", "filename": "a.pdf", "size": 10},
         {"type": "image", "extension": ".jpg", "filename": "c.jpg", "size": 30}]


def test_list_operator_filter_order_limit_and_extract() -> None:
    data = node("lo", "list-operator", variable=["sys", "files"],
                filter_by={"enabled": True, "conditions": [{"key": "type", "comparison_operator": "is",
                                                            "value": "image"}]},
                order_by={"enabled": True, "key": "size", "value": "desc"}, limit={"enabled": True, "size": 1})
    raw = graph([START, data, end(r=["lo", "result"], f=["lo", "first_record"])], chain("start", "lo", "end"))
    result = run(raw, {}, system={"files": FILES})
    assert [f["filename"] for f in result.outputs["r"]] == ["c.jpg"] and result.outputs["f"]["size"] == 30
    numbers = node("lo", "list-operator", variable=["sys", "n"], extract_by={"enabled": True, "serial": "2"},
                   filter_by={"enabled": True, "conditions": [{"comparison_operator": ">", "value": "1"}]})
    raw = graph([START, numbers, end(r=["lo", "result"], last=["lo", "last_record"])], chain("start", "lo", "end"))
    assert run(raw, {}, system={"n": [1, 5, 3, 7]}).outputs == {"r": [3], "last": 3}
    bad = run(raw, {}, system={"n": [1]})
    assert bad.status == "failed" and "out of range" in bad.error
    not_list = run(raw, {}, system={"n": "text"})
    assert not_list.status == "failed" and "array" in not_list.error


# --- Iteration and loop ---------------------------------------------------------------------


def _iteration(parallel: bool, mode: str = "terminated", template: str = "{{ x * 10 }}") -> dict:
    return graph(
        [START,
         node("it", "iteration", iterator_selector=["sys", "items"], output_selector=["it_t", "output"],
              is_parallel=parallel, parallel_nums=3, error_handle_mode=mode, start_node_id="it_s"),
         node("it_s", "iteration-start", parent="it"),
         node("it_t", "template-transform", parent="it", template=template,
              variables=[{"variable": "x", "value_selector": ["it", "item"]},
                         {"variable": "i", "value_selector": ["it", "index"]}]),
         end(r=["it", "output"])],
        [edge("start", "it"), edge("it", "end"), edge("it_s", "it_t")])


@pytest.mark.parametrize("parallel", [False, True])
def test_iteration_collects_one_output_per_item_in_order(parallel: bool) -> None:
    result = run(_iteration(parallel), {}, system={"items": [1, 2, 3, 4, 5]})
    assert result.status == "succeeded" and result.outputs == {"r": ["10", "20", "30", "40", "50"]}
    kinds = result.kinds()
    assert kinds.count("iteration_started") == 1 and kinds.count("iteration_next") == 5
    assert kinds.count("iteration_completed") == 1
    inner = [d["data"] for e, d in result.events if e == "node_finished" and d["data"]["node_id"] == "it_t"]
    assert len(inner) == 5 and all(d["iteration_id"] == "it" for d in inner)
    assert sorted(d["execution_metadata"]["iteration_index"] for d in inner) == [0, 1, 2, 3, 4]


def test_iteration_error_modes() -> None:
    failing = "{% if x == 2 %}{{ x | nofilter }}{% endif %}{{ x }}"
    terminated = run(_iteration(False, "terminated", failing), {}, system={"items": [1, 2, 3]})
    assert terminated.status == "failed" and "Iteration 1 failed" in terminated.error
    kept = run(_iteration(False, "continue-on-error", failing), {}, system={"items": [1, 2, 3]})
    assert kept.outputs == {"r": ["1", None, "3"]}
    removed = run(_iteration(True, "remove-abnormal-output", failing), {}, system={"items": [1, 2, 3]})
    assert removed.outputs == {"r": ["1", "3"]}
    not_array = run(_iteration(False), {}, system={"items": "abc"})
    assert not_array.status == "failed" and "must be an array" in not_array.error


def _loop(count: int, break_at: str | None = None, with_end: bool = False) -> dict:
    nodes = [START,
             node("lp", "loop", loop_count=count, start_node_id="lp_s", logical_operator="and",
                  loop_variables=[{"label": "total", "var_type": "number", "value_type": "constant", "value": "1"},
                                  {"label": "log", "var_type": "array[string]", "value_type": "constant",
                                   "value": "[]"}],
                  break_conditions=[{"variable_selector": ["lp", "total"], "comparison_operator": "≥",
                                     "value": break_at}] if break_at else []),
             node("lp_s", "loop-start", parent="lp"),
             node("lp_set", "assigner", parent="lp", version="2", items=[
                 {"variable_selector": ["lp", "total"], "input_type": "constant", "operation": "*=", "value": 2},
                 {"variable_selector": ["lp", "log"], "input_type": "variable", "operation": "append",
                  "value": ["lp", "index"]}]),
             end(total=["lp", "total"], rounds=["lp", "loop_round"], log=["lp", "log"])]
    edges = [edge("start", "lp"), edge("lp", "end"), edge("lp_s", "lp_set")]
    if with_end:
        nodes.append(node("lp_end", "loop-end", parent="lp"))
        edges.append(edge("lp_set", "lp_end"))
    for n in nodes:
        if n.get("parentId") == "lp":
            n["data"]["isInLoop"], n["data"]["loop_id"] = True, "lp"
    return graph(nodes, edges)


def test_loop_runs_rounds_updates_loop_variables_and_breaks() -> None:
    full = run(_loop(4), {})
    assert full.outputs == {"total": 16, "rounds": 4, "log": [0, 1, 2, 3]}
    assert full.kinds().count("loop_next") == 4 and full.kinds().count("loop_completed") == 1
    broken = run(_loop(10, break_at="8"), {})
    assert broken.outputs == {"total": 8, "rounds": 3, "log": [0, 1, 2]}
    ended = run(_loop(10, with_end=True), {})
    assert ended.outputs == {"total": 2, "rounds": 1, "log": [0]}


# --- Waiting for other issues ---------------------------------------------------------------


@pytest.mark.parametrize(("node_type", "reason"), [("human-input", "Unknown node type: human-input")])
def test_unsupported_nodes_fail_with_a_clear_reason(node_type: str, reason: str) -> None:
    result = one(node("x", node_type), {})
    assert result.status == "failed" and reason in result.error
