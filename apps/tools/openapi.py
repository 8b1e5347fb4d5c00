"""Custom tools from API descriptions (TL-03): OpenAPI 3.x, Swagger 2.0 and OpenAI plugin
manifests (whose `api.url` names the OpenAPI document), as JSON or YAML. One tool per operation.

Parse errors say where the document is wrong (a path such as `paths./pets.get.parameters[0]`,
or the line and column of a syntax error), because a user fixes the document by hand.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import yaml

from apps.tools.entities import Option, ToolParameter

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
MAX_REF_DEPTH = 20


class SchemaError(ValueError):
    """The document cannot be used; `where` locates the problem."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(f"{message.rstrip('.')} (at {where})." if where else message)
        self.where = where


@dataclasses.dataclass
class Parsed:
    schema_type: str  # openapi | swagger | openai_plugin
    title: str
    description: str
    server_url: str
    tools: list[dict[str, Any]]
    plugin_api_url: str = ""  # an OpenAI plugin manifest: the OpenAPI document still to fetch


def load(text: str) -> dict[str, Any]:
    """JSON or YAML text → a mapping; syntax errors give the line and column."""
    text = (text or "").strip()
    if not text:
        raise SchemaError("The document is empty.")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"Invalid JSON: {exc.msg}", f"line {exc.lineno}, column {exc.colno}") from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise SchemaError(f"Invalid YAML: {problem}", where) from None
    if not isinstance(data, dict):
        raise SchemaError("The document must be a JSON or YAML object.")
    return data


