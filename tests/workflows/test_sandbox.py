"""The Code node's sandbox: the Dify main() contract, output checks, and escape attempts.

Every escape test runs real code in the real sandbox (a locked-down child process) and checks
that the attempt failed with a clear SandboxError and left no trace outside the sandbox.
"""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from apps.workflows.sandbox import (
    OutputValidationError,
    SandboxError,
    SandboxLimits,
    SandboxUnavailable,
    check_outputs,
    local,
    run_code,
)

LIMITS = SandboxLimits(timeout=30, cpu_seconds=2, memory_mb=256, max_output_bytes=1024 * 1024)
PROJECT_FILE = str(Path(django_settings.BASE_DIR) / "config" / "settings" / "base.py")


def run(language: str, code: str, inputs: dict | None = None, limits: SandboxLimits = LIMITS) -> dict:
    return run_code(language, code, inputs or {}, limits=limits)


def fails(language: str, code: str, inputs: dict | None = None, limits: SandboxLimits = LIMITS) -> SandboxError:
    with pytest.raises(SandboxError) as caught:
        run(language, code, inputs, limits)
    assert str(caught.value)  # always a message for the user
    return caught.value


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A real TCP server the code will try to reach; the test checks nobody connected."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def assert_nobody_connected(sock: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        sock.accept()


@pytest.fixture
def victim() -> Iterator[subprocess.Popen]:
    """A process of the platform's user the code will try to kill."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def without_node_permissions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn off Node's own permission model, to show the kernel's layers hold by themselves."""
    monkeypatch.setattr(local, "_node_flags", lambda node, workdir: [])


# --- the contract ---------------------------------------------------------------------------------

def test_python_main_gets_the_inputs_as_keyword_arguments() -> None:
    code = (
        "import json, math, statistics\n"
        "def main(text: str, numbers: list, nothing=None, obj: dict = None) -> dict:\n"
        "    print('printed output is ignored')\n"
        "    return {'upper': text.upper(), 'variance': statistics.pvariance(numbers),\n"
        "            'nothing': nothing, 'keys': sorted(obj), 'root': math.sqrt(16)}\n"
    )
    result = run("python3", code, {"text": "héllo", "numbers": [1, 2, 3, 4], "nothing": None, "obj": {"b": 1, "a": 2}})
    assert result == {"upper": "HÉLLO", "variance": 1.25, "nothing": None, "keys": ["a", "b"], "root": 4.0}


def test_javascript_main_gets_the_inputs_as_one_object() -> None:
    code = "function main({text, numbers}) {\n  console.log('ignored');\n" \
           "  return {upper: text.toUpperCase(), sum: numbers.reduce((a, b) => a + b, 0)};\n}\n"
    assert run("javascript", code, {"text": "héllo", "numbers": [1, 2, 3]}) == {"upper": "HÉLLO", "sum": 6}


def test_javascript_async_main_is_awaited() -> None:
    code = "async function main({n}) { await new Promise(r => setTimeout(r, 1)); return {n: n + 1}; }"
    assert run("javascript", code, {"n": 1}) == {"n": 2}


@pytest.mark.parametrize(("language", "code"), [
    ("python3", "def main():\n    with open('note.txt', 'w') as f:\n        f.write('kept')\n"
                "    import os, tempfile\n    return {'text': open('note.txt').read(), 'cwd': os.getcwd(),\n"
                "            'tmp': tempfile.gettempdir() == os.getcwd()}"),
    ("javascript", "function main() { const fs = require('fs'); fs.writeFileSync('note.txt', 'kept');\n"
                   "  return {text: fs.readFileSync('note.txt', 'utf8'), cwd: process.cwd(), "
                   "tmp: require('os').tmpdir() === process.cwd()}; }"),
])
def test_the_code_has_a_private_temporary_directory_that_is_removed_afterwards(language: str, code: str) -> None:
    result = run(language, code)
    assert result["text"] == "kept" and result["tmp"] is True
    assert "tessera-sandbox-" in result["cwd"]
    assert not os.path.exists(result["cwd"])


