"""The sandbox's child process: lock itself down, then run one piece of untrusted code.

Started as ``python3 -I -S runner.py`` in a new session with an empty environment, by
``apps.workflows.sandbox.local``. It must stay standalone (standard library only, no project
imports): after the lockdown it cannot read the project any more.

Protocol: one JSON job on stdin ``{language, code, inputs, nonce, workdir, limits, node, weak}``.
The result goes to stdout as ``<<RESULT-nonce>>{json}<<RESULT-nonce>>``; a failure as
``<<ERROR-nonce>>{"kind", "message"}<<ERROR-nonce>>`` and exit status 1. Anything else the code
prints is ignored by the parent (it only counts towards the output limit).

Lockdown, in this order (each step needs the ones before it):
1. As root: new network namespace (no interfaces), IPC and UTS namespaces, and a mount namespace
   with a size-limited tmpfs as the working directory. Best effort: the steps below hold without them.
2. rlimits: CPU seconds, address space, file size, open files, no core dumps. (Not RLIMIT_NPROC:
   Linux counts all processes of the user, the platform's own included, and ignores it for root;
   the seccomp rule on fork/clone does that job.)
3. Capabilities: bounding set, ambient and effective/permitted/inheritable all emptied; root's
   special treatment switched off (securebits); no_new_privs.
4. Landlock: read-only access to the interpreter's own files and system libraries, read-write to
   the working directory, nothing else; no TCP bind/connect; no signals or abstract UNIX sockets
   outside the sandbox.
5. seccomp: no sockets, no fork/vfork/clone of a process (threads only), no exec (except node's
   one start-up exec, pinned to this process's own argument pointers), no ptrace, mount,
   namespaces, io_uring, BPF, keyrings, SysV IPC, kernel modules, reboot, signals to other
   processes, ...
Steps 3-5 are required: if one cannot be applied the job is refused, unless the operator chose
the weak mode (CODE_EXECUTION_WEAK_SANDBOX).

The one way out is the relay: python code may ``import requests`` or ``httpx`` (the platform's own
copies, read-only, found by PackageFinder), whose transports are replaced so that every HTTP
request travels as a message over two pipes the parent opened (``job["relay"]``); the parent makes
it through apps.core.outbound (the SSRF guard) and sends the answer back. The code never holds a
socket: the filter above still refuses socket() and connect().
"""

import base64
import ctypes
import errno
import importlib.util
import json
import os
import platform
import resource
import struct
import sys
import threading
import traceback

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
LIBC.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

