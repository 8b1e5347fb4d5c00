"""Apps as MCP servers: POST /mcp/<code> (Streamable HTTP, JSON responses, stateless) with the
server's own key as a bearer token. The app is one tool: a workflow takes its Start variables; a
chat, agent, chatflow or completion app takes `query` and `inputs`.

config/asgi.py routes /mcp/ here before Django: the endpoint authenticates by key like the Service
API (the public ApiKeyRoute of kind mcp names the workspace), then checks the code and that the
server is enabled in the workspace's schema. The SDK's server (a low-level Server with a stateless
StreamableHTTPSessionManager) is built per request around that one app, so nothing of one app or
workspace is reachable from another's URL or key.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from apps.tools.entities import ToolInvokeError

logger = logging.getLogger(__name__)
PREFIX = "/mcp/"


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _bearer(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers") or []:
        if name.lower() == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" else ""
    return ""


def _load(app_id: Any, code: str) -> dict[str, Any] | None:
    """The enabled server of this app under this code, and what its tool needs (in the schema)."""
    from apps.applications.models import App
    from apps.tools import workflow_tool
    from apps.tools.models import AppMcpServer
    from apps.workflows import runner, selectors

    row = AppMcpServer.objects.select_related("app").filter(app_id=app_id, code=code, enabled=True).first()
    if row is None:
        return None
    app = row.app
    if app.mode == App.Mode.WORKFLOW:
        workflow = selectors.published(app)
        if workflow is None:
            return None
        params = workflow_tool.parameters(runner.start_variables(workflow.graph), [])
        schema = {"type": "object", "properties": {p.name: p.json_schema() for p in params},
                  "required": [p.name for p in params if p.required]}
    else:
        schema = {"type": "object", "required": ["query"], "properties": {
            "query": {"type": "string", "description": "The message to send to the app"},
            "inputs": {"type": "object", "description": "Values of the app's input variables"}}}
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", app.name).strip("_")[:64] or "app"
    return {"app": app, "name": name, "description": row.description or app.description or app.name,
            "schema": schema}


async def _call(workspace: Any, app: Any, arguments: dict[str, Any]) -> list[Any]:
    from apps.applications.api.auth import AppCaller
    from apps.applications.api.streaming import generate
    from apps.applications.models import App
    from apps.tools import workflow_tool

    if app.mode == App.Mode.WORKFLOW:
        messages = await workflow_tool.run(workspace, str(app.pk), arguments)
        return [types.TextContent(type="text", text=m.as_text()) for m in messages[:1]]
    body = {"query": str(arguments.get("query") or ""), "inputs": arguments.get("inputs") or {},
            "response_mode": "blocking", "user": "mcp-client"}
    response = await generate(AppCaller(workspace=workspace, app=app), body,
                              chat=app.mode != App.Mode.COMPLETION)
    answer = json.loads(response.content)
    if response.status_code >= 400:
        raise ToolInvokeError(str(answer.get("message") or answer))
    return [types.TextContent(type="text", text=str(answer.get("answer") or ""))]


def build_server(workspace: Any, tool: dict[str, Any]) -> Server:
    """The SDK server of one app: one tool."""

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(name=tool["name"], description=tool["description"],
                                                       input_schema=tool["schema"])])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            if params.name != tool["name"]:
                raise ToolInvokeError(f"Unknown tool {params.name}")
            content = await _call(workspace, tool["app"], dict(params.arguments or {}))
        except ToolInvokeError as exc:
            return types.CallToolResult(content=[types.TextContent(type="text", text=exc.message)],
                                        is_error=True)
        return types.CallToolResult(content=content)

    return Server("tessera", on_list_tools=list_tools, on_call_tool=call_tool)


async def mcp_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app of /mcp/<code>."""
    from apps.workspaces.routing import route_for_api_key
    from apps.workspaces.sync import run_in_public, run_in_tenant

    code = scope["path"][len(PREFIX):].strip("/")
    token = _bearer(scope)
    route = await run_in_public(route_for_api_key, token, kind="mcp") if token and code else None
    if route is None:
        await _send_json(send, 401, {"code": "unauthorized", "message": "Invalid or missing MCP server key.",
                                     "status": 401})
        return
    tool = await run_in_tenant(route.workspace, _load, route.app_id, code)
    if tool is None:
        await _send_json(send, 404, {"code": "not_found", "message": "No MCP server here.", "status": 404})
        return
    manager = StreamableHTTPSessionManager(app=build_server(route.workspace, tool), stateless=True,
                                           json_response=True)
    async with manager.run():
        await manager.handle_request(scope, receive, send)
