"""Running one chat or completion turn: prepare (sync, in the workspace schema), then generate.

Generation runs in its own asyncio task, apart from the HTTP response that relays its events:
a client that disconnects mid-answer does not stop it, and the message is stored complete. A
stop request from any process sets a flag in the shared cache; the task polls it and stores
what it generated so far.
"""

import asyncio
import base64
import contextvars
import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection
from django.db import models as models_
from django.db.models.sql import InsertQuery
from django.utils import timezone

from apps.applications import message_files, naming, prompts
from apps.applications.agent import runner as agents
from apps.applications.inputs import validate_inputs
from apps.applications.models import App
from apps.core.errors import ServiceError, invalid_param, not_found
from apps.core.hotcache import HotCache
from apps.datasets import context as knowledge
from apps.logs import services as log_services
from apps.logs.models import Conversation, EndUser, Message
from apps.providers import selectors as models
from apps.providers.runtime import tokens
from apps.providers.runtime.entities import Usage
from apps.providers.runtime.errors import RuntimeModelError
from apps.providers.runtime.instance import ModelInstance
from apps.workspaces.sync import run_hot


def qn(name: str) -> str:
    return connection.ops.quote_name(name)

logger = logging.getLogger(__name__)
P = TypeVar("P")

PING_INTERVAL = 10.0
STOP_POLL_INTERVAL = 0.5
STOP_KEY = "tessera:stop:{task_id}"
ACTIVE_KEY = "tessera:active:{schema}:{app_id}"
END_EVENTS = ("message_end", "error")
DEFAULT_VOICE = "alloy"
TTS_CHUNK_BYTES = 3 * 4096  # a multiple of 3, so every tts_message's base64 decodes on its own

# Generations running in this process, by task id: local stops act at once, and the tasks stay
# referenced while no client holds them.
RUNNING: dict[str, "Generation"] = {}


@dataclass
class Prepared:
    """Everything a turn needs, loaded before the first token."""

    tenant: Any
    app_id: uuid.UUID
    mode: str
    task_id: str
    message_id: str
    conversation_id: str
    created_at: int
    end_user_id: str | None
    model: ModelInstance
    messages: list
    params: dict[str, Any]
    stop: list[str]
    active_key: str | None = None
    generate_name: bool = False  # a new conversation, to be named once its first answer is stored
    retriever_resources: list = field(default_factory=list)  # citations of the knowledge context
    speech_voice: str | None = None  # the voice when answers are read aloud automatically (autoPlay)
    context_usage: Usage | None = None  # the knowledge context's model call (N-to-1 routing)
    agent: agents.AgentSetup | None = None  # agent apps: the strategy, tools and iteration limit


_end_users = HotCache("service-api-end-users")  # (schema, app id, session id) → EndUser


def end_user_for(app: App, session_id: str | None) -> EndUser:
    """The Service API's end user: get-or-create by the `user` argument (kept per process)."""
    session = session_id or "DEFAULT-USER"

    def load() -> EndUser:
        user, _ = EndUser.objects.get_or_create(
            app=app, type=EndUser.Type.SERVICE_API, session_id=session, defaults={"is_anonymous": not session_id})
        return user

    return _end_users.get_or_load((connection.schema_name, app.pk, session), load)


def _conversation(app: App, conversation_id: str | None, end_user: EndUser | None, source: str,
                  account_id: int | None) -> Conversation | None:
    if not conversation_id:
        return None
    try:
        uuid.UUID(str(conversation_id))
    except ValueError:
        raise invalid_param("conversation_id must be a valid UUID") from None
    found = Conversation.objects.filter(pk=conversation_id, app=app, from_source=source, is_deleted=False)
    found = found.filter(end_user=end_user) if end_user else found.filter(from_account_id=account_id)
    conversation = found.first()
    if conversation is None:
        raise not_found("Conversation Not Exists.")
    if conversation.status != "normal":
        raise ServiceError("conversation_completed", "The conversation has ended. Please start a new conversation.")
    return conversation


def _history(conversation: Conversation | None, window: int) -> list[prompts.Turn]:
    if conversation is None:
        return []
    rows = (Message.objects.filter(conversation=conversation, status__in=[Message.Status.NORMAL, Message.Status.STOPPED])
            .order_by("-created_at").values_list("query", "answer")[:window])
    return [prompts.Turn(q, a) for q, a in reversed(rows)]


