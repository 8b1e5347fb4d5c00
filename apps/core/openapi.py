"""The OpenAPI 3.1 description of /v1 (Service API and Knowledge API), built once per process.

Neither API can be described from its code: the Service API is plain Django views (and the lean
ASGI app of apps/applications/api/asgi.py), the Knowledge API is DRF views without serializers,
because both answer in shapes fixed by the wire contract (service-api.md), not by models. So each
API writes its description next to its views as a fragment (apps/applications/api/openapi.py,
apps/datasets/api/openapi.py) with the small builders below, and drf-spectacular's generator merges
the fragments through its postprocessing hooks (settings.SPECTACULAR_SETTINGS). The document is
generated on first use and kept: the schema views answer from bytes made once.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so the tests validate real responses with jsonschema.
"""

import functools
import json
from collections.abc import Iterable
from typing import Any

import yaml
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
OBJECT: Schema = {"type": "object"}
ANY: Schema = {}
UUID: Schema = {"type": "string", "format": "uuid"}
TIMESTAMP: Schema = {"type": "integer", "description": "Unix time in seconds."}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def enum(*values: Any) -> Schema:
    kinds = {type(v) for v in values if v is not None}
    schema: Schema = {"enum": list(values)}
    if kinds == {str}:
        schema["type"] = "string"
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    """`schema` or null, in 3.1's spelling (type lists; anyOf around a $ref)."""
    if "$ref" in schema or "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]} if schema else schema
    out = dict(schema)
    kind = out["type"]
    out["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


def obj(
    properties: dict[str, Schema], *, required: Iterable[str] | None = None, description: str | None = None
) -> Schema:
    """An object schema; `required` defaults to every property (responses always carry every key).
    Other keys are allowed: clients must ignore fields they do not know."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }
    if description:
        schema["description"] = description
    return schema


def json_content(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def ok(schema: Schema, description: str = "Success.") -> dict[str, Any]:
    return {"description": description, "content": json_content(schema)}


def error_response(*codes: str, description: str = "") -> dict[str, Any]:
    """A response with the API's error body; the description names the `code`s it can carry."""
    listed = ", ".join(f"`{code}`" for code in codes)
    text = f"{description} Error codes: {listed}." if description else f"Error codes: {listed}."
    return {"description": text.strip(), "content": json_content(ref("Error"))}


def errors(table: dict[int, Iterable[str]]) -> dict[str, Any]:
    """{status: codes} → responses, each with the Error body."""
    return {str(status): error_response(*codes) for status, codes in sorted(table.items())}


def merge_errors(*tables: dict[int, Iterable[str]]) -> dict[int, list[str]]:
    merged: dict[int, list[str]] = {}
    for table in tables:
        for status, codes in table.items():
            merged.setdefault(status, [])
            merged[status] += [c for c in codes if c not in merged[status]]
    return merged


def operation(
    op_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    security: list[dict[str, list[str]]],
    error_table: dict[int, list[str]] | None = None,
    common_errors: dict[int, list[str]] | None = None,
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    description: str = "",
) -> dict[str, Any]:
    """One operation: its success responses, then an error response per status of `error_table`
    and `common_errors` (the errors every operation of an API can answer)."""
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag], "security": security}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    op["responses"] = {**responses, **errors(merge_errors(common_errors or {}, error_table or {}))}
    return op


def json_body(schema: Schema, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": json_content(schema)}


def multipart_body(schema: Schema) -> dict[str, Any]:
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def path_param(name: str, schema: Schema = STRING, description: str = "") -> dict[str, Any]:
    param = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        param["description"] = description
    return param


def query_param(
    name: str, schema: Schema = STRING, description: str = "", *, required: bool = False
) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        param["description"] = description
    return param


def event_stream(events: Iterable[str]) -> dict[str, Any]:
    """The text/event-stream media type of a streaming response: each `data:` line carries one
    JSON object, one of the event schemas named `<Event>Event`, told apart by its `event` field.
    (OpenAPI 3.1 has no way to describe a sequence; the schema is that of one event.)"""
    names = list(events)
    return {
        "text/event-stream": {
            "schema": {
                "oneOf": [ref(event_schema_name(e)) for e in names],
                "discriminator": {
                    "propertyName": "event",
                    "mapping": {e: f"#/components/schemas/{event_schema_name(e)}" for e in names},
                },
            },
        }
    }


def event_schema_name(event: str) -> str:
    return "".join(part.capitalize() for part in event.split("_")) + "Event"


def add(
    result: dict[str, Any], *, paths: dict[str, Any], schemas: dict[str, Schema], tags: dict[str, str]
) -> dict[str, Any]:
    """Merge one API's fragment into the generated document (a postprocessing hook's work)."""
    for path, operations in paths.items():
        result.setdefault("paths", {}).setdefault(path, {}).update(operations)
    result.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    result.setdefault("tags", [])
    result["tags"] += [{"name": name, "description": text} for name, text in tags.items()]
    return result


# --- Hooks (SPECTACULAR_SETTINGS) ---------------------------------------------------------------


def no_generated_endpoints(endpoints: list[Any], **kwargs: Any) -> list[Any]:
    """Preprocessing hook: describe no view from its code (see the module docstring); every
    operation comes from a fragment."""
    return []


ERROR = obj(
    {
        "code": {"type": "string", "description": "Machine-readable error code, e.g. `invalid_param`."},
        "message": {"type": "string", "description": "Human-readable text; clients match on `code`."},
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "params": {"type": "string", "description": "The offending field, on some `invalid_param` errors."},
    },
    required=["code", "message", "status"],
    description="Every error of /v1 (service-api.md §1).",
)


RESULT = obj({"result": enum("success")})


def common_components(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: what both APIs share (the error body, `{"result": "success"}`), and
    paths sorted for readers."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(Error=ERROR, Result=RESULT)
    result["paths"] = dict(sorted(result.get("paths", {}).items()))
    result["components"]["schemas"] = dict(sorted(result["components"]["schemas"].items()))
    return result


# --- The document and its views ---------------------------------------------------------------------


@functools.cache
def document() -> dict[str, Any]:
    """The whole OpenAPI document (made once per process)."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@functools.cache
def document_bytes(kind: str) -> bytes:
    if kind == "json":
        return json.dumps(document(), ensure_ascii=False).encode()
    return yaml.safe_dump(document(), allow_unicode=True, sort_keys=False).encode()


@csrf_exempt
def openapi_json(request: HttpRequest) -> HttpResponse:
    """GET /v1/openapi.json."""
    return HttpResponse(document_bytes("json"), content_type="application/json")


@csrf_exempt
def openapi_document(request: HttpRequest) -> HttpResponse:
    """GET /v1/docs: the same document, YAML unless JSON is asked for (Accept or ?format=json)."""
    wants_json = request.GET.get("format") == "json" or "json" in request.headers.get("Accept", "")
    if wants_json:
        return openapi_json(request)
    return HttpResponse(document_bytes("yaml"), content_type="application/vnd.oai.openapi; charset=utf-8")