@pytest.mark.parametrize(("language", "code", "kind", "message"), [
    ("python3", "def main():\n    return [1, 2]", "invalid_result", "must return a dict"),
    ("javascript", "function main() { return [1, 2]; }", "invalid_result", "must return an object"),
    ("python3", "def handler():\n    return {}", "invalid_code", "must define a function main()"),
    ("javascript", "function handler() { return {}; }", "invalid_code", "must define a function main()"),
    ("python3", "def main():\n    return {'a': 1 / 0}", "runtime_error", "ZeroDivisionError: division by zero (line 2)"),
    ("python3", "def main(:\n    pass", "runtime_error", "SyntaxError"),
    ("javascript", "function main() { return {a: undefinedName}; }", "runtime_error",
     "ReferenceError: undefinedName is not defined"),
    ("python3", "def main():\n    return {'s': {1, 2}}", "invalid_result", "cannot be converted to JSON"),
    ("python3", "import sys\ndef main():\n    sys.exit(0)", "runtime_error", "SystemExit"),
])
def test_bad_code_fails_with_a_clear_message(language: str, code: str, kind: str, message: str) -> None:
    error = fails(language, code)
    assert error.kind == kind and message in str(error)
    assert error.error_type == "CodeExecutionError"


def test_unknown_language_and_bad_arguments() -> None:
    assert fails("ruby", "def main; end").kind == "invalid_code"
    assert fails("python3", "   ").kind == "invalid_code"


# --- file system ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/etc/passwd", "/etc/hostname", PROJECT_FILE,
                                  str(Path(django_settings.BASE_DIR) / "manage.py"), "/proc/1/environ",
                                  "/proc/self/environ", "/root/.bashrc"])
def test_python_cannot_read_files_outside_its_directory(path: str) -> None:
    error = fails("python3", f"def main():\n    return {{'x': open({path!r}).read()}}")
    assert "PermissionError" in str(error) and "the sandbox does not allow this" in str(error)


@pytest.mark.parametrize("code", [
    "import os\ndef main():\n    return {'x': os.listdir('/')}",
    "import os\ndef main():\n    return {'x': os.listdir(os.path.expanduser('~'))}",
    "def main():\n    open('/tmp/escaped-by-sandbox', 'w').write('x')\n    return {}",
    "import os\ndef main():\n    os.symlink('/etc/passwd', 'link')\n    return {'x': open('link').read()}",
    "import os\ndef main():\n    os.link('/etc/passwd', 'hard')\n    return {'x': open('hard').read()}",
    "import os\ndef main():\n    os.chdir('/etc')\n    return {'x': open('passwd').read()}",
])
def test_python_file_system_escapes_fail(code: str) -> None:
    error = fails("python3", code)
    assert error.kind == "runtime_error" and ("Error" in str(error))
    assert not os.path.exists("/tmp/escaped-by-sandbox")


@pytest.mark.usefixtures("without_node_permissions")
@pytest.mark.parametrize("code", [
    "function main() { return {x: require('fs').readFileSync('/etc/passwd', 'utf8')}; }",
    f"function main() {{ return {{x: require('fs').readFileSync({json.dumps(PROJECT_FILE)}, 'utf8')}}; }}",
    "function main() { return {x: require('fs').readFileSync('/proc/1/environ', 'utf8')}; }",
    "function main() { return {x: require('fs').readdirSync('/')}; }",
    "function main() { require('fs').writeFileSync('/tmp/escaped-by-sandbox', 'x'); return {}; }",
    "function main() { require('fs').symlinkSync('/etc/passwd', 'l'); "
    "return {x: require('fs').readFileSync('l', 'utf8')}; }",
])
def test_javascript_file_system_escapes_fail_even_without_nodes_permission_model(code: str) -> None:
    error = fails("javascript", code)
    assert "EACCES" in str(error) or "EPERM" in str(error)
    assert not os.path.exists("/tmp/escaped-by-sandbox")


def test_javascript_with_nodes_permission_model_is_refused_too() -> None:
    error = fails("javascript", "function main() { return {x: require('fs').readFileSync('/etc/passwd', 'utf8')}; }")
    assert "the sandbox does not allow this" in str(error)


# --- network --------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "import socket\ndef main(port):\n    socket.create_connection(('127.0.0.1', port), timeout=2)\n    return {}",
    "import socket\ndef main(port):\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    return {}",
    "import socket\ndef main(port):\n    socket.socket(socket.AF_UNIX).connect('/run/anything')\n    return {}",
    "import urllib.request\ndef main(port):\n"
    "    return {'x': urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=2).read().decode()}",
])
def test_python_cannot_open_sockets(code: str, listener: socket.socket) -> None:
    error = fails("python3", code, {"port": listener.getsockname()[1]})
    assert "Operation not permitted" in str(error) or "not allowed" in str(error)
    assert_nobody_connected(listener)


