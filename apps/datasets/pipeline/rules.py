"""Process rules (service-api.md §5.2 ProcessRule): validation and the automatic defaults."""

import copy
from typing import Any

from apps.core.errors import invalid_param

PRE_PROCESSING = ("remove_extra_spaces", "remove_urls_emails", "remove_stopwords")
MAX_TOKENS_LIMIT = 4000
MIN_TOKENS = 50

AUTOMATIC: dict[str, Any] = {
    "mode": "automatic",
    "rules": {
        "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True},
                                 {"id": "remove_urls_emails", "enabled": False}],
        "segmentation": {"separator": "\n", "max_tokens": 500, "chunk_overlap": 50},
    },
}


def normalize(rule: dict[str, Any] | None) -> dict[str, Any]:
    """A complete, valid rule; raises invalid_param (400) with the reason otherwise."""
    if not rule:
        return copy.deepcopy(AUTOMATIC)
    if not isinstance(rule, dict):
        raise invalid_param("Process rule must be an object.")
    mode = rule.get("mode")
    if mode not in ("automatic", "custom"):
        raise invalid_param("Process rule mode is invalid")
    if mode == "automatic":
        return copy.deepcopy(AUTOMATIC)
    rules = rule.get("rules")
    if not isinstance(rules, dict):
        raise invalid_param("Process rule rules is required")
    pre = rules.get("pre_processing_rules", [])
    if not isinstance(pre, list):
        raise invalid_param("Process rule pre_processing_rules is invalid")
    cleaned_pre = {}
    for item in pre:
        if not isinstance(item, dict) or item.get("id") not in PRE_PROCESSING:
            raise invalid_param("Process rule pre_processing_rules id is invalid")
        cleaned_pre[item["id"]] = bool(item.get("enabled"))
    seg = rules.get("segmentation")
    if not isinstance(seg, dict):
        raise invalid_param("Process rule segmentation is required")
    separator = seg.get("separator")
    if not isinstance(separator, str) or not separator:
        raise invalid_param("Process rule segmentation separator is required")
    max_tokens = seg.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise invalid_param("Process rule segmentation max_tokens is required")
    if not MIN_TOKENS <= max_tokens <= MAX_TOKENS_LIMIT:
        raise invalid_param(f"Process rule segmentation max_tokens must be between {MIN_TOKENS} and "
                            f"{MAX_TOKENS_LIMIT}")
    overlap = seg.get("chunk_overlap", 0) or 0
    if not isinstance(overlap, int) or overlap < 0 or overlap >= max_tokens:
        raise invalid_param("Process rule segmentation chunk_overlap must be at least 0 and below max_tokens")
    return {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [{"id": k, "enabled": v} for k, v in cleaned_pre.items()],
            "segmentation": {"separator": separator, "max_tokens": max_tokens, "chunk_overlap": overlap},
        },
    }


def enabled_cleaning(rule: dict[str, Any]) -> set[str]:
    return {r["id"] for r in rule["rules"]["pre_processing_rules"] if r.get("enabled")}


def segmentation(rule: dict[str, Any]) -> tuple[str, int, int]:
    seg = rule["rules"]["segmentation"]
    # Forms and JSON often carry the separator escaped ("\\n"); the user means a newline.
    separator = seg["separator"].replace("\\n", "\n").replace("\\t", "\t")
    return separator, int(seg["max_tokens"]), int(seg.get("chunk_overlap") or 0)