# x86_64 system call numbers (the only architecture this filter knows; others are refused).
NR = {
    "socket": 41, "connect": 42, "accept": 43, "bind": 49, "listen": 50, "socketpair": 53,
    "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "kill": 62, "ptrace": 101, "syslog": 103,
    "setuid": 105, "setgid": 106, "setreuid": 113, "setregid": 114, "setgroups": 116,
    "setresuid": 117, "setresgid": 119, "setfsuid": 122, "setfsgid": 123, "capset": 126,
    "rt_sigqueueinfo": 129, "uselib": 134, "mknod": 133, "personality": 135, "setpriority": 141,
    "sched_setparam": 142, "sched_setscheduler": 144, "vhangup": 153, "modify_ldt": 154,
    "pivot_root": 155, "adjtimex": 159, "chroot": 161, "acct": 163, "settimeofday": 164,
    "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173, "init_module": 175,
    "delete_module": 176, "quotactl": 179, "tkill": 200, "sched_setaffinity": 203,
    "tgkill": 234, "mbind": 237, "kexec_load": 246, "add_key": 248, "request_key": 249,
    "keyctl": 250, "ioprio_set": 251, "migrate_pages": 256, "mknodat": 259, "unshare": 272,
    "move_pages": 279, "accept4": 288, "rt_tgsigqueueinfo": 297, "perf_event_open": 298,
    "fanotify_init": 300, "prlimit64": 302, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "clock_adjtime": 305, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
    "kcmp": 312, "finit_module": 313, "bpf": 321, "execveat": 322, "userfaultfd": 323,
    "kexec_file_load": 320, "pidfd_send_signal": 424, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_open": 434,
    "clone3": 435, "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442,
    "quotactl_fd": 443, "process_mrelease": 448, "clock_settime": 227, "lookup_dcookie": 212,
    "nfsservctl": 180, "get_robust_list": 274, "set_mempolicy_home_node": 450,
    # System V IPC and POSIX message queues: objects shared with other processes of the machine.
    "shmget": 29, "shmat": 30, "shmctl": 31, "semget": 64, "semop": 65, "semctl": 66, "shmdt": 67,
    "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "semtimedop": 220, "mq_open": 240,
    "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244,
    "mq_getsetattr": 245,
}
DENY = [
    "socket", "connect", "accept", "accept4", "bind", "listen",
    "fork", "vfork", "execveat", "ptrace", "syslog", "setuid", "setgid", "setreuid", "setregid",
    "setgroups", "setresuid", "setresgid", "setfsuid", "setfsgid", "capset", "uselib", "mknod",
    "mknodat", "personality", "setpriority", "sched_setparam", "sched_setscheduler", "vhangup",
    "modify_ldt", "pivot_root", "adjtimex", "chroot", "acct", "settimeofday", "mount", "umount2",
    "swapon", "swapoff", "reboot", "sethostname", "setdomainname", "iopl", "ioperm",
    "init_module", "delete_module", "finit_module", "quotactl", "quotactl_fd", "tkill", "mbind",
    "kexec_load", "kexec_file_load", "add_key", "request_key", "keyctl", "ioprio_set",
    "migrate_pages", "move_pages", "unshare", "setns", "perf_event_open", "fanotify_init",
    "name_to_handle_at", "open_by_handle_at", "clock_adjtime", "clock_settime",
    "process_vm_readv", "process_vm_writev", "kcmp", "bpf", "userfaultfd", "pidfd_send_signal",
    "pidfd_open", "pidfd_getfd", "process_madvise", "process_mrelease", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "lookup_dcookie",
    "nfsservctl", "get_robust_list", "set_mempolicy_home_node",
    "shmget", "shmat", "shmctl", "semget", "semop", "semctl", "shmdt", "msgget", "msgsnd", "msgrcv",
    "msgctl", "semtimedop", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
    "mq_getsetattr",
]
NOSYS = ["clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"]  # callers fall back

AUDIT_ARCH_X86_64 = 0xC000003E
RET_ALLOW, RET_KILL = 0x7FFF0000, 0x80000000
LD_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
CLONE_THREAD = 0x00010000
AF_UNIX = 1
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000


class Refused(Exception):
    """A protection could not be applied: the job must not run."""


def _errno_ret(code: int) -> int:
    return 0x00050000 | code


def _arg(n: int, high: bool = False) -> int:
    return 16 + 8 * n + (4 if high else 0)


