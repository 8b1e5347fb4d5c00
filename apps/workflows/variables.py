"""Environment and conversation variable definitions (dsl.md §2.2): validation, and the secret
values of environment variables, encrypted with the workspace's key at rest."""

import copy
import json
import uuid
from typing import Any

from django.utils.translation import gettext as _

from apps.providers import crypto

VALUE_TYPES = ("string", "number", "integer", "float", "boolean", "object", "secret", "array[string]",
               "array[number]", "array[object]", "array[boolean]", "array[any]")
MAX_VARIABLE_SIZE = 200 * 1024
SECRET_PREFIX = "tessera-secret:"
MASK = "[__HIDDEN__]"


class VariableDefinitionError(ValueError):
    pass


def _fits(value_type: str, value: Any) -> bool:
    if value_type in ("string", "secret"):
        return isinstance(value, str)
    if value_type in ("number", "integer", "float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if value_type == "boolean":
        return isinstance(value, bool)
    if value_type == "object":
        return isinstance(value, dict)
    if value_type.startswith("array"):
        return isinstance(value, list)
    return False


def normalise(raw: Any, *, kind: str) -> list[dict[str, Any]]:
    """Validated variable mappings with ids and selectors; raises VariableDefinitionError."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise VariableDefinitionError(_("%(kind)s variables must be a list.") % {"kind": kind})
    result, names = [], set()
    for item in raw:
        if not isinstance(item, dict):
            raise VariableDefinitionError(_("A %(kind)s variable must be a mapping.") % {"kind": kind})
        name = item.get("name")
        if not name or not isinstance(name, str):
            raise VariableDefinitionError(_("missing name"))
        if name in names:
            raise VariableDefinitionError(_("Duplicate variable name: %(name)s") % {"name": name})
        names.add(name)
        if "value" not in item or item["value"] is None:
            raise VariableDefinitionError(_("missing value"))
        value_type = str(item.get("value_type") or "string")
        if value_type not in VALUE_TYPES or (value_type == "secret" and kind != "env"):
            raise VariableDefinitionError(_("Unsupported value type %(type)s for %(name)s")
                                          % {"type": value_type, "name": name})
        value = copy.deepcopy(item["value"])
        if value_type in ("number", "integer", "float") and isinstance(value, str):
            try:
                value = float(value) if "." in value else int(value)
            except ValueError:
                raise VariableDefinitionError(_("%(name)s must be a number") % {"name": name}) from None
        if value_type == "number" and isinstance(value, (int, float)):
            value_type = "integer" if isinstance(value, int) else "float"
        if not _fits(value_type, value) and not (value_type == "secret" and isinstance(value, str)):
            raise VariableDefinitionError(_("The value of %(name)s does not match its type %(type)s")
                                          % {"name": name, "type": value_type})
        if len(json.dumps(value, ensure_ascii=False)) > MAX_VARIABLE_SIZE:
            raise VariableDefinitionError(_("The value of %(name)s is larger than 200 KB") % {"name": name})
        prefix = "env" if kind == "env" else "conversation"
        result.append({"id": str(item.get("id") or uuid.uuid4()), "name": name, "value_type": value_type,
                       "value": value, "description": str(item.get("description") or ""),
                       "selector": [prefix, name]})
    return result


def seal(schema: str, variables: list[dict[str, Any]], previous: list[dict[str, Any]] | None = None,
         ) -> list[dict[str, Any]]:
    """Encrypt secret values; a masked value keeps the stored secret of the same variable."""
    before = {v["name"]: v for v in previous or [] if isinstance(v, dict)}
    sealed = []
    for var in variables:
        var = dict(var)
        if var["value_type"] == "secret":
            value = var["value"]
            if value == MASK and var["name"] in before:
                var["value"] = before[var["name"]]["value"]
            elif not str(value).startswith(SECRET_PREFIX):
                var["value"] = SECRET_PREFIX + crypto.encrypt(schema, {"v": value})
        sealed.append(var)
    return sealed


def unseal(schema: str, variables: list[dict[str, Any]]) -> dict[str, Any]:
    """name → plain value, for a run."""
    values = {}
    for var in variables or []:
        value = var.get("value")
        if var.get("value_type") == "secret" and isinstance(value, str) and value.startswith(SECRET_PREFIX):
            value = crypto.decrypt(schema, value[len(SECRET_PREFIX):])["v"]
        values[var["name"]] = value
    return values


def exported(schema: str, variables: list[dict[str, Any]], *, include_secrets: bool) -> list[dict[str, Any]]:
    """For the DSL: secrets are blank unless asked for (then plain)."""
    plain = unseal(schema, variables) if include_secrets else {}
    out = []
    for var in variables or []:
        var = {k: v for k, v in var.items()}
        if var.get("value_type") == "secret":
            var["value"] = plain.get(var["name"], "") if include_secrets else ""
        out.append(var)
    return out


def masked(variables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For the console and the draft JSON API: secrets never leave in any form."""
    return [{**v, "value": MASK} if v.get("value_type") == "secret" else dict(v) for v in variables or []]
