"""The engine: selectors and templates, branches and joins, parallel branches, retry, error
strategies, max steps, max time and stop, and the events it reports."""

import pytest
from django.test import override_settings

from apps.workflows.engine.variables import VariableNotFound, VariablePool, to_text
from tests.workflows.helpers import chain, edge, graph, node, run

START = node("start", "start", variables=[{"variable": "q", "type": "text-input"},
                                          {"variable": "n", "type": "number"}])


def end(*pairs: tuple[str, list[str]], node_id: str = "end") -> dict:
    return node(node_id, "end", outputs=[{"variable": k, "value_selector": s} for k, s in pairs])


def template(node_id: str, text: str, **variables: list[str]) -> dict:
    return node(node_id, "template-transform", template=text,
                variables=[{"variable": k, "value_selector": v} for k, v in variables.items()])


def test_selectors_index_into_objects_lists_and_reserved_ids() -> None:
    pool = VariablePool({"sys": {"query": "hi"}, "env": {"KEY": "k"}, "n1": {"obj": {"a": [1, {"b": "deep"}]}}})
    assert pool.get(["n1", "obj", "a", "1", "b"]) == "deep"
    assert pool.get(["sys", "query"]) == "hi" and pool.get(["env", "KEY"]) == "k"
    with pytest.raises(VariableNotFound, match=r"\['n1', 'missing'\]"):
        pool.get(["n1", "missing"])
    assert pool.get(["nope", "x"], None) is None


def test_templates_render_values_as_text_and_unknown_references_as_empty() -> None:
    pool = VariablePool({"a": {"s": "x", "n": 3, "b": True, "o": {"k": "v"}, "l": [1, 2]}})
    text = pool.render("{{#a.s#}}|{{#a.n#}}|{{#a.b#}}|{{#a.o#}}|{{#a.l#}}|{{#a.missing#}}|{{#a.o.k#}}")
    assert text == 'x|3|true|{"k": "v"}|[1, 2]||v'
    assert to_text(None) == ""


def test_linear_run_passes_values_and_reports_every_node() -> None:
    raw = graph([START, template("t", "{{ q }}-{{ n * 2 }}", q=["start", "q"], n=["start", "n"]),
                 end(("r", ["t", "output"]))], chain("start", "t", "end"))
    result = run(raw, {"q": "a", "n": 4})
    assert result.status == "succeeded" and result.outputs == {"r": "a-8"}
    assert result.kinds() == ["node_started", "node_finished"] * 3
    finished = result.finished("t")
    assert finished["status"] == "succeeded" and finished["index"] == 2 and finished["predecessor_node_id"] == "start"
    assert finished["inputs"] == {"q": "a", "n": 4} and finished["outputs"] == {"output": "a-8"}
    assert {"elapsed_time", "execution_metadata", "finished_at", "created_at"} <= set(finished)
    assert result.ctx.steps == 3 and len(result.ctx.executions) == 3


def _branching(cases: list | None = None, **legacy) -> dict:
    ifelse = node("if", "if-else", cases=cases) if cases is not None else node("if", "if-else", **legacy)
    return graph(
        [START, ifelse, template("yes", "big"), template("no", "small"),
         node("agg", "variable-aggregator", variables=[["yes", "output"], ["no", "output"]]),
         end(("size", ["agg", "output"]))],
        [edge("start", "if"), edge("if", "yes", "true"), edge("if", "no", "false"), edge("yes", "agg"),
         edge("no", "agg"), edge("agg", "end")])


def test_if_else_routes_and_the_aggregator_joins_whichever_branch_ran() -> None:
    cases = [{"case_id": "true", "logical_operator": "and",
              "conditions": [{"variable_selector": ["start", "n"], "comparison_operator": ">", "value": "10"}]}]
    big, small = run(_branching(cases), {"q": "", "n": 11}), run(_branching(cases), {"q": "", "n": 3})
    assert big.outputs == {"size": "big"} and "no" not in big.ran() and big.ran()[-1] == "end"
    assert small.outputs == {"size": "small"} and "yes" not in small.ran()
    assert big.finished("if")["outputs"] == {"result": True, "selected_case_id": "true"}


def test_legacy_if_else_conditions_format() -> None:
    legacy = {"logical_operator": "or", "conditions": [
        {"variable_selector": ["start", "q"], "comparison_operator": "contains", "value": "tea"},
        {"variable_selector": ["start", "q"], "comparison_operator": "is", "value": "coffee"}]}
    assert run(_branching(**legacy), {"q": "coffee", "n": 0}).outputs == {"size": "big"}
    assert run(_branching(**legacy), {"q": "water", "n": 0}).outputs == {"size": "small"}