def seccomp_program(pid: int, exec_pointers: tuple[int, int, int] | None) -> list[tuple]:
    """The BPF program as (code, jt, jf, k) tuples. Every arg-checking block ends in RET."""
    eperm, enosys = _errno_ret(errno.EPERM), _errno_ret(errno.ENOSYS)
    prog = [
        (LD_ABS, 0, 0, 4), (JEQ, 1, 0, AUDIT_ARCH_X86_64), (RET, 0, 0, RET_KILL),
        (LD_ABS, 0, 0, 0), (JGE, 0, 1, 0x40000000), (RET, 0, 0, eperm),  # x32 ABI
    ]
    for name in DENY:
        prog += [(JEQ, 0, 1, NR[name]), (RET, 0, 0, eperm)]
    for name in NOSYS:
        prog += [(JEQ, 0, 1, NR[name]), (RET, 0, 0, enosys)]

    # clone: threads only (CLONE_THREAD set), never new namespaces.
    block = [(LD_ABS, 0, 0, _arg(0)), (JSET, 0, 2, CLONE_THREAD), (JSET, 1, 0, CLONE_NAMESPACES),
             (RET, 0, 0, RET_ALLOW), (RET, 0, 0, eperm)]
    prog += [(JEQ, 0, len(block), NR["clone"])] + block

    # socketpair: only AF_UNIX, a connected pair inside this process that reaches nothing else;
    # asyncio's event loop needs it (its self-pipe), so async httpx code can run.
    block = [(LD_ABS, 0, 0, _arg(0)), (JEQ, 0, 1, AF_UNIX), (RET, 0, 0, RET_ALLOW), (RET, 0, 0, eperm)]
    prog += [(JEQ, 0, len(block), NR["socketpair"])] + block

    # Signals: only to this very process (its pid is its thread-group id).
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        block = [(LD_ABS, 0, 0, _arg(0)), (JEQ, 0, 1, pid), (RET, 0, 0, RET_ALLOW), (RET, 0, 0, eperm)]
        prog += [(JEQ, 0, len(block), NR[name])] + block
    # Resource limits and CPU affinity: only of this process (0 means "self").
    for name in ("prlimit64", "sched_setaffinity"):
        block = [(LD_ABS, 0, 0, _arg(0)), (JEQ, 2, 0, 0), (JEQ, 1, 0, pid),
                 (RET, 0, 0, eperm), (RET, 0, 0, RET_ALLOW)]
        prog += [(JEQ, 0, len(block), NR[name])] + block

    # execve: refused, except node's start-up exec with exactly these three pointers.
    if exec_pointers is None:
        prog += [(JEQ, 0, 1, NR["execve"]), (RET, 0, 0, eperm)]
    else:
        block = []
        checks = []
        for n, value in enumerate(exec_pointers):
            checks += [(_arg(n), value & 0xFFFFFFFF), (_arg(n, True), value >> 32)]
        for i, (offset, value) in enumerate(checks):
            remaining = len(checks) - i - 1
            # On mismatch jump to the final "deny"; the allow RET sits just before it.
            block += [(LD_ABS, 0, 0, offset), (JEQ, 0, 2 * remaining + 1, value)]
        block += [(RET, 0, 0, RET_ALLOW), (RET, 0, 0, eperm)]
        prog += [(JEQ, 0, len(block), NR["execve"])] + block
    prog.append((RET, 0, 0, RET_ALLOW))
    return prog


def install_seccomp(pid: int, exec_pointers: tuple[int, int, int] | None) -> None:
    if platform.machine() != "x86_64":
        raise Refused(f"the system call filter does not support {platform.machine()}")
    prog = seccomp_program(pid, exec_pointers)
    raw = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    buffer = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("HxxxxxxQ", len(prog), ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog, len(fprog))
    # PR_SET_SECCOMP = 22, SECCOMP_MODE_FILTER = 2
    if LIBC.prctl(22, 2, ctypes.addressof(fprog_buffer), 0, 0) != 0:
        raise Refused(f"seccomp filter: {os.strerror(ctypes.get_errno())}")


# --- Landlock -------------------------------------------------------------------------------------
LL_CREATE, LL_ADD_RULE, LL_RESTRICT = 444, 445, 446
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
FS_ALL_V1 = (1 << 13) - 1
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FS_READ = FS_READ_FILE | FS_READ_DIR
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV


def landlock_abi() -> int:
    abi = LIBC.syscall(LL_CREATE, None, 0, 1)
    return abi if abi > 0 else 0


