# syntax=docker/dockerfile:1
# Tessera production image: Daphne by default; the same image runs the Celery worker and beat
# (see docker-compose.yml). Build: docker build -t tessera .

# --- build stage: a virtual environment with the pinned production requirements ---------------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# prod.txt includes base.txt, so copy the whole folder.
COPY requirements/ /tmp/requirements/
RUN pip install --upgrade pip \
    && pip install -r /tmp/requirements/prod.txt

# --- runtime stage ------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.prod

RUN groupadd --system --gid 1000 tessera \
    && useradd --system --uid 1000 --gid tessera --home-dir /app --shell /usr/sbin/nologin tessera

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# The code stays owned by root (read-only to the app). var/ holds the collected static files and
# media (a volume in docker-compose.yml): it belongs to the unprivileged user, and Docker gives a new
# named volume the ownership of the directory it is mounted on.
COPY . /app
RUN mkdir -p /app/var/media /app/var/staticfiles && chown -R tessera:tessera /app/var

USER tessera

# Importing the settings needs a SECRET_KEY and a DATABASE_URL (without one, base.py would start the
# embedded Postgres). Neither is used to connect here: collectstatic never opens the database.
# These values exist only for this RUN line and are not kept in the image.
RUN SECRET_KEY=collectstatic-build-only \
    DATABASE_URL=postgres://build:build@127.0.0.1:5432/build \
    REDIS_URL=redis://127.0.0.1:6379/0 \
    python manage.py collectstatic --noinput --verbosity 0

EXPOSE 8000

# /healthz answers 200 when the database, broker and channel layer are reachable, 503 otherwise.
# The Host header is the first ALLOWED_HOSTS entry, so the check passes Django's host validation.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; h = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.'); h = 'localhost' if h in ('', '*') else h; u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': h}), timeout=8)"]

CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "config.asgi:application"]