def test_elif_cases_are_tried_in_order() -> None:
    cases = [{"case_id": "a", "conditions": [{"variable_selector": ["start", "n"], "comparison_operator": "<",
                                             "value": "0"}]},
             {"case_id": "b", "conditions": [{"variable_selector": ["start", "n"], "comparison_operator": "=",
                                             "value": "0"}]}]
    raw = graph([START, node("if", "if-else", cases=cases), end(("r", ["sys", "x"]), node_id="A"),
                 template("B", "zero"), template("C", "positive")],
                [edge("start", "if"), edge("if", "A", "a"), edge("if", "B", "b"), edge("if", "C", "false")])
    assert run(raw, {"n": 0}).ran() == ["start", "if", "B"]
    assert run(raw, {"n": 5}).ran() == ["start", "if", "C"]


def test_missing_variable_in_a_condition_fails_the_node_and_the_run() -> None:
    cases = [{"case_id": "true", "conditions": [{"variable_selector": ["ghost", "x"], "comparison_operator": "empty"}]}]
    result = run(_branching(cases), {"n": 1})
    assert result.status == "failed" and "Variable ['ghost', 'x'] not found" in result.error
    assert result.finished("if")["status"] == "failed"


def test_parallel_branches_run_concurrently_and_join() -> None:
    raw = graph([START, template("a", "A"), template("b", "B"), template("c", "C"),
                 template("join", "{{ a }}{{ b }}{{ c }}", a=["a", "output"], b=["b", "output"], c=["c", "output"]),
                 end(("r", ["join", "output"]))],
                [edge("start", "a"), edge("start", "b"), edge("start", "c"), edge("a", "join"), edge("b", "join"),
                 edge("c", "join"), edge("join", "end")])
    result = run(raw, {"n": 1})
    assert result.outputs == {"r": "ABC"}
    kinds = [(e, d["data"]["node_id"]) for e, d in result.events]
    # all three branches start before any of them finishes: they were scheduled together
    starts = [i for i, k in enumerate(kinds) if k[0] == "node_started" and k[1] in "abc"]
    first_finish = min(i for i, k in enumerate(kinds) if k[0] == "node_finished" and k[1] in "abc")
    assert len(starts) == 3 and max(starts) < first_finish
    assert result.ran().count("join") == 1


def _failing(**extra) -> dict:
    # Jinja raises at render time: an undefined filter
    return node("bad", "template-transform", template="{{ 1 | nofilter }}", variables=[], **extra)


def test_a_failing_node_fails_the_run_with_its_error() -> None:
    result = run(graph([START, _failing(), end(("r", ["bad", "output"]))], chain("start", "bad", "end")), {})
    assert result.status == "failed" and "Template error" in result.error
    assert result.finished("bad")["status"] == "failed" and result.finished("bad")["outputs"] is None
    assert "end" not in result.ran()


def test_default_value_strategy_continues_with_defaults_and_partial_success() -> None:
    bad = _failing(error_strategy="default-value", default_value=[{"key": "output", "type": "string",
                                                                   "value": "fallback"}])
    result = run(graph([START, bad, end(("r", ["bad", "output"]), ("e", ["bad", "error_type"]))],
                       chain("start", "bad", "end")), {})
    assert result.status == "partial-succeeded"
    assert result.outputs == {"r": "fallback", "e": "TemplateError"}
    assert result.finished("bad")["status"] == "exception" and result.ctx.exceptions == 1


def test_fail_branch_strategy_follows_the_fail_edge() -> None:
    bad = _failing(error_strategy="fail-branch")
    raw = graph([START, bad, end(("ok", ["bad", "output"]), node_id="good_end"),
                 end(("err", ["bad", "error_message"]), node_id="fail_end")],
                [edge("start", "bad"), edge("bad", "good_end", "success-branch"),
                 edge("bad", "fail_end", "fail-branch")])
    result = run(raw, {})
    assert result.status == "partial-succeeded" and "good_end" not in result.ran()
    assert "Template error" in result.outputs["err"]
    ok = run(graph([START, template("bad", "fine", error_strategy="fail-branch"),
                    end(("ok", ["bad", "output"]), node_id="good_end"), end(("err", ["bad", "x"]), node_id="fail_end")],
                   [edge("start", "bad"), edge("bad", "good_end", "success-branch"),
                    edge("bad", "fail_end", "fail-branch")]), {})
    assert ok.status == "succeeded" and ok.outputs == {"ok": "fine"} and "fail_end" not in ok.ran()


def test_retry_reruns_a_failing_node_and_reports_each_retry() -> None:
    bad = _failing(retry_config={"retry_enabled": True, "max_retries": 2, "retry_interval": 0})
    result = run(graph([START, bad], chain("start", "bad")), {})
    assert result.status == "failed"
    retries = [d["data"] for e, d in result.events if e == "node_retry"]
    assert [r["retry_index"] for r in retries] == [1, 2] and all(r["status"] == "failed" for r in retries)


