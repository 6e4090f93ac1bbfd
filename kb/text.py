"""Query and question normalisation shared by search and the answer bot: spellings, synonyms, typos."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache, lru_cache

import spellchecker
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from kb.synonyms import Lexicon
from kb.words import words

# Words of a question that say nothing about what is asked.
QUESTION_WORDS = frozenset(
    "how do does did what which why where who whom whose i me my mine can could should would "
    "please pls hi hello there is are am be been was were a an the to of for on in at it its "
    "with and or not no don't dont doesn't want need get use using what's whats".split()
)
# A word seen at least this often in pyspellchecker's English frequency list is a real word,
# so the speller never rewrites it ("host" is not a typo of "most"). Two thirds of the list
# sit at its lowest count (50), mostly obscure forms; left in, they would shield typos that
# happen to spell one ("issus"). Of the words the training data and held-out questions
# misspell, none is in the list at all, but for "issus" at 50; the few real words the floor
# drops that people do write here ("authenticator") are terms in synonyms.yml.
COMMON_WORD_MIN_COUNT = 100


@dataclass(frozen=True)
class CommonWords:
    """Common English words the speller leaves as typed, and a name for the list they came from."""

    words: frozenset[str]
    source: str


@cache
def common_words(min_count: int = COMMON_WORD_MIN_COUNT) -> CommonWords:
    """Load the English words seen at least ``min_count`` times in pyspellchecker's list.

    The list ships inside the package (no download). Loading it takes a fraction of a
    second, so it is done once per process: every normaliser built after that (at start,
    on a data reload) shares the same immutable set. ``source`` names the package version,
    the floor and a digest of the words, so the normaliser's fingerprint changes with them.
    """
    frequencies = spellchecker.SpellChecker(language="en").word_frequency
    found = frozenset(word for word, count in frequencies.items() if count >= min_count)
    digest = hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()[:16]
    return CommonWords(found, f"pyspellchecker {spellchecker.__version__} en >= {min_count} {digest}")


class Speller:
    """Correct words that are neither in a vocabulary nor common words to the closest vocabulary word."""

    def __init__(self, vocabulary: dict[str, int], common: frozenset[str] = frozenset()):
        self.vocabulary = vocabulary
        self.common = common
        self._by_length: dict[int, list[str]] = {}
        for word in vocabulary:
            self._by_length.setdefault(len(word), []).append(word)
        self._windows: dict[int, list[str]] = {}
        self.correct = lru_cache(maxsize=4096)(self._correct)

    def _candidates(self, length: int, limit: int) -> list[str]:
        """Return the words close enough in length: an edit changes the length by one at most."""
        window = self._windows.get(length)
        if window is None:
            window = [w for n in range(length - limit, length + limit + 1) for w in self._by_length.get(n, ())]
            self._windows[length] = window
        return window

    @staticmethod
    def max_distance(word: str) -> int:
        """Allow one typo in short words, two in long ones, none in very short ones."""
        return 0 if len(word) < 4 else 1 if len(word) < 8 else 2

    def _correct(self, word: str) -> str:
        limit = self.max_distance(word)
        if word in self.vocabulary or word in self.common or not limit or not word.isalpha():
            return word
        matches = process.extract(
            word, self._candidates(len(word), limit), scorer=DamerauLevenshtein.distance, score_cutoff=limit, limit=None
        )
        if not matches:
            return word
        # Fewest edits first, then the more frequent word (every candidate is weighed, so
        # the choice does not depend on the order of the vocabulary).
        best = min(matches, key=lambda m: (m[1], -self.vocabulary[m[0]], m[0]))
        return best[0]


# Raise when the rules in this file change how text is read, so models trained on the old
# reading are retrained (the fingerprint is stored with them).
RULES_VERSION = 2


@dataclass(frozen=True)
class Normalizer:
    """Spellings, typo correction and synonyms over one vocabulary."""

    lexicon: Lexicon
    speller: Speller
    fingerprint: str = ""

    def terms(self, text: str) -> list[tuple[str, str]]:
        """Return (typed, corrected) word pairs after rewriting spellings."""
        return [(word, self.speller.correct(word)) for word in words(self.lexicon.respell(text))]

    def normalize(self, text: str) -> str:
        """Return the question as the bot should read it: respelled, corrected, synonyms added."""
        out = []
        for _, word in self.terms(text):
            out.append(word)
            canonical = self.lexicon.canonical(word)
            if canonical != word:
                out.append(canonical)
        return " ".join(out)


def build_normalizer(lexicon: Lexicon, vocabulary: dict[str, int], common: CommonWords | None = None) -> Normalizer:
    """Make a normalizer whose speller knows ``vocabulary`` and every lexicon word, and leaves common words alone.

    ``common`` defaults to the English words of :func:`common_words`. Common words are not
    correction targets: a typo is still corrected only to a word of the vocabulary.
    """
    common = common_words() if common is None else common
    known = dict(vocabulary)
    for word in QUESTION_WORDS:
        known.setdefault(word, 1)
    for word in [*lexicon.spellings.values(), *lexicon.groups, *lexicon.terms]:
        for part in words(word):
            known[part] = known.get(part, 0) + 1
    digest = hashlib.sha256(
        json.dumps(
            [RULES_VERSION, sorted(lexicon.spellings.items()), sorted(lexicon.groups.items()), sorted(known),
             common.source]
        ).encode()
    ).hexdigest()
    return Normalizer(lexicon=lexicon, speller=Speller(known, common.words), fingerprint=digest)
