"""/healthz, the API error format, and how settings follow REDIS_URL / DATABASE_URL."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_healthz_reports_database_broker_and_channel_layer(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "channel_layer"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["database"]["detail"].startswith("pgvector ")


@pytest.mark.django_db
def test_healthz_says_503_when_the_broker_is_down(client, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from config.celery import app

    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.conf, "broker_transport_options", {})
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def _settings_with(env: dict[str, str]) -> dict:
    code = (
        "import json, django; from django.conf import settings as s; django.setup();"
        "print(json.dumps({'broker': s.CELERY_BROKER_URL, 'layer': s.CHANNEL_LAYERS['default']['BACKEND'],"
        "'cache': s.CACHES['default']['BACKEND'], 'db_host': s.DATABASES['default']['HOST'],"
        "'db_name': s.DATABASES['default']['NAME'], 'embedded': s.EMBEDDED_DATABASE}))"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**base, "DJANGO_SETTINGS_MODULE": "config.settings.dev", **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_redis_url_switches_broker_channel_layer_and_cache() -> None:
    found = _settings_with({"REDIS_URL": "redis://cache.internal:6379/2",
                            "DATABASE_URL": "postgres://u:p@db.internal:5432/tessera"})
    assert found["broker"] == "redis://cache.internal:6379/2"
    assert found["layer"] == "channels_redis.core.RedisChannelLayer"
    assert found["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert (found["db_host"], found["db_name"], found["embedded"]) == ("db.internal", "tessera", False)


def test_embedded_defaults_without_urls() -> None:
    found = _settings_with({})
    assert found["broker"] == "filesystem://"
    assert found["layer"] == "channels.layers.InMemoryChannelLayer"
    assert found["embedded"] is True


def test_socket_directory_in_database_url_is_decoded() -> None:
    found = _settings_with({"DATABASE_URL": "postgres://u@%2Frun%2Fpostgresql/tessera"})
    assert found["db_host"] == "/run/postgresql"


def test_database_without_pgvector_fails_with_a_clear_message(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from django.core.exceptions import ImproperlyConfigured
    from django.db import connection

    from apps.core import checks

    real_cursor = connection.cursor

    class NoVector:
        def __init__(self) -> None:
            self.cursor = real_cursor()

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            self.cursor.close()

        def execute(self, sql: str, params: object = None) -> None:
            self.cursor.execute(sql.replace("'vector'", "'no_such_extension'"), params)

        def fetchone(self):  # type: ignore[no-untyped-def]
            return self.cursor.fetchone()

    monkeypatch.setattr(connection, "cursor", NoVector)
    with pytest.raises(ImproperlyConfigured, match="pgvector"):
        checks.ensure_pgvector()
