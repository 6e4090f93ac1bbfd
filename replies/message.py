"""A customer's email as an agent pastes it: keep what the customer wrote this time.

Pasted mail carries more than the question: a greeting, a sign-off, a signature and often
the whole thread quoted below it. The classifier should read only the new words, so this
module removes the rest. Reply headers ("On ... wrote:", "-----Original Message-----",
"From: ... Sent: ..." blocks, in several languages) and signature blocks ("-- ", "Sent from
my iPhone", "Best regards") are found by ``mail-parser-reply``; what it leaves (lines quoted
with ">" between the customer's own, a salutation, a short "Thanks, Tom") is removed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailparser_reply.parser import EmailMessage

# Mail clients write their reply headers in the sender's language; these are the ones the
# parser knows and our customers are likely to use (English is always included).
QUOTE_LANGUAGES = ("en", "de", "fr", "es", "it", "nl")

QUOTED_LINE_RE = re.compile(r"^[ \t]*>")
SALUTATION_RE = re.compile(
    r"^(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening)|to whom it may concern)"
    r"\b[^.?!\n]{0,40}[,.!:]?$",
    re.IGNORECASE,
)
# "Hi, how do I ..." or "Hello team! Which port ...": a salutation in front of the question.
SALUTATION_PREFIX_RE = re.compile(
    r"^(?:hi|hello|hey|good (?:morning|afternoon|evening))(?: (?:there|team|all|guys|support))?[,!.:]\s+(?=\S)",
    re.IGNORECASE,
)
SIGN_OFF_RE = re.compile(
    r"^(?:thanks|thank you|many thanks|thanks again|thx|cheers|regards|best|br|kind regards|best wishes|"
    r"sincerely|yours(?: truly| sincerely)?|all the best)\b[^?\n]{0,30}$",
    re.IGNORECASE,
)
# A sign-off is followed by at most a name, a title and a company.
SIGN_OFF_TAIL_LINES = 3
SIGN_OFF_TAIL_CHARS = 60
# A person's name as people sign: one to three words, each starting with a capital letter
# ("Maria", "Jean-Luc Picard", "Anne O'Neil", "José"), at most 40 characters.
NAME_RE = re.compile(r"[^\W\d_][\w'’.-]*(?: [^\W\d_][\w'’.-]*){0,2}")
NOT_NAMES = frozenset({"sent", "from", "get", "outlook", "iphone", "android", "regards", "thanks", "best"})


@dataclass(frozen=True)
class CustomerMessage:
    """The customer's new words (``text``, what gets classified) and what was taken away."""

    text: str
    quoted: str
    signature: str

    @property
    def trimmed(self) -> bool:
        """Return whether anything was removed."""
        return bool(self.quoted or self.signature)

    @property
    def name(self) -> str:
        """Return the name the customer signed with ("Thanks, Maria" -> "Maria"), or "" if none is clear."""
        return signed_name(self.signature)


def signed_name(signature: str) -> str:
    """Return the name in a sign-off: after "Thanks," on its line or on the next line; "" if it does not read as one."""
    lines = [line.strip() for line in signature.split("\n") if line.strip()]
    if not lines or not SIGN_OFF_RE.match(lines[0]):
        return ""
    _, _, after = lines[0].partition(",")
    candidate = after.strip() or (lines[1] if len(lines) > 1 else "")
    candidate = candidate.strip().rstrip(".!")
    if len(candidate) > 40 or not NAME_RE.fullmatch(candidate):
        return ""
    words = candidate.split()
    if any(not word[0].isupper() for word in words) or words[0].lower() in NOT_NAMES:
        return ""
    return candidate


def clean_message(raw: str) -> CustomerMessage:
    """Split a pasted email into the customer's new words, the quoted mail and the signature.

    If nothing is left after removing quotes (an agent pasted only the quoted question),
    the first quoted message, without its ">" markers, is what the customer asked.
    """
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    message, first_quoted = _split(raw)
    if message.text or not first_quoted:
        return message
    unquoted = re.sub(r"^[ \t]*(?:> ?)+", "", first_quoted, flags=re.MULTILINE)
    inner, _ = _split(unquoted)
    return CustomerMessage(inner.text, quoted=message.quoted, signature=inner.signature)


def _split(raw: str) -> tuple[CustomerMessage, str]:
    """Return the message and the body of the first quoted message (for when nothing else is left)."""
    parsed = EmailMessage(text=raw, languages=list(QUOTE_LANGUAGES), keep_hyphen_lists=True).read()
    replies = list(parsed.replies)
    if replies and replies[0].headers:
        # The paste began with a reply header: there are no new words above the quote.
        replies.insert(0, None)
    latest, earlier = replies[0], replies[1:]
    lines = latest.body.split("\n") if latest else []
    quoted_lines = [line for line in lines if QUOTED_LINE_RE.match(line)]
    lines = [line for line in lines if not QUOTED_LINE_RE.match(line)]
    lines, sign_off = _without_sign_off(_without_salutation(lines))
    signature = "\n".join(part for part in (sign_off, latest.signatures if latest else "") if part)
    quoted = "\n\n".join(part for part in ("\n".join(quoted_lines), *(r.content for r in earlier)) if part)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    first_quoted = "\n".join(quoted_lines) or next((r.body for r in earlier if r.body), "")
    return CustomerMessage(text=text, quoted=quoted.strip(), signature=signature.strip()), first_quoted


def _without_salutation(lines: list[str]) -> list[str]:
    content = [i for i, line in enumerate(lines) if line.strip()]
    if not content:
        return lines
    first = content[0]
    line = lines[first].strip()
    if SALUTATION_RE.match(line) and len(content) > 1:
        return lines[first + 1 :]
    stripped = SALUTATION_PREFIX_RE.sub("", line)
    return [*lines[:first], stripped, *lines[first + 1 :]]


def _without_sign_off(lines: list[str]) -> tuple[list[str], str]:
    content = [i for i, line in enumerate(lines) if line.strip()]
    # Look at the last few lines only, and never remove the whole message.
    for position in content[-(SIGN_OFF_TAIL_LINES + 1) :]:
        tail = [lines[i].strip() for i in content if i > position]
        if (
            position != content[0]
            and SIGN_OFF_RE.match(lines[position].strip())
            and all(len(line) <= SIGN_OFF_TAIL_CHARS and "?" not in line for line in tail)
        ):
            return lines[:position], "\n".join(line for line in lines[position:] if line.strip())
    return lines, ""
