"""Mark the words a question says it does *not* want, so word features can tell them apart.

Word counts cannot see order: "not the incoming one, the outgoing" and "not the outgoing
one, the incoming" have the same words. The word features therefore read a copy of the
question in which words in the scope of a negation ("don't want POP", "instead of IMAP")
and mail directions said to be done already ("sending works fine") become ``neg_<word>``.
The model learns from the examples what those mean; nothing here decides an intent.

The input is the normalised question (lower case, no punctuation), so a scope is a few
words long instead of ending at a comma. Character features still read the question as typed.
"""

from __future__ import annotations

# Words that open a negation scope. The shared normaliser writes contractions typed without
# the apostrophe ("dont", "wont") with it; the bare forms stay for text that skipped it.
CUES = frozenset(
    "not no don't dont doesn't doesnt didn't isn't wasn't aren't weren't won't can't cannot couldn't "
    "wouldn't shouldn't haven't hasn't never without instead rather except nor".split()
)
# Words that end a scope early: the question turns to what is wanted.
STOPS = frozenset("what what's whats how which where just only but give please so then now tell".split())
# Words after a direction that say that part already works ("smtp is done", "sending works fine").
SETTLED = frozenset("works working worked fine done sorted ok okay already".split())
# Words before a direction that make a settled word a wish instead ("i need pop3 working").
WANTED = frozenset("need needs want wants get getting".split())
# Mail directions, as the shared normaliser writes them (it adds imap/smtp beside their synonyms).
PROTOCOLS = frozenset({"pop3", "imap", "smtp"})
DIRECTIONS = PROTOCOLS | frozenset({"incoming", "outgoing", "sending", "receiving", "inbound", "outbound"})
# How many words a negation reaches, and how far back a "settled" word looks.
SCOPE_WORDS = 3
SETTLED_LOOKBACK = 3


def mark_negations(text: str) -> str:
    """Return the text with negated words and settled directions prefixed with ``neg_``."""
    words = text.lower().split()
    out: list[str] = []
    left, protocols = 0, set()
    for word in words:
        if word in CUES:
            out.append(word)
            left, protocols = SCOPE_WORDS, set()
            continue
        if word in STOPS or (word in PROTOCOLS and protocols and word not in protocols):
            left = 0  # "don't want pop3 imap server": the scope ends where another protocol starts
        if left:
            if word in PROTOCOLS:
                protocols.add(word)
            out.append("neg_" + word)
            left -= 1
        else:
            out.append(word)
    for i, word in enumerate(out):
        if word in SETTLED:
            window = range(max(0, i - SETTLED_LOOKBACK), i)
            if any(out[j] in WANTED for j in window):
                continue
            for j in window:
                if out[j] in DIRECTIONS:
                    out[j] = "neg_" + out[j]
    return " ".join(out)
