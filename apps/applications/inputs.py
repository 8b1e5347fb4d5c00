"""Validating `inputs` against an app's user_input_form, as the Service API does (§1.2)."""

from typing import Any

from apps.applications.config import form_variables
from apps.core.errors import invalid_param

TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off"}


def validate_inputs(config: dict[str, Any], inputs: Any) -> dict[str, Any]:
    """Return the declared variables only, checked and converted; unknown keys are dropped."""
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise invalid_param("inputs must be an object")
    clean: dict[str, Any] = {}
    for kind, spec in form_variables(config):
        name = spec["variable"]
        value = inputs.get(name)
        if value is None or (value == "" and kind != "text-input" and kind != "paragraph"):
            if spec.get("required") and kind != "checkbox":
                raise invalid_param(f"{name} is required in input form")
            value = spec.get("default")
            if value in (None, "") and kind == "number":
                value = None
            clean[name] = value if value is not None else ("" if kind in ("text-input", "paragraph", "select") else None)
            continue
        if kind in ("text-input", "paragraph", "select"):
            if not isinstance(value, str):
                raise invalid_param(f"(type '{kind}') {name} in input form must be a string")
            if value == "" and spec.get("required"):
                raise invalid_param(f"{name} is required in input form")
            if kind == "select" and value and value not in (spec.get("options") or []):
                raise invalid_param(f"{name} in input form must be one of the following: {spec.get('options') or []}")
            max_length = spec.get("max_length")
            if kind != "select" and max_length and len(value) > int(max_length):
                raise invalid_param(f"{name} in input form must be less than {max_length} characters")
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise invalid_param(f"{name} in input form must be a valid number")
            if isinstance(value, str):
                try:
                    value = float(value) if "." in value else int(value)
                except ValueError:
                    raise invalid_param(f"{name} in input form must be a valid number") from None
        elif kind == "checkbox":
            if isinstance(value, str) and value.lower() in TRUE | FALSE:
                value = value.lower() in TRUE
            elif value in (0, 1) and not isinstance(value, bool):
                value = bool(value)
            elif not isinstance(value, bool):
                raise invalid_param(f"{name} in input form must be a boolean")
        if isinstance(value, str):
            value = value.replace("\x00", "")
        clean[name] = value
    return clean
