"""ASGI middleware that resolves the workspace of a WebSocket connection.

Channels does not run Django's HTTP middleware, so WebSocket scopes get their tenant here:
- /ws/console/<slug>/...  the signed-in user's membership in <slug> (needs AuthMiddleware outside);
- /ws/chat/<code>/...     the WebApp site code, through the public SiteRoute index.
The scope gets "tenant" (a Workspace or None), plus "membership" or "app_id" where they apply.
"""

import re
from typing import Any

from channels.db import database_sync_to_async

from apps.workspaces import routing

CONSOLE_PATH = re.compile(r"^/ws/console/(?P<slug>[-a-zA-Z0-9_]+)/")
SITE_PATH = re.compile(r"^/ws/chat/(?P<code>[-a-zA-Z0-9_]+)/")


@database_sync_to_async
def _resolve(path: str, user_id: int | None) -> dict[str, Any]:
    if match := CONSOLE_PATH.match(path):
        membership = routing.membership_for(slug=match["slug"], user_id=user_id)
        return {"tenant": membership.workspace if membership else None, "membership": membership}
    if match := SITE_PATH.match(path):
        route = routing.route_for_site(match["code"])
        return {"tenant": route.workspace if route else None, "app_id": route.app_id if route else None}
    return {"tenant": None}


class TenantASGIMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket":
            user = scope.get("user")
            user_id = user.pk if user is not None and user.is_authenticated else None
            scope = {**scope, **await _resolve(scope["path"], user_id)}
        return await self.app(scope, receive, send)
