"""serve: what `make run` runs. Migrate, create the demo workspace, then run Daphne, a Celery worker
and Celery beat together until Ctrl-C, which stops all of them (and the embedded Postgres)."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from apps.core.checks import ensure_pgvector

DEMO_EMAIL = "demo@tessera.local"


def _other_database_clients() -> int:
    """Client connections to the embedded server other than this check's own, once this process's
    pool is closed: stopping the server would cut them off (a test run, or another process sharing
    var/pgdata). Counted over a plain connection, as a pool may open more than one."""
    import psycopg
    from django.db import connections

    db = connections["default"]
    connections.close_all()
    if getattr(db, "pool", None) is not None:
        db.close_pool()
    params = db.settings_dict
    try:
        with psycopg.connect(host=params["HOST"], user=params["USER"], dbname=params["NAME"]) as conn:
            others = 0
            for _ in range(15):  # the children just exited: their server processes take a moment to go
                others = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                                      "AND pid <> pg_backend_pid()").fetchone()[0]
                if not others:
                    break
                time.sleep(0.2)
            return int(others)
    except psycopg.Error:  # the server is already gone: nothing to protect
        return 0


class Command(BaseCommand):
    help = "Run Tessera locally: migrations, demo workspace, Daphne, Celery worker and beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="do not create the demo workspace")
        parser.add_argument("--web-processes", type=int, default=int(os.environ.get("WEB_PROCESSES", "1")),
                            help="Daphne processes sharing the port (one per core; more than one needs REDIS_URL)")

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.perf_counter()
        ensure_pgvector()
        self.stdout.write("Migrating the public and workspace schemas…")
        call_command("migrate_schemas", interactive=False, verbosity=0)
        if not settings.REDIS_URL:
            call_command("createcachetable", verbosity=0)
        login = None if opts["no_demo"] else self._demo()

        python = sys.executable
        children = {
            "worker": [python, "-m", "celery", "-A", "config", "worker", "-l", "warning",
                       "-Q", ",".join(settings.CELERY_TASK_QUEUES_NAMES), "--concurrency", "2"],
            "beat": [python, "-m", "celery", "-A", "config", "beat", "-l", "warning"],
        }
        web = max(1, opts["web_processes"])
        if web > 1 and not settings.REDIS_URL:
            self.stderr.write("--web-processes > 1 needs REDIS_URL (the in-memory channel layer and stop "
                              "signals do not cross processes); running one.")
            web = 1
        # The web processes accept on one listening socket that we open: the kernel spreads the
        # connections over them, one process per core.
        listener = socket.create_server((opts["host"], opts["port"]), backlog=4096)
        fd = listener.fileno()
        for i in range(web):
            children[f"web{i + 1}" if web > 1 else "web"] = [
                python, "-m", "daphne", "--fd", str(fd), "config.asgi:application"]
        procs: dict[str, subprocess.Popen] = {}
        for name, cmd in children.items():
            # Own process groups: Ctrl-C reaches us once, and we stop the children in order.
            procs[name] = subprocess.Popen(cmd, start_new_session=True, pass_fds=(fd,) if name.startswith("web") else ())
        listener.close()  # the children hold it now

        def stop(*_: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        url = f"http://localhost:{opts['port']}"
        try:
            self._wait_healthy(f"http://127.0.0.1:{opts['port']}/healthz", procs)
            self.stdout.write(self.style.SUCCESS(
                f"\nTessera is running at {url}/  (ready in {time.perf_counter() - started:.1f}s)"))
            if login:
                self.stdout.write(login)
            self.stdout.write("Press Ctrl-C to stop.\n")
            while all(p.poll() is None for p in procs.values()):
                time.sleep(0.5)
            dead = [n for n, p in procs.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} exited; stopping everything.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            self._stop(procs)

    def _demo(self) -> str:
        from apps.workspaces import services

        User = get_user_model()
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is not None:
            slug = user.memberships.select_related("workspace").first()
            where = f" in workspace '{slug.workspace.slug}'" if slug else ""
            return (f"Demo login: {DEMO_EMAIL}{where} (its password was printed on the first run; "
                    f"change it with `.venv/bin/python manage.py reset_password --email {DEMO_EMAIL}`)")
        password = secrets.token_urlsafe(9)
        user = services.user_create(email=DEMO_EMAIL, password=password, name="Demo Owner", is_staff=True)
        workspace = services.workspace_create(name="Demo", owner=user, provision="now")
        return (f"Demo workspace '{workspace.slug}' created.\n"
                f"  Login:    {DEMO_EMAIL}\n  Password: {password}\n  (shown once; also valid for /admin/)")

    def _wait_healthy(self, url: str, procs: dict[str, subprocess.Popen], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs.values()):
                raise KeyboardInterrupt
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local URL)
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        self.stderr.write(f"{url} did not answer 200 within {timeout:.0f}s; continuing anyway.")

    def _stop(self, procs: dict[str, subprocess.Popen]) -> None:
        # A second Ctrl-C must not abandon children or the database half-way; this takes seconds.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()  # the leader only: Celery stops its own pool children cleanly
        deadline = time.monotonic() + 10
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if settings.EMBEDDED_DATABASE:
            from apps.core.embedded import stop_embedded_server

            others = _other_database_clients()
            if others:
                self.stdout.write(f"The embedded Postgres keeps running: {others} other connection(s) use it "
                                  f"(tests, another process).")
            else:
                stop_embedded_server(settings.VAR_DIR / "pgdata")
        self.stdout.write("Stopped.")
