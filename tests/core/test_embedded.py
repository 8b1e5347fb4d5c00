"""The embedded Postgres (pgserver): a cluster created on first use starts with Tessera's memory
settings (shared buffers for the HNSW graphs); an existing one is given them for its next start."""

import shutil
import tempfile
from pathlib import Path

import psycopg

from apps.core import embedded


def _setting(socket_dir: str, name: str) -> str:
    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres") as conn:
        return conn.execute(f"SHOW {name}").fetchone()[0]


def test_a_new_cluster_starts_with_the_memory_settings() -> None:
    pgdata = Path(tempfile.mkdtemp(prefix="tessera-pg-")) / "pgdata"
    try:
        settings = embedded.embedded_database_settings(pgdata)
        assert _setting(settings["HOST"], "shared_buffers") == "1GB"
        assert _setting(settings["HOST"], "maintenance_work_mem") == "512MB"
        assert (pgdata / "postgresql.auto.conf").read_text().count("shared_buffers") == 1
        # Joining the running cluster again changes nothing and restarts nothing.
        pid = (pgdata / "postmaster.pid").read_text().split()[0]
        embedded.embedded_database_settings(pgdata)
        assert (pgdata / "postmaster.pid").read_text().split()[0] == pid
    finally:
        if (pgdata / "postmaster.pid").exists():
            embedded.stop_embedded_server(pgdata)
        shutil.rmtree(pgdata.parent, ignore_errors=True)
