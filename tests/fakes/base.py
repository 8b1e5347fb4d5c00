"""Shared machinery for Tessera's fake LLM provider servers.

Each fake (``FakeOpenAI``, ``FakeCohere``, ``FakeAnthropic``) is a real HTTP server built on
``aiohttp.web``. It runs its own event loop in a daemon thread, listens on a free port of
127.0.0.1 and speaks the provider's wire protocol, so the real SDKs talk to it over HTTP: nothing
in the SDKs is patched. Because the loop lives in its own thread, one server serves sync tests,
async tests (whatever loop pytest-asyncio gives them) and benchmarks alike, and many concurrent
streams at once.

Scripting
---------
Every endpoint has a name (``"chat"``, ``"embeddings"``, ``"messages"`` ...) and a FIFO queue of
script items. A request pops the next item of its endpoint's queue; when the queue is empty the
fake answers with ``fake.responder(request)`` if one is set, else with ``Reply(fake.default_text)``.

- ``Reply(text, tool_calls, finish_reason, usage, chunk_size, delay_between_chunks,
  first_chunk_delay)``: a successful answer. ``usage=None`` means "count words": prompt tokens are
  the words in the request's message/prompt/input text, completion tokens the words generated.
  ``finish_reason`` may be generic (``"stop"``, ``"length"``, ``"tool_calls"``, mapped to the
  provider's own vocabulary) or a provider-native value passed through as is. When the request
  asks for fewer tokens (``max_tokens`` and friends) than the reply has words, the text is cut and
  the finish reason becomes ``"length"``.
- ``Fail(status, message=None, type=None, code=None, headers={}, after_chunks=None)``: the
  provider's real error body for that status (defaults per provider); with ``after_chunks=N`` a
  *streaming* request gets N events first and then the provider's in-stream error.
- ``Hang(seconds, then=None)``: say nothing for ``seconds`` (client read timeouts), then answer
  with ``then`` (or the default reply) if the client is still there.
- ``Disconnect(after_chunks=0, reply=None)``: drop the TCP connection, before any byte (0) or
  after N stream events of ``reply``.

Strictness
----------
The fakes refuse what the real services refuse, because callers (agents above all) depend on exact
exchanges: every request is checked by the provider's ``validate`` hook (roles, tool-call/result
pairing, parameter ranges, tool names) and answered with the provider's real 400 body; a
``Reply`` may call only tools the request declared (a script calling an undeclared tool is a bug
in the test and is reported through ``fake.errors``); with ``reject_unknown_models`` (on by
default) only models in ``fake.models`` are served (``fake.serve("llama3")`` loads one, as on an
Ollama server). ``fake.split_events = True`` writes every stream at random byte offsets
(mid-line and mid-character, across event boundaries), as networks deliver it;
``fake.split_seed`` makes the cuts reproducible.

``fake.script("chat", Reply(...), Fail(429))`` queues items for one endpoint;
``fake.script(Reply(...))`` queues for the fake's main generation endpoint. ``fake.requests``
records every request (``RecordedRequest``); ``fake.reset()`` clears scripts, records and
settings. ``fake.errors`` collects tracebacks of bugs inside the fake itself.

Not covered on purpose: TLS, HTTP/2, real tokenisation (tokens are whitespace-separated words),
sampling itself (parameters are range-checked and recorded, not applied), ``n > 1`` choices.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import math
import random
import re
import secrets
import string
import struct
import threading
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Self, TypeAlias

from aiohttp import web

# --------------------------------------------------------------------------------------------------
# Script items
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class FakeToolCall:
    """A tool (function) call the fake model makes. ``arguments`` is a JSON string or a mapping."""

    name: str
    arguments: str | Mapping[str, Any] = "{}"
    id: str | None = None  # provider-shaped id generated when None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)

    @property
    def arguments_dict(self) -> dict[str, Any]:
        if isinstance(self.arguments, str):
            parsed = json.loads(self.arguments or "{}")
            return parsed if isinstance(parsed, dict) else {"value": parsed}
        return dict(self.arguments)


@dataclasses.dataclass
class Reply:
    """A successful generation. See the module docstring for the field semantics."""

    text: str = ""
    tool_calls: list[FakeToolCall] = dataclasses.field(default_factory=list)
    finish_reason: str | None = None
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens)
    chunk_size: int = 1  # words per streamed content delta
    delay_between_chunks: float = 0.0  # seconds between consecutive stream events
    first_chunk_delay: float = 0.0  # seconds before the first stream event (time to first token)
    model: str | None = None  # model echoed back; defaults to the requested one


@dataclasses.dataclass
class Fail:
    """An error answer in the provider's real error shape."""

    status: int = 500
    message: str | None = None
    type: str | None = None
    code: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    after_chunks: int | None = None  # streaming only: error event after N events
    param: str | None = None  # the offending request field (OpenAI's error body names it)


