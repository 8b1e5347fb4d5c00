"""Knowledge pipeline scaling (issue 20): extract (.docx), clean and split time at n and 4n
characters of text, as a ratio against the n run measured in the same process (linear: ~4x; the
old cleaning rules and merge were quadratic on some inputs), and how soon a .docx that expands
far past DATASET_MAX_TEXT_CHARACTERS is refused.

    .venv/bin/python bench/pipeline.py [--chars 1000000]
"""

import argparse
import io
import os
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from apps.datasets.pipeline import clean, extract, rules, split  # noqa: E402
from apps.datasets.pipeline.errors import ExtractionError  # noqa: E402
from apps.providers.runtime.tokens import approximate_tokens  # noqa: E402

_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
       'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')


def docx(paragraph: str, count: int) -> bytes:
    """A .docx of `count` copies of one paragraph, written straight as XML (it compresses ~400x)."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = f'<w:p><w:r><w:t xml:space="preserve">{paragraph}</w:t></w:r></w:p>' * count
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CT)
        archive.writestr("word/document.xml", f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>')
    return out.getvalue()


INPUTS = {
    "prose (docx)": lambda n: "The quick brown fox jumps over the lazy dog, again and again. " * 8,
    "one long line of words": lambda n: "word " * (n // 5),
    "a word without spaces": lambda n: "abc" * (n // 3),
    "runs of [ and @": lambda n: "[a@" * (n // 3),
}
ALL_RULES = {"remove_extra_spaces", "remove_urls_emails"}


def seconds(name: str, n: int) -> float:
    started = time.perf_counter()
    if name == "prose (docx)":
        paragraph = INPUTS[name](n)
        text = extract.extract("a.docx", docx(paragraph, max(n // (len(paragraph) + 1), 1)))
    else:
        text = INPUTS[name](n)
    cleaned = clean.clean(text, ALL_RULES)
    separator, max_tokens, overlap = rules.segmentation(rules.AUTOMATIC)
    split.split(cleaned, separator=separator, max_tokens=max_tokens, overlap=overlap, count=approximate_tokens,
                fixed=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=1_000_000)
    n = parser.parse_args().chars
    settings.DATASET_MAX_TEXT_CHARACTERS = 10 * n
    print(f"extract + clean + split, {n:,} and {4 * n:,} characters (ratio 4.0 = linear):")
    for name in INPUTS:
        seconds(name, n // 10)  # warm-up
        small, large = seconds(name, n), seconds(name, 4 * n)
        print(f"  {name:24s} {small:6.2f}s  {large:6.2f}s  ratio {large / small:4.1f}")
    paragraph = INPUTS["prose (docx)"](0)
    bomb = docx(paragraph, 130_000)  # ~65 MB of text
    settings.DATASET_MAX_TEXT_CHARACTERS = 20_000_000
    started = time.perf_counter()
    try:
        extract.extract("bomb.docx", bomb)
    except ExtractionError as exc:
        print(f"{len(bomb) / 1024:.0f} KB .docx of ~{130_000 * (len(paragraph) + 1) / 1e6:.0f} MB text refused in "
              f"{time.perf_counter() - started:.2f}s: {exc}")


if __name__ == "__main__":
    main()
