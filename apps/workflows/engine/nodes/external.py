"""Nodes that reach outside the run: HTTP Request (through the SSRF-guarded client of
apps.core.outbound), Code (through the sandbox of apps.workflows.sandbox), and the nodes that wait
for other issues: Knowledge Retrieval, Tool and Agent."""

import base64
import importlib.util
import json
import math
from typing import Any

from django.conf import settings

from apps.workflows.engine.entities import NodeError, NodeResult
from apps.workflows.engine.nodes.base import Node, UnsupportedNode

TEXT_LIMIT = 1024 * 1024
BINARY_LIMIT = 10 * 1024 * 1024
FILE_MIME_PREFIXES = ("image/", "audio/", "video/")
FILE_MIME_TYPES = ("application/pdf", "application/octet-stream", "application/zip")


def _pairs(pool: Any, text: Any) -> list[tuple[str, str]]:
    """`key:value` lines (headers, params), values templated; legacy dict/list forms accepted."""
    if isinstance(text, dict):
        return [(str(k), pool.render(str(v))) for k, v in text.items()]
    if isinstance(text, list):
        return [(str(i.get("key")), pool.render(str(i.get("value") or ""))) for i in text
                if isinstance(i, dict) and i.get("key")]
    pairs = []
    for line in str(text or "").splitlines():
        if not line.strip() or ":" not in line:
            continue
        key, _, value = line.partition(":")
        pairs.append((pool.render(key.strip()), pool.render(value.strip())))
    return pairs