@pytest.mark.usefixtures("without_node_permissions")
@pytest.mark.parametrize("code", [
    "function main({port}) { return new Promise((ok, no) => { const s = require('net').connect(port, '127.0.0.1');"
    " s.on('error', no); s.on('connect', () => ok({x: 1})); }); }",
    "async function main({port}) { const r = await fetch(`http://127.0.0.1:${port}/`); return {x: r.status}; }",
    "function main({port}) { return new Promise((ok, no) => { const s = require('dgram').createSocket('udp4');"
    " s.on('error', no); s.send('x', port, '127.0.0.1', (e) => e ? no(e) : ok({x: 1})); }); }",
])
def test_javascript_cannot_open_sockets(code: str, listener: socket.socket) -> None:
    error = fails("javascript", code, {"port": listener.getsockname()[1]})
    assert error.kind == "runtime_error"
    assert_nobody_connected(listener)


def test_raw_system_calls_are_filtered() -> None:
    """Even with ctypes, the kernel refuses: socket, fork, execve, ptrace, unshare, io_uring, SysV IPC, bpf."""
    code = (
        "import ctypes\n"
        "def main():\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    out = {}\n"
        "    for name, nr, args in [('socket', 41, (2, 1, 0)), ('fork', 57, ()), ('execve', 59, (b'/bin/sh', 0, 0)),\n"
        "                           ('ptrace', 101, (16, 1, 0, 0)), ('unshare', 272, (0x40000000,)),\n"
        "                           ('clone_process', 56, (17, 0, 0, 0, 0)), ('io_uring_setup', 425, (8, 0)),\n"
        "                           ('shmget', 29, (0, 4096, 0o1600)), ('bpf', 321, (0, 0, 0))]:\n"
        "        ctypes.set_errno(0)\n"
        "        out[name] = [libc.syscall(nr, *args), ctypes.get_errno()]\n"
        "    return out\n"
    )
    result = run("python3", code)
    assert result == {"socket": [-1, 1], "fork": [-1, 1], "execve": [-1, 1], "ptrace": [-1, 1],
                      "unshare": [-1, 1], "clone_process": [-1, 1], "io_uring_setup": [-1, 38],
                      "shmget": [-1, 1], "bpf": [-1, 1]}


# --- processes and signals ------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "import os\ndef main():\n    os.fork()\n    return {}",
    "import os\ndef main():\n    while True:\n        os.fork()",  # fork bomb
    "import subprocess\ndef main():\n    return {'x': subprocess.run(['id'], capture_output=True).stdout.decode()}",
    "import os\ndef main():\n    os.system('touch /tmp/escaped-by-sandbox')\n    return {}",
    "import os\ndef main():\n    os.execv('/bin/sh', ['sh', '-c', 'id'])",
    "import multiprocessing\ndef main():\n    multiprocessing.Process(target=print).start()\n    return {}",
])
def test_python_cannot_start_processes(code: str) -> None:
    error = fails("python3", code)
    assert error.kind == "runtime_error" and "not" in str(error)
    assert not os.path.exists("/tmp/escaped-by-sandbox")


@pytest.mark.usefixtures("without_node_permissions")
@pytest.mark.parametrize("code", [
    "function main() { return {x: require('child_process').execSync('id').toString()}; }",
    "function main() { while (true) require('child_process').spawn('sh'); }",  # fork bomb
    "function main() { return {x: require('child_process').spawnSync('touch', ['/tmp/escaped-by-sandbox']).error.code}; }",
])
def test_javascript_cannot_start_processes(code: str) -> None:
    with pytest.raises(SandboxError) as caught:
        result = run("javascript", code)
        raise SandboxError(json.dumps(result), kind="returned")  # spawnSync reports instead of throwing
    assert "EPERM" in str(caught.value)
    assert not os.path.exists("/tmp/escaped-by-sandbox")


