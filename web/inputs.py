"""Read and check what a request carries: query strings and JSON fields, bounded and cleaned."""

from __future__ import annotations

import unicodedata

from flask import request

from kb.search import MAX_QUERY_CHARS
from web.errors import InputError

# A pasted thread of REPLY_MESSAGE_MAX_CHARS, form- or JSON-encoded, can take several bytes a
# character: the console and /api/reply accept larger bodies than MAX_CONTENT_LENGTH.
REPLY_MAX_BODY_BYTES = 256 * 1024
# Python's white space plus the byte-order mark, which JSON Schema's \s also counts as blank.
BLANK = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\ufeff"  # U+3000 is the last space


def clean_text(value: str, keep: str = "") -> str:
    """Turn control characters (except those in ``keep``) into spaces and trim: what is left is what a person typed."""
    return "".join(" " if unicodedata.category(ch) == "Cc" and ch not in keep else ch for ch in value).strip(BLANK)


def query_text(name: str = "q", required: bool = True) -> str:
    """Read a search text from the query string, rejecting what cannot be a question."""
    value = request.args.get(name, "")
    if len(value) > MAX_QUERY_CHARS:
        raise InputError(f"'{name}' is too long: at most {MAX_QUERY_CHARS} characters")
    cleaned = clean_text(value)
    if required and not cleaned:
        raise InputError(f"'{name}' is required: type a few words to search for")
    return cleaned


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """Read a bounded integer from the query string."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"'{name}' must be a whole number") from None
    if not low <= value <= high:
        raise InputError(f"'{name}' must be between {low} and {high}")
    return value


def json_body() -> dict:
    """Return the request's JSON object, or explain why it is not one."""
    if not request.is_json:
        raise InputError("send a JSON object with Content-Type: application/json")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InputError("the body must be a JSON object")
    return payload


def text_field(payload: dict, name: str, max_chars: int, required: bool = True, multiline: bool = False) -> str | None:
    """Read a string field: present, a string, not blank, not too long; ``multiline`` keeps line breaks."""
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InputError(f"'{name}' is required and must be a string")
    if len(value) > max_chars:
        raise InputError(f"'{name}' is too long: at most {max_chars} characters")
    value = clean_text(value.replace("\r\n", "\n"), keep="\n\t" if multiline else "")
    if not value:
        raise InputError(f"'{name}' must not be empty")
    return value


def optional_text(payload: dict, name: str, max_chars: int, multiline: bool = False) -> str | None:
    """Read an optional text field; a blank one counts as absent (macros send "" for what they lack)."""
    value = payload.get(name)
    if isinstance(value, str) and not value.strip():
        return None
    return text_field(payload, name, max_chars, required=False, multiline=multiline)