class HttpRequestNode(Node):
    type = "http-request"

    def _timeout(self) -> Any:
        import httpx

        given = self.data.get("timeout") or {}
        caps = (getattr(settings, "HTTP_REQUEST_MAX_CONNECT_TIMEOUT", 10),
                getattr(settings, "HTTP_REQUEST_MAX_READ_TIMEOUT", 600),
                getattr(settings, "HTTP_REQUEST_MAX_WRITE_TIMEOUT", 600))
        values = []
        for key, cap in zip(("connect", "read", "write"), caps, strict=True):
            value = given.get(key) if isinstance(given, dict) else None
            values.append(min(float(value), cap) if isinstance(value, (int, float)) and value > 0 else cap)
        return httpx.Timeout(connect=values[0], read=values[1], write=values[2], pool=values[0])

    async def _body(self) -> dict[str, Any]:
        from apps.workflows import files

        body = self.data.get("body") or {}
        kind = body.get("type") or "none"
        items = body.get("data")
        if isinstance(items, str):  # legacy: the raw text itself
            items = [{"key": "", "type": "text", "value": items}]
        items = [i for i in items or [] if isinstance(i, dict)]
        if kind == "none":
            return {}
        if kind in ("json", "raw-text"):
            text = self.pool.render(str(items[0].get("value") or "")) if items else ""
            if kind == "json" and text.strip():
                try:
                    json.loads(text)
                except ValueError:
                    raise NodeError("The JSON body is not valid JSON.", "InvalidHttpBody") from None
            return {"content": text.encode(), "content_type": "application/json" if kind == "json" else "text/plain"}
        if kind == "x-www-form-urlencoded":
            return {"data": {self.pool.render(str(i.get("key"))): self.pool.render(str(i.get("value") or ""))
                             for i in items if i.get("key")}}
        if kind == "form-data":
            data, uploads = {}, []
            for item in items:
                if not item.get("key"):
                    continue
                if item.get("type") == "file":
                    value = self.pool.get(item.get("file") or item.get("value") or [], None)
                    for file in value if isinstance(value, list) else [value] if value else []:
                        content = await files.read(self.ctx, file)
                        uploads.append((str(item["key"]), (file.get("filename") or "file", content,
                                                           file.get("mime_type") or "application/octet-stream")))
                else:
                    data[self.pool.render(str(item["key"]))] = self.pool.render(str(item.get("value") or ""))
            return {"data": data, "files": uploads or None}
        if kind == "binary":
            file = self.pool.get(items[0].get("file") or [], None) if items else None
            if not isinstance(file, dict):
                raise NodeError("The binary body needs a file.", "InvalidHttpBody")
            return {"content": await files.read(self.ctx, file),
                    "content_type": file.get("mime_type") or "application/octet-stream"}
        raise NodeError(f"Unknown body type: {kind}", "InvalidHttpBody")

    def _auth(self, headers: dict[str, str]) -> None:
        auth = self.data.get("authorization") or {}
        if (auth.get("type") or "no-auth") == "no-auth":
            return
        config = auth.get("config") or {}
        key = self.pool.render(str(config.get("api_key") or ""))
        kind = config.get("type") or "bearer"
        if kind == "basic":
            encoded = base64.b64encode(key.encode()).decode() if ":" in key else key
            headers[config.get("header") or "Authorization"] = f"Basic {encoded}"
        elif kind == "bearer":
            headers[config.get("header") or "Authorization"] = f"Bearer {key}"
        else:
            headers[config.get("header") or "Authorization"] = key

    async def run(self) -> NodeResult:
        import httpx

        from apps.core import outbound
        from apps.workflows import files

        method = str(self.data.get("method") or "get").upper()
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
            raise NodeError(f"Unsupported HTTP method: {method}", "InvalidHttpMethod")
        url = self.pool.render(str(self.data.get("url") or "")).strip()
        if not url.startswith(("http://", "https://")):
            raise NodeError("The URL must start with http:// or https://", "InvalidURL")
        headers = dict(_pairs(self.pool, self.data.get("headers")))
        params = _pairs(self.pool, self.data.get("params"))
        self._auth(headers)
        body = await self._body()
        content_type = body.pop("content_type", None)
        if content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = content_type
        request_log = {"method": method, "url": url, "headers": {k: ("***" if k.lower() == "authorization" else v)
                                                                  for k, v in headers.items()}, "params": params}
        try:
            async with outbound.async_client(timeout=self._timeout(),
                                             verify=bool(self.data.get("ssl_verify", True))) as http:
                response = await http.request(method, url, headers=headers, params=params, **body)
        except outbound.OutboundBlocked as exc:
            raise NodeError(str(exc), "OutboundBlocked") from None
        except httpx.TimeoutException:
            raise NodeError(f"The request to {url} timed out.", "HttpRequestTimeout") from None
        except httpx.HTTPError as exc:
            raise NodeError(f"The request to {url} failed: {exc}", "HttpRequestError") from None
        mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
        outputs: dict[str, Any] = {"status_code": response.status_code, "headers": dict(response.headers),
                                   "body": "", "files": []}
        if mime.startswith(FILE_MIME_PREFIXES) or mime in FILE_MIME_TYPES:
            if len(response.content) > BINARY_LIMIT:
                raise NodeError("The response file is larger than 10 MB.", "ResponseTooLarge")
            name = url.rsplit("/", 1)[-1].split("?")[0]
            outputs["files"] = [await files.save(self.ctx, response.content, mime, name)]
        else:
            if len(response.content) > TEXT_LIMIT:
                raise NodeError("The response text is larger than 1 MB.", "ResponseTooLarge")
            outputs["body"] = response.text
        return NodeResult(inputs={}, process_data={"request": request_log}, outputs=outputs)


# --- Code ---------------------------------------------------------------------------------------

MAX_DEPTH = 5
MAX_STRING = 400_000
MAX_NUMBER = 9_223_372_036_854_775_807
MAX_PRECISION = 20
MAX_STRING_ARRAY = 30
MAX_OBJECT_ARRAY = 30
MAX_NUMBER_ARRAY = 1000


