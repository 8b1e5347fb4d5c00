"""Extraction of every format (from files generated here), content-based type checks, limits and
their error codes, cleaning rules, segmentation options, CJK tokenisation and Q&A parsing."""

import pytest

from apps.core.errors import ServiceError
from apps.datasets.pipeline import clean, cjk, extract, qa, rules, split
from apps.datasets.pipeline.errors import ExtractionError
from apps.providers.runtime.tokens import approximate_tokens
from tests.datasets import files


def test_txt_and_markdown_keep_their_text() -> None:
    assert extract.extract("notes.txt", "Plain text, café.".encode()) == "Plain text, café."
    assert extract.extract("README.md", b"# Title\n\nBody") == "# Title\n\nBody"
    assert extract.extract("a.markdown", "\ufeffBOM text".encode()) == "BOM text"
    assert extract.extract("u16.txt", "wide text".encode("utf-16")) == "wide text"


def test_html_drops_scripts_and_styles_and_breaks_blocks() -> None:
    html = (b"<html><head><title>T</title><style>p{}</style></head><body><h1>Heading</h1>"
            b"<p>First &amp; para</p><script>alert(1)</script><div>Second</div></body></html>")
    text = extract.extract("page.htm", html)
    assert "alert" not in text and "p{}" not in text
    assert [line for line in text.split("\n") if line.strip()] == ["T", "Heading", "First & para", "Second"]


def test_pdf_text_is_extracted() -> None:
    assert "Tessera indexes PDF files" in extract.extract("doc.pdf", files.pdf("Tessera indexes PDF files"))


def test_docx_paragraphs_and_tables() -> None:
    data = files.docx(["Intro paragraph.", "Second paragraph."], table=[["Name", "Role"], ["Ada", "Admin"]])
    text = extract.extract("doc.docx", data)
    assert text.splitlines() == ["Intro paragraph.", "Second paragraph.", "Name | Role", "Ada | Admin"]


def test_xlsx_rows_are_labelled_by_the_header() -> None:
    data = files.xlsx([["SKU", "Price"], ["TX-1", 10], ["TX-2", None]])
    assert extract.extract("prices.xlsx", data) == "SKU: TX-1; Price: 10\nSKU: TX-2"


def test_csv_rows_are_labelled_by_the_header() -> None:
    assert extract.extract("p.csv", b"sku,name\nA1,\"Widget, large\"\n") == "sku: A1; name: Widget, large"


