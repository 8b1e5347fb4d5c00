"""WebSocket consumers of the console."""

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core.realtime import tenant_group


class WorkspaceEventsConsumer(AsyncJsonWebsocketConsumer):
    """/ws/console/<slug>/events/: live events of one workspace for its members (progress bars,
    notifications). It relays what services publish to the workspace's "events" group."""

    async def connect(self) -> None:
        tenant, membership = self.scope.get("tenant"), self.scope.get("membership")
        if tenant is None or membership is None:
            await self.close(code=4403)
            return
        self.group = tenant_group("events", schema=tenant.schema_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(
            {"type": "connected", "workspace": tenant.slug, "schema": tenant.schema_name, "role": membership.role}
        )

    async def disconnect(self, code: int) -> None:
        if group := getattr(self, "group", None):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def relay(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