@pytest.mark.parametrize(("language", "code"), [
    ("python3", "import os, signal\ndef main(pid):\n    os.kill(pid, signal.SIGKILL)\n    return {}"),
    ("python3", "import os, signal\ndef main(pid):\n    os.kill(-1, signal.SIGKILL)\n    return {}"),
    ("python3", "import os, signal\ndef main(pid):\n    os.kill(os.getppid(), signal.SIGTERM)\n    return {}"),
    ("javascript", "function main({pid}) { process.kill(pid, 'SIGKILL'); return {}; }"),
    ("javascript", "function main({pid}) { process.kill(process.ppid, 'SIGTERM'); return {}; }"),
])
def test_the_code_cannot_signal_other_processes(language: str, code: str, victim: subprocess.Popen) -> None:
    error = fails(language, code, {"pid": victim.pid})
    assert "EPERM" in str(error) or "Operation not permitted" in str(error)
    assert victim.poll() is None


def test_the_code_cannot_raise_its_own_limits() -> None:
    code = "import resource\ndef main():\n    resource.setrlimit(resource.RLIMIT_CPU, (3600, 3600))\n    return {}"
    assert "not allowed to raise maximum limit" in str(fails("python3", code))


# --- resource limits ------------------------------------------------------------------------------

@pytest.mark.parametrize(("language", "code"), [
    ("python3", "def main():\n    x = ' ' * (2 * 1024 ** 3)\n    return {}"),
    ("python3", "def main():\n    blocks = []\n    while True:\n        blocks.append(bytearray(10 ** 7))"),
    ("javascript", "function main() { const a = []; for (;;) a.push(new Array(1e6).fill(1.5)); }"),
    ("javascript", "function main() { const a = []; for (;;) a.push(Buffer.alloc(1e8, 1)); }"),
])
def test_memory_bombs_stop_at_the_memory_limit(language: str, code: str) -> None:
    error = fails(language, code)
    assert error.kind == "memory" and "256 MB" in str(error)


@pytest.mark.parametrize(("language", "code"), [
    ("python3", "def main():\n    while True:\n        pass"),
    ("python3", "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\ndef main():\n    while True:\n        pass"),
    ("javascript", "function main() { for (;;) {} }"),
    ("javascript", "process.on('SIGXCPU', () => {});\nfunction main() { for (;;) {} }"),
])
def test_infinite_loops_stop_at_the_cpu_limit(language: str, code: str) -> None:
    error = fails(language, code)
    assert error.kind == "cpu" and "CPU time" in str(error)


@pytest.mark.parametrize(("language", "code"), [
    ("python3", "import time\ndef main():\n    time.sleep(600)"),
    ("javascript", "function main() { return new Promise(() => setTimeout(() => {}, 600000)); }"),
])
def test_code_that_waits_stops_at_the_wall_clock_limit(language: str, code: str) -> None:
    limits = SandboxLimits(timeout=1, cpu_seconds=2, memory_mb=256)
    error = fails(language, code, limits=limits)
    assert error.kind == "timeout" and "time limit of 1 s" in str(error)


@pytest.mark.parametrize(("language", "code"), [
    ("python3", "def main():\n    return {'x': 'y' * (3 * 1024 * 1024)}"),
    ("python3", "def main():\n    while True:\n        print('flood' * 1000)"),
    ("python3", "import sys\ndef main():\n    while True:\n        sys.stderr.write('flood' * 1000)"),
    ("javascript", "function main() { return {x: 'y'.repeat(3 * 1024 * 1024)}; }"),
    ("javascript", "async function main() { for (;;) { console.log('flood'.repeat(1000));"
                   " await new Promise(r => setImmediate(r)); } }"),
])
def test_huge_outputs_stop_at_the_output_limit(language: str, code: str) -> None:
    error = fails(language, code)
    assert error.kind == "output_too_large" and "1048576 bytes" in str(error)


@pytest.mark.parametrize("code", [
    "def main():\n    open('big', 'wb').write(b'x' * (20 * 1024 * 1024))\n    return {}",
    "def main():\n    for i in range(100):\n        open(f'f{i}', 'wb').write(b'x' * (4 * 1024 * 1024))\n    return {}",
    "def main():\n    files = [open(f'n{i}', 'w') for i in range(1000)]\n    return {}",
])
def test_the_temporary_directory_is_bounded(code: str) -> None:
    error = fails("python3", code)
    assert "File too large" in str(error) or "No space left" in str(error) or "Too many open files" in str(error)


def test_deep_recursion_is_an_error_not_a_crash_of_the_platform() -> None:
    error = fails("python3", "def f(n):\n    return f(n + 1)\ndef main():\n    return {'x': f(0)}")
    assert "RecursionError" in str(error)


