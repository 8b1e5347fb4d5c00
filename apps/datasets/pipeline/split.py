"""Splitting cleaned text into segments of at most `max_tokens`, with `chunk_overlap` tokens
repeated between neighbours.

The custom separator is tried first; a piece still too long is split again at paragraph, line,
sentence and word boundaries, in that order, and pieces are then merged back up to the limit.
Tokens are counted with the model runtime's counter for the dataset's embedding model.
"""

import re
from collections.abc import Callable

Counter = Callable[[str], int]

_FALLBACKS = ("\n\n", "\n", "SENTENCE", " ")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def _split_on(text: str, separator: str) -> list[str]:
    if separator == "SENTENCE":
        return [p for p in _SENTENCE.split(text) if p]
    return text.split(separator)


def _hard_split(text: str, max_tokens: int, count: Counter) -> list[str]:
    """Last resort for a single "word" longer than the limit: cut by characters, each cut the
    longest prefix within the limit (binary search)."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        low, high = 1, len(text) - start
        while low < high:
            mid = (low + high + 1) // 2
            if count(text[start:start + mid]) <= max_tokens:
                low = mid
            else:
                high = mid - 1
        pieces.append(text[start:start + low])
        start += low
    return pieces


def _pieces(text: str, separators: list[str], max_tokens: int, count: Counter) -> list[tuple[str, str]]:
    """(piece, the separator that joins it to the previous one), each piece within the limit."""
    if count(text) <= max_tokens:
        return [(text, "")]
    for i, separator in enumerate(separators):
        parts = _split_on(text, separator)
        if len(parts) < 2:
            continue
        joiner = " " if separator == "SENTENCE" else separator
        result: list[tuple[str, str]] = []
        for part in parts:
            if not part.strip():
                continue
            if count(part) <= max_tokens:
                result.append((part, joiner))
            else:
                sub = _pieces(part, separators[i + 1:], max_tokens, count)
                result.extend([(sub[0][0], joiner), *sub[1:]] if sub else [])
        return result
    return [(p, "") for p in _hard_split(text, max_tokens, count)]


def _merge(pieces: list[tuple[str, str]], max_tokens: int, overlap: int, count: Counter) -> list[str]:
    """Greedily join pieces (with their joiners) while the joined text stays within the limit;
    each new chunk starts with the previous one's tail of at most `overlap` tokens."""
    chunks: list[str] = []
    current: list[tuple[str, str]] = []

    def text_of(items: list[tuple[str, str]]) -> str:
        return "".join((j if k else "") + p for k, (p, j) in enumerate(items))

    for piece, joiner in pieces:
        if current and count(text_of([*current, (piece, joiner)])) > max_tokens:
            chunks.append(text_of(current).strip())
            while current and (count(text_of(current)) > overlap
                               or count(text_of([*current, (piece, joiner)])) > max_tokens):
                current.pop(0)
        current.append((piece, joiner))
    if current:
        chunks.append(text_of(current).strip())
    return [c for c in chunks if c]


def split(text: str, *, separator: str, max_tokens: int, overlap: int, count: Counter,
          fixed: bool = True) -> list[str]:
    """Segments of `text`.

    fixed (custom rules): every `separator` ends a segment, and the separator itself is dropped;
    a part longer than `max_tokens` is split further at natural boundaries.
    not fixed (automatic rules): `separator` is only the preferred boundary; small pieces are
    merged up to `max_tokens`, so short lines do not each become a segment.
    """
    if not text.strip():
        return []
    fallbacks = [s for s in _FALLBACKS if s != separator]
    if not fixed:
        return _merge(_pieces(text, [separator, *fallbacks], max_tokens, count), max_tokens, overlap, count)
    chunks: list[str] = []
    for part in text.split(separator):
        if part.strip():
            chunks += _merge(_pieces(part, fallbacks, max_tokens, count), max_tokens, overlap, count)
    return chunks
