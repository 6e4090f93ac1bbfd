"""Knowledge gaps: failure signals (what people asked that the knowledge base did not answer) grouped by similarity.

A **signal** is one event that says the knowledge base fell short: the bot fell back, asked
a clarifying question or answered with low confidence; a search found nothing, or nobody
opened any of its results; someone voted an answer or an article "not helpful".

Signals are grouped by their **key**: the question run through the shared normaliser
(spellings and typos, as the bot and search read it), each word replaced by the first
word of its synonym group, without question words and filler, as a sorted set of words.
"How do I enable POP3?", "enabel pop 3 please" and "pop3 enable" share the key
``enable pop3``; "outgoing server" and "smtp server" share ``server smtp``. This is
deliberately simple: it is exact, explainable and needs no tuning; near misses stay
apart rather than different questions being merged.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kb.text import QUESTION_WORDS
from kb.words import words

# Kinds of signal, in the order the inbox explains them.
KINDS = {
    "fallback": "bot fell back",
    "clarify": "bot asked to clarify",
    "low_confidence": "low-confidence answer",
    "zero_results": "search found nothing",
    "no_click": "no search result opened",
    "not_helpful": "voted not helpful",
}
# Reasons people give for a "not helpful" vote.
REASONS = {
    "not_related": "not related to my question",
    "not_answered": "related, but did not answer it",
}
# Words that carry no topic beyond QUESTION_WORDS (which the normaliser's users share).
FILLER_WORDS = frozenset(
    "you your we our us me mine any some this that these those so just also still again ok okay thanks thank "
    "tell show help know set up if then than there here about from by as into will shall may might must "
    "has have had do done doing very much many more most really".split()
)
MAX_EXAMPLES = 3
KEY_MAX_CHARS = 200


@dataclass(frozen=True)
class Signal:
    """One failure: its kind, the words people typed, when, and what else is known."""

    kind: str
    text: str
    at: dt.datetime
    intent: str | None = None
    reason: str | None = None
    # For a clarifying question: the intent of the choice the person picked next, if any.
    picked: str | None = None


@dataclass(frozen=True)
class GapGroup:
    """Signals that read alike, with what the inbox shows for them."""

    id: str
    key: str
    count: int
    kinds: tuple[tuple[str, int], ...]
    examples: tuple[str, ...]
    last_seen: dt.datetime
    intents: tuple[tuple[str, int], ...]
    reasons: tuple[tuple[str, int], ...]
    picked: tuple[tuple[str, int], ...]

    @property
    def example(self) -> str:
        """Return the most frequent wording: the one to offer as a training example."""
        return self.examples[0] if self.examples else self.key


def group_key(text: str, normalize: Callable[[str], str], canonical: Callable[[str], str] = str) -> str:
    """Return the words a question is about, normalised and sorted; the key questions are grouped by.

    ``canonical`` maps a word to its synonym group's first word (``Lexicon.canonical``).
    """
    normalized = words(normalize(text))
    content = sorted({canonical(w) for w in normalized if w not in QUESTION_WORDS and w not in FILLER_WORDS})
    if content:
        return " ".join(content)
    # Only question words ("how?"): keep the wording itself, so such questions still group.
    return " ".join(normalized) or text.strip().lower()


def group_id(key: str) -> str:
    """Return a short stable id for a group key (for forms and notes)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def group_signals(
    signals: Iterable[Signal], normalize: Callable[[str], str], canonical: Callable[[str], str] = str
) -> list[GapGroup]:
    """Group signals by key; the largest groups first, then the most recently seen."""
    buckets: dict[str, list[Signal]] = {}
    keys: dict[str, str] = {}
    for signal in signals:
        text = " ".join(signal.text.split())
        if text not in keys:
            # What a question is about is in its first words; reading every word of thousands of
            # long questions (a flood of votes) kept the inbox busy for seconds.
            keys[text] = group_key(text[:KEY_MAX_CHARS], normalize, canonical)
        buckets.setdefault(keys[text], []).append(signal)
    groups = []
    for key, members in buckets.items():
        wordings = Counter(" ".join(s.text.split()) for s in members)
        groups.append(
            GapGroup(
                id=group_id(key),
                key=key,
                count=len(members),
                kinds=tuple(Counter(s.kind for s in members).most_common()),
                examples=tuple(text for text, _ in wordings.most_common(MAX_EXAMPLES)),
                last_seen=max(s.at for s in members),
                intents=tuple(Counter(s.intent for s in members if s.intent).most_common()),
                reasons=tuple(Counter(s.reason for s in members if s.reason).most_common()),
                picked=tuple(Counter(s.picked for s in members if s.picked).most_common()),
            )
        )
    groups.sort(key=lambda g: (-g.count, -g.last_seen.timestamp(), g.key))
    return groups


def typed_further(text: str, at: dt.datetime, later: list[tuple[dt.datetime, str]], within: dt.timedelta) -> bool:
    """Tell whether a search was only a step of typing: a longer search starting with it came within ``within``.

    Search-as-you-type (the widget's search tab) sends "ima", "imap se", "imap settings";
    only the last one is what the person wanted. ``later`` is (time, text) of searches from
    the same channel, oldest first.
    """
    start = bisect.bisect_right(later, at, key=lambda item: item[0])
    prefix = " ".join(text.lower().split())
    for when, other in later[start:]:
        if when > at + within:
            return False
        other = " ".join(other.lower().split())
        if other != prefix and other.startswith(prefix):
            return True
    return False