def install_landlock(read_paths: list[str], exec_paths: list[str], write_paths: list[str],
                     device_paths: list[str]) -> int:
    abi = landlock_abi()
    if abi < 1:
        raise Refused("Landlock is not available in this kernel")
    handled_fs = FS_ALL_V1 | (FS_REFER if abi >= 2 else 0) | (FS_TRUNCATE if abi >= 3 else 0) | (
        FS_IOCTL_DEV if abi >= 5 else 0)
    handled_net = 3 if abi >= 4 else 0  # BIND_TCP | CONNECT_TCP, with no rule: both refused
    scoped = 3 if abi >= 6 else 0  # abstract UNIX sockets and signals stay inside the sandbox
    size = 24 if abi >= 6 else (16 if abi >= 4 else 8)
    attr = ctypes.create_string_buffer(struct.pack("QQQ", handled_fs, handled_net, scoped)[:size], size)
    ruleset = LIBC.syscall(LL_CREATE, attr, size, 0)
    if ruleset < 0:
        raise Refused(f"Landlock ruleset: {os.strerror(ctypes.get_errno())}")

    def allow(path: str, access: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return  # a library folder this system lacks
        try:
            if not os.path.isdir(path):
                access &= FILE_RIGHTS
            rule = ctypes.create_string_buffer(struct.pack("=Qi", access & handled_fs, fd), 12)
            if LIBC.syscall(LL_ADD_RULE, ruleset, 1, rule, 0) != 0:
                raise Refused(f"Landlock rule for {path}: {os.strerror(ctypes.get_errno())}")
        finally:
            os.close(fd)

    for path in read_paths:
        allow(path, FS_READ)
    for path in exec_paths:
        allow(path, FS_READ | FS_EXECUTE)
    for path in device_paths:
        allow(path, FS_READ_FILE | FS_WRITE_FILE)
    for path in write_paths:
        allow(path, handled_fs & ~(FS_EXECUTE | (1 << 6) | (1 << 11) | (1 << 9)))  # no devices/sockets
    if LIBC.syscall(LL_RESTRICT, ruleset, 0) != 0:
        raise Refused(f"Landlock: {os.strerror(ctypes.get_errno())}")
    os.close(ruleset)
    return abi


# --- namespaces, limits, capabilities -------------------------------------------------------------
CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS = 0x00020000, 0x40000000, 0x08000000, 0x04000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18


def isolate_namespaces(workdir: str, tmpfs_bytes: int) -> list[str]:
    """Root only, best effort: no network interfaces at all, and a size-capped private tmpfs."""
    done: list[str] = []
    if os.geteuid() != 0:
        return done
    if LIBC.unshare(CLONE_NEWNET) == 0:
        done.append("netns")
    if LIBC.unshare(CLONE_NEWIPC | CLONE_NEWUTS) == 0:
        done.append("ipcns")
    if LIBC.unshare(CLONE_NEWNS) == 0:
        LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
        options = f"size={tmpfs_bytes},mode=0700".encode()
        if LIBC.mount(b"tmpfs", workdir.encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) == 0:
            done.append("tmpfs")
    return done


def set_limits(limits: dict, language: str) -> None:
    mb = 1024 * 1024
    memory = int(limits["memory_mb"]) * mb
    if language == "javascript":
        # V8 reserves large address ranges up front; its heap is capped by --max-old-space-size.
        memory += int(limits.get("node_reserve_mb", 1536)) * mb
    pairs = [
        (resource.RLIMIT_CPU, int(limits["cpu_seconds"])),
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, int(limits["max_file_bytes"])),
        (resource.RLIMIT_NOFILE, int(limits.get("max_open_files", 64))),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MEMLOCK, 0),
        (resource.RLIMIT_MSGQUEUE, 0),
    ]
    for which, value in pairs:
        resource.setrlimit(which, (value, value))


def drop_privileges() -> None:
    """Empty every capability set; root gets no capabilities back on exec; no_new_privs."""
    if os.geteuid() == 0:
        # SECBIT_NOROOT | NO_SETUID_FIXUP | KEEP_CAPS_LOCKED | NO_CAP_AMBIENT_RAISE, all locked.
        if LIBC.prctl(28, 0xEF, 0, 0, 0) != 0:  # PR_SET_SECUREBITS
            raise Refused(f"securebits: {os.strerror(ctypes.get_errno())}")
    for cap in range(64):
        if LIBC.prctl(24, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:  # PR_CAPBSET_DROP
            break
    LIBC.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL
    header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0), 8)
    data = ctypes.create_string_buffer(bytes(24), 24)
    if LIBC.syscall(126, header, data) != 0:  # capset
        raise Refused(f"capabilities: {os.strerror(ctypes.get_errno())}")
    if LIBC.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise Refused(f"no_new_privs: {os.strerror(ctypes.get_errno())}")


# --- running the code -----------------------------------------------------------------------------
def emit(nonce: str, tag: str, payload: object) -> None:
    data = json.dumps(payload).encode("ascii")
    marker = f"<<{tag}-{nonce}>>".encode()
    sys.stdout.flush()
    view = memoryview(marker + data + marker + b"\n")
    while view:  # one write() may take only part of a large result
        view = view[os.write(1, view):]