def parse(text: str) -> Parsed:
    """Read a document; an OpenAI plugin manifest comes back with plugin_api_url and no tools."""
    data = load(text)
    if "schema_version" in data and isinstance(data.get("api"), dict):
        url = str(data["api"].get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise SchemaError("The plugin manifest has no api.url.", "api.url")
        return Parsed("openai_plugin", str(data.get("name_for_human") or ""),
                      str(data.get("description_for_human") or ""), "", [], plugin_api_url=url)
    if str(data.get("openapi") or "").startswith("3"):
        return _parse(data, "openapi")
    if str(data.get("swagger") or "") == "2.0":
        return _parse(data, "swagger")
    raise SchemaError("Not an OpenAPI 3.x, Swagger 2.0 or OpenAI plugin document: "
                      "it needs an `openapi: 3.x`, `swagger: '2.0'` or `schema_version` field.", "top level")


def _server_url(data: dict[str, Any], kind: str) -> str:
    if kind == "swagger":
        host = str(data.get("host") or "")
        if not host:
            raise SchemaError("The document names no host.", "host")
        scheme = (data.get("schemes") or ["https"])[0]
        return f"{scheme}://{host}{data.get('basePath') or ''}".rstrip("/")
    servers = data.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        raise SchemaError("The document names no server.", "servers")
    url = str(servers[0].get("url") or "")
    for name, variable in (servers[0].get("variables") or {}).items():
        url = url.replace("{" + name + "}", str((variable or {}).get("default") or ""))
    if not url.startswith(("http://", "https://")):
        raise SchemaError("The server URL must be an absolute http(s) URL.", "servers[0].url")
    return url.rstrip("/")


def _resolve(data: dict[str, Any], node: Any, where: str, depth: int = 0) -> Any:
    """Follow local `$ref`s (#/components/..., #/definitions/...)."""
    while isinstance(node, dict) and "$ref" in node:
        if depth > MAX_REF_DEPTH:
            raise SchemaError("$ref nests too deep (a cycle?).", where)
        ref = str(node["$ref"])
        if not ref.startswith("#/"):
            raise SchemaError(f"Only local references are supported, not {ref!r}.", where)
        target: Any = data
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise SchemaError(f"The reference {ref!r} points nowhere.", where)
            target = target[part]
        node, depth = target, depth + 1
    return node


def _parameter(name: str, schema: dict[str, Any], required: bool, description: str,
               location: str) -> dict[str, Any]:
    kind = str(schema.get("type") or "string")
    options = tuple(Option(str(v), str(v)) for v in schema.get("enum") or [])
    param_type = "select" if options else {"integer": "number", "number": "number",
                                           "boolean": "boolean"}.get(kind, "string")
    param = ToolParameter(name=name, type=param_type, form="llm", required=required, label=name,
                          llm_description=description or str(schema.get("description") or ""),
                          default=schema.get("default"), options=options)
    return {**param.as_dict(), "in": location, "schema_type": kind}


def _operation(data: dict[str, Any], kind: str, path: str, method: str, op: dict[str, Any],
               shared: list[Any]) -> dict[str, Any]:
    where = f"paths.{path}.{method}"
    operation_id = str(op.get("operationId") or "")
    if not operation_id:
        operation_id = re.sub(r"[^a-zA-Z0-9_]+", "_", f"{method}_{path}").strip("_")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", operation_id):
        raise SchemaError(f"The operationId {operation_id!r} must be 1-64 letters, digits, _ . or -.",
                          f"{where}.operationId")
    params: list[dict[str, Any]] = []
    for index, raw in enumerate([*shared, *(op.get("parameters") or [])]):
        spot = f"{where}.parameters[{index}]"
        item = _resolve(data, raw, spot)
        if not isinstance(item, dict) or not item.get("name") or item.get("in") not in (
                "query", "path", "header", "cookie", "body", "formData"):
            raise SchemaError("A parameter needs a name and `in` (query, path, header, cookie or body).",
                              spot)
        if item["in"] == "body":  # Swagger 2: the JSON body's schema
            params += _body_properties(data, item.get("schema") or {}, spot)
            continue
        schema = _resolve(data, item.get("schema") or item, spot)
        required = bool(item.get("required")) or item["in"] == "path"
        params.append(_parameter(str(item["name"]), schema, required, str(item.get("description") or ""),
                                 item["in"]))
    body = op.get("requestBody")
    if body is not None:
        spot = f"{where}.requestBody"
        body = _resolve(data, body, spot)
        content = (body or {}).get("content") or {}
        media = content.get("application/json") or next(iter(content.values()), None)
        if isinstance(media, dict):
            params += _body_properties(data, media.get("schema") or {}, f"{spot}.content")
    return {"operation_id": operation_id, "method": method.upper(), "path": path,
            "summary": str(op.get("summary") or ""),
            "description": str(op.get("description") or op.get("summary") or operation_id),
            "parameters": params}


def _body_properties(data: dict[str, Any], schema: Any, where: str) -> list[dict[str, Any]]:
    schema = _resolve(data, schema, where)
    if not isinstance(schema, dict):
        raise SchemaError("The body schema must be an object.", where)
    required = set(schema.get("required") or [])
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = _resolve(data, prop, f"{where}.properties.{name}")
        out.append(_parameter(str(name), prop if isinstance(prop, dict) else {}, name in required,
                              str((prop or {}).get("description") or ""), "body"))
    return out


def _parse(data: dict[str, Any], kind: str) -> Parsed:
    server = _server_url(data, kind)
    paths = data.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise SchemaError("The document has no paths.", "paths")
    tools, seen = [], set()
    for path, item in paths.items():
        if not isinstance(item, dict):
            raise SchemaError("A path item must be an object.", f"paths.{path}")
        shared = item.get("parameters") or []
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            if not isinstance(op, dict):
                raise SchemaError("An operation must be an object.", f"paths.{path}.{method}")
            tool = _operation(data, kind, str(path), method, op, shared)
            if tool["operation_id"] in seen:
                raise SchemaError(f"The operationId {tool['operation_id']!r} is used twice.",
                                  f"paths.{path}.{method}.operationId")
            seen.add(tool["operation_id"])
            tools.append(tool)
    if not tools:
        raise SchemaError("The document has no operations.", "paths")
    info = data.get("info") or {}
    return Parsed(kind, str(info.get("title") or ""), str(info.get("description") or ""), server, tools)
