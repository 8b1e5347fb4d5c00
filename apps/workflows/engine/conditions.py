"""Condition evaluation shared by IF/ELSE, Loop break conditions and the List Operator filter
(dsl.md §3.7: every comparison operator, with Dify's semantics for empty and None values)."""

import json
from typing import Any

from apps.workflows.engine.variables import VariablePool


class ConditionError(Exception):
    pass


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return float(value) if "." in value or "e" in value.lower() else int(value)
        except ValueError:
            raise ConditionError(f"Cannot convert {value!r} to a number") from None
    return None


def _coerce(expected: Any, actual: Any) -> Any:
    """The expected value (usually a string) in the actual value's type."""
    if isinstance(actual, bool):
        if isinstance(expected, bool):
            return expected
        if isinstance(expected, str):
            try:
                parsed = json.loads(expected.strip().lower())
            except ValueError:
                raise ConditionError(f"Cannot convert {expected!r} to a boolean") from None
            return bool(parsed)
        return bool(expected)
    return _number(expected) if not isinstance(expected, (int, float)) or isinstance(expected, bool) else expected


def _file_attr(file: Any, key: str) -> Any:
    if not isinstance(file, dict):
        return None
    if key == "url":
        return file.get("url") or file.get("remote_url")
    if key == "name":
        return file.get("filename") or file.get("name")
    return file.get(key)


def compare(operator: str, actual: Any, expected: Any) -> bool:
    op = operator
    if op == "contains":
        if not actual:
            return False
        if isinstance(actual, str):
            return str(expected) in actual
        return expected in actual
    if op == "not contains":
        if not actual:
            return True
        if isinstance(actual, str):
            return str(expected) not in actual
        return expected not in actual
    if op == "start with":
        return bool(actual) and isinstance(actual, str) and actual.startswith(str(expected or ""))
    if op == "end with":
        return bool(actual) and isinstance(actual, str) and actual.endswith(str(expected or ""))
    if op in ("is", "is not"):
        if actual is None:
            return False
        if isinstance(actual, bool):
            same = actual == _coerce(expected, actual)
        else:
            same = str(actual) == ("" if expected is None else str(expected))
        return same if op == "is" else not same
    if op == "empty":
        return not actual
    if op == "not empty":
        return bool(actual)
    if op in ("in", "not in"):
        if not isinstance(expected, list):
            raise ConditionError(f"The value of '{op}' must be a list")
        found = actual in expected or (actual is not None and str(actual) in [str(e) for e in expected])
        return found if op == "in" else not found
    if op == "all of":
        if not isinstance(actual, list):
            return False
        items = expected if isinstance(expected, list) else [expected]
        return all(item in actual for item in items)
    if op in ("=", "≠", ">", "<", "≥", "≤", "==", "!=", ">=", "<="):
        if actual is None:
            return False
        left = actual if isinstance(actual, bool) else _number(actual)
        right = _coerce(expected, actual)
        if left is None or right is None:
            return False
        return {"=": left == right, "==": left == right, "≠": left != right, "!=": left != right,
                ">": left > right, "<": left < right, "≥": left >= right, ">=": left >= right,
                "≤": left <= right, "<=": left <= right}[op]
    if op == "null":
        return actual is None
    if op == "not null":
        return actual is not None
    if op == "exists":
        return actual is not None
    if op == "not exists":
        return actual is None
    raise ConditionError(f"Unknown comparison operator: {operator}")


def _expected(pool: VariablePool, value: Any) -> Any:
    if isinstance(value, str):
        return pool.render(value)
    if isinstance(value, list):
        return [pool.render(v) if isinstance(v, str) else v for v in value]
    return value


def evaluate(pool: VariablePool, conditions: list[dict[str, Any]], logical_operator: str = "and",
             ) -> tuple[bool, list[dict[str, Any]]]:
    """(passed, per-condition log). A missing variable raises (the node fails), as in Dify."""
    log: list[dict[str, Any]] = []
    is_and = (logical_operator or "and") == "and"
    for condition in conditions or []:
        selector = condition.get("variable_selector")
        if not selector:
            raise ConditionError("A condition has no variable")
        actual = pool.get(selector)
        operator = condition.get("comparison_operator") or "contains"
        sub = condition.get("sub_variable_condition")
        if sub and operator in ("contains", "not contains", "all of") and isinstance(actual, list):
            matches = [f for f in actual if _sub_match(f, sub)]
            result = bool(matches) if operator in ("contains", "all of") else not matches
            expected: Any = sub
        else:
            expected = _expected(pool, condition.get("value"))
            if operator in ("=", "≠", ">", "<", "≥", "≤") and isinstance(actual, str):
                actual = _number(actual)
            result = compare(operator, actual, expected)
        log.append({"actual_value": actual, "expected_value": expected, "comparison_operator": operator,
                    "result": result})
        if is_and and not result:
            return False, log
        if not is_and and result:
            return True, log
    return (True if is_and else False), log


def _sub_match(file: Any, sub: dict[str, Any]) -> bool:
    checks = [compare(c.get("comparison_operator") or "is", _file_attr(file, c.get("key") or ""), c.get("value"))
              for c in sub.get("conditions") or []]
    if not checks:
        return True
    return all(checks) if (sub.get("logical_operator") or "and") == "and" else any(checks)
