"""Start-up checks with messages an operator can act on."""

from django.core.exceptions import ImproperlyConfigured
from django.db import connection

PGVECTOR_HELP = (
    "Tessera needs the pgvector extension in its Postgres database, and this server does not offer it. "
    "Use the pgvector/pgvector:pg16 image (docker-compose.yml does), install the postgresql-16-pgvector "
    "package, or unset DATABASE_URL to use the embedded Postgres."
)


def ensure_pgvector() -> None:
    """Raise ImproperlyConfigured unless the database can provide pgvector."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        if cursor.fetchone() is None:
            raise ImproperlyConfigured(PGVECTOR_HELP)
