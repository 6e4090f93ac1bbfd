"""Read and check what a request carries: query strings and JSON fields, bounded and cleaned."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import request
from flask.json.provider import DefaultJSONProvider

from kb.search import MAX_QUERY_CHARS
from web.errors import InputError

# A pasted thread of REPLY_MESSAGE_MAX_CHARS, form- or JSON-encoded, can take several bytes a
# character: the console and /api/reply accept larger bodies than MAX_CONTENT_LENGTH.
REPLY_MAX_BODY_BYTES = 256 * 1024
# Python's white space plus the byte-order mark, which JSON Schema's \s also counts as blank.
BLANK = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\ufeff"  # U+3000 is the last space


# Lone surrogates (half a UTF-16 pair, as "\ud800" in JSON) are not text: no database or file can
# store them as UTF-8. Bidirectional overrides and isolates turn what follows them around on
# screen ("gpj.exe" shown as "exe.jpg"), so a question would be shown other than it was typed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
REPLACEMENT = "\ufffd"


def clean_char(ch: str, keep: str) -> str:
    category = unicodedata.category(ch)
    if category == "Cc" and ch not in keep:
        return " "
    if category == "Cs":
        return REPLACEMENT
    if ch in BIDI_CONTROLS:
        return ""
    return ch


def clean_text(value: str, keep: str = "") -> str:
    """Make text safe to store and show, and trim it: what is left is what a person typed.

    Control characters (except those in ``keep``) become spaces, lone surrogates the
    replacement character, and bidirectional overrides are dropped.
    """
    if value.isascii():  # most text, and quickly: only ASCII control characters to look at
        if value.isprintable():
            return value.strip(BLANK)
    return "".join(clean_char(ch, keep) for ch in value).strip(BLANK)


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


# Deeper JSON is no request of ours, and code that walks it (and Python's own parser) recurses.
MAX_JSON_DEPTH = 32


class BoundedJSON(DefaultJSONProvider):
    """Flask's JSON, refusing bodies nested deeper than MAX_JSON_DEPTH as malformed (a 400, not a RecursionError)."""

    def loads(self, s, **kwargs):
        text = s.decode("utf-8", "replace") if isinstance(s, bytes | bytearray) else s
        # Counting brackets over-counts those inside strings: harmless, it only decides whether to look closer.
        if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
            try:
                value = super().loads(s, **kwargs)
            except RecursionError:
                raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
            if depth(value) > MAX_JSON_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            return value
        return super().loads(s, **kwargs)


def depth(value) -> int:
    """Return how deeply lists and objects nest in a JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((inner, level + 1) for inner in (item.values() if isinstance(item, dict) else item))
    return deepest


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


def is_local_path(target: str) -> bool:
    """Say whether a URL is a path on this site: no scheme, no host, nothing a browser would read as one.

    Browsers drop tabs and line breaks from a URL and read "\\" as "/", so "/%09/evil.example"
    (a tab) would lead to //evil.example; a line break would also end the Location header. Other
    characters are percent-encoded in the Location header, where they are harmless.
    """
    if not target.startswith("/") or target[1:2] in ("/", "\\"):
        return False
    if "\\" in target or any(ch < " " or ch == "\x7f" for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