@dataclasses.dataclass
class Hang:
    """Stay silent for ``seconds`` before answering (``then`` or the default reply)."""

    seconds: float = 30.0
    then: Reply | Fail | Disconnect | None = None


@dataclasses.dataclass
class Disconnect:
    """Close the connection abruptly: before any byte, or after ``after_chunks`` stream events."""

    after_chunks: int = 0
    reply: Reply | None = None  # what is streamed before the cut


ScriptItem: TypeAlias = Reply | Fail | Hang | Disconnect
Responder: TypeAlias = Callable[["RecordedRequest"], ScriptItem]


@dataclasses.dataclass
class RecordedRequest:
    """One request as the fake received it."""

    endpoint: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any  # parsed JSON body, or None
    form: dict[str, Any] | None = None  # multipart fields; files as {"filename", "size", "content_type"}
    path_params: dict[str, str] = dataclasses.field(default_factory=dict)
    client_disconnected: bool = False  # set when the client hung up before the answer was complete

    @property
    def api_key(self) -> str | None:
        """The key sent as ``Authorization: Bearer``, ``x-api-key`` or ``api-key``."""
        for name in ("x-api-key", "api-key"):
            if self.headers.get(name):
                return self.headers[name]
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip() or None
        return None


# --------------------------------------------------------------------------------------------------
# Deterministic helpers (shared by the fakes)
# --------------------------------------------------------------------------------------------------

_WORD = re.compile(r"\S+")
_TERM = re.compile(r"[a-z0-9]+")
_TEXT_KEYS = frozenset({"content", "text", "prompt", "input", "system", "messages", "texts", "query"})


def new_id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def prompt_words(body: Any) -> int:
    """Approximate prompt tokens: words in the string values under message/prompt/input keys."""

    def walk(node: Any, counted: bool) -> int:
        if isinstance(node, str):
            return count_words(node) if counted else 0
        if isinstance(node, Mapping):
            return sum(walk(v, counted or k in _TEXT_KEYS) for k, v in node.items() if k != "role")
        if isinstance(node, list):
            return sum(walk(v, counted) for v in node)
        return 0

    return walk(body, False)


def split_words(text: str, words_per_chunk: int) -> list[str]:
    """Split ``text`` into chunks of N words each, keeping whitespace so ``"".join`` is lossless."""
    pieces = re.findall(r"\s*\S+\s*|\s+", text)
    size = max(1, words_per_chunk)
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]


def split_chars(text: str, size: int = 8) -> list[str]:
    """Split a string (tool-call arguments) into pieces of ``size`` characters."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def last_user_text(body: Any) -> str:
    """The text of the last user message (or the prompt/input) of an OpenAI/Anthropic/Cohere body."""
    if not isinstance(body, Mapping):
        return ""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    prompt = body.get("prompt", body.get("input", ""))
    return prompt if isinstance(prompt, str) else " ".join(map(str, prompt))


def echo_responder(request: RecordedRequest) -> ScriptItem:
    """A ``fake.responder`` that answers ``"Echo: <last user message>"``."""
    return Reply(text=f"Echo: {last_user_text(request.json)}")


def fake_embedding(text: str, dims: int) -> list[float]:
    """A deterministic, L2-normalised vector for ``text``.

    Bag-of-words feature hashing (so texts sharing words are close in cosine similarity) plus a
    small component seeded from the hash of the whole text (so different texts never collide).
    """
    vector = [0.0] * dims
    for term in _TERM.findall(text.lower()):
        digest = hashlib.sha256(term.encode()).digest()
        index = int.from_bytes(digest[:4], "big") % dims
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    noise = random.Random(hashlib.sha256(text.encode()).digest())
    vector = [v + 0.1 * noise.gauss(0.0, 1.0) for v in vector]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def floats_to_base64(vector: Sequence[float]) -> str:
    """Little-endian float32 array, base64-encoded: what ``encoding_format=base64`` returns."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def overlap_score(query: str, document: str) -> float:
    """Relevance in [0, 1): the share of query terms found in the document (slightly damped)."""
    query_terms = set(_TERM.findall(query.lower()))
    if not query_terms:
        return 0.0
    doc_terms = set(_TERM.findall(document.lower()))
    return round(len(query_terms & doc_terms) / len(query_terms) * 0.99, 6)