def _check_value(name: str, kind: str, value: Any, depth: int = 1) -> Any:
    """dsl.md §3.8's output checks; raises NodeError(OutputValidationError)."""

    def bad(message: str) -> NodeError:
        return NodeError(message, "OutputValidationError")

    if depth > MAX_DEPTH:
        raise bad(f"Depth limit {MAX_DEPTH} reached, object too deep.")
    if value is None:
        return None
    if kind == "string":
        if not isinstance(value, str):
            raise bad(f"Output {name} must be a string, got {type(value).__name__} instead.")
        if len(value) > MAX_STRING:
            raise bad(f"The length of output variable `{name}` must be less than {MAX_STRING} characters")
        return value.replace("\x00", "")
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"Output {name} must be a number, got {type(value).__name__} instead.")
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            raise bad(f"Output {name} is not a finite number.")
        if not -MAX_NUMBER <= value <= MAX_NUMBER:
            raise bad(f"Output {name} is out of range, it must be between {-MAX_NUMBER} and {MAX_NUMBER}.")
        if isinstance(value, float) and len(repr(value).split(".")[-1]) > MAX_PRECISION:
            raise bad(f"Output {name} has too high precision, it must be less than {MAX_PRECISION} digits.")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise bad(f"Output {name} must be a boolean, got {type(value).__name__} instead.")
        return value
    if kind == "object":
        if not isinstance(value, dict):
            raise bad(f"Output {name} is not a valid type.")
        for key, inner in value.items():
            _check_any(f"{name}.{key}", inner, depth + 1)
        return value
    if kind.startswith("array"):
        if not isinstance(value, list):
            raise bad(f"Output {name} is not a valid array.")
        inner = kind[6:-1] if kind.startswith("array[") else "any"
        limit = {"string": MAX_STRING_ARRAY, "object": MAX_OBJECT_ARRAY, "number": MAX_NUMBER_ARRAY}.get(inner)
        if limit is not None and len(value) > limit:
            raise bad(f"The length of output variable `{name}` must be less than {limit} elements.")
        return [_check_value(f"{name}[{i}]", inner, v, depth + 1) if inner != "any" else _check_any(
            f"{name}[{i}]", v, depth + 1) for i, v in enumerate(value)]
    return value


def _check_any(name: str, value: Any, depth: int) -> Any:
    if isinstance(value, bool):
        return _check_value(name, "boolean", value, depth)
    if isinstance(value, (int, float)):
        return _check_value(name, "number", value, depth)
    if isinstance(value, str):
        return _check_value(name, "string", value, depth)
    if isinstance(value, dict):
        return _check_value(name, "object", value, depth)
    if isinstance(value, list):
        return _check_value(name, "array", value, depth)
    return value


def sandbox_available() -> bool:
    return importlib.util.find_spec("apps.workflows.sandbox") is not None


class CodeNode(Node):
    type = "code"

    @staticmethod
    def unavailable() -> str | None:
        return None if sandbox_available() else (
            "The Code node is unsupported until the code sandbox (apps.workflows.sandbox) is installed.")

    async def run(self) -> NodeResult:
        reason = self.unavailable()
        if reason:
            raise NodeError(reason, "CodeExecutionError")
        from apps.workflows import sandbox

        language = str(self.data.get("code_language") or "python3")
        if language not in ("python3", "javascript"):
            raise NodeError(f"Unsupported code language: {language}", "CodeExecutionError")
        inputs = self.named_variables()
        try:
            result = await sandbox.arun_code(language, str(self.data.get("code") or ""), inputs)
        except sandbox.CodeExecutionError as exc:
            raise NodeError(str(exc), "CodeExecutionError") from None
        if not isinstance(result, dict):
            raise NodeError("The code must return a dict.", "OutputValidationError")
        declared = self.data.get("outputs") or {}
        outputs: dict[str, Any] = {}
        for name, spec in declared.items():
            if name not in result:
                raise NodeError(f"Output {name} is missing.", "OutputValidationError")
            kind = str((spec or {}).get("type") or "string").lower()
            outputs[name] = _check_value(name, kind, result[name])
        return NodeResult(inputs=inputs, outputs=outputs)


# --- Waiting for other issues ------------------------------------------------------------------


class KnowledgeRetrievalNode(UnsupportedNode):
    reason = ("The Knowledge Retrieval node is unsupported until knowledge retrieval "
              "(apps.datasets) offers a retrieval service.")


class ToolNode(UnsupportedNode):
    reason = "The Tool node is unsupported until the tools issue lands."


class AgentNode(UnsupportedNode):
    reason = "The Agent node is unsupported until agent strategies (the tools issue) land."