def test_the_environment_is_empty() -> None:
    result = run("python3", "import os\ndef main():\n    return {'env': dict(os.environ)}")
    assert set(result["env"]) <= {"LC_ALL"}
    result = run("javascript", "function main() { return {env: process.env}; }")
    assert not any("SECRET" in key or "DATABASE" in key or "KEY" in key for key in result["env"])


def test_the_platform_stays_healthy_after_the_attacks() -> None:
    """Many runs at once, after all the bombs above: each still gets its own answer."""
    results: list[dict] = []

    def one(i: int) -> None:
        results.append(run("python3", "def main(i):\n    return {'i': i * 2}", {"i": i}))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r["i"] for r in results) == [0, 2, 4, 6]


# --- fail closed ----------------------------------------------------------------------------------

def test_without_landlock_or_seccomp_nothing_runs(monkeypatch: pytest.MonkeyPatch, settings) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(local, "kernel_support", lambda: {"landlock_abi": 0, "seccomp": True, "machine": "x86_64"})
    with pytest.raises(SandboxUnavailable) as caught:
        run("python3", "def main():\n    return {}")
    assert "Landlock" in str(caught.value) and "CODE_EXECUTION_WEAK_SANDBOX" in str(caught.value)
    monkeypatch.setattr(local, "kernel_support", lambda: {"landlock_abi": 7, "seccomp": False, "machine": "aarch64"})
    with pytest.raises(SandboxUnavailable, match="seccomp"):
        run("python3", "def main():\n    return {}")
    settings.CODE_EXECUTION_WEAK_SANDBOX = True  # the operator accepts a weaker sandbox
    assert run("python3", "def main():\n    return {'ran': True}") == {"ran": True}


# --- output checks (dsl.md §3.8) ------------------------------------------------------------------

def schema(**types: str) -> dict:
    return {name: {"type": kind, "children": None} for name, kind in types.items()}


def test_check_outputs_accepts_and_cleans_declared_outputs() -> None:
    result = {"s": "a\x00b", "n": 1.5, "i": True, "o": {"k": [1, 2]}, "b": False, "ls": ["x"], "ln": [1, True],
              "lo": [{"a": 1}, None], "lb": [True], "none": None}
    declared = schema(s="string", n="number", i="number", o="object", b="boolean", ls="array[string]",
                      ln="array[number]", lo="array[object]", lb="array[boolean]", none="string")
    assert check_outputs(result, declared) == {"s": "ab", "n": 1.5, "i": 1, "o": {"k": [1, 2]}, "b": False,
                                               "ls": ["x"], "ln": [1, 1], "lo": [{"a": 1}, None], "lb": [True],
                                               "none": None}


def test_check_outputs_with_nested_children() -> None:
    declared = {"user": {"type": "object", "children": schema(name="string", age="number")}}
    assert check_outputs({"user": {"name": "A", "age": 3}}, declared) == {"user": {"name": "A", "age": 3}}
    with pytest.raises(OutputValidationError, match="Output user.age is missing."):
        check_outputs({"user": {"name": "A"}}, declared)


