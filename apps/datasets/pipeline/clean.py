"""Cleaning rules applied before splitting (pre_processing_rules)."""

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffe\uffff]")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_MANY_SPACES = re.compile(r"[\t\f\r\x20\u00a0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000]{2,}")
# Every pattern is linear in the text (issue 20: "[\w.+-]+@" tried from each letter of a long word
# rescanned the word each time, and "\[[^\]]*\]" from each "[" of a run of them): an address
# starts only where its run of address characters starts, and a link label holds no "[".
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
# Markdown links keep their text: [label](http://…) → label.
_MD_LINK = re.compile(r"\[([^\[\]]*)\]\((?:https?://|ftp://|www\.)[^)\s\[\]]*\)", re.IGNORECASE)


def clean(text: str, rules: set[str]) -> str:
    """Apply the enabled rules; control characters and Windows line ends always go."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if "remove_urls_emails" in rules:
        text = _MD_LINK.sub(r"\1", text)
        text = _EMAIL.sub("", text)
        text = _URL.sub("", text)
    if "remove_extra_spaces" in rules:
        text = _MANY_NEWLINES.sub("\n\n", text)
        text = _MANY_SPACES.sub(" ", text)
    return text.strip()
