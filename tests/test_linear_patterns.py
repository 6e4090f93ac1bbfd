"""Every regular expression that reads what people type takes time linear in the text's length.

Two quantifiers that can take the same characters, side by side ("\\s*(?:is)?\\s*"), split a long
run between them in every possible way before giving up: quadratic in the run's length. A
description of 4,000 characters then took 43 seconds on one worker. Here every compiled pattern
of the modules that read people's text is fed the words it names itself (alone and in pairs,
as in "smtp auth"), then a long run of one filler (spaces, newlines, digits, dots, colons...).
Each input is first timed on a short text, so that a quadratic pattern fails in seconds instead
of hanging the suite; the slowest inputs of each pattern are then timed again at the longest
text any reader accepts.
"""

from __future__ import annotations

import importlib
import re
import time

import pytest

import kb
from kb.settings import load_settings
from mailclient.checkinput import read_description
from web.config import SETTINGS_BY_NAME

READER_MODULES = (
    "mailclient.checkinput",
    "mailclient.labels",
    "mailclient.checker",
    "mailclient.autoconfig",
    "replies.message",
    "replies.reply",
    "analytics.redact",
    "kb.words",
    "kb.articles",
)
# The console reads a pasted mail of this many characters with the same patterns.
LONGEST = max(SETTINGS_BY_NAME[key].default for key in ("CHECK_MAX_CHARS", "ASK_MAX_CHARS", "REPLY_MESSAGE_MAX_CHARS"))
SHORT = 1000
FILLERS = (" ", "\n", "\t", ":", ".", "=", "-", "(", "/", "1", "a", "1.", "a.", "a-", " 1", "1 ", ": ")
SHORT_LIMIT_SECONDS = 0.05  # a linear pattern needs well under a millisecond here
LONG_LIMIT_SECONDS = 0.25
RETIMED = 3  # the slowest inputs of each pattern, timed again at full length


def reader_patterns() -> list[tuple[str, re.Pattern]]:
    """Return every compiled pattern the reader modules hold, in tuples and lists too."""
    found: dict[int, tuple[str, re.Pattern]] = {}

    def visit(value, name: str) -> None:
        if isinstance(value, re.Pattern):
            found.setdefault(id(value), (name, value))
        elif isinstance(value, tuple | list):
            for index, item in enumerate(value):
                visit(item, f"{name}[{index}]")

    for module_name in READER_MODULES:
        for name, value in vars(importlib.import_module(module_name)).items():
            visit(value, f"{module_name}.{name}")
    return list(found.values())


def lead_ins(pattern: re.Pattern) -> list[str]:
    """Return the words a pattern names (escapes such as \\s removed), alone and in pairs, and none."""
    words = [w.lower() for w in re.findall(r"[A-Za-z]{2,}", re.sub(r"\\[A-Za-z]", " ", pattern.pattern))]
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    singles = sorted(set(words))
    return ["", "993 ", *singles, *(f"{w} 993 " for w in singles), *sorted(set(pairs))]


def adversarial(lead: str, filler: str, length: int) -> str:
    return (lead + filler * length)[: length - 1] + "x"


def seconds(pattern: re.Pattern, text: str, tries: int = 1) -> float:
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        for _match in pattern.finditer(text):
            pass
        best = min(best, time.perf_counter() - start)
    return best


PATTERNS = reader_patterns()


def test_the_readers_hold_patterns():
    names = {name for name, _ in PATTERNS}
    assert {"mailclient.checkinput.AUTH_KEYED_RE", "mailclient.checkinput.PASSWORD_RE"} <= names
    assert len(PATTERNS) > 30


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[name for name, _ in PATTERNS])
def test_pattern_is_linear_on_adversarial_input(name, pattern):
    timed = []
    for lead in lead_ins(pattern):
        for filler in FILLERS:
            text = adversarial(lead, filler, SHORT)
            took = seconds(pattern, text)
            if took > SHORT_LIMIT_SECONDS:
                took = seconds(pattern, text, tries=2)  # a busy machine, or the pattern?
            assert took <= SHORT_LIMIT_SECONDS, (
                f"{name} took {took * 1000:.0f} ms on {SHORT} characters: {text[:40]!r}..."
            )
            timed.append((took, lead, filler))
    for _, lead, filler in sorted(timed, reverse=True)[:RETIMED]:
        text = adversarial(lead, filler, LONGEST)
        took = seconds(pattern, text, tries=3)
        assert took <= LONG_LIMIT_SECONDS, f"{name} took {took * 1000:.0f} ms on {LONGEST} characters: {text[:40]!r}..."


SETTINGS = load_settings(kb.DEFAULT_SETTINGS_PATH)


@pytest.mark.parametrize(
    "text",
    [
        "smtp auth" + " " * 3985 + "x",
        "port 993 auth" + " " * 1985 + "x",
        "password" + " " * 3990 + "x",
        "port" + " " * 3995 + "x",
        "mac os" + " " * 3990 + "x",
        "1, " * 1333,
        "1, " * 6666,  # a pasted mail in the console
        "imap, smtp, " * 1666,
    ],
    ids=["auth", "port-993-auth", "password", "port", "mac-os", "numbers", "numbers-console", "protocols"],
)
def test_reading_a_description_is_fast_at_the_longest_text(text):
    start = time.perf_counter()
    read_description(text, SETTINGS)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/check-settings", {"description": "smtp auth" + " " * 3985 + "x"}),
        ("/api/ask", {"question": "port 993 auth" + " " * 1985 + "x"}),
    ],
    ids=["check-settings", "ask"],
)
def test_the_attack_requests_answer_quickly(client, path, body):
    start = time.perf_counter()
    response = client.post(path, json=body)
    took = time.perf_counter() - start
    assert response.status_code in (200, 400)
    assert took < 1.0, f"{path} took {took:.2f} s"