@pytest.mark.parametrize("name,data,reason", [
    ("virus.exe", b"MZ\x90\x00", "Supported"),
    ("noext", b"hello", "Supported"),
    ("fake.pdf", b"just text pretending", "not a PDF"),
    ("fake.docx", b"plain text", "not a DOCX"),
    ("sheet.xlsx", files.docx(["a word file renamed"]), "not a XLSX"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
    ("zip.md", b"PK\x03\x04rest", "binary"),
    ("nul.csv", b"a,b\x00\x00c", "not csv text"),
])
def test_content_must_match_the_extension(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(ServiceError) as caught:
        extract.sniff(name, data)
    assert caught.value.code == "unsupported_file_type" and caught.value.status == 415
    assert reason in caught.value.message


def test_a_broken_pdf_raises_a_readable_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="PDF"):
        extract.extract("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")


def test_size_and_batch_limits(settings) -> None:  # type: ignore[no-untyped-def]
    settings.UPLOAD_FILE_SIZE_LIMIT = 15
    extract.check_size(15 * 1024 * 1024)
    with pytest.raises(ServiceError) as caught:
        extract.check_size(16 * 1024 * 1024)
    assert (caught.value.code, caught.value.status) == ("file_too_large", 413)
    settings.UPLOAD_FILE_BATCH_LIMIT = 2
    extract.check_batch([1, 2])
    with pytest.raises(ServiceError) as caught:
        extract.check_batch([1, 2, 3])
    assert (caught.value.code, caught.value.status) == ("too_many_files", 400)
    with pytest.raises(ServiceError) as caught:
        extract.check_batch([])
    assert caught.value.code == "no_file_uploaded"


def test_cleaning_rules() -> None:
    text = "Contact   ops@example.com or \tvisit https://example.com/x?y=1 [docs](https://d.io/a)\n\n\n\nEnd\r\n"
    assert clean.clean(text, set()) == text.replace("\r\n", "\n").strip()
    assert clean.clean(text, {"remove_extra_spaces"}) == \
        "Contact ops@example.com or visit https://example.com/x?y=1 [docs](https://d.io/a)\n\nEnd"
    stripped = clean.clean(text, {"remove_extra_spaces", "remove_urls_emails"})
    assert "@" not in stripped and "http" not in stripped and "docs" in stripped


def test_custom_separator_and_max_tokens() -> None:
    sections = ["Section one " + "alpha " * 30, "Section two " + "beta " * 700, "Section three"]
    chunks = split.split("###".join(sections), separator="###", max_tokens=500, overlap=0,
                         count=approximate_tokens)
    assert all(approximate_tokens(c) <= 500 for c in chunks)
    assert chunks[0] == sections[0].strip() and chunks[-1] == "Section three"
    assert all("###" not in c for c in chunks)
    assert len([c for c in chunks if "beta" in c]) >= 2  # the long section was split further


def test_chunk_overlap_repeats_the_tail() -> None:
    text = " ".join(f"w{i}" for i in range(400))
    chunks = split.split(text, separator="\n", max_tokens=60, overlap=15, count=approximate_tokens)
    assert len(chunks) > 3
    for first, second in zip(chunks, chunks[1:]):
        words = first.split()
        start = words.index(second.split()[0])  # the next chunk starts inside this one ...
        shared = words[start:]
        assert second.split()[:len(shared)] == shared  # ... repeating its tail
        assert 0 < approximate_tokens(" ".join(shared)) <= 15
    no_overlap = split.split(text, separator="\n", max_tokens=60, overlap=0, count=approximate_tokens)
    assert sum(len(c.split()) for c in no_overlap) == 400


def test_process_rule_validation() -> None:
    assert rules.normalize(None) == rules.AUTOMATIC
    assert rules.normalize({"mode": "automatic", "rules": {"x": 1}}) == rules.AUTOMATIC
    good = rules.normalize({"mode": "custom", "rules": {
        "pre_processing_rules": [{"id": "remove_urls_emails", "enabled": True}],
        "segmentation": {"separator": "\\n", "max_tokens": 200, "chunk_overlap": 20}}})
    assert rules.segmentation(good) == ("\n", 200, 20)
    assert rules.enabled_cleaning(good) == {"remove_urls_emails"}
    for bad, message in [
        ({"mode": "nope"}, "mode is invalid"),
        ({"mode": "custom", "rules": {"segmentation": {"max_tokens": 100}}}, "separator is required"),
        ({"mode": "custom", "rules": {"segmentation": {"separator": "#", "max_tokens": 5000}}}, "between"),
        ({"mode": "custom", "rules": {"segmentation": {"separator": "#", "max_tokens": 100,
                                                       "chunk_overlap": 100}}}, "chunk_overlap"),
    ]:
        with pytest.raises(ServiceError, match=message) as caught:
            rules.normalize(bad)
        assert caught.value.code == "invalid_param"


def test_cjk_runs_become_bigrams() -> None:
    assert cjk.tokenize("知识库") == " 知识 识库 "
    assert cjk.tokenize("hello 世界!") == "hello  世界 !"
    assert cjk.tokenize("字") == " 字 "
    assert not cjk.has_cjk("plain") and cjk.has_cjk("カタカナ")


def test_qa_parsing() -> None:
    text = "Q1: What is Tessera?\nA1: A platform.\nIt is multi-tenant.\nQ2: Who runs it?\nA2: Teams.\nQ3: dangling"
    assert qa.parse(text) == [("What is Tessera?", "A platform.\nIt is multi-tenant."), ("Who runs it?", "Teams.")]
    assert "Japanese" in qa.messages("chunk", "Japanese")[0].text


def test_an_office_file_that_expands_too_far_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    import io
    import zipfile

    settings.UPLOAD_FILE_SIZE_LIMIT = 1
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document>" + " " * (21 * 1024 * 1024) + "</w:document>")
    data = out.getvalue()
    assert len(data) < 1024 * 1024  # small on the wire ...
    with pytest.raises(ServiceError) as caught:
        extract.sniff("bomb.docx", data)
    assert (caught.value.code, caught.value.status) == ("file_too_large", 413)  # ... huge once expanded
