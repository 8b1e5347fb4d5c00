"""The test suite (pytest sets DJANGO_SETTINGS_MODULE to this module)."""

from .base import *  # noqa: F403
from .base import REDIS_URL, VAR_DIR, env, filesystem_broker_options

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Unit tests run tasks eagerly; tests/test_celery_worker.py runs a real worker instead.
# A browser test's Daphne turns this off to hand work to a real worker (tests/datasets/test_browser.py).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# Titles queued at once, so eager tests see them named when the turn returns (tests/applications/test_title_worker.py batches).
TITLE_BATCH_SECONDS = env.float("TITLE_BATCH_SECONDS", default=0.0)
if not REDIS_URL:
    # The real-worker tests share this broker folder with the worker they start.
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / "test-broker")
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
ALLOWED_HOSTS = ["localhost", "127.0.0.1", ".localhost", "testserver"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "en"
ACCOUNT_RATE_LIMITS = {"login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key")}
# Parallel runs (several developers or agents on one machine) each name their own test database.
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="test_tessera")}  # noqa: F405
# No connection pool under test: pytest-django wraps most tests in a transaction, and a pool refuses
# to open connections for other threads inside one. bench/chat.py exercises the pool.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# The fake model providers (tests/fakes) listen on loopback: allowed for model providers only, as
# an operator running Ollama beside Tessera would (tests/providers/test_ssrf.py turns it off).
PROVIDER_ALLOWED_NETWORKS = "127.0.0.0/8,::1/128"
