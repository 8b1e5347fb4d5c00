"""Calling MCP servers with the official `mcp` SDK: Streamable HTTP or SSE, custom headers (a
bearer token is an Authorization header), every connection through the SSRF guard.

The SDK is built on httpx2, so its HTTP client comes from outbound_sdk.async_client_v2: the guard
resolves, checks and pins each address in the connection layer, as for every other outbound call.
A session lives for one operation (list or call): servers and networks drop idle sessions, and
tool calls are rare next to the model calls around them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
from django.conf import settings
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from apps.core import outbound, outbound_sdk
from apps.tools.entities import Option, RawFile, ToolInvokeError, ToolMessage, ToolParameter


def _timeout() -> httpx2.Timeout:
    seconds = float(getattr(settings, "TOOL_HTTP_TIMEOUT", 30))
    return httpx2.Timeout(seconds, read=float(getattr(settings, "TOOL_CALL_TIMEOUT", 60)))


def _root_cause(exc: BaseException) -> BaseException:
    """The first real error inside the SDK's task-group exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        blocked = [e for e in exc.exceptions if isinstance(_root_cause(e), outbound.OutboundBlocked)]
        exc = blocked[0] if blocked else exc.exceptions[0]
    return exc


def describe(exc: BaseException, url: str, refused: list[int]) -> str:
    cause = _root_cause(exc)
    if isinstance(cause, outbound.OutboundBlocked):
        return str(cause)
    if refused:  # the SDK reports HTTP errors as JSON-RPC errors without the status
        return f"The MCP server at {url} answered {refused[-1]}."
    if isinstance(cause, httpx2.HTTPStatusError):
        return f"The MCP server at {url} answered {cause.response.status_code}."
    if isinstance(cause, (httpx2.HTTPError, httpx.HTTPError, OSError)):
        return f"The MCP server at {url} cannot be reached: {cause or type(cause).__name__}"
    return f"The MCP server at {url} failed: {cause or type(cause).__name__}"


@contextlib.asynccontextmanager
async def session(url: str, transport: str, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    """An initialised MCP session; any failure (refused address included) raises ToolInvokeError."""
    try:
        await asyncio.to_thread(outbound.check_url, url)  # a clear refusal before any SDK machinery
    except (outbound.OutboundBlocked, httpx.HTTPError) as exc:
        raise ToolInvokeError(str(exc)) from None

    refused: list[int] = []

    async def record(response: Any) -> None:
        if response.status_code >= 400:
            refused.append(response.status_code)

    def factory(headers: dict[str, str] | None = None, timeout: Any = None, auth: Any = None) -> Any:
        return outbound_sdk.async_client_v2(headers=headers, timeout=timeout or _timeout(), auth=auth,
                                        event_hooks={"response": [record]})

    try:
        async with contextlib.AsyncExitStack() as stack:
            if transport == "sse":
                streams = await stack.enter_async_context(sse_client(
                    url, headers=headers, timeout=float(getattr(settings, "TOOL_HTTP_TIMEOUT", 30)),
                    sse_read_timeout=float(getattr(settings, "TOOL_CALL_TIMEOUT", 60)),
                    httpx_client_factory=factory))
            else:
                client = await stack.enter_async_context(factory(headers=headers))
                streams = await stack.enter_async_context(streamable_http_client(url, http_client=client))
            mcp = await stack.enter_async_context(ClientSession(streams[0], streams[1]))
            await mcp.initialize()
            yield mcp
    except ToolInvokeError:
        raise
    except Exception as exc:
        raise ToolInvokeError(describe(exc, url, refused)) from None


async def list_tools(url: str, transport: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The server's tools as stored on McpServer.tools: name, description, input_schema."""
    async with session(url, transport, headers) as mcp:
        tools, cursor = [], None
        while True:
            page = await mcp.list_tools(cursor=cursor) if cursor else await mcp.list_tools()
            tools += [{"name": t.name, "description": t.description or "",
                       "input_schema": t.input_schema or {}} for t in page.tools]
            cursor = getattr(page, "next_cursor", None)
            if not cursor:
                return tools


async def call_tool(url: str, transport: str, headers: dict[str, str], name: str,
                    arguments: dict[str, Any]) -> list[ToolMessage | RawFile]:
    async with session(url, transport, headers) as mcp:
        result = await mcp.call_tool(name, arguments)
    return messages(result)


def messages(result: Any) -> list[ToolMessage | RawFile]:
    """An MCP CallToolResult as tool messages; an error result raises ToolInvokeError."""
    out: list[ToolMessage | RawFile] = []
    texts = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            texts.append(block.text)
            out.append(ToolMessage("text", block.text))
        elif kind in ("image", "audio"):
            out.append(RawFile(base64.b64decode(block.data), block.mime_type, kind="image" if kind == "image"
                               else "blob"))
        elif kind == "resource_link":
            out.append(ToolMessage("link", str(block.uri), {"name": block.name}))
        elif kind == "resource":
            resource = block.resource
            if getattr(resource, "text", None) is not None:
                out.append(ToolMessage("text", resource.text))
            else:
                mime = resource.mime_type or "application/octet-stream"
                out.append(RawFile(base64.b64decode(resource.blob), mime))
    if getattr(result, "is_error", False):
        raise ToolInvokeError("; ".join(texts) or "The MCP tool reported an error.")
    structured = getattr(result, "structured_content", None)
    if structured is not None and not texts:
        out.append(ToolMessage("json", structured))
    return out


def parameters(input_schema: dict[str, Any]) -> tuple[ToolParameter, ...]:
    """The tool's JSON Schema properties as parameters the model fills."""
    required = set(input_schema.get("required") or [])
    params = []
    for name, prop in (input_schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        options = tuple(Option(str(v), str(v)) for v in prop.get("enum") or [])
        kind = "select" if options else {"integer": "number", "number": "number",
                                         "boolean": "boolean"}.get(str(prop.get("type")), "string")
        params.append(ToolParameter(str(name), kind, "llm", required=name in required, label=str(name),
                                    llm_description=str(prop.get("description") or prop.get("title") or ""),
                                    default=prop.get("default"), options=options))
    return tuple(params)
