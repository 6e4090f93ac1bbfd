"""Remove obvious personal data from what people typed before it is stored.

Questions are kept so that the support team can see what the bot could not answer; the
people who asked are not needed for that. Email addresses, phone numbers, long digit
runs (card, account and customer numbers), IBANs and IP addresses are replaced by a
marker in brackets. Short numbers stay: port numbers and "pop3" are what questions are about.
"""

from __future__ import annotations

import re

# Order matters: an email address holds dots and digits that later patterns would cut apart,
# and an IP address is digits that the digit-run pattern would half-match.
PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    # It starts only where a run of address characters starts: tried from every character of
    # a long run without an "@", it would read the rest of the run each time (quadratic).
    ("[email]", re.compile(r"(?<![\w.+%-])[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)),
    # Two letters, two check digits, then 11 to 30 letters or digits, maybe in groups of four.
    ("[iban]", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")),
    ("[ip]", re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.]*\d)")),
    # IPv6: at least three groups around a "::", or eight full groups; a clock time has fewer.
    (
        "[ip]",
        re.compile(
            r"(?<![\w:])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}"
            r"|(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4}"
            r"|::(?:[0-9a-f]{1,4}:){1,6}[0-9a-f]{1,4})(?![\w:])",
            re.I,
        ),
    ),
    # A phone number: an optional +country code, then 7 or more digits with spaces, dots,
    # dashes or one pair of brackets between them.
    ("[phone]", re.compile(r"(?<![\w+])(?:\+|00)\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .-]?\d){5,13}(?!\w)")),
    ("[phone]", re.compile(r"(?<!\w)\(\d{2,5}\)[ .-]?\d(?:[ .-]?\d){4,11}(?!\w)")),
    # Any other run of 7 or more digits (spaces or dashes between groups allowed): card,
    # account, order and phone numbers alike. Ports and years are shorter; ISO dates stay.
    ("[number]", re.compile(r"(?<![\w])(?!\d{4}-\d\d?-\d\d?(?![\d-]))\d(?:[ -]?\d){6,}(?![\w])")),
)


# Every pattern needs a digit, an "@" or a ":"; most questions have none, and are done at once.
CANDIDATE = re.compile(r"[\d@:]")


def redact(text: str) -> str:
    """Return ``text`` with email addresses, phone, card and account numbers and IP addresses replaced."""
    if not CANDIDATE.search(text):
        return text
    for marker, pattern in PATTERNS:
        text = pattern.sub(marker, text)
    return text
