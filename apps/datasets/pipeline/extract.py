"""Files to plain text: txt, md/markdown, pdf, html/htm, docx, xlsx, csv.

The type is checked from the content, not only the name: a PDF must start like one, docx and xlsx
must be Office zip packages with the right parts, and text formats must decode as text with no NUL
bytes. A file whose content contradicts its extension is refused (`unsupported_file_type`); a file
that passes the check but cannot be parsed raises ExtractionError with a readable reason.
"""

import csv
import io
import zipfile
from html.parser import HTMLParser
from typing import Any

from django.conf import settings

from apps.datasets.pipeline.errors import (
    SUPPORTED_EXTENSIONS,
    ExtractionError,
    file_too_large,
    no_file_uploaded,
    too_many_files,
    unsupported_file_type,
)

TEXT_KINDS = {"txt": "text", "md": "text", "markdown": "text", "csv": "csv", "html": "html", "htm": "html"}


def extension_of(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def check_batch(files: list) -> None:
    """Refuse an empty upload or one over UPLOAD_FILE_BATCH_LIMIT files."""
    if not files:
        raise no_file_uploaded()
    limit = settings.UPLOAD_FILE_BATCH_LIMIT
    if len(files) > limit:
        raise too_many_files(limit)


def check_size(size: int) -> None:
    if size > settings.UPLOAD_FILE_SIZE_LIMIT * 1024 * 1024:
        raise file_too_large(size)


def _decode(data: bytes) -> str | None:
    """Text from bytes (UTF-8, or UTF-16 with a BOM), or None when it is not text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data[:65536]:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1252", errors="replace")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\r\n\t\f")
    return None if controls > 8 else text


# An Office file is a zip archive: refuse one that would expand beyond this many times the upload
# limit (a "zip bomb" would otherwise exhaust the worker's memory while parsing).
MAX_EXPANSION = 20


def _zip_parts(data: bytes) -> set[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        return set()
    expanded = sum(info.file_size for info in infos)
    if expanded > MAX_EXPANSION * settings.UPLOAD_FILE_SIZE_LIMIT * 1024 * 1024:
        raise file_too_large(expanded)
    return {info.filename for info in infos}


def sniff(name: str, data: bytes) -> str:
    """The extension to extract `data` as, after checking that the content matches it."""
    ext = extension_of(name)
    if ext not in SUPPORTED_EXTENSIONS:
        raise unsupported_file_type(f"Supported: {', '.join(SUPPORTED_EXTENSIONS)}.")
    if ext == "pdf":
        if b"%PDF-" not in data[:1024]:
            raise unsupported_file_type("The file is not a PDF.")
        return ext
    if ext in ("docx", "xlsx"):
        parts = _zip_parts(data)
        needed = "word/document.xml" if ext == "docx" else "xl/workbook.xml"
        if "[Content_Types].xml" not in parts or needed not in parts:
            raise unsupported_file_type(f"The file is not a {ext.upper()} document.")
        return ext
    if data.startswith(_BINARY):
        raise unsupported_file_type(f"The content is binary, not {ext}.")
    if _decode(data) is None:
        raise unsupported_file_type(f"The content is not {ext} text.")
    return ext


_EXECUTABLES = (b"\x7fELF", b"MZ", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"#!")
_BINARY = (b"%PDF-", b"PK\x03\x04", b"\x7fELF", b"MZ", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")


def _media_ok(ext: str, data: bytes) -> bool | None:
    """Whether ``data`` starts like an ``ext`` image, audio or video file (None: not such a format)."""
    checks = {
        "png": lambda: data.startswith(b"\x89PNG\r\n\x1a\n"),
        "jpg": lambda: data.startswith(b"\xff\xd8\xff"),
        "jpeg": lambda: data.startswith(b"\xff\xd8\xff"),
        "gif": lambda: data.startswith((b"GIF87a", b"GIF89a")),
        "webp": lambda: data[:4] == b"RIFF" and data[8:12] == b"WEBP",
        "svg": lambda: not data.startswith(_BINARY) and _decode(data[:65536]) is not None,
        "wav": lambda: data[:4] == b"RIFF" and data[8:12] == b"WAVE",
        "mp3": lambda: data.startswith((b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xe3")),
        "mpga": lambda: data.startswith((b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xe3")),
        "m4a": lambda: data[4:8] in _ISO_BOXES,
        "mp4": lambda: data[4:8] in _ISO_BOXES,
        "mov": lambda: data[4:8] in _ISO_BOXES,
        "webm": lambda: data.startswith(b"\x1a\x45\xdf\xa3"),
        "amr": lambda: data.startswith(b"#!AMR"),
        "mpeg": lambda: data.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")),
        "mpg": lambda: data.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")),
    }
    check = checks.get(ext)
    return None if check is None else check()


# Declared types whose content can be checked, as the extension they stand for.
_DECLARED_TYPES = {
    "application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "audio/wav": "wav", "audio/mpeg": "mp3", "video/mp4": "mp4", "video/webm": "webm", "audio/webm": "webm",
}
# How much of a file check_content needs: documents are checked whole (the zip directory of docx
# and xlsx is at the end), media and other files by their first bytes.
HEAD_BYTES = 65536


def needs_whole_file(name: str, declared_type: str = "") -> bool:
    return any(ext in SUPPORTED_EXTENSIONS for ext in _claimed(name, declared_type))


def _claimed(name: str, declared_type: str) -> list[str]:
    claimed = [extension_of(name)]
    declared = _DECLARED_TYPES.get(declared_type.split(";")[0].strip().lower())
    if declared and declared not in claimed:
        claimed.append(declared)
    return claimed


def check_content(name: str, data: bytes, declared_type: str = "") -> None:
    """Refuse a file (any upload, not only a knowledge document) whose content contradicts its
    extension or its declared type: documents get `sniff`'s check, images, audio and video must
    start with their format's signature, and no other name may hide a program.

    ``data`` is the whole file when needs_whole_file() says so, else at least its first HEAD_BYTES.
    """
    for ext in _claimed(name, declared_type):
        if ext in SUPPORTED_EXTENSIONS:
            sniff(f"file.{ext}", data)
            continue
        matches = _media_ok(ext, data)
        if matches is False:
            raise unsupported_file_type(f"The content is not {ext.upper()}.")
        if matches is None and data.startswith(_EXECUTABLES):
            raise unsupported_file_type(f"The content is a program, not a .{ext} file.")


class _Budget:
    """The text of one file as it is extracted, refused as soon as it passes
    DATASET_MAX_TEXT_CHARACTERS: a small Office or PDF file can expand to far more text than its
    size suggests, and indexing it would hold a worker for minutes (issue 20)."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = settings.DATASET_MAX_TEXT_CHARACTERS if limit is None else limit
        self.parts: list[str] = []
        self.size = 0

    def charge(self, size: int) -> None:
        self.size += size
        if self.size > self.limit:
            raise text_too_long(self.limit)

    def add(self, text: str) -> None:
        self.charge(len(text) + (1 if self.parts else 0))  # with the joiner
        self.parts.append(text)

    def text(self, joiner: str) -> str:
        return joiner.join(self.parts)


def text_too_long(limit: int) -> ExtractionError:
    return ExtractionError(f"The document has more than {limit:,} characters of text, the most one document "
                           "may have (DATASET_MAX_TEXT_CHARACTERS). Split it into smaller documents.")


class _HtmlText(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
              "header", "footer", "table", "ul", "ol", "pre", "blockquote", "title"}
    SKIP = {"script", "style", "noscript", "template", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP and tag != "head":
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and tag != "head":
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _html(text: str) -> str:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def _pdf(data: bytes, budget: _Budget) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractionError("The PDF is encrypted.")
        for page in reader.pages:
            budget.add((page.extract_text() or "").strip())
        return budget.text("\n\n")
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionError(f"The PDF could not be read: {exc}") from exc


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx(data: bytes, budget: _Budget) -> str:
    """Body paragraphs and table rows (cells joined with " | "), in document order, read from
    word/document.xml as a stream: each paragraph or row is dropped from memory once its text is
    taken, and reading stops as soon as the text passes the limit. (python-docx built the whole
    tree: a 166 KB file expanding to 65 MB of text took 3.3 GB.)"""
    from lxml import etree

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("word/document.xml") as xml:
            for _event, element in etree.iterparse(xml, events=("end",), tag=(f"{_W}p", f"{_W}tr"),
                                                  resolve_entities=False, no_network=True, huge_tree=True):
                parent = element.getparent()
                if element.tag == f"{_W}p" and parent is not None and parent.tag == f"{_W}body":
                    budget.add(_paragraph_text(element))
                elif element.tag == f"{_W}tr" and parent is not None and _in_body(parent):
                    cells = ["\n".join(_paragraph_text(p) for p in cell.iter(f"{_W}p")).strip()
                             for cell in element.iterchildren(f"{_W}tc")]
                    budget.add(" | ".join(cells))
                else:
                    continue
                element.clear()
                while element.getprevious() is not None:  # the finished siblings before it
                    del parent[0]
    except (KeyError, zipfile.BadZipFile, etree.XMLSyntaxError, ValueError) as exc:
        raise ExtractionError(f"The DOCX document could not be read: {exc}") from exc
    return budget.text("\n")


def _in_body(table: Any) -> bool:
    parent = table.getparent()
    return parent is not None and parent.tag == f"{_W}body"


def _paragraph_text(paragraph: Any) -> str:
    """A paragraph's runs (hyperlinks included) as python-docx reads them: text, tabs, breaks."""
    parts = []
    for node in paragraph.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr"):
        if node.tag == f"{_W}t":
            parts.append(node.text or "")
        elif node.tag == f"{_W}tab":
            parts.append("\t")
        else:
            parts.append("\n")
    return "".join(parts)


def _rows_as_text(rows: list[list[str]]) -> str:
    """Tables become one line per row, each value labelled by its header (first row): the layout
    that keeps a row's meaning inside one segment."""
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return "; ".join(header)
    lines = []
    for row in body:
        pairs = [f"{(header[i] if i < len(header) and header[i].strip() else f'column {i + 1}').strip()}: "
                 f"{cell.strip()}" for i, cell in enumerate(row) if cell.strip()]
        lines.append("; ".join(pairs))
    return "\n".join(lines)


def _xlsx(data: bytes, budget: _Budget) -> str:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ExtractionError(f"The XLSX workbook could not be read: {exc}") from exc
    sheets = []
    for sheet in book.worksheets:
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append(["" if v is None else str(v) for v in row])
            budget.charge(sum(map(len, rows[-1])))  # stops a sheet that expands too far while it is read
        text = _rows_as_text(rows)
        if text:
            sheets.append(text)
    book.close()
    return "\n\n".join(sheets)


def _csv(text: str) -> str:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise ExtractionError(f"The CSV file could not be read: {exc}") from exc
    return _rows_as_text(rows)


def extract(name: str, data: bytes) -> str:
    """The text of a file (checked with `sniff` first), at most DATASET_MAX_TEXT_CHARACTERS long
    (ExtractionError beyond)."""
    ext = sniff(name, data)
    budget = _Budget()
    if ext == "pdf":
        return _pdf(data, budget)
    if ext == "docx":
        return _docx(data, budget)
    if ext == "xlsx":
        text = _xlsx(data, budget)
    else:
        text = _decode(data) or ""
        kind = TEXT_KINDS[ext]
        if kind == "html":
            text = _html(text)
        elif kind == "csv":
            text = _csv(text)
    if len(text) > budget.limit:
        raise text_too_long(budget.limit)
    return text
