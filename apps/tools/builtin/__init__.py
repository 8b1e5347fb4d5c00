"""The built-in providers, by the reference's provider names (dsl.md §3.13)."""

from apps.tools.builtin import chart, code, media, search, time, web
from apps.tools.builtin.base import BuiltinProvider

PROVIDERS: dict[str, BuiltinProvider] = {p.name: p for p in (
    time.PROVIDER, web.PROVIDER, search.WIKIPEDIA, search.GOOGLE, search.SEARXNG, chart.PROVIDER,
    code.PROVIDER, media.DALLE, media.STABLE_DIFFUSION, media.VECTORIZER, media.YOUTUBE,
)}
