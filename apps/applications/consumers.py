"""WebSocket access to the same event stream the Service API sends over SSE.

/ws/console/<slug>/apps/<app_id>/chat/ lets members who may edit the app run its draft (the
console's debug runs; stored with from_source "debugger", kept out of the logs). Send
{"query", "inputs", "conversation_id"}; receive message… then message_end (or error) events,
exactly as /v1/chat-messages streams them. {"type": "stop", "task_id"} stops a running answer.
"""

import asyncio
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.applications import generation
from apps.applications.models import App
from apps.core.errors import ServiceError
from apps.logs.models import Source
from apps.providers.runtime.errors import RuntimeModelError
from apps.workspaces import roles
from apps.workspaces.sync import run_in_tenant


def _app(app_id: str) -> App | None:
    try:
        return App.objects.filter(pk=app_id).first()
    except ValueError:  # not a UUID
        return None


class AppChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        tenant, membership = self.scope.get("tenant"), self.scope.get("membership")
        if tenant is None or membership is None or not roles.has_perm(membership.role, roles.Perm.APPS_EDIT):
            await self.close(code=4403)
            return
        self.app = await run_in_tenant(tenant, _app, self.scope["url_route"]["kwargs"]["app_id"])
        if self.app is None:
            await self.close(code=4404)
            return
        self.relays: set[asyncio.Task] = set()
        self.started: set[str] = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        # Running generations go on and are stored; only the relays stop.
        for task in getattr(self, "relays", ()):
            task.cancel()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "stop":
            task_id = str(content.get("task_id", ""))
            if task_id in self.started:  # only answers started on this socket
                generation.request_stop(task_id, None)
            return
        tenant, membership = self.scope["tenant"], self.scope["membership"]
        try:
            query, inputs = content.get("query", ""), content.get("inputs") or {}
            if self.app.is_chat and not (isinstance(query, str) and query.strip()):
                raise ServiceError("invalid_param", "query is required")
            prepared = await run_in_tenant(
                tenant, generation.prepare, tenant=tenant, app=self.app, query=query, inputs=inputs, end_user=None,
                source=Source.DEBUGGER, conversation_id=content.get("conversation_id") or None,
                account_id=membership.user_id, config=self.app.draft_config)
        except (ServiceError, RuntimeModelError) as exc:
            await self.send_json({"event": "error", **exc.as_body()})
            return
        run = generation.Generation(prepared).start()
        self.started.add(prepared.task_id)
        relay = asyncio.get_running_loop().create_task(self._relay(run))
        self.relays.add(relay)
        relay.add_done_callback(self.relays.discard)

    async def _relay(self, run: generation.Generation) -> None:
        while True:
            event = await run.events.get()
            await self.send_json(event)
            if event["event"] in ("message_end", "error"):
                return