@override_settings(WORKFLOW_MAX_EXECUTION_STEPS=3)
def test_max_steps_stops_a_long_chain() -> None:
    nodes = [START] + [template(f"t{i}", "x") for i in range(5)]
    result = run(graph(nodes, chain("start", *[f"t{i}" for i in range(5)])), {})
    assert result.status == "failed" and result.error == "Max steps 3 reached."
    assert result.ran() == ["start", "t0", "t1"]


@override_settings(WORKFLOW_NODE_MAX_EXECUTION_TIME=0.05)
def test_the_node_time_limit_ends_a_run_that_takes_too_long() -> None:
    # an iteration over many items under the product's node limit (no timeout of the test's own):
    # the node is cut and fails the run, whatever the machine's speed
    raw = graph([START, node("it", "iteration", iterator_selector=["sys", "items"], output_selector=["it_t", "output"],
                             start_node_id="it_s"),
                 node("it_s", "iteration-start", parent="it"), template("it_t", "x", parent="it")],
                [edge("start", "it"), edge("it_s", "it_t")])
    raw["nodes"][-1]["parentId"] = "it"
    result = run(raw, {}, system={"items": list(range(100000))})
    assert result.status == "failed" and result.error == "Node timed out after 0.05s.", result.error
    assert result.finished("it")["status"] == "failed"


def test_stop_ends_the_run_between_nodes() -> None:
    nodes = [START] + [template(f"t{i}", "x") for i in range(4)]
    result = run(graph(nodes, chain("start", *[f"t{i}" for i in range(4)])), {}, stop_after=2)
    assert result.status == "stopped" and result.ran() == ["start", "t0"]


def test_nodes_not_reachable_from_start_never_run_and_notes_are_ignored() -> None:
    note = {"id": "note", "type": "custom-note", "data": {"type": "", "text": "hello"}}
    raw = graph([START, note, template("lonely", "x"), end(("r", ["start", "q"]))], chain("start", "end"))
    result = run(raw, {"q": "v"})
    assert result.ran() == ["start", "end"] and result.outputs == {"r": "v"}


def test_two_end_nodes_return_the_outputs_of_the_branch_that_ran() -> None:
    cases = [{"case_id": "true", "conditions": [{"variable_selector": ["start", "q"], "comparison_operator": "is",
                                                "value": "a"}]}]
    raw = graph([START, node("if", "if-else", cases=cases), end(("which", ["start", "q"]), node_id="e1"),
                 end(("other", ["start", "n"]), node_id="e2")],
                [edge("start", "if"), edge("if", "e1", "true"), edge("if", "e2", "false")])
    assert run(raw, {"q": "a", "n": 1}).outputs == {"which": "a"}
    assert run(raw, {"q": "b", "n": 1}).outputs == {"other": 1}


def test_environment_and_system_variables_reach_templates() -> None:
    raw = graph([START, template("t", "{{ k }}/{{ u }}", k=["env", "KEY"], u=["sys", "user_id"]),
                 end(("r", ["t", "output"]))], chain("start", "t", "end"))
    assert run(raw, {}, env={"KEY": "s3cret"}, system={"user_id": "u1"}).outputs == {"r": "s3cret/u1"}


def test_chatflow_answers_stream_in_graph_order() -> None:
    raw = graph([START, node("a1", "answer", answer="Hello "), template("t", "{{ q }}", q=["sys", "query"]),
                 node("a2", "answer", answer="you said {{#t.output#}}.")], chain("start", "a1", "t", "a2"))
    result = run(raw, {}, mode="advanced-chat", system={"query": "hi"})
    messages = [d["answer"] for e, d in result.events if e == "message"]
    assert "".join(messages) == "Hello you said hi."
    assert [d.get("from_variable_selector") for e, d in result.events if e == "message"][-2] == ["t", "output"]


@override_settings(WORKFLOW_MAX_EXECUTION_STEPS=4)
def test_the_step_limit_applies_per_graph_so_iterations_over_many_items_run() -> None:
    raw = graph([START, node("it", "iteration", iterator_selector=["sys", "items"], output_selector=["it_t", "output"],
                             start_node_id="it_s"),
                 node("it_s", "iteration-start", parent="it"),
                 node("it_t", "template-transform", parent="it", template="x", variables=[]),
                 end(("r", ["it", "output"]))],
                [edge("start", "it"), edge("it", "end"), edge("it_s", "it_t")])
    result = run(raw, {}, system={"items": list(range(10))})
    assert result.status == "succeeded" and result.outputs == {"r": ["x"] * 10}
    assert result.ctx.steps == 3 + 10 * 2  # every node run is counted in total_steps


def test_heavy_templates_hit_the_sandbox_range_limit() -> None:
    heavy = node("t", "template-transform", template="{% for i in range(10**9) %}x{% endfor %}", variables=[])
    result = run(graph([START, heavy, end(("r", ["t", "output"]))], chain("start", "t", "end")), {})
    assert result.status == "failed" and "range" in result.error.lower()
