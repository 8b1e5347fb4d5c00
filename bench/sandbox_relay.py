"""The Code sandbox's way out, in one run: what `import requests` / `httpx` and a request through
the relay cost, as ratios to a baseline measured alongside.

    .venv/bin/python bench/sandbox_relay.py [--runs 20] [--requests 20]

Prints the median wall time of:
1. a Python run that returns at once (the baseline: process start and lockdown);
2. the same after `import requests`, and after `import httpx` (the shipped packages' import);
3. one run making --requests GETs with requests to a local server (through the relay and
   apps.core.outbound), per request, against the same GETs made by the parent directly with an
   outbound client (the relay's added cost per request).
Loopback is allowed for the run (OUTBOUND_ALLOWED_NETWORKS), as an operator would for a local API.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ["OUTBOUND_ALLOWED_NETWORKS"] = "127.0.0.1/32"

import django  # noqa: E402

django.setup()

from apps.core import outbound  # noqa: E402
from apps.workflows.sandbox import SandboxLimits, run_code  # noqa: E402

LIMITS = SandboxLimits(timeout=60, cpu_seconds=30, memory_mb=512, max_requests=1000)


class Api(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def timed(code: str, inputs: dict, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run_code("python3", code, inputs, limits=LIMITS)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/x"

    base = timed("def main() -> dict:\n    return {}", {}, args.runs)
    imp_requests = timed("import requests\ndef main() -> dict:\n    return {}", {}, args.runs)
    imp_httpx = timed("import httpx\ndef main() -> dict:\n    return {}", {}, args.runs)
    loop = ("import requests\ndef main(url: str, n: int) -> dict:\n    s = requests.Session()\n"
            "    for _ in range(n):\n        s.get(url).json()\n    return {}")
    with_requests = timed(loop, {"url": url, "n": args.requests}, max(3, args.runs // 4))
    per_relayed = (with_requests - imp_requests) / args.requests
    direct = []
    with outbound.client(timeout=10, follow_redirects=False) as http:
        for _ in range(args.requests * 5):
            started = time.perf_counter()
            http.get(url).json()
            direct.append(time.perf_counter() - started)
    per_direct = statistics.median(direct)
    server.shutdown()
    print(f"baseline run (returns at once):        {base * 1000:8.1f} ms")
    print(f"run that imports requests:             {imp_requests * 1000:8.1f} ms  "
          f"({imp_requests / base:.2f}x)")
    print(f"run that imports httpx:                {imp_httpx * 1000:8.1f} ms  ({imp_httpx / base:.2f}x)")
    print(f"one GET through the relay (requests):  {per_relayed * 1000:8.2f} ms")
    print(f"one GET by the parent (outbound):      {per_direct * 1000:8.2f} ms  "
          f"(relay: {per_relayed / per_direct:.2f}x)")


if __name__ == "__main__":
    main()
