"""The ASGI app for POST /v1/chat-messages and /v1/completion-messages, the product's hottest paths.

Django's ASGIHandler spends about a tenth of a chat turn's CPU on things these endpoints never use:
the request_started and request_finished signals (each a hop to a thread for their sync
receivers), the URL resolver, building an HttpRequest, and a task per request that watches for
a disconnect. The endpoints read one header and the body, do their database work on the
hot-path threads (apps.workspaces.sync.run_hot, which keep their own connections), and keep no
request-scoped state (no session, no connection of the request's thread, no cookies). So this
app reads the body, calls the endpoint, and writes its Django response to the ASGI connection
itself. config/asgi.py routes only these two paths here; the rest of /v1/ goes through Django,
and the URLconf serves the same endpoints (streaming.chat_messages) for Django's test client.
"""

import asyncio
import logging
from typing import Any

from django.http import HttpResponse

from apps.applications.api import streaming
from apps.core import inputs
from apps.core.errors import error_response, internal_error, method_not_allowed

logger = logging.getLogger(__name__)

CHAT_PATH = "/v1/chat-messages"
PATHS = frozenset({CHAT_PATH, "/v1/completion-messages"})


class Disconnected(Exception):
    """The client went away before its request body was complete."""


async def generation_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    try:
        body = await read_body(receive)
    except Disconnected:
        return
    try:
        response = await respond(scope, body)
    except Exception:
        logger.exception("Unhandled error in %s", scope["path"])
        response = error_response(internal_error())
    await send_response(response, receive, send)


async def respond(scope: dict[str, Any], body: bytes | None) -> HttpResponse:
    if scope["method"] != "POST":
        return error_response(method_not_allowed())
    if body is None:
        return error_response(inputs.request_too_large(inputs.body_limit("application/json")))
    header = next((value.decode("latin-1") for name, value in scope["headers"] if name.lower() == b"authorization"),
                  None)
    return await streaming.generate_for_key(header, body, chat=scope["path"] == CHAT_PATH)


async def read_body(receive: Any) -> bytes | None:
    """The whole request body, or None when it exceeds the JSON body limit of the /v1 validation
    layer (read to the end all the same, so the connection stays usable for the error response).
    The body's strings and nesting are checked where it is parsed (inputs.parse_json)."""
    limit = inputs.body_limit("application/json")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is None or size <= limit:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if limit is not None and size > limit:
        return None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_response(response: HttpResponse, receive: Any, send: Any) -> None:
    """Write ``response``. A stream stops at once when the client disconnects (the generation
    itself goes on and stores its message: apps.applications.generation)."""
    headers = [(name.encode("ascii"), value.encode("latin-1")) for name, value in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    if not response.streaming:
        await send({"type": "http.response.body", "body": response.content})
        return
    streamer = asyncio.ensure_future(_stream(response, send))
    watcher = asyncio.ensure_future(_disconnected(receive))
    await asyncio.wait((streamer, watcher), return_when=asyncio.FIRST_COMPLETED)
    for task in (watcher, streamer):
        if not task.done():
            task.cancel()
    await asyncio.gather(streamer, watcher, return_exceptions=True)


async def _stream(response: HttpResponse, send: Any) -> None:
    content = response.streaming_content
    try:
        async for chunk in content:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body"})
    finally:
        await content.aclose()


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