def prepare(*, tenant: Any, app: App, query: str, inputs: Any, end_user: EndUser | None, source: str,
            conversation_id: str | None = None, account_id: int | None = None,
            config: dict[str, Any] | None = None, auto_generate_name: bool = False) -> Prepared:
    """Validate a turn and persist its message (status running). Runs in the workspace schema."""
    config = config if config is not None else app.live_config
    clean_inputs = validate_inputs(config, inputs)
    model_config = config.get("model") or {}
    if not model_config.get("provider") or not model_config.get("name"):
        raise ServiceError("app_unavailable", "App unavailable, please check your app configurations.")
    model = models.resolve("llm", model_config["provider"], model_config["name"])
    conversation = _conversation(app, conversation_id, end_user, source, account_id) if app.is_chat else None
    history = _history(conversation, int(config.get("memory_window") or prompts.DEFAULT_WINDOW))
    context = knowledge.TurnContext()
    agent = None
    if agents.is_agent(app.mode, config):  # its knowledge bases are tools it calls when it wants
        agent = agents.setup_for(tenant=tenant, config=config, model=model, source=source)
    elif knowledge.has_datasets(config):  # a dict check: apps without knowledge pay no query here
        context = knowledge.for_turn(config=config, query=query, inputs=clean_inputs, model=model, source=source,
                                     user=str(end_user.pk) if end_user else None)
    completion_params = model_config.get("completion_params") or {}
    if context.hits:  # KN-11: only as many segments as the model's context window holds
        context, messages = knowledge.fit_to_window(
            context, model, int(completion_params.get("max_tokens") or 0),
            lambda text: prompts.build(config, inputs=clean_inputs, query=query, history=history, context=text))
    else:
        messages = prompts.build(config, inputs=clean_inputs, query=query, history=history, context=context.text)
    new_conversation = conversation is None
    rows = []
    if conversation is None:
        name = (query[:20] + "…") if len(query) > 20 else (query or app.name)
        conversation = Conversation(
            app=app, end_user=end_user, from_source=source, from_account_id=account_id, mode=app.mode,
            name=name, inputs=clean_inputs)
        rows.append(conversation)
    message = Message(
        app=app, conversation=conversation, end_user=end_user, from_source=source, from_account_id=account_id,
        inputs=clean_inputs, query=query, model_provider=model.provider, model_name=model.model,
        prompt_log=prompts.as_log(messages), retriever_resources=context.resources)
    rows.append(message)
    insert_rows(*rows)
    params = {k: v for k, v in completion_params.items() if k != "stop"}
    return Prepared(
        tenant=tenant, app_id=app.pk, mode=app.mode, task_id=str(message.task_id), message_id=str(message.pk),
        conversation_id=str(conversation.pk), created_at=int(message.created_at.timestamp()),
        end_user_id=str(end_user.pk) if end_user else None, model=model, messages=messages, params=params,
        stop=list(completion_params.get("stop") or []),
        generate_name=new_conversation and app.is_chat and auto_generate_name,
        retriever_resources=context.resources, context_usage=context.usage,
        speech_voice=_autoplay_voice(config), agent=agent,
    )


def _autoplay_voice(config: dict[str, Any]) -> str | None:
    """The voice when the app has text to speech with autoPlay on (a streamed answer then ends
    with tts_message events, service-api.md §4), else None."""
    tts = config.get("text_to_speech") or {}
    if not (tts.get("enabled") and tts.get("autoPlay") == "enabled"):
        return None
    return tts.get("voice") or DEFAULT_VOICE


def insert_rows(*objs: models_.Model) -> None:
    """INSERT new rows in one round trip: Django compiles each INSERT (defaults, auto_now_add and
    field conversions as in save()), and the statements go out together as one implicit
    transaction. Saves three round trips and the save() machinery per turn; these models have no
    save() overrides or signal receivers that this would skip."""
    statements: list[str] = []
    params: list[Any] = []
    for obj in objs:
        meta = type(obj)._meta
        query = InsertQuery(type(obj))
        query.insert_values([f for f in meta.local_concrete_fields if not f.generated], [obj])
        for sql, values in query.get_compiler(using=DEFAULT_DB_ALIAS).as_sql():
            statements.append(sql)
            params.extend(values)
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS
    with connection.cursor() as cursor:
        cursor.execute("; ".join(statements), params)


