"""Tokenising Chinese, Japanese and Korean text for Postgres full-text search.

Postgres' parser splits words on spaces, so a run of Han or kana characters would be one huge
"word" that no query matches. Each CJK run is rewritten as overlapping character bigrams (the
classic CJK indexing scheme, as in Lucene's CJKAnalyzer); a query goes through the same function, so
any two-character word of the query matches. Latin text passes through unchanged.
"""

import re

_CJK = re.compile(
    r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff"
    r"\U00020000-\U0002ebef]+")


def _bigrams(run: str) -> str:
    if len(run) == 1:
        return run
    return " ".join(run[i:i + 2] for i in range(len(run) - 1))


def tokenize(text: str) -> str:
    """Text with every CJK run replaced by its bigrams, space-separated."""
    return _CJK.sub(lambda m: f" {_bigrams(m.group(0))} ", text)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None
