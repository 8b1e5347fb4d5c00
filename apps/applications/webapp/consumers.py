"""The chat widget's WebSocket, /ws/chat/<code>/ (WEB-04): a published chat app for visitors of
other sites, with the same event stream /v1/chat-messages sends over SSE.

Handshake: an unknown or regenerated code, a switched-off WebApp or an app that is not a chat app
closes with 4404; a page whose Origin is not the WebApp's own and not in the site's allowed
origins closes with 4403 (apps.applications.webapp.embedding). Both happen before the socket
opens, so a refused page never gets to send anything.

Messages from the page (JSON):
- {"type": "session", "token"?, "conversation_id"?} names the end user (the WebApp cookie when the
  browser sends it, else the widget's own token from localStorage, else a new end user) and is
  answered with {"event": "session", "token", "end_user_id", "site", "parameters", "strings",
  "conversation_id", "messages"}; the widget keeps the token. "messages" is the history of
  conversation_id when it is this end user's.
- {"type": "chat", "query", "inputs", "conversation_id"?} runs one turn: message… then
  message_end, or error, exactly as the Service API streams them. A turn before any session
  starts one first.
- {"type": "stop", "task_id"} stops this end user's running answer (what was said is kept).
Refusals (bad input, rate limits, a conversation of another end user) are error events with the
API's body {code, message, status}; the socket stays open.
"""

import asyncio
import json
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db.models import prefetch_related_objects
from django.utils import translation

from apps.applications import generation
from apps.applications.api import streaming
from apps.applications.api.auth import AppCaller
from apps.applications.api.messages import MESSAGE_RELATIONS, message_body
from apps.applications.api.meta import parameters_body, site_body
from apps.applications.models import App
from apps.applications.webapp import identity
from apps.applications.webapp.embedding import scope_origin_allowed, widget_strings
from apps.applications.webapp.ratelimit import acheck_rate_limit, client_ip
from apps.core.errors import ServiceError, invalid_param
from apps.logs import selectors
from apps.logs.models import EndUser, Source
from apps.providers.runtime.errors import RuntimeModelError
from apps.workspaces.sync import run_hot, run_in_public, run_in_tenant

CLOSE_FORBIDDEN = 4403
CLOSE_UNAVAILABLE = 4404
HISTORY_LIMIT = 20
BODY_KEYS = ("query", "inputs", "conversation_id", "auto_generate_name", "files")


def _session(ctx: identity.WebAppContext, scope: dict[str, Any], token: str | None,
             conversation_id: str | None) -> tuple[EndUser, dict[str, Any]]:
    """The end user and the session event (sync, in the workspace schema)."""
    end_user, _new = identity.end_user_for_scope(ctx.app, scope, token if isinstance(token, str) else None)
    history: list[dict[str, Any]] = []
    conversation = None
    if isinstance(conversation_id, str) and conversation_id:
        conversation = selectors.api_conversation_get(app=ctx.app, end_user=end_user, source=Source.WEBAPP,
                                                      conversation_id=conversation_id)
    if conversation is not None:
        rows, _more = selectors.api_message_page(conversation=conversation, first_id=None,
                                                 limit=HISTORY_LIMIT)
        prefetch_related_objects(rows, *MESSAGE_RELATIONS)
        history = [message_body(m, ctx.workspace.pk) for m in rows]
    with translation.override(ctx.site.default_language.lower()):
        strings = widget_strings()
    return end_user, {
        "event": "session", "token": identity.issue_token(ctx.app, end_user.session_id),
        "end_user_id": str(end_user.pk), "site": site_body(ctx.site), "parameters": parameters_body(ctx.app),
        "strings": strings, "conversation_id": str(conversation.pk) if conversation else None,
        "messages": history,
    }


def _start(prepared: Any) -> Any:
    """Start a prepared turn: a chat app's Generation, or a chatflow's workflow run."""
    if isinstance(prepared, generation.Prepared):
        return generation.Generation(prepared).start()
    from apps.workflows.runner import WorkflowGeneration

    return WorkflowGeneration(prepared).start()


class WidgetChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        code = self.scope["url_route"]["kwargs"]["code"]
        try:
            self.ctx = await run_in_public(identity.resolve_site, code, modes=App.CHAT_MODES)
        except ServiceError:
            await self.close(code=CLOSE_UNAVAILABLE)
            return
        if not scope_origin_allowed(self.ctx.site, self.scope):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.end_user: EndUser | None = None
        self.relays: set[asyncio.Task] = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        # Running answers go on and are stored; only the relays to this socket stop.
        for task in getattr(self, "relays", ()):
            task.cancel()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type", "chat") if isinstance(content, dict) else None
        try:
            if kind == "session":
                await self._session(content.get("token"), content.get("conversation_id"))
            elif kind == "chat":
                await self._chat(content)
            elif kind == "stop":
                if self.end_user is not None:
                    await run_hot(None, generation.request_stop, str(content.get("task_id", "")),
                                  str(self.end_user.pk))
            else:
                raise invalid_param("type must be session, chat or stop")
        except (ServiceError, RuntimeModelError) as exc:
            await self.send_json({"event": "error", **exc.as_body()})

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json.loads(text_data)
        except ValueError:
            return None  # answered as invalid_param by receive_json

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        # As the SSE streams write them: UTF-8 as is, and workflow values (dates, decimals) as text.
        return json.dumps(content, ensure_ascii=False, default=str)

    async def _session(self, token: Any, conversation_id: Any) -> None:
        self.end_user, event = await run_in_tenant(self.ctx.workspace, _session, self.ctx, self.scope, token,
                                                   conversation_id)
        await self.send_json(event)

    async def _chat(self, content: dict[str, Any]) -> None:
        if self.end_user is None:
            await self._session(content.get("token"), None)
        await acheck_rate_limit(site=self.ctx.site, end_user_id=str(self.end_user.pk),
                                ip=client_ip(self.scope))
        body = {key: content[key] for key in BODY_KEYS if key in content}
        body.setdefault("inputs", {})
        caller = AppCaller(self.ctx.workspace, self.ctx.app, source=Source.WEBAPP, end_user=self.end_user)
        # The Service API's own turn set-up: validation, concurrency slot, conversation ownership.
        prepared = await run_hot(self.ctx.workspace, streaming.begin_turn, caller, body, chat=True)
        run = _start(prepared)
        relay = asyncio.get_running_loop().create_task(self._relay(run))
        self.relays.add(relay)
        relay.add_done_callback(self.relays.discard)

    async def _relay(self, run: Any) -> None:
        while True:
            event = await run.events.get()
            await self.send_json(event)
            if event["event"] in generation.END_EVENTS:
                return
