"""The Code node's output checks (dsl.md §3.8), with Dify's limits and messages.

``check_outputs(result, outputs_schema)`` takes the dict main() returned and the node's declared
``outputs`` (``{name: {"type": "string"|"number"|..., "children": {...}|None}}``) and returns the
cleaned result: ``\\x00`` stripped from strings, booleans declared as numbers turned into 0/1.
Undeclared keys, missing keys, wrong types, too long strings or arrays, out-of-range or too precise
numbers and too deep objects raise OutputValidationError. The limits can be changed with Django
settings of the same names as Dify's environment variables.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from .errors import OutputValidationError

DEFAULTS = {
    "CODE_MAX_DEPTH": 5,
    "CODE_MAX_STRING_LENGTH": 400_000,
    "CODE_MAX_NUMBER": 9_223_372_036_854_775_807,
    "CODE_MIN_NUMBER": -9_223_372_036_854_775_808,
    "CODE_MAX_PRECISION": 20,
    "CODE_MAX_STRING_ARRAY_LENGTH": 30,
    "CODE_MAX_OBJECT_ARRAY_LENGTH": 30,
    "CODE_MAX_NUMBER_ARRAY_LENGTH": 1000,
}


def _limit(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))


def _kind(value: Any) -> str:
    return type(value).__name__


def _check_string(value: Any, variable: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise OutputValidationError(f"Output variable `{variable}` must be a string.")
    if len(value) > _limit("CODE_MAX_STRING_LENGTH"):
        raise OutputValidationError(f"The length of output variable `{variable}` must be less than "
                                    f"{_limit('CODE_MAX_STRING_LENGTH')} characters.")
    return value.replace("\x00", "")


def _check_boolean(value: Any, variable: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise OutputValidationError(f"Output variable `{variable}` must be a boolean.")
    return value


def _check_number(value: Any, variable: str) -> int | float | None:
    if value is None:
        return None
    if not isinstance(value, int | float):
        raise OutputValidationError(f"Output variable `{variable}` must be a number.")
    low, high = _limit("CODE_MIN_NUMBER"), _limit("CODE_MAX_NUMBER")
    if value > high or value < low or value != value:  # NaN is not a number either
        raise OutputValidationError(f"Output variable `{variable}` is out of range, "
                                    f"it must be between {low} and {high}.")
    if isinstance(value, float):
        exponent = Decimal(str(value)).normalize().as_tuple().exponent
        precision = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if precision > _limit("CODE_MAX_PRECISION"):
            raise OutputValidationError(f"Output variable `{variable}` has too high precision, it must be "
                                        f"less than {_limit('CODE_MAX_PRECISION')} digits.")
    return int(value) if isinstance(value, bool) else value


def _depth_check(depth: int) -> None:
    if depth > _limit("CODE_MAX_DEPTH"):
        raise OutputValidationError(f"Depth limit {_limit('CODE_MAX_DEPTH')} reached, object too deep.")


def _check_untyped(result: dict, prefix: str, depth: int) -> dict:
    """An object without declared children: check every value by what it is."""
    _depth_check(depth)
    cleaned: dict = {}
    for name, value in result.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, dict):
            cleaned[name] = _check_untyped(value, path, depth + 1)
        elif isinstance(value, bool):
            cleaned[name] = value
        elif isinstance(value, int | float):
            cleaned[name] = _check_number(value, path)
        elif isinstance(value, str):
            cleaned[name] = _check_string(value, path)
        elif isinstance(value, list):
            cleaned[name] = _check_untyped_list(value, path, depth)
        elif value is None:
            cleaned[name] = None
        else:
            raise OutputValidationError(f"Output {path} is not a valid type.")
    return cleaned


def _check_untyped_list(values: list, path: str, depth: int) -> list:
    present = [v for v in values if v is not None]
    if not present:
        return values
    first = present[0]
    if isinstance(first, bool) and all(isinstance(v, bool) for v in present):
        return values
    if isinstance(first, int | float) and all(isinstance(v, int | float) and not isinstance(v, bool)
                                              for v in present):
        return [_check_number(v, f"{path}[{i}]") for i, v in enumerate(values)]
    if isinstance(first, str) and all(isinstance(v, str) for v in values):
        return [_check_string(v, f"{path}[{i}]") for i, v in enumerate(values)]
    if isinstance(first, dict) and all(isinstance(v, dict) for v in present):
        return [None if v is None else _check_untyped(v, f"{path}[{i}]", depth + 1)
                for i, v in enumerate(values)]
    raise OutputValidationError(f"Output {path} is not a valid array. "
                                "Make sure all elements are of the same type.")


def _array(value: Any, path: str, limit_name: str | None) -> list | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise OutputValidationError(f"Output {path} is not an array, got {_kind(value)} instead.")
    if limit_name and len(value) > _limit(limit_name):
        raise OutputValidationError(f"The length of output variable `{path}` must be less than "
                                    f"{_limit(limit_name)} elements.")
    return value


def _check_typed(result: dict, schema: dict, prefix: str, depth: int) -> dict:
    _depth_check(depth)
    cleaned: dict = {}
    for name, config in schema.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if name not in result:
            raise OutputValidationError(f"Output {path} is missing.")
        value = result[name]
        if isinstance(config, dict):
            declared, children = config.get("type"), config.get("children")
        else:  # an entity object with .type/.children (the engine's parsed node data)
            declared, children = getattr(config, "type", None), getattr(config, "children", None)
        declared = getattr(declared, "value", declared)  # an enum member counts as its value
        if declared == "object":
            if value is None:
                cleaned[name] = None
            elif not isinstance(value, dict):
                raise OutputValidationError(f"Output {path} is not an object, got {_kind(value)} instead.")
            elif children:
                cleaned[name] = _check_typed(value, children, path, depth + 1)
            else:
                cleaned[name] = _check_untyped(value, path, depth + 1)
        elif declared == "number":
            if value is not None and not isinstance(value, int | float):
                raise OutputValidationError(f"Output {path} is not a number, got {_kind(value)} instead.")
            cleaned[name] = _check_number(value, path)
        elif declared == "string":
            if value is not None and not isinstance(value, str):
                raise OutputValidationError(f"Output {path} must be a string, got {_kind(value)} instead.")
            cleaned[name] = _check_string(value, path)
        elif declared == "boolean":
            cleaned[name] = _check_boolean(value, path)
        elif declared == "array[number]":
            items = _array(value, path, "CODE_MAX_NUMBER_ARRAY_LENGTH")
            if items is not None:
                for i, item in enumerate(items):
                    if not isinstance(item, int | float):
                        raise OutputValidationError(
                            f"The element at index {i} of output variable `{path}` must be a number.")
                items = [_check_number(item, f"{path}[{i}]") for i, item in enumerate(items)]
            cleaned[name] = items
        elif declared == "array[string]":
            items = _array(value, path, "CODE_MAX_STRING_ARRAY_LENGTH")
            cleaned[name] = None if items is None else [
                _check_string(item, f"{path}[{i}]") for i, item in enumerate(items)]
        elif declared == "array[object]":
            items = _array(value, path, "CODE_MAX_OBJECT_ARRAY_LENGTH")
            if items is not None:
                for i, item in enumerate(items):
                    if item is not None and not isinstance(item, dict):
                        raise OutputValidationError(
                            f"Output {path}[{i}] is not an object, got {_kind(item)} instead at index {i}.")
                items = [None if item is None else _check_untyped(item, f"{path}[{i}]", depth + 1)
                         for i, item in enumerate(items)]
            cleaned[name] = items
        elif declared == "array[boolean]":
            items = _array(value, path, None)
            cleaned[name] = None if items is None else [
                _check_boolean(item, f"{path}[{i}]") for i, item in enumerate(items)]
        else:
            raise OutputValidationError(f"Output type {declared} is not supported.")
    extra = [key for key in result if key not in schema]
    if extra:
        shown = ", ".join(f"{prefix}.{k}" if prefix else str(k) for k in extra[:5])
        raise OutputValidationError(f"Not all output parameters are validated: {shown} is not declared "
                                    "in the node's output variables.")
    return cleaned


def check_outputs(result: dict, outputs_schema: dict | None) -> dict:
    """Validate ``result`` against the node's declared outputs; return the cleaned dict.

    With no schema (``None``), every value is still checked by its own type (Dify's behaviour).
    """
    if not isinstance(result, dict):
        raise OutputValidationError(f"The result must be a dict, got {_kind(result)}.")
    if outputs_schema is None:
        return _check_untyped(result, "", 1)
    return _check_typed(result, outputs_schema, "", 1)
