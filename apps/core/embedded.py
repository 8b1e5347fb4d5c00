"""The embedded Postgres 16 + pgvector server (the `pgserver` wheel) used when DATABASE_URL is unset.

The server is started on first use and left running, so Daphne, the Celery worker, beat and
`manage.py` all share one cluster under var/pgdata; `manage.py serve` stops it on exit.
"""

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

# pgserver keeps an inter-process lock in the user's runtime directory, which must be private (0700).
if not os.environ.get("XDG_RUNTIME_DIR"):
    _runtime = Path(f"/tmp/tessera-runtime-{os.getuid()}")
    _runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = str(_runtime)

DATABASE_NAME = "tessera"
# pgserver logs every start-up check at INFO before Django's LOGGING is configured.
logging.getLogger("pgserver").setLevel(logging.WARNING)


# Memory for the embedded server (its defaults are initdb's: 128 MB of shared buffers). Knowledge
# search needs the HNSW graph in shared buffers: at 100,000 segments of 384 dimensions,
# bench/retrieval.py measured vector retrieval p50 10.5 ms with 128 MB and 5.2 ms with 1 GB. Only
# pages in use take memory. docker-compose.yml gives the production server the same settings.
SETTINGS = {
    "shared_buffers": os.environ.get("EMBEDDED_PG_SHARED_BUFFERS", "1GB"),
    "maintenance_work_mem": os.environ.get("EMBEDDED_PG_MAINTENANCE_WORK_MEM", "512MB"),  # index builds
}


def _server(pgdata: Path) -> Any:
    import pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    _configure(server, restart=fresh)
    return server


def _configure(server: Any, restart: bool) -> None:
    """Write SETTINGS into the cluster's postgresql.auto.conf (ALTER SYSTEM) where they differ. They
    take effect when the server next starts: at once for a cluster this process just created (it is
    restarted before anyone else uses it), otherwise after `manage.py serve` stops it."""
    import psycopg
    from pgserver._commands import pg_ctl

    socket_dir = parse_qs(urlparse(server.get_uri()).query)["host"][0]
    auto_conf = Path(server.pgdata) / "postgresql.auto.conf"
    current = auto_conf.read_text() if auto_conf.exists() else ""
    missing = {k: v for k, v in SETTINGS.items() if f"{k} = '{v}'" not in current}
    if not missing:
        return
    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        for name, value in missing.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    if restart:
        pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user, timeout=30)


def embedded_database_settings(pgdata: Path) -> dict[str, Any]:
    """Start (or join) the embedded server and return Django DATABASES settings for it."""
    server = _server(pgdata)
    uri = urlparse(server.get_uri())
    socket_dir = parse_qs(uri.query)["host"][0]
    _ensure_database(socket_dir)
    return {
        "NAME": DATABASE_NAME,
        "USER": uri.username or "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
    }


def _ensure_database(socket_dir: str) -> None:
    import psycopg

    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def stop_embedded_server(pgdata: Path) -> None:
    """Stop the embedded server (used when `manage.py serve` exits)."""
    from pgserver._commands import pg_ctl

    server = _server(pgdata)
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)