@pytest.mark.parametrize(("result", "declared", "message"), [
    ({}, schema(x="string"), "Output x is missing."),
    ({"x": 1, "extra": 2}, schema(x="number"), "extra is not declared"),
    ({"x": 1}, schema(x="string"), "Output x must be a string, got int instead"),
    ({"x": "1"}, schema(x="number"), "Output x is not a number, got str instead."),
    ({"x": 1}, schema(x="boolean"), "Output variable `x` must be a boolean."),
    ({"x": "a"}, schema(x="object"), "Output x is not an object, got str instead."),
    ({"x": "a"}, schema(x="array[string]"), "Output x is not an array, got str instead."),
    ({"x": "a" * 400_001}, schema(x="string"), "The length of output variable `x` must be less than 400000"),
    ({"x": 2 ** 63}, schema(x="number"), "Output variable `x` is out of range"),
    ({"x": -(2 ** 63) - 1}, schema(x="number"), "Output variable `x` is out of range"),
    ({"x": float("inf")}, schema(x="number"), "out of range"),
    ({"x": float("nan")}, schema(x="number"), "out of range"),
    ({"x": 1.123456789012345678901e-5}, schema(x="number"), "has too high precision"),
    ({"x": ["a"] * 31}, schema(x="array[string]"), "must be less than 30 elements"),
    ({"x": [{}] * 31}, schema(x="array[object]"), "must be less than 30 elements"),
    ({"x": [1] * 1001}, schema(x="array[number]"), "must be less than 1000 elements"),
    ({"x": [1, "a"]}, schema(x="array[number]"), "The element at index 1 of output variable `x` must be a number."),
    ({"x": ["a", 1]}, schema(x="array[string]"), "Output variable `x[1]` must be a string."),
    ({"x": [{}, 1]}, schema(x="array[object]"), "Output x[1] is not an object"),
    ({"x": {"a": {"b": {"c": {"d": {"e": {}}}}}}}, schema(x="object"), "Depth limit 5 reached"),
    ({"x": {"a": [1, "b"]}}, schema(x="object"), "Output x.a is not a valid array"),
    ({"x": {"a": object()}}, schema(x="object"), "Output x.a is not a valid type."),
    ({"x": 1}, schema(x="file"), "Output type file is not supported."),
])
def test_check_outputs_rejects(result: dict, declared: dict, message: str) -> None:
    with pytest.raises(OutputValidationError) as caught:
        check_outputs(result, declared)
    assert message in str(caught.value)
    assert caught.value.error_type == "OutputValidationError"


def test_check_outputs_without_a_schema_checks_values_by_their_type() -> None:
    assert check_outputs({"a": "x\x00", "b": [1, 2], "c": {"d": None}}, None) == {"a": "x", "b": [1, 2], "c": {"d": None}}
    with pytest.raises(OutputValidationError, match="too deep"):
        check_outputs({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}, None)


def test_run_then_check_like_the_code_node() -> None:
    result = run("python3", "def main(arg1: str) -> dict:\n    return {'result': arg1.upper()}", {"arg1": "ok"})
    assert check_outputs(result, schema(result="string")) == {"result": "OK"}
    result = run("javascript", "function main({arg1}) { return {result: [arg1, arg1]}; }", {"arg1": "ok"})
    with pytest.raises(OutputValidationError, match="must be a string"):
        check_outputs(result, schema(result="string"))


# --- external sandbox service (CODE_EXECUTION_ENDPOINT) --------------------------------------------

class _FakeDifySandbox:
    """dify-sandbox's HTTP API, executing the posted program with the real python3/node (trusted test code)."""

    def __init__(self, api_key: str) -> None:
        self.requests: list[dict] = []
        self.status = 200
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append({"path": self.path, "key": self.headers.get("X-Api-Key"), "body": body})
                if owner.status != 200:
                    return self._answer(owner.status, {"code": -1, "message": "down"})
                if self.headers.get("X-Api-Key") != api_key:
                    return self._answer(401, {"code": -401, "message": "Unauthorized"})
                program = [sys.executable, "-c"] if body["language"] == "python3" else [local.node_executable(), "-e"]
                done = subprocess.run([*program, body["code"]], capture_output=True, text=True, timeout=60)
                self._answer(200, {"code": 0, "message": "success",
                                   "data": {"error": done.stderr if done.returncode else "", "stdout": done.stdout}})

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def dify_sandbox(settings) -> Iterator[_FakeDifySandbox]:  # type: ignore[no-untyped-def]
    fake = _FakeDifySandbox("sandbox-key")
    settings.CODE_EXECUTION_ENDPOINT = fake.url + "/"
    settings.CODE_EXECUTION_API_KEY = "sandbox-key"
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


def test_an_external_sandbox_runs_python(dify_sandbox: _FakeDifySandbox) -> None:
    result = run("python3", "def main(a: int, b: str) -> dict:\n    return {'sum': a + 1, 'b': b}", {"a": 1, "b": "é"})
    assert result == {"sum": 2, "b": "é"}
    sent = dify_sandbox.requests[-1]
    assert sent["path"] == "/v1/sandbox/run" and sent["key"] == "sandbox-key"
    assert sent["body"]["language"] == "python3" and sent["body"]["preload"] == ""
    assert sent["body"]["enable_network"] is False


def test_an_external_sandbox_runs_javascript(dify_sandbox: _FakeDifySandbox) -> None:
    result = run("javascript", "function main({a}) { return {double: a * 2}; }", {"a": 21})
    assert result == {"double": 42}
    assert dify_sandbox.requests[-1]["body"]["language"] == "nodejs"


