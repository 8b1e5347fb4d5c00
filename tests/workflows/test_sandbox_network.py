"""The sandbox's one way out: `requests` and `httpx` in a Code node reach the network only through
the outbound guard (apps.core.outbound), over the relay; raw sockets still fail.

A real HTTP server on 127.0.0.1 stands in for an API on the internet; loopback is private, so the
tests open it with OUTBOUND_ALLOWED_NETWORKS as an operator would, and prove it is refused without.
"""

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.workflows.sandbox import SandboxError, SandboxLimits, run_code

LIMITS = SandboxLimits(timeout=60, cpu_seconds=20, memory_mb=512, max_output_bytes=1024 * 1024,
                       max_requests=5)


class Api(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path.startswith("/redirect-private"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
            return
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/echo?from=redirect")
            self.end_headers()
            return
        payload = json.dumps({"method": self.command, "path": self.path, "body": body,
                              "agent": self.headers.get("User-Agent", ""),
                              "token": self.headers.get("Authorization", "")}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        if self.path.startswith("/gzip"):
            payload = gzip.compress(payload)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def allowed(settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.1/32"


def run(code: str, **inputs: object) -> dict:
    return run_code("python3", code, inputs, limits=LIMITS)


REQUESTS_CODE = """
import json, requests

def main(base: str) -> dict:
    got = requests.get(base + "/echo", params={"q": "tea"}, headers={"Authorization": "Bearer t"}, timeout=5)
    posted = requests.post(base + "/items", json={"name": "cup"})
    session = requests.Session()
    redirected = session.get(base + "/redirect")
    zipped = requests.get(base + "/gzip")
    return {"status": got.status_code, "ok": got.ok, "echo": got.json(), "posted": posted.status_code,
            "posted_body": json.loads(posted.json()["body"]), "redirected": redirected.json()["path"],
            "history": [r.status_code for r in redirected.history], "zipped": zipped.json()["path"],
            "type": got.headers["content-type"]}
"""


@pytest.mark.usefixtures("allowed")
def test_python_code_uses_requests_through_the_guard(api: str) -> None:
    result = run(REQUESTS_CODE, base=api)
    assert result["status"] == 200 and result["ok"] is True and result["type"] == "application/json"
    assert result["echo"]["path"] == "/echo?q=tea" and result["echo"]["token"] == "Bearer t"
    assert result["echo"]["agent"].startswith("python-requests/")
    assert result["posted"] == 201 and result["posted_body"] == {"name": "cup"}
    assert result["redirected"] == "/echo?from=redirect" and result["history"] == [302]
    assert result["zipped"] == "/gzip"


HTTPX_CODE = """
import asyncio
import httpx

async def fetch(base):
    async with httpx.AsyncClient() as client:
        response = await client.put(base + "/async", content=b"raw bytes")
        return response.json()

def main(base: str) -> dict:
    with httpx.Client(base_url=base, follow_redirects=True) as client:
        got = client.get("/redirect")
    direct = httpx.post(base + "/form", data={"a": "1"})
    return {"path": got.json()["path"], "hops": len(got.history), "success": got.is_success,
            "form": direct.json()["body"], "async": asyncio.run(fetch(base)),
            "agent": direct.json()["agent"]}
"""


@pytest.mark.usefixtures("allowed")
def test_python_code_uses_httpx_sync_and_async_through_the_guard(api: str) -> None:
    result = run(HTTPX_CODE, base=api)
    assert result["path"] == "/echo?from=redirect" and result["hops"] == 1 and result["success"] is True
    assert result["form"] == "a=1" and result["agent"].startswith("python-httpx/")
    assert result["async"]["method"] == "PUT" and result["async"]["body"] == "raw bytes"


BLOCKED_CODE = """
import requests, httpx

def main(url: str) -> dict:
    seen = {}
    try:
        requests.get(url, timeout=5)
    except requests.exceptions.ConnectionError as exc:
        seen["requests"] = str(exc)
    try:
        httpx.get(url)
    except httpx.ConnectError as exc:
        seen["httpx"] = str(exc)
    return seen
"""


def test_private_addresses_are_refused_without_the_operators_permission(api: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOWED_NETWORKS = ""
    seen = run(BLOCKED_CODE, url=api + "/echo")
    assert "127.0.0.1" in seen["requests"] and "loopback" in seen["requests"]
    assert "127.0.0.1" in seen["httpx"] and "loopback" in seen["httpx"]
    metadata = run(BLOCKED_CODE, url="http://169.254.169.254/latest/meta-data")
    assert "link-local" in metadata["requests"] and "link-local" in metadata["httpx"]


@pytest.mark.usefixtures("allowed")
def test_every_redirect_hop_is_checked(api: str) -> None:
    seen = run(BLOCKED_CODE.replace("httpx.get(url)", "httpx.get(url, follow_redirects=True)"),
               url=api + "/redirect-private")
    assert "169.254.169.254" in seen["requests"] and "169.254.169.254" in seen["httpx"]


UNDO_CODE = """
import http.client, socket
import requests, urllib3

def main(base: str) -> dict:
    port = int(base.rsplit(":", 1)[1])
    seen = {}
    try:  # the library under requests, used directly: its own sockets
        urllib3.PoolManager(retries=False).request("GET", base + "/echo", timeout=3)
        seen["urllib3"] = "reached"
    except Exception as exc:
        seen["urllib3"] = type(exc).__name__
    try:
        http.client.HTTPConnection("127.0.0.1", port, timeout=3).request("GET", "/echo")
        seen["http.client"] = "reached"
    except OSError as exc:
        seen["http.client"] = exc.errno
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3)
        seen["socket"] = "reached"
    except OSError as exc:
        seen["socket"] = exc.errno
    return seen
"""


@pytest.mark.usefixtures("allowed")
def test_going_around_the_relay_reaches_nothing(api: str) -> None:
    """Even where the operator allows the address, only the relay gets there: sockets are refused."""
    assert run(UNDO_CODE, base=api) == {"urllib3": "NewConnectionError", "http.client": 1, "socket": 1}


@pytest.mark.usefixtures("allowed")
def test_requests_per_run_are_limited(api: str) -> None:
    code = ("import requests\ndef main(base: str) -> dict:\n    out = []\n    for _ in range(7):\n"
            "        try:\n            out.append(requests.get(base + '/echo').status_code)\n"
            "        except requests.exceptions.ConnectionError as exc:\n            out.append(str(exc))\n"
            "    return {'out': out}")
    out = run(code, base=api)["out"]
    assert out[:5] == [200] * 5 and all("more than 5 HTTP requests" in o for o in out[5:])


def test_garbage_on_the_relay_stops_the_run() -> None:
    code = ("import os\ndef main() -> dict:\n    for fd in range(3, 20):\n        try:\n"
            "            os.write(fd, b'\\xff\\xff\\xff\\xffnot a message')\n"
            "        except OSError:\n            pass\n"
            "    import time\n    time.sleep(30)\n    return {}")
    with pytest.raises(SandboxError) as caught:
        run(code)
    assert caught.value.kind == "forbidden" and "relay" in str(caught.value)
