"""Calling one operation of a custom (OpenAPI) tool: the request built from the operation and the
arguments, the provider's authorization, the SSRF-guarded client, and the answer as messages."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from apps.core import outbound
from apps.tools.entities import ToolInvokeError, ToolMessage

RESPONSE_LIMIT = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """What a call needs of a provider row, read once (secrets decrypted) when the tool resolves."""

    server_url: str
    auth_type: str
    auth_public: dict[str, Any]
    secret: dict[str, Any]


def _authorize(endpoint: Endpoint, headers: dict[str, str], query: dict[str, Any]) -> None:
    kind, secret, public = endpoint.auth_type, endpoint.secret, endpoint.auth_public
    if kind == "api_key_header":
        headers[str(public.get("header") or "Authorization")] = str(secret.get("api_key") or "")
    elif kind == "api_key_query":
        query[str(public.get("query_param") or "key")] = str(secret.get("api_key") or "")
    elif kind == "bearer":
        headers["Authorization"] = f"Bearer {secret.get('api_key') or ''}"
    elif kind == "basic":
        pair = f"{public.get('username') or ''}:{secret.get('password') or ''}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"


def build_request(endpoint: Endpoint, tool: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """method, url, headers, params and json of the call (no I/O)."""
    path, query, headers, cookies, body = str(tool["path"]), {}, {}, {}, {}
    for param in tool.get("parameters") or []:
        name = param["name"]
        if name not in values:
            continue
        value = values[name]
        where = param.get("in")
        if where == "path":
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        elif where == "query":
            query[name] = str(value).lower() if isinstance(value, bool) else value
        elif where == "header":
            headers[name] = str(value)
        elif where == "cookie":
            cookies[name] = str(value)
        else:
            if param.get("schema_type") == "integer" and isinstance(value, float) and value.is_integer():
                value = int(value)
            body[name] = value
    if "{" in path:
        raise ToolInvokeError(f"Missing a path parameter of {tool['path']}.")
    _authorize(endpoint, headers, query)
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    request: dict[str, Any] = {"method": tool["method"], "url": endpoint.server_url + path,
                               "headers": headers, "params": query}
    if body or tool["method"] in ("POST", "PUT", "PATCH") and any(
            p.get("in") == "body" for p in tool.get("parameters") or []):
        request["json"] = body
    return request


async def call(endpoint: Endpoint, tool: dict[str, Any], values: dict[str, Any]) -> list[ToolMessage]:
    request = build_request(endpoint, tool, values)
    try:
        async with outbound.async_client(timeout=float(getattr(settings, "TOOL_HTTP_TIMEOUT", 30))) as http:
            response = await http.request(**request)
    except outbound.OutboundBlocked as exc:
        raise ToolInvokeError(str(exc)) from None
    except httpx.TimeoutException:
        raise ToolInvokeError(f"The request to {request['url']} timed out.") from None
    except httpx.HTTPError as exc:
        raise ToolInvokeError(f"The request to {request['url']} failed: {exc}") from None
    text = response.text[:RESPONSE_LIMIT]
    if response.status_code >= 400:
        raise ToolInvokeError(f"The API answered {response.status_code}: {text[:500]}")
    if "json" in response.headers.get("content-type", ""):
        try:
            return [ToolMessage("json", response.json())]
        except ValueError:
            pass
    return [ToolMessage("text", text)]
