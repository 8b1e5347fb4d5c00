"""An MCP server built with the mcp SDK (MCPServer), served over Streamable HTTP and SSE on
loopback, behind a bearer token like a real deployment."""

from __future__ import annotations

import base64
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ImageContent, TextContent

TOKEN = "mcp-token-7"
# A 1x1 PNG.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def build() -> MCPServer:
    server = MCPServer("fake-tools")

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Say something back.")
    def echo(text: str, shout: bool = False) -> str:
        return text.upper() if shout else text

    @server.tool(description="A one-pixel picture.")
    def pixel() -> list[Any]:
        return [TextContent(type="text", text="here it is"),
                ImageContent(type="image", data=base64.b64encode(PIXEL).decode(), mime_type="image/png")]

    @server.tool(description="Always fails.")
    def broken() -> str:
        raise ToolError("the widget is broken")

    return server


class BearerGate:
    """401 unless the request carries the token (ASGI middleware in front of the SDK's app)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization") != f"Bearer {TOKEN}".encode():
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": b'{"error": "unauthorized"}'})
                return
        await self.app(scope, receive, send)


def streamable_app() -> Any:
    return BearerGate(build().streamable_http_app())


def sse_app() -> Any:
    return BearerGate(build().sse_app())
