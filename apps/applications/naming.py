"""Queueing conversation titles (issue #4 point 7) without a broker message per conversation.

Every new conversation needs a title from the default LLM, which a Celery worker writes. Publishing
one task message per conversation cost the serving process about a twelfth of its CPU per chat
turn (kombu builds, serialises and writes a message each time), so a process collects the ids
for ``TITLE_BATCH_SECONDS`` and publishes one ``generate_conversation_names`` message per
workspace schema. A title is cosmetic and the conversation keeps its initial name without one,
so ids still waiting when a process is killed outright are given up; a normal shutdown
publishes them (atexit). With ``TITLE_BATCH_SECONDS = 0`` each id is published at once.
"""

import atexit
import threading

from django.conf import settings
from django.db import connection, transaction


class TitleQueue:
    """Conversation ids per schema, published together by a timer thread after the first one
    arrives. Thread-safe: turns finish on several hot-path threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[str]] = {}
        self._timer: threading.Timer | None = None

    def add(self, schema: str, conversation_id: str) -> None:
        delay = settings.TITLE_BATCH_SECONDS
        if delay <= 0:
            publish(schema, [conversation_id])
            return
        with self._lock:
            self._pending.setdefault(schema, []).append(conversation_id)
            if self._timer is None:
                self._timer = threading.Timer(delay, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending, self._timer = self._pending, {}, None
        for schema, ids in pending.items():
            publish(schema, ids)


def publish(schema: str, conversation_ids: list[str]) -> None:
    """One task message naming these conversations, run in ``schema`` (the tenant header is set
    here, since the publishing thread's connection may be on another schema)."""
    from apps.applications import tasks

    tasks.generate_conversation_names.apply_async((conversation_ids,), headers={"_schema_name": schema})


QUEUE = TitleQueue()
atexit.register(QUEUE.flush)


def schedule(conversation_id: str) -> None:
    """Queue a title for ``conversation_id`` once its first message is committed (so the worker
    sees it), in the current workspace schema."""
    schema = connection.schema_name
    transaction.on_commit(lambda: QUEUE.add(schema, conversation_id))
