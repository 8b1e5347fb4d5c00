"""The built-in providers, by the reference's provider names (dsl.md §3.13)."""

from apps.tools.builtin import time
from apps.tools.builtin.base import BuiltinProvider

PROVIDERS: dict[str, BuiltinProvider] = {p.name: p for p in (time.PROVIDER,)}
