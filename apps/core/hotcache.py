"""Per-process caches for what the Service API's hot path reads on every request.

An API key's route, its app, a resolved model (decrypted credentials and price) and an end user
barely ever change, yet reading them took most of the database round trips before the first
token. Each process keeps them for HOT_CACHE_SECONDS (0 turns caching off).

Freshness: a change made in this process (revoking a key, publishing, saving a credential) clears
the caches here at once, through model signals. Other processes see it within HOT_CACHE_SECONDS;
the README says so next to the setting.
"""

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import TTLCache
from django.conf import settings

T = TypeVar("T")

_MISSING = object()
_caches: list["HotCache"] = []


class HotCache:
    """A thread-safe TTL cache; `get_or_load` calls `load` on a miss (outside the lock)."""

    def __init__(self, name: str, maxsize: int = 10_000) -> None:
        self.name = name
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._data: TTLCache | None = None
        self._ttl = -1.0
        _caches.append(self)

    def _store(self) -> TTLCache | None:
        ttl = float(settings.HOT_CACHE_SECONDS)
        if ttl <= 0:
            return None
        if self._data is None or ttl != self._ttl:
            self._data, self._ttl = TTLCache(maxsize=self.maxsize, ttl=ttl), ttl
        return self._data

    def get_or_load(self, key: Hashable, load: Callable[[], T]) -> T:
        with self._lock:
            store = self._store()
            value = _MISSING if store is None else store.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        value = load()
        if value is not None:  # misses (unknown keys) are not remembered
            with self._lock:
                if (store := self._store()) is not None:
                    store[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            if self._data is not None:
                self._data.clear()


def clear_all(**_: Any) -> None:
    """Signal receiver: something the hot path caches changed in this process."""
    for cache in _caches:
        cache.clear()


def clear_on_change(*models: type, deletes_only: tuple[type, ...] = ()) -> None:
    """Clear every hot cache when a row of `models` is saved or deleted (of `deletes_only`: deleted)
    in this process. Called from the AppConfig.ready of the app that owns the models."""
    from django.db.models.signals import post_delete, post_save

    for model in models:
        post_save.connect(clear_all, sender=model, dispatch_uid=f"hotcache.save.{model._meta.label}")
    for model in (*models, *deletes_only):
        post_delete.connect(clear_all, sender=model, dispatch_uid=f"hotcache.delete.{model._meta.label}")