def _finish(message_id: str, conversation_id: str, answer: str, status: str, error: str, usage: Usage | None,
            name_conversation: bool = False, resources: list | None = None) -> None:
    """Store the outcome of a turn and touch its conversation in one round trip (two UPDATEs sent
    together, one implicit transaction), then queue the conversation's title task when asked (in
    the workspace schema). The statements are fixed, so they are written here rather than
    compiled by the ORM on every turn; values go through each field's own conversion."""
    now = timezone.now()
    values: dict[str, Any] = {"answer": answer, "status": status, "error": error, "updated_at": now}
    if usage is not None:
        values.update(message_tokens=usage.prompt_tokens, answer_tokens=usage.completion_tokens,
                      total_price=usage.total_price, currency=usage.currency, latency=usage.latency,
                      usage=usage.model_dump(mode="json"))
    if resources is not None:  # an agent's citations, found by its knowledge tools during the turn
        values["retriever_resources"] = resources
    message, conversation = Message._meta, Conversation._meta
    fields = [message.get_field(name) for name in values]
    sql = (f'UPDATE "{message.db_table}" SET {", ".join(f"{qn(f.column)} = %s" for f in fields)} '
           f'WHERE {qn(message.pk.column)} = %s; '
           f'UPDATE "{conversation.db_table}" SET {qn(conversation.get_field("updated_at").column)} = %s '
           f'WHERE {qn(conversation.pk.column)} = %s')
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]
    params += [message.pk.get_db_prep_save(message_id, connection),
               conversation.get_field("updated_at").get_db_prep_save(now, connection),
               conversation.pk.get_db_prep_save(conversation_id, connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    if name_conversation:
        naming.schedule(conversation_id)


def request_stop(task_id: str, end_user_id: str | None) -> None:
    """Stop a running generation, wherever it runs; only its own end user may stop it."""
    cache.set(STOP_KEY.format(task_id=task_id), end_user_id or "", timeout=600)
    local = RUNNING.get(task_id)
    if local is not None and local.prepared.end_user_id == end_user_id:
        local.stop_requested = True


@dataclass
class Generation:
    prepared: Prepared
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    answer: list[str] = field(default_factory=list)
    usage: Usage | None = None
    status: str = Message.Status.NORMAL
    error: ServiceError | RuntimeModelError | None = None
    stop_requested: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    autoplay: bool = False  # an SSE client: read the answer aloud after message_end when the app says so

    @property
    def speaks(self) -> bool:
        return self.autoplay and self.prepared.speech_voice is not None

    def envelope(self, event: str, **fields: Any) -> dict[str, Any]:
        p = self.prepared
        body: dict[str, Any] = {"event": event, "task_id": p.task_id}
        if event in ("message", "message_end", "message_replace", "agent_message"):
            body["id"] = p.message_id
        body["message_id"] = p.message_id
        if p.mode != App.Mode.COMPLETION:
            body["conversation_id"] = p.conversation_id
        body.update(fields)
        body["created_at"] = p.created_at
        return body

    def start(self) -> "Generation":
        RUNNING[self.prepared.task_id] = self
        # A fresh context: the task outlives the request, so it must not inherit the request's
        # thread-sensitive executor (which closes with the response) for its database calls.
        self.task = asyncio.get_running_loop().create_task(self._run(), context=contextvars.Context())
        return self

    async def _run(self) -> None:
        p = self.prepared
        _watch_stops()
        try:
            if p.agent is not None:
                await self._run_agent(p.agent)
            else:
                async for chunk in p.model.stream(p.messages, params=p.params, stop=p.stop or None,
                                                  user=p.end_user_id):
                    if self.stop_requested:
                        self.status = Message.Status.STOPPED
                        break
                    if chunk.delta:
                        self.answer.append(chunk.delta)
                        self.events.put_nowait(self.envelope("message", answer=chunk.delta,
                                                             from_variable_selector=None))
                    if chunk.usage is not None:
                        self.usage = chunk.usage
        except RuntimeModelError as exc:
            self.status, self.error = Message.Status.ERROR, exc
        except Exception as exc:  # a bug must still end the stream and be stored
            logger.exception("generation %s failed", p.task_id)
            self.status = Message.Status.ERROR
            self.error = ServiceError("internal_server_error", "Internal Server Error, please contact support.", 500)
            self.error.__cause__ = exc
        finally:
            answer = "".join(self.answer)
            if self.usage is None:  # stopped or failed early: price what was generated
                completion = tokens.count_tokens(answer, provider=p.model.provider, model=p.model.model)[0]
                self.usage = p.model.price(p.model.count_tokens(p.messages)[0], completion, 0.0)
            self.usage = knowledge.usage_with(self.usage, p.context_usage)  # the routing call is part of the turn
            name = p.generate_name and self.status == Message.Status.NORMAL and self.error is None
            try:
                await run_hot(p.tenant, _finish, p.message_id, p.conversation_id, answer, self.status,
                              self.error.message if self.error else "", self.usage, name,
                              p.retriever_resources if p.agent is not None else None)
            except Exception:
                logger.exception("storing message %s failed", p.message_id)
            if p.active_key:
                await run_hot(None, release_slot, p.active_key)
            if self.error is not None:
                self.events.put_nowait(self.envelope("error", code=self.error.code, status=self.error.status,
                                                     message=self.error.message))
            else:
                self.events.put_nowait(self.envelope("message_end", metadata=self.metadata(), files=None))
            self.done.set()
            RUNNING.pop(p.task_id, None)
        if self.speaks and self.error is None:
            await self._speak(answer)

    async def _run_agent(self, setup: "agents.AgentSetup") -> None:
        """An agent turn (service-api.md §4.3): agent_thought each time a step is created or grows
        (stored as it goes), agent_message for the answer's text, message_file for tools' files."""
        p = self.prepared
        run = agents.AgentRun(
            model=p.model, messages=p.messages, tools=setup.tools, strategy=setup.strategy,
            max_iteration=setup.max_iteration, params=p.params, stop=p.stop, user=p.end_user_id,
            context=agents.tool_context(p.app_id, p.end_user_id, p.conversation_id),
            should_stop=lambda: self.stop_requested,
            keep_files=lambda produced: run_hot(p.tenant, message_files.attach_tool_files, p.message_id, produced))
        saved: set[str] = set()
        try:
            async for event in run.events():
                if isinstance(event, agents.Delta):
                    self.answer.append(event.text)
                    self.events.put_nowait(self.envelope("agent_message", answer=event.text))
                elif isinstance(event, agents.Thought):
                    self.events.put_nowait(self.envelope("agent_thought", **event.event_fields()))
                    if event.observation or (event.thought and not event.tool):  # a finished step
                        await run_hot(p.tenant, log_services.agent_thoughts_save, message_id=p.message_id,
                                      thoughts=[event])
                        saved.add(event.id)
                else:
                    for file in event.files:
                        self.events.put_nowait(self.envelope("message_file", **file))
        finally:
            unsaved = [t for t in run.thoughts if t.id not in saved and (t.thought or t.tool)]
            if unsaved:  # steps a stop or an error cut short
                await run_hot(p.tenant, log_services.agent_thoughts_save, message_id=p.message_id, thoughts=unsaved)
            self.usage = run.usage
            if run.stopped:
                self.status = Message.Status.STOPPED
            cited = [r for tool in setup.tools for r in getattr(tool, "resources", [])]
            if cited:
                p.retriever_resources = [{**r, "position": i} for i, r in enumerate(cited, 1)]

    async def _speak(self, answer: str) -> None:
        """tts_message events with the spoken answer (base64 MP3 in pieces), then tts_message_end.
        The tts model is resolved only here, for streams that speak. A missing or failing tts model
        costs the audio, not the stored answer: it is logged and the stream ends."""
        p = self.prepared
        if answer.strip() and self.status == Message.Status.NORMAL:
            try:
                model = await run_hot(p.tenant, models.resolve_default, "tts")
                audio = (await model.speak(answer, p.speech_voice)).audio
            except Exception:  # noqa: BLE001 - the answer is already stored and sent
                logger.warning("speaking message %s failed", p.message_id, exc_info=True)
                audio = b""
            for start in range(0, len(audio), TTS_CHUNK_BYTES):
                piece = base64.b64encode(audio[start:start + TTS_CHUNK_BYTES]).decode("ascii")
                self.events.put_nowait(self.envelope("tts_message", audio=piece))
        self.events.put_nowait(self.envelope("tts_message_end", audio=""))

    def metadata(self) -> dict[str, Any]:
        return {"annotation_reply": None, "retriever_resources": self.prepared.retriever_resources,
                "usage": self.usage.model_dump(mode="json") if self.usage else None}

    async def sse(self) -> AsyncIterator[bytes]:
        """The SSE stream: events as they come (those already queued go out in one write), a ping
        while idle (sse_batches)."""
        ends = ("tts_message_end", "error") if self.speaks else END_EVENTS
        async for batch in sse_batches(self.events, ends):
            yield PING_FRAME if batch is None else b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in batch)

    def blocking_body(self) -> dict[str, Any]:
        p = self.prepared
        body: dict[str, Any] = {"event": "message", "task_id": p.task_id, "id": p.message_id,
                                "message_id": p.message_id}
        if p.mode != App.Mode.COMPLETION:
            body["conversation_id"] = p.conversation_id
        body.update(mode=p.mode, answer="".join(self.answer), metadata=self.metadata(), created_at=p.created_at)
        return body


PING = object()  # put into an idle stream's queue by IdlePinger
PING_FRAME = b"event: ping\n\n"


async def sse_batches(events: asyncio.Queue, ends: tuple[str, ...]) -> AsyncIterator[list[dict] | None]:
    """What one SSE stream sends: batches of the events already queued (so they go out in one
    write), the last holding an end event; None when the stream has been idle for PING_INTERVAL
    (send a ping). Shared by chat/completion and workflow streams."""
    loop = asyncio.get_running_loop()
    pinger = _pingers.get(loop) or _pingers.setdefault(loop, IdlePinger())
    idle_since = pinger.watch(events)
    try:
        while True:
            first = await events.get()
            if first is PING:
                yield None
                continue
            idle_since[0] = loop.time()
            batch = [first]
            while not events.empty() and batch[-1]["event"] not in ends:
                event = events.get_nowait()
                if event is not PING:
                    batch.append(event)
            yield batch
            if batch[-1]["event"] in ends:
                return
    finally:
        pinger.forget(events)


class IdlePinger:
    """One task per event loop puts PING into the queue of every SSE stream that sent nothing for
    PING_INTERVAL (checking four times per interval). A timeout around each queue read did the
    same at a twentieth of a streamed token's CPU."""

    def __init__(self) -> None:
        self.streams: dict[asyncio.Queue, list[float]] = {}
        self.task: asyncio.Task | None = None

    def watch(self, events: asyncio.Queue) -> list[float]:
        """Start pinging ``events``; the caller keeps the returned one-item list at the time of its last send."""
        loop = asyncio.get_running_loop()
        idle_since = self.streams[events] = [loop.time()]
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._run(), context=contextvars.Context())
        return idle_since

    def forget(self, events: asyncio.Queue) -> None:
        self.streams.pop(events, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.streams:
            await asyncio.sleep(PING_INTERVAL / 4)
            now = loop.time()
            for events, idle_since in list(self.streams.items()):
                if now - idle_since[0] >= PING_INTERVAL:
                    idle_since[0] = now
                    events.put_nowait(PING)


_pingers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IdlePinger]" = weakref.WeakKeyDictionary()
_watchers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task]" = weakref.WeakKeyDictionary()