def rank_documents(query: str, documents: Sequence[str], top_n: int | None) -> list[tuple[int, float]]:
    """(index, score) pairs, best first, ties by index; cut to ``top_n``."""
    scored = sorted(
        ((i, overlap_score(query, d)) for i, d in enumerate(documents)), key=lambda p: (-p[1], p[0])
    )
    return scored[:top_n] if top_n else scored


def document_text(document: Any) -> str:
    """Rerank documents may be strings or ``{"text": ...}`` objects."""
    if isinstance(document, Mapping):
        return str(document.get("text", json.dumps(document)))
    return str(document)


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------

Frame: TypeAlias = tuple[str | None, Any]  # (SSE event name or None, data: JSON-able or raw str)


@dataclasses.dataclass
class Generation:
    """A ``Reply`` resolved against a request: ids assigned, text cut to max tokens, usage counted."""

    text: str
    chunks: list[str]
    tool_calls: list[FakeToolCall]
    finish_reason: str  # generic ("stop"/"length"/"tool_calls") or provider-native
    prompt_tokens: int
    completion_tokens: int
    model: str

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclasses.dataclass
class Call:
    """What an endpoint handler works with."""

    endpoint: str
    request: RecordedRequest
    http: web.Request
    reply: Reply
    interrupt: Fail | Disconnect | None = None  # applied by ``respond``/``stream``

    @property
    def body(self) -> dict[str, Any]:
        return self.request.json if isinstance(self.request.json, dict) else {}


Handler: TypeAlias = Callable[[Call], Awaitable[web.StreamResponse]]


