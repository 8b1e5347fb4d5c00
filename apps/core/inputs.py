"""The one validation layer of the /v1 APIs (Service API, its lean ASGI app, Knowledge API): what
any request must satisfy before a view reads its arguments, whatever the endpoint.

- body size: DATA_UPLOAD_MAX_MEMORY_SIZE for JSON and form bodies; a multipart body may carry a
  file up to the largest upload limit on top (each endpoint then applies its own file limit and
  answers file_too_large) → 413 request_entity_too_large;
- strings anywhere (query, path, JSON keys and values, form fields): no NUL byte (Postgres text
  and jsonb cannot hold one) and no lone surrogate (not encodable as UTF-8) → 400 invalid_param
  (404 in a path: no resource is named so);
- JSON nesting at most MAX_JSON_DEPTH levels → 400 invalid_param;
- a string argument stored in a column: at most that column's max_length (`text_arg`), read from
  the model, so the limit has one definition.

The checks run in ServiceAPIMiddleware (size, query, path), in `parse_json` (every JSON body: the
Service API's views, the lean ASGI app and the Knowledge API's DRF parser) and in `check_form`.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db.models import Field, Model

from apps.core.errors import ServiceError, invalid_param

MAX_JSON_DEPTH = 64

# A NUL or a UTF-16 surrogate code point: the latter only ever reaches a Python str from a
# "\ud800"-style JSON escape or a percent-decoded path, never from valid UTF-8.
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
INVALID_JSON = "Invalid JSON payload received or JSON payload is empty."


def request_too_large(limit: int) -> ServiceError:
    return ServiceError("request_entity_too_large",
                        f"The request body is larger than the limit of {limit} bytes.", 413)


def body_limit(content_type: str) -> int | None:
    """The largest body this content type may have (None: no limit configured)."""
    data = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if data is None:
        return None
    if content_type.lower().startswith("multipart/"):
        files_mb = max(settings.UPLOAD_FILE_SIZE_LIMIT, settings.UPLOAD_IMAGE_FILE_SIZE_LIMIT,
                       settings.UPLOAD_AUDIO_FILE_SIZE_LIMIT, settings.UPLOAD_VIDEO_FILE_SIZE_LIMIT)
        return files_mb * 1024 * 1024 + data
    return data


def bad_character(text: str) -> bool:
    return _BAD_CHARACTER.search(text) is not None


def _bad_text(name: str) -> ServiceError:
    return invalid_param(f"{name} must not contain NUL bytes or unpaired surrogates.", params=name)


def check_text(value: str, name: str) -> str:
    if bad_character(value):
        raise _bad_text(name)
    return value


def check_value(value: Any, name: str = "body") -> Any:
    """``value`` (decoded JSON, or form data) with every string and key checked and its nesting
    bounded; walked without recursion, so no depth can exhaust the stack."""
    stack: list[tuple[Any, int, str]] = [(value, 1, name)]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, str):
            check_text(item, where)
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise invalid_param(f"The JSON payload is nested deeper than {MAX_JSON_DEPTH} levels.")
            if isinstance(item, dict):
                for key, child in item.items():
                    key_name = key if depth == 1 and isinstance(key, str) else where
                    check_text(key, key_name)
                    stack.append((child, depth + 1, key_name))
            else:
                stack.extend((child, depth + 1, where) for child in item)
    return value


def parse_json(raw: bytes | str) -> Any:
    """A JSON body, decoded and checked, or invalid_param."""
    import json

    try:
        value = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
        raise invalid_param(INVALID_JSON) from None
    except RecursionError:  # nested far beyond MAX_JSON_DEPTH
        raise invalid_param(f"The JSON payload is nested deeper than {MAX_JSON_DEPTH} levels.") from None
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    # Cheap byte counts first: without a \u escape no string can hold a NUL or a surrogate (raw
    # control characters are invalid JSON), and with few brackets the nesting is shallow.
    if b"\\u" in data or data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH:
        check_value(value)
    return value


def parse_json_object(raw: bytes | str) -> dict[str, Any]:
    """A request body that must be one JSON object, or the API's invalid_param error."""
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise invalid_param(INVALID_JSON)
    return body


def check_form(data: Mapping[str, Any]) -> None:
    """Form or multipart fields (a QueryDict: every value of every field)."""
    lists: Iterable[tuple[str, list[Any]]] = data.lists() if hasattr(data, "lists") else (
        (k, [v]) for k, v in data.items())
    for name, values in lists:
        check_text(name, name)
        for value in values:
            if isinstance(value, str):
                check_text(value, name)


def max_length(model: type[Model], field: str) -> int:
    found: Field = model._meta.get_field(field)  # type: ignore[assignment]
    assert found.max_length is not None, f"{model.__name__}.{field} has no max_length"
    return found.max_length


def text_arg(source: Mapping[str, Any], name: str, *, column: tuple[type[Model], str] | None = None,
             limit: int | None = None) -> str | None:
    """An optional string argument: a string (else invalid_param), checked, and no longer than
    the column it is stored in (``column`` = (Model, field)) or ``limit``."""
    value = source.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_param(f"{name} must be a string", params=name)
    check_text(value, name)
    most = max_length(*column) if column is not None else limit
    if most is not None and len(value) > most:
        raise invalid_param(f"{name} must be at most {most} characters", params=name)
    return value