def fail(nonce: str, kind: str, message: str) -> None:
    emit(nonce, "ERROR", {"kind": kind, "message": message})
    os._exit(1)


def describe(exc: BaseException) -> str:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == "<code>":
            line = frame.lineno
    if isinstance(exc, SyntaxError) and exc.filename == "<code>":
        line = exc.lineno
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.errno in (errno.EPERM, errno.EACCES, errno.ENOENT,
                                                    errno.EROFS, errno.ENOSYS):
        text += " (the sandbox does not allow this)"
    return text + (f" (line {line})" if line else "")


def run_python(job: dict) -> None:
    nonce = job["nonce"]
    import linecache

    linecache.cache["<code>"] = (len(job["code"]), None, job["code"].splitlines(True), "<code>")
    namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(job["code"], "<code>", "exec"), namespace)  # noqa: S102 - that is the point
        main = namespace.get("main")
        if not callable(main):
            fail(nonce, "invalid_code", "The code must define a function main().")
        result = main(**job["inputs"])
    except MemoryError:
        fail(nonce, "memory", "")
    except RecursionError as exc:
        fail(nonce, "runtime_error", describe(exc))
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything, SystemExit included
        fail(nonce, "runtime_error", describe(exc))
    if not isinstance(result, dict):
        fail(nonce, "invalid_result", f"main() must return a dict, not {type(result).__name__}.")
    try:
        emit(nonce, "RESULT", result)
    except MemoryError:
        fail(nonce, "memory", "")
    except (TypeError, ValueError) as exc:
        fail(nonce, "invalid_result", f"The result cannot be converted to JSON: {exc}")
    os._exit(0)


NODE_WRAPPER = """\
%(code)s
;(async () => {
  const inputs = JSON.parse(Buffer.from(%(inputs)s, 'base64').toString('utf-8'));
  const marker = (tag) => '<<' + tag + '-' + %(nonce)s + '>>';
  // Exit only once the pipe has taken everything: process.exit() would cut a pending write short.
  const emit = (tag, value) => new Promise((done) =>
    process.stdout.write(marker(tag) + JSON.stringify(value) + marker(tag) + '\\n', done));
  try {
    if (typeof main !== 'function') {
      await emit('ERROR', {kind: 'invalid_code', message: 'The code must define a function main().'});
      process.exit(1);
    }
    let result = main(inputs);
    if (result && typeof result.then === 'function') result = await result;
    if (result === null || typeof result !== 'object' || Array.isArray(result)) {
      const kind = result === null ? 'null' : (Array.isArray(result) ? 'array' : typeof result);
      const message = 'main() must return an object, not ' + kind + '.';
      await emit('ERROR', {kind: 'invalid_result', message});
      process.exit(1);
    }
    await emit('RESULT', result);
    process.exit(0);
  } catch (e) {
    let message = (e && e.name ? e.name + ': ' : '') + (e && e.message !== undefined ? e.message : String(e));
    if (e && (e.code === 'ERR_ACCESS_DENIED' || e.code === 'EPERM' || e.code === 'EACCES'))
      message += ' (the sandbox does not allow this)';
    const memory = e instanceof RangeError && /allocat|memory/i.test(String(e.message));
    await emit('ERROR', {kind: memory ? 'memory' : 'runtime_error', message});
    process.exit(1);
  }
})();
"""