def test_an_external_sandbox_reports_errors_and_outages(dify_sandbox: _FakeDifySandbox, settings) -> None:  # type: ignore[no-untyped-def]
    error = fails("python3", "def main():\n    raise ValueError('boom')")
    assert "ValueError: boom" in str(error) and error.kind == "runtime_error"
    settings.CODE_EXECUTION_API_KEY = "wrong"
    with pytest.raises(SandboxUnavailable, match="status 401"):
        run("python3", "def main():\n    return {}")
    dify_sandbox.status = 503
    with pytest.raises(SandboxUnavailable, match="unavailable"):
        run("python3", "def main():\n    return {}")
    settings.CODE_EXECUTION_ENDPOINT = "http://127.0.0.1:9/"  # nothing listens on the discard port
    with pytest.raises(SandboxUnavailable, match="unreachable"):
        run("python3", "def main():\n    return {}")


def test_a_local_run_does_not_call_the_external_sandbox(dify_sandbox: _FakeDifySandbox, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CODE_EXECUTION_ENDPOINT = ""
    assert run("python3", "def main():\n    return {'local': True}") == {"local": True}
    assert dify_sandbox.requests == []



# --- without namespaces (the non-root Docker image) -----------------------------------------------

@pytest.fixture
def no_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as the Docker image does (no root): no network namespace, no tmpfs."""
    monkeypatch.setattr(local, "USE_NAMESPACES", False)


@pytest.mark.usefixtures("no_namespaces")
def test_without_namespaces_the_parent_caps_the_temporary_directory() -> None:
    code = ("import time\ndef main():\n    for i in range(10):\n"
            "        open(f'f{i}', 'wb').write(b'x' * (4 * 1024 * 1024))\n    time.sleep(600)")
    error = fails("python3", code)
    assert error.kind == "disk" and "33554432 bytes" in str(error)


@pytest.mark.usefixtures("no_namespaces", "without_node_permissions")
@pytest.mark.parametrize(("language", "code"), [
    ("python3", "import socket\ndef main(port):\n    socket.create_connection(('127.0.0.1', port), timeout=2)\n"
                "    return {}"),
    ("python3", "def main(port):\n    return {'x': open('/etc/passwd').read()}"),
    ("python3", "import os\ndef main(port):\n    os.fork()\n    return {}"),
    ("javascript", "function main({port}) { return new Promise((ok, no) => { const s = require('net')"
                   ".connect(port, '127.0.0.1'); s.on('error', no); s.on('connect', () => ok({x: 1})); }); }"),
    ("javascript", "function main() { return {x: require('fs').readFileSync('/etc/passwd', 'utf8')}; }"),
    ("javascript", "function main() { return {x: require('child_process').execSync('id').toString()}; }"),
])
def test_without_namespaces_the_kernel_layers_still_hold(language: str, code: str, listener: socket.socket) -> None:
    error = fails(language, code, {"port": listener.getsockname()[1]})
    assert error.kind == "runtime_error"
    assert any(word in str(error) for word in ("EPERM", "EACCES", "not permitted", "Permission denied"))
    assert_nobody_connected(listener)


def _runners_started_by(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z" and b"sandbox/runner.py" in Path(
                    f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_run_dies_with_the_platform_process_that_started_it() -> None:
    """No orphans: if the web or worker process dies mid-run, its sandboxed child goes too."""
    import time

    script = ("import django; django.setup()\n"
              "from apps.workflows.sandbox import run_code, SandboxLimits\n"
              "run_code('python3', 'import time\\ndef main():\\n    time.sleep(600)', {},"
              " limits=SandboxLimits(timeout=600))\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    platform = subprocess.Popen([sys.executable, "-c", script], cwd=django_settings.BASE_DIR, env=env)
    runners: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not runners and time.monotonic() < deadline and platform.poll() is None:
            runners = _runners_started_by(platform.pid)
            time.sleep(0.05)
        assert runners, "the sandboxed run never started"
        platform.kill()
        platform.wait()
        deadline = time.monotonic() + 60
        while _alive(runners[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(runners[0])
    finally:
        platform.kill()
        platform.wait()
        for pid in runners:  # only when the test failed: leave no sleeper behind
            if _alive(pid):
                os.kill(pid, 9)