def _watch_stops() -> None:
    """One task per process (per loop) polls the shared cache for stop requests of every running
    generation at once, so stops from other processes arrive within STOP_POLL_INTERVAL."""
    loop = asyncio.get_running_loop()
    task = _watchers.get(loop)
    if task is None or task.done():
        _watchers[loop] = loop.create_task(_stop_watch_loop(), context=contextvars.Context())


async def _stop_watch_loop() -> None:
    while RUNNING:
        keys = {STOP_KEY.format(task_id=task_id): task_id for task_id in list(RUNNING)}
        try:
            # On the hot-path threads: the database cache of the embedded set-up needs a connection.
            found = await run_hot(None, cache.get_many, list(keys))
        except Exception:  # the cache being down must not end generations
            logger.exception("polling stop requests failed")
            found = {}
        for key, owner in found.items():
            run = RUNNING.get(keys[key])
            if run is not None and owner == (run.prepared.end_user_id or ""):
                run.stop_requested = True
        await asyncio.sleep(STOP_POLL_INTERVAL)


def take_slot(schema: str, app: App) -> str | None:
    """Enforce the app's limit on concurrent generations (429 beyond it); returns the slot key.
    Sync: the hot path calls it in the same thread hop as prepare()."""
    if not app.max_active_requests:
        return None
    key = ACTIVE_KEY.format(schema=schema, app_id=app.pk)
    cache.add(key, 0, 3600)
    active = cache.incr(key)
    if active > app.max_active_requests:
        cache.decr(key)
        raise ServiceError(
            "too_many_requests",
            f"Too many requests. Please try again later. The current maximum concurrent requests allowed "
            f"for {app.pk} is {app.max_active_requests}.", 429)
    return key


def prepare_in_slot(schema: str, app: App, prepare: Callable[[], P]) -> P:
    """Run `prepare` holding one of the app's concurrency slots (429 when none is free); the slot
    goes back if preparing fails, else it rides on the prepared turn until the run ends."""
    slot = take_slot(schema, app)
    try:
        prepared = prepare()
    except BaseException:
        release_slot(slot)
        raise
    prepared.active_key = slot
    return prepared


def release_slot(key: str | None) -> None:
    if not key:
        return
    try:
        cache.decr(key)
    except ValueError:
        pass