def prepare_node(job: dict, workdir: str) -> tuple[bytes, list[bytes]]:
    script = os.path.join(workdir, "main.js")
    inputs = base64.b64encode(json.dumps(job["inputs"], ensure_ascii=False).encode()).decode()
    with open(script, "w", encoding="utf-8") as handle:
        handle.write(NODE_WRAPPER % {"code": job["code"], "inputs": json.dumps(inputs),
                                     "nonce": json.dumps(job["nonce"])})
    heap = max(16, int(job["limits"]["memory_mb"]) // 2)
    argv = [job["node"], f"--max-old-space-size={heap}", "--max-semi-space-size=8",
            "--no-addons", "--no-global-search-paths",
            *job.get("node_flags", []), script]
    return job["node"].encode(), [a.encode() for a in argv]


def exec_buffers(path: bytes, argv: list[bytes], env: list[bytes]) -> tuple:
    """execve's arguments as C buffers made before the filter, whose addresses the filter allows.

    The buffers must stay alive until the exec, so the caller keeps the returned references.
    """
    c_argv = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
    c_env = (ctypes.c_char_p * (len(env) + 1))(*env, None)
    c_path = ctypes.c_char_p(path)
    pointers = (ctypes.cast(c_path, ctypes.c_void_p).value, ctypes.addressof(c_argv), ctypes.addressof(c_env))
    return c_path, c_argv, c_env, pointers


# --- the relay: requests and httpx over the parent's outbound guard -------------------------------
class Relay:
    """Length-prefixed JSON messages to the parent (a request) and back (its answer or an error)."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self.lock = threading.Lock()  # one call at a time: threads must not interleave messages

    def _read(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = os.read(self.read_fd, size - len(data))
            if not chunk:
                raise OSError(errno.EPIPE, "the sandbox's network relay is closed")
            data += chunk
        return bytes(data)

    def call(self, method: str, url: str, headers: list, body: bytes, timeout: object) -> dict:
        message = json.dumps({"method": method, "url": url, "headers": headers, "timeout": timeout,
                              "body": base64.b64encode(body).decode("ascii")}).encode()
        with self.lock:
            view = memoryview(struct.pack(">I", len(message)) + message)
            while view:
                view = view[os.write(self.write_fd, view):]
            size = struct.unpack(">I", self._read(4))[0]
            answer = json.loads(self._read(size))
        if "body" in answer:
            answer["body"] = base64.b64decode(answer["body"])
        return answer


RELAY: Relay | None = None


def _seconds(timeout: object) -> float | None:
    """requests' float or (connect, read) pair, httpx's dict of phases: the longest one."""
    if isinstance(timeout, dict):
        timeout = [v for v in timeout.values() if v is not None]
    if isinstance(timeout, (list, tuple)):
        values = [float(v) for v in timeout if v is not None]
        return max(values) if values else None
    return float(timeout) if isinstance(timeout, (int, float)) else None


def _body_bytes(body: object) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)


def _relayed(method: str, url: str, headers: list, body: bytes, timeout: object) -> dict:
    if RELAY is None:
        raise OSError(errno.EPERM, "Network access is not available in this sandbox")
    return RELAY.call(method, url, headers, body, _seconds(timeout))


def patch_requests(module: object) -> None:
    """Every requests call ends in HTTPAdapter.send: send through the relay instead of a socket."""
    import io

    import requests.adapters
    import requests.exceptions
    import urllib3

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: ANN001, ANN202
        answer = _relayed(request.method, request.url, [[k, v] for k, v in request.headers.items()],
                          _body_bytes(request.body), timeout)
        if "error" in answer:
            error = (requests.exceptions.ReadTimeout if answer.get("kind") == "timeout"
                     else requests.exceptions.ConnectionError)
            raise error(answer["error"], request=request)
        raw = urllib3.HTTPResponse(body=io.BytesIO(answer["body"]), headers=urllib3.HTTPHeaderDict(
            answer["headers"]), status=answer["status"], reason=answer.get("reason"), preload_content=False,
            decode_content=True, request_url=request.url)
        return self.build_response(request, raw)

    requests.adapters.HTTPAdapter.send = send


def patch_httpx(module: object) -> None:
    """httpx's default transports (sync and async) answer from the relay."""
    import httpx

    def answer_for(request):  # noqa: ANN001, ANN202
        headers = [[k, v] for k, v in request.headers.multi_items()]
        answer = _relayed(request.method, str(request.url), headers, request.content,
                          request.extensions.get("timeout"))
        if "error" in answer:
            error = httpx.ReadTimeout if answer.get("kind") == "timeout" else httpx.ConnectError
            raise error(answer["error"], request=request)
        reason = str(answer.get("reason") or "").encode()
        return httpx.Response(answer["status"], headers=answer["headers"], request=request,
                              stream=httpx.ByteStream(answer["body"]),
                              extensions={"reason_phrase": reason, "http_version": b"HTTP/1.1"})

    def handle_request(self, request):  # noqa: ANN001, ANN202
        request.read()
        return answer_for(request)

    async def handle_async_request(self, request):  # noqa: ANN001, ANN202
        await request.aread()
        return answer_for(request)

    httpx.HTTPTransport.handle_request = handle_request
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request


PATCHES = {"requests": patch_requests, "httpx": patch_httpx}


class _PatchingLoader:
    """Runs a package's own loader, then swaps its transport for the relay."""

    def __init__(self, inner: object, patch: object) -> None:
        self.inner, self.patch = inner, patch

    def create_module(self, spec: object) -> object:
        return self.inner.create_module(spec)

    def exec_module(self, module: object) -> None:
        self.inner.exec_module(module)
        self.patch(module)


class PackageFinder:
    """Finds the few packages the sandbox ships (``job["packages"]``: name -> package directory or
    module file) without listing site-packages, which Landlock keeps closed."""

    def __init__(self, packages: dict) -> None:
        self.packages = packages

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        location = self.packages.get(name)
        if location is None:
            return None
        if os.path.isdir(location):
            spec = importlib.util.spec_from_file_location(name, os.path.join(location, "__init__.py"),
                                                          submodule_search_locations=[location])
        else:
            spec = importlib.util.spec_from_file_location(name, location)
        if spec is not None and name in PATCHES:
            spec.loader = _PatchingLoader(spec.loader, PATCHES[name])
        return spec

    def invalidate_caches(self) -> None:
        pass


def die_with_parent(parent: int) -> None:
    """If the platform process that started us dies, so do we (no orphans waiting forever)."""
    LIBC.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL; kept across node's exec
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    die_with_parent(int(job.get("parent") or os.getppid()))
    nonce = job["nonce"]
    workdir = job["workdir"]
    language = job["language"]
    weak = bool(job.get("weak"))
    limits = job["limits"]
    applied: list[str] = []
    try:
        if job.get("namespaces", True):
            applied += isolate_namespaces(workdir, int(limits["workdir_bytes"]))
        os.chdir(workdir)
        set_limits(limits, language)
        if language == "javascript":
            node_path, argv = prepare_node(job, workdir)
            env = [f"HOME={workdir}".encode(), f"TMPDIR={workdir}".encode(), b"LANG=C.UTF-8",
                   b"OPENSSL_CONF=/dev/null"]
            c_path, c_argv, c_env, pointers = exec_buffers(node_path, argv, env)
        else:
            pointers = None
        stdlib = os.path.dirname(os.__file__)
        system_libs = ["/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/share/zoneinfo"]
        packages = {str(k): str(v) for k, v in (job.get("packages") or {}).items()
                    if language == "python3"}
        read_paths = [stdlib] + system_libs + list(packages.values())
        exec_paths = [job["node"]] + system_libs if language == "javascript" else []
        try:
            drop_privileges()
            applied.append("no_new_privs")
        except Refused:
            if not weak:
                raise
        try:
            install_landlock(read_paths, exec_paths, [workdir], ["/dev/null", "/dev/zero", "/dev/urandom"])
            applied.append("landlock")
        except Refused:
            if not weak:
                raise
        try:
            install_seccomp(os.getpid(), pointers)
            applied.append("seccomp")
        except Refused:
            if not weak:
                raise
    except Refused as exc:
        fail(nonce, "unavailable", f"The sandbox cannot protect this run: {exc}.")
    except OSError as exc:
        fail(nonce, "unavailable", f"The sandbox could not start: {exc}.")
    if language == "javascript":
        LIBC.execve(c_path, c_argv, c_env)
        reason = os.strerror(ctypes.get_errno())
        fail(nonce, "unavailable", f"The JavaScript runtime could not start: {reason}.")
    for name in ("ctypes", "_ctypes"):
        sys.modules.pop(name, None)

    def no_commands(command: object) -> int:
        raise PermissionError(errno.EPERM, "Running commands is not allowed in the sandbox")

    os.system = no_commands  # it would fail quietly with an exit status; say so instead
    global RELAY
    if job.get("relay"):
        RELAY = Relay(int(job["relay"][0]), int(job["relay"][1]))
    sys.meta_path.append(PackageFinder(packages))
    run_python(job)


if __name__ == "__main__":
    main()
