"""Splitting cleaned text into segments of at most `max_tokens`, with `chunk_overlap` tokens
repeated between neighbours.

The custom separator is tried first; a piece still too long is split again at paragraph, line,
sentence and word boundaries, in that order, and pieces are then merged back up to the limit.
Tokens are counted with the model runtime's counter for the dataset's embedding model.

Linear and streaming, because one upload may hold millions of words (issue 20): pieces are
produced lazily and merged through a window that holds one segment's worth of them, and each
segment's end is found by galloping and bisecting over that window, so the counter sees each
character O(log n) times rather than once per word added (the greedy join it replaces recounted
the growing segment after every word). The result is the same as the greedy join's for a counter
that does not shrink when text is appended.
"""

import itertools
import re
from collections.abc import Callable, Iterable, Iterator

Counter = Callable[[str], int]
Piece = tuple[str, str]  # (text, the separator that joins it to the previous piece)

_FALLBACKS = ("\n\n", "\n", "SENTENCE", " ")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


class TooManySegments(Exception):
    """The text splits into more than the allowed number of segments."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _split_on(text: str, separator: str) -> Iterator[str]:
    """The parts of `text` between separators, lazily (no list of a whole document's lines)."""
    if separator == "SENTENCE":
        start = 0
        for match in _SENTENCE.finditer(text):
            if match.start() > start:
                yield text[start:match.start()]
            start = match.end()
        if start < len(text):
            yield text[start:]
        return
    start = 0
    while (end := text.find(separator, start)) != -1:
        yield text[start:end]
        start = end + len(separator)
    yield text[start:]


def _splits(text: str, separator: str) -> bool:
    """Whether `separator` cuts `text` into at least two parts."""
    if separator == "SENTENCE":
        return len(list(itertools.islice(_split_on(text, separator), 2))) == 2
    return separator in text


def _longest_prefix(text: str, start: int, max_tokens: int, count: Counter) -> int:
    """The length of the longest prefix of text[start:] within the limit (at least 1)."""
    remaining = len(text) - start
    low, high = 1, min(remaining, max(4 * max_tokens, 1))
    while high < remaining and count(text[start:start + high]) <= max_tokens:
        low, high = high, min(remaining, 2 * high)  # gallop: never count far beyond one segment
    while low < high:
        mid = (low + high + 1) // 2
        if count(text[start:start + mid]) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return low


def _hard_split(text: str, max_tokens: int, count: Counter) -> Iterator[str]:
    """Last resort for a single "word" longer than the limit: cut by characters, each cut the
    longest prefix within the limit."""
    start = 0
    while start < len(text):
        size = _longest_prefix(text, start, max_tokens, count)
        yield text[start:start + size]
        start += size


def _pieces(text: str, separators: list[str], max_tokens: int, count: Counter) -> Iterator[Piece]:
    """(piece, joiner) pairs, each piece within the limit, in order."""
    if count(text) <= max_tokens:
        yield text, ""
        return
    for i, separator in enumerate(separators):
        if not _splits(text, separator):
            continue
        joiner = " " if separator == "SENTENCE" else separator
        for part in _split_on(text, separator):
            if not part.strip():
                continue
            if count(part) <= max_tokens:
                yield part, joiner
            else:
                first = True
                for piece, inner in _pieces(part, separators[i + 1:], max_tokens, count):
                    yield (piece, joiner) if first else (piece, inner)
                    first = False
        return
    yield from ((p, "") for p in _hard_split(text, max_tokens, count))


def _text_of(items: list[Piece], start: int, end: int) -> str:
    return "".join((j if k > start else "") + p for k, (p, j) in enumerate(items[start:end], start))


def _merge(pieces: Iterable[Piece], max_tokens: int, overlap: int, count: Counter) -> Iterator[str]:
    """Join consecutive pieces into segments within the limit; each segment after the first starts
    with the previous one's tail of at most `overlap` tokens (when that tail and the next piece
    fit together)."""
    source = iter(pieces)
    window: list[Piece] = []  # pieces from the current segment's start on
    exhausted = False

    def fill(size: int) -> int:
        nonlocal exhausted
        while len(window) < size and not exhausted:
            piece = next(source, None)
            if piece is None:
                exhausted = True
            else:
                window.append(piece)
        return len(window)

    def fits(end: int) -> bool:
        return count(_text_of(window, 0, end)) <= max_tokens

    first = 1  # the window's first `first` pieces are known to belong to the segment
    while fill(first) >= first and window:
        # Gallop, then bisect, for the largest end with window[:end] within the limit.
        low, step = first, 1
        while fill(low + step) >= low + step and fits(low + step):
            low, step = low + step, 2 * step
        high = min(low + step, len(window) + 1) - 1
        while low < high:
            mid = (low + high + 1) // 2
            if fits(mid):
                low = mid
            else:
                high = mid - 1
        end = low
        segment = _text_of(window, 0, end).strip()
        if segment:
            yield segment
        if fill(end + 1) <= end:
            return
        # The next segment's start: the first position whose tail fits the overlap and, with the
        # next piece, the limit (the tail may be empty).
        low, high = 1, end
        while low < high:
            mid = (low + high) // 2
            tail, with_next = _text_of(window, mid, end), _text_of(window, mid, end + 1)
            if count(tail) <= overlap and count(with_next) <= max_tokens:
                high = mid
            else:
                low = mid + 1
        del window[:low]
        first = end - low + 1


def split(text: str, *, separator: str, max_tokens: int, overlap: int, count: Counter,
          fixed: bool = True, limit: int | None = None) -> list[str]:
    """Segments of `text`; more than `limit` raises TooManySegments as soon as it is reached.

    fixed (custom rules): every `separator` ends a segment, and the separator itself is dropped;
    a part longer than `max_tokens` is split further at natural boundaries.
    not fixed (automatic rules): `separator` is only the preferred boundary; small pieces are
    merged up to `max_tokens`, so short lines do not each become a segment.
    """
    chunks: list[str] = []
    for chunk in segments(text, separator=separator, max_tokens=max_tokens, overlap=overlap, count=count,
                          fixed=fixed):
        if limit is not None and len(chunks) >= limit:
            raise TooManySegments(limit)
        chunks.append(chunk)
    return chunks


def segments(text: str, *, separator: str, max_tokens: int, overlap: int, count: Counter,
             fixed: bool = True) -> Iterator[str]:
    """The segments of `split`, lazily."""
    if not text.strip():
        return
    fallbacks = [s for s in _FALLBACKS if s != separator]
    if not fixed:
        pieces = _pieces(text, [separator, *fallbacks], max_tokens, count)
        yield from _merge(pieces, max_tokens, overlap, count)
        return
    for part in _split_on(text, separator):
        if part.strip():
            yield from _merge(_pieces(part, fallbacks, max_tokens, count), max_tokens, overlap, count)
