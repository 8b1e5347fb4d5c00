"""HTTP requests through the production ASGI application (config.asgi) in-process: /v1/ is served
by the same handler, middleware and lean generation app as under Daphne, with nothing in between."""

import dataclasses
import json
from typing import Any

from channels.testing import ApplicationCommunicator

from config.asgi import application


@dataclasses.dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get(b"Content-Type", b"").decode()

    def json(self) -> Any:
        return json.loads(self.content)


async def asgi_request(method: str, path: str, *, key: str | None = None, body: bytes = b"",
                       content_type: str | None = "application/json", query: bytes = b"",
                       raw_path: bytes | None = None, parts: int = 1) -> Answer:
    """One request: ``path`` as the server decoded it (``raw_path`` as sent, when it differs), the
    body sent in ``parts`` messages."""
    headers = [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": raw_path or path.encode("utf-8", "surrogatepass"),
             "query_string": query, "root_path": "", "headers": headers, "client": ("127.0.0.1", 5000),
             "server": ("testserver", 80)}
    app = ApplicationCommunicator(application, scope)
    size = -(-len(body) // parts) or 1
    pieces = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    for index, piece in enumerate(pieces):
        await app.send_input({"type": "http.request", "body": piece, "more_body": index < len(pieces) - 1})
    start = await app.receive_output(30)
    assert start["type"] == "http.response.start", start
    content = b""
    while True:
        message = await app.receive_output(30)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await app.wait(5)
    return Answer(start["status"], dict(start["headers"]), content)


def assert_error(answer: Answer, status: int, code: str | None = None) -> dict[str, Any]:
    """``answer`` is a JSON error of the API's format with this status (and code)."""
    assert answer.status == status, (answer.status, answer.content[:500])
    assert answer.content_type.startswith("application/json"), answer.headers
    body = answer.json()
    assert {"code", "message", "status"} <= set(body) and body["status"] == status, body
    assert isinstance(body["code"], str) and isinstance(body["message"], str), body
    if code is not None:
        assert body["code"] == code, body
    return body