class FakeServer:
    """Base class: lifecycle, routing, recording, scripting, SSE streaming.

    Subclasses declare ``endpoints`` (name -> accepts ``Reply``), ``main_endpoint``, register
    routes in ``_routes`` and implement the provider hooks (``error_body``, ``stream_error_frames``,
    ``authenticate``, ``tool_call_id``).
    """

    endpoints: ClassVar[dict[str, bool]] = {}
    main_endpoint: ClassVar[str] = ""
    default_models: ClassVar[tuple[str, ...]] = ()
    request_id_header: ClassVar[str] = "x-request-id"
    finish_reasons: ClassVar[dict[str, str]] = {}  # generic -> provider-native

    def __init__(self, *, valid_keys: Iterable[str] | None = None, embedding_dims: int = 16) -> None:
        self._initial_valid_keys = frozenset(valid_keys) if valid_keys is not None else None
        self._initial_embedding_dims = embedding_dims
        self._lock = threading.Lock()
        self._queues: dict[str, deque[ScriptItem]] = {name: deque() for name in self.endpoints}
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._configure()

    # -- settings --------------------------------------------------------------------------------

    def _configure(self) -> None:
        """(Re)set every tweakable setting to its default. Subclasses extend it."""
        self.valid_keys: frozenset[str] | None = self._initial_valid_keys  # None: any non-empty key
        self.embedding_dims = self._initial_embedding_dims
        self.default_text = "Hello from fake"
        self.responder: Responder | None = None
        self.models: list[str] = list(self.default_models)
        self.reject_unknown_models = True
        self.split_events = False
        self.split_seed: int | None = None

    def serve(self, *models: str) -> Self:
        """Add models to what this fake serves (an OpenAI-compatible server loading a model)."""
        self.models.extend(m for m in models if m not in self.models)
        return self

    def reset(self) -> None:
        """Forget scripts, recorded requests, errors and settings."""
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
            self.requests.clear()
            self.errors.clear()
        self._configure()

    # -- scripting -------------------------------------------------------------------------------

    def script(self, *items: str | ScriptItem) -> Self:
        """``script("chat", Reply(...), Fail(429))`` or ``script(Reply(...))`` for the main endpoint."""
        endpoint = self.main_endpoint
        if items and isinstance(items[0], str):
            endpoint, items = items[0], items[1:]
        if endpoint not in self.endpoints:
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {sorted(self.endpoints)}")
        for item in items:
            if isinstance(item, str) or not isinstance(item, ScriptItem):
                raise TypeError(f"not a script item: {item!r}")
            if isinstance(item, Reply) and not self.endpoints[endpoint]:
                raise TypeError(f"endpoint {endpoint!r} takes Fail/Hang/Disconnect only, not Reply")
        with self._lock:
            self._queues[endpoint].extend(items)  # type: ignore[arg-type]
        return self

    def pending(self, endpoint: str | None = None) -> int:
        """How many script items are still queued for ``endpoint`` (all endpoints when None)."""
        with self._lock:
            if endpoint is None:
                return sum(len(q) for q in self._queues.values())
            return len(self._queues[endpoint])

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self.requests:
                raise AssertionError(f"{type(self).__name__} received no request")
            return self.requests[-1]

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url`` (overridden where the SDK wants a suffix)."""
        return self.root_url

    def start(self) -> Self:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure or not self.port:
            self._thread = None
            raise RuntimeError(f"{type(self).__name__} did not start") from (failure[0] if failure else None)
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self._routes(app)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.2, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = self._runner = None
        self.port = 0

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routing ---------------------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def add_route(
        self, app: web.Application, method: str, path: str, endpoint: str, handler: Handler
    ) -> None:
        async def entry(http: web.Request) -> web.StreamResponse:
            return await self._dispatch(http, endpoint, handler)

        app.router.add_route(method, path, entry)

    async def _dispatch(self, http: web.Request, endpoint: str, handler: Handler) -> web.StreamResponse:
        recorded: RecordedRequest | None = None
        try:
            recorded = await self._record(http, endpoint)
            denied = self.authenticate(recorded)
            if denied is not None:
                return self.error_response(denied, recorded)
            model = recorded.json.get("model") if isinstance(recorded.json, dict) else None
            if self.reject_unknown_models and isinstance(model, str) and model not in self.models:
                return self.error_response(Fail(404, code="model_not_found"), recorded)
            invalid = self.validate(recorded)
            if invalid is not None:
                return self.error_response(invalid, recorded)
            item = self._next_item(endpoint, recorded)
            while isinstance(item, Hang):
                await asyncio.sleep(item.seconds)
                item = item.then if item.then is not None else self._default_item(recorded)
            if isinstance(item, Fail) and item.after_chunks is None:
                return self.error_response(item, recorded)
            reply = item if isinstance(item, Reply) else None
            if isinstance(item, Disconnect):
                reply = item.reply
            call = Call(endpoint, recorded, http, reply or Reply(text=self.default_text))
            if not isinstance(item, Reply):
                call.interrupt = item
            return await handler(call)
        except asyncio.CancelledError:  # the client went away while the handler waited
            if recorded is not None:
                recorded.client_disconnected = True
            raise
        except ConnectionResetError:  # the client went away while we were writing
            if recorded is not None:
                recorded.client_disconnected = True
            return web.Response()
        except Exception:  # noqa: BLE001 - a bug in the fake: surface it to the test
            trace = traceback.format_exc()
            with self._lock:
                self.errors.append(trace)
            return web.json_response({"error": {"message": f"fake server bug:\n{trace}"}}, status=500)

    async def _record(self, http: web.Request, endpoint: str) -> RecordedRequest:
        form: dict[str, Any] | None = None
        body = b""
        parsed: Any = None
        if http.content_type.startswith("multipart/"):
            form = {}
            for name, value in (await http.post()).items():
                if isinstance(value, web.FileField):
                    content = value.file.read()
                    form[name] = {
                        "filename": value.filename,
                        "size": len(content),
                        "content_type": value.content_type,
                    }
                else:
                    form[name] = value
        else:
            body = await http.read()
            if body:
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
        recorded = RecordedRequest(
            endpoint=endpoint,
            method=http.method,
            path=http.path,
            query=dict(http.query),
            headers={k.lower(): v for k, v in http.headers.items()},
            body=body,
            json=parsed,
            form=form,
            path_params=dict(http.match_info),
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded

    def _next_item(self, endpoint: str, recorded: RecordedRequest) -> ScriptItem:
        with self._lock:
            queue = self._queues[endpoint]
            if queue:
                return queue.popleft()
        return self._default_item(recorded)

    def _default_item(self, recorded: RecordedRequest) -> ScriptItem:
        if self.responder is not None and self.endpoints.get(recorded.endpoint):
            return self.responder(recorded)
        return Reply(text=self.default_text)

    # -- provider hooks --------------------------------------------------------------------------

    def authenticate(self, request: RecordedRequest) -> Fail | None:
        """Return a ``Fail`` (normally 401) when the request's key is not accepted."""
        key = request.api_key
        if not key or (self.valid_keys is not None and key not in self.valid_keys):
            return Fail(401)
        return None

    def validate(self, request: RecordedRequest) -> Fail | None:
        """Return the provider's 400 (as a ``Fail``) when the request is malformed."""
        return None

    def declared_tools(self, body: Mapping[str, Any]) -> set[str]:
        """The names of the tools a generation request declared."""
        return set()

    def error_body(self, fail: Fail, request: RecordedRequest) -> Any:
        raise NotImplementedError

    def stream_error_frames(self, fail: Fail, request: RecordedRequest) -> list[Frame]:
        raise NotImplementedError

    def tool_call_id(self, call: FakeToolCall) -> str:
        return new_id("call_")

    # -- responding ------------------------------------------------------------------------------

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {self.request_id_header: new_id("req_")}
        headers.update(extra or {})
        return headers

    def error_response(self, fail: Fail, request: RecordedRequest) -> web.Response:
        return web.json_response(
            self.error_body(fail, request), status=fail.status, headers=self.headers(fail.headers)
        )

    def generation(self, call: Call, *max_token_keys: str) -> Generation:
        """Resolve ``call.reply`` against the request: ids, max-token cut, finish reason, usage."""
        reply, body = call.reply, call.body
        text, finish = reply.text, reply.finish_reason
        limit = next((body[k] for k in max_token_keys if isinstance(body.get(k), int)), None)
        if finish is None and limit is not None and count_words(text) > limit:
            text = "".join(split_words(text, 1)[:limit])
            finish = "length"
        undeclared = sorted({tc.name for tc in reply.tool_calls} - self.declared_tools(body))
        if undeclared:  # a real model cannot call a tool it was not given: the script is wrong
            raise ScriptError(f"scripted tool call(s) {undeclared} but the request declared "
                              f"{sorted(self.declared_tools(body))}")
        tool_calls = [dataclasses.replace(tc, id=tc.id or self.tool_call_id(tc)) for tc in reply.tool_calls]
        if finish is None:
            finish = "tool_calls" if tool_calls else "stop"
        if reply.usage is not None:
            prompt, completion = reply.usage
        else:
            prompt = prompt_words(body)
            completion = count_words(text) + sum(1 + count_words(tc.arguments_json) for tc in tool_calls)
        model = reply.model or str(body.get("model") or (self.models[0] if self.models else "fake"))
        return Generation(
            text, split_words(text, reply.chunk_size), tool_calls, finish, prompt, completion, model
        )

    def finish_reason(self, generation: Generation) -> str:
        return self.finish_reasons.get(generation.finish_reason, generation.finish_reason)

    async def respond(self, call: Call, response: web.Response, *, chunks: int = 1) -> web.StreamResponse:
        """Send a whole (non-streamed) answer after the reply's simulated generation time."""
        interrupt = call.interrupt
        if isinstance(interrupt, Disconnect):
            return self._abort(call)
        if isinstance(interrupt, Fail):
            return self.error_response(interrupt, call.request)
        delay = call.reply.first_chunk_delay + call.reply.delay_between_chunks * max(0, chunks - 1)
        if delay:
            await asyncio.sleep(delay)
        response.headers.update(self.headers())
        return response

    async def respond_json(self, call: Call, body: Any, *, chunks: int = 1) -> web.StreamResponse:
        return await self.respond(call, web.json_response(body), chunks=chunks)

    async def stream(self, call: Call, frames: Iterable[Frame]) -> web.StreamResponse:
        """Stream SSE ``frames``, honouring delays and a scripted mid-stream ``Fail``/``Disconnect``."""
        interrupt = call.interrupt
        if isinstance(interrupt, Disconnect) and interrupt.after_chunks <= 0:
            return self._abort(call)
        response = web.StreamResponse(
            headers=self.headers(
                {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
            )
        )
        await response.prepare(call.http)
        reply = call.reply
        write = self._splitting_writer(response) if self.split_events else response.write
        if reply.first_chunk_delay:
            await asyncio.sleep(reply.first_chunk_delay)
        for index, frame in enumerate(frames):
            if interrupt is not None and index == interrupt.after_chunks:
                if isinstance(interrupt, Disconnect):
                    self._abort(call)
                    return response
                for error_frame in self.stream_error_frames(interrupt, call.request):
                    await write(encode_frame(error_frame))
                break
            if index and reply.delay_between_chunks:
                await asyncio.sleep(reply.delay_between_chunks)
            await write(encode_frame(frame))
        if self.split_events:
            await write(b"", flush=True)
        await response.write_eof()
        return response

    def _splitting_writer(self, response: web.StreamResponse) -> Callable[..., Awaitable[None]]:
        """A writer that sends the stream in pieces cut at random byte offsets: a piece may end
        mid-line, mid-field or inside a multi-byte character, and may hold the end of one event
        and the start of the next. A short pause after each piece makes it reach the client as a
        read of its own rather than coalescing with the next one."""
        rng = random.Random(self.split_seed)
        held = bytearray()

        async def write(data: bytes, flush: bool = False) -> None:
            held.extend(data)
            while len(held) > (0 if flush else 24):
                cut = min(len(held), rng.randint(1, 24))
                piece = bytes(held[:cut])
                del held[:cut]
                await response.write(piece)
                await asyncio.sleep(0.001)

        return write

    @staticmethod
    def _abort(call: Call) -> web.StreamResponse:
        if call.http.transport is not None:
            call.http.transport.abort()
        return web.Response()


class ScriptError(AssertionError):
    """A test scripted something the real service could never answer."""


def invalid(message: str, *, code: str | None = None, param: str | None = None) -> Fail:
    """A provider's 400 for a malformed request (``param`` goes to OpenAI's error body)."""
    return Fail(400, message=message, code=code, param=param)


def out_of_range(body: Mapping[str, Any], name: str, low: float, high: float | None) -> tuple[str, float] | None:
    """("above"|"below", bound) when body[name] is a number outside [low, high]."""
    value = body.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value < low:
        return "below", low
    if high is not None and value > high:
        return "above", high
    return None


ErrorDefaults: TypeAlias = dict[tuple[int, str | None], tuple[str, str, str | None]]


def error_fields(table: ErrorDefaults, fail: Fail, request: RecordedRequest) -> tuple[str, str, str | None]:
    """(type, message, code) for ``fail``: scripted values first, then the provider's defaults.

    Defaults are looked up by (status, code), then (status, None), then the 400 or 500 entry.
    ``{model}`` and ``{key}`` in default messages are filled from the request.
    """
    fallback = table[(500, None)] if fail.status >= 500 else table[(400, None)]
    kind, message, code = table.get((fail.status, fail.code)) or table.get((fail.status, None)) or fallback
    if fail.message is None:
        model = request.json.get("model", "") if isinstance(request.json, dict) else ""
        key = request.api_key or ""
        masked = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 7 else key
        message = message.replace("{model}", str(model)).replace("{key}", masked)
    return fail.type or kind, fail.message or message, fail.code or code


def typed_event(kind: str, **fields: Any) -> Frame:
    """An SSE event named like its payload's ``type`` (the Anthropic and Cohere v2 style)."""
    return (kind, {"type": kind, **fields})


def encode_frame(frame: Frame) -> bytes:
    event, data = frame
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def now() -> int:
    return int(time.time())
