"""The Whoosh internals the knowledge base uses for speed, in one place, checked against the pinned release.

Whoosh-reloaded's public API is used everywhere else. Three things here reach past it, each
because the public way cost most of the time of an index build or a search:

- ``StemmedText`` counts a text's terms in one pass instead of Whoosh's chain of generators;
- ``FreshWriter`` writes a new index's postings term after term instead of through Whoosh's pool;
- ``read_postings`` and ``read_field_lengths`` read whole blocks of postings and a whole column
  of field lengths instead of one document at a time.

Each writes or reads exactly what the public way does (tests compare them). They rely on the
layout of whoosh-reloaded ``PINNED_VERSION``: at import, ``check()`` compares the installed
release and the attributes the code touches, and when either differs ``FAST`` is False and every
caller takes the public way instead (slower, same results), after one warning in the log.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.analysis.analyzers import CompositeAnalyzer
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3LeafMatcher, W3PerDocReader
from whoosh.fields import TEXT
from whoosh.formats import Frequency
from whoosh.matching import FilterMatcher
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

log = logging.getLogger(__name__)

PINNED_VERSION = "2.7.5"
# The private methods and settings the code below reaches into, by class: checked at import.
# (Instance attributes such as a writer's pool or a filter's _stem are checked where used.)
TOUCHED = {
    SegmentWriter: ("_check_state", "_flush_segment"),
    W3Codec: ("length_stats",),
    W3LeafMatcher: ("_read_data", "_next_block"),
    W3PerDocReader: ("_cached_reader",),
}
# Field lengths are stored as one byte; this table turns the byte back into a length.
LENGTH_OF_BYTE = np.array([byte_to_length(b) or 0 for b in range(256)], dtype=np.float64)


@dataclass(frozen=True)
class Check:
    """Whether the internals here match the installed Whoosh, and if not, why."""

    fast: bool
    reason: str


def check() -> Check:
    """Compare the installed whoosh-reloaded with the release and the attributes this module was written for."""
    try:
        installed = importlib.metadata.version("whoosh-reloaded")
    except importlib.metadata.PackageNotFoundError:
        installed = "unknown"
    if installed != PINNED_VERSION:
        return Check(False, f"whoosh-reloaded {installed} is installed; these internals are for {PINNED_VERSION}")
    for owner, names in TOUCHED.items():
        missing = [n for n in names if not hasattr(owner, n)]
        if missing:
            return Check(False, f"{owner.__name__} has no {', '.join(missing)}")
    return Check(True, f"whoosh-reloaded {installed}")


CHECK = check()
FAST = CHECK.fast
if not FAST:
    log.warning("index and search take Whoosh's public (slower) way: %s", CHECK.reason)

_UNSEEN = object()


class TermCounter:
    """Count the terms a tokenizer → lowercase → stop words → stemmer chain makes of a text, in one pass.

    Whoosh runs its analyzer as a chain of generators, one step per filter and token, and
    that is most of the time an index build takes. This does what the same chain does (it
    is read from the chain's own parts), but remembers the term each distinct token
    becomes, so a word seen before costs one dictionary look-up.
    """

    def __init__(self, tokenizer: RegexTokenizer, stops: StopFilter, stemmer: StemFilter):
        expression = tokenizer.expression
        if expression.groups:
            self._tokens = lambda text: [match.group() for match in expression.finditer(text)]
        else:
            self._tokens = expression.findall
        self._stops, self._min, self._max = stops.stops, stops.min, stops.max
        self._stem, self._ignore = stemmer._stem, stemmer.ignore
        self._terms: dict[str, str | None] = {}

    @classmethod
    def of(cls, analyzer) -> TermCounter | None:
        """Return a counter equivalent to ``analyzer``, or None if it is not that chain."""
        parts = getattr(analyzer, "items", None) if isinstance(analyzer, CompositeAnalyzer) else None
        kinds = (RegexTokenizer, LowercaseFilter, StopFilter, StemFilter)
        if not parts or len(parts) != len(kinds) or any(type(p) is not k for p, k in zip(parts, kinds, strict=True)):
            return None
        tokenizer, _, stops, stemmer = parts
        if tokenizer.gaps or stemmer.lang or not hasattr(stemmer, "_stem"):
            return None
        return cls(tokenizer, stops, stemmer)

    def _term(self, token: str) -> str | None:
        word = token.lower()
        size = len(word)
        if size < self._min or (self._max is not None and size > self._max) or word in self._stops:
            term = None
        else:
            term = word if word in self._ignore else self._stem(word)
        if len(self._terms) < 500_000:  # a bound for pathological input; prose repeats itself
            self._terms[token] = term
        return term

    def count(self, text: str) -> Counter:
        """Return how often each term occurs in ``text``."""
        terms, counts = self._terms, Counter()
        # Count tokens first (in C), then turn each distinct token into its term once.
        for token, times in Counter(self._tokens(text)).items():
            term = terms.get(token, _UNSEEN)
            if term is _UNSEEN:
                term = self._term(token)
            if term is not None:
                counts[term] += times
        return counts


class StemmedText(TEXT):
    """A TEXT field that indexes with :class:`TermCounter` when its analyzer is the usual stemming chain.

    What it writes is what TEXT writes (the same terms, frequencies and weights; a test
    compares the two); only the way there is shorter. Any other analyzer, or any option
    the fast way does not know, takes Whoosh's own path.
    """

    def index(self, value, **kwargs) -> Iterator[tuple[bytes, int, float, bytes]]:
        counter = self.__dict__.get("_counter", _UNSEEN)
        if counter is _UNSEEN:
            counter = self._counter = TermCounter.of(self.analyzer)
        if not FAST or counter is None or kwargs or not isinstance(value, str) or type(self.format) is not Frequency:
            return super().index(value, **kwargs)
        boost = self.format.field_boost
        return (
            (term.encode("utf-8"), freq, freq * boost, pack_uint(freq)) for term, freq in counter.count(value).items()
        )

    def __getstate__(self):
        # The counter holds a cache and a compiled pattern: rebuilt after unpickling, never stored.
        return {key: value for key, value in self.__dict__.items() if key != "_counter"}


def codec() -> W3Codec:
    """Return Whoosh's codec, told not to record field lengths per block of postings.

    Those figures (the shortest and longest document of each block of 128 postings) only
    let Whoosh's own searcher skip blocks; writing them means looking up the length of
    every posting's document, a third of the time spent writing postings. Without them a
    block's best possible score is taken as if its shortest document were empty: still an
    upper bound, so a Whoosh search stays right, only skips less. The ranker reads every
    posting anyway.
    """
    made = W3Codec()
    made.length_stats = False
    return made


class FreshWriter(SegmentWriter):
    """A writer for a build from nothing: each term's postings are gathered in memory as
    documents come, and written term after term at commit.

    Whoosh's writer puts every posting into a pool of tuples that it sorts at commit,
    and hands each one through three more calls on its way to the file; here a posting
    is one append, and the terms arrive sorted. The files are the ones Whoosh writes
    (a test compares them posting by posting). Only plain documents take this way; a
    document with boosts, or a field with vectors, spelling or a column, goes through
    Whoosh's own code. Meant for an index with no segments yet, so that there is
    nothing to merge at commit.
    """

    def __init__(self, ix, **kwargs):
        super().__init__(ix, **kwargs)
        self._terms: dict[str, defaultdict[bytes, list]] = {}

    def _plain(self, fields: dict) -> bool:
        schema = self.schema
        for name in fields:
            field = schema[name] if name in schema else None
            if field is None or field.vector or field.column_type or field.separate_spelling():
                return False
        return True

    def add_document(self, **fields):
        if not self._plain(fields) or self.pool.current or self.pool.runs:
            return super().add_document(**fields)
        self._check_state()
        schema, perdoc, docnum = self.schema, self.perdocwriter, self.docnum
        perdoc.start_doc(docnum)
        for name in sorted(fields):
            value = fields[name]
            if value is None:
                continue
            field = schema[name]
            length = 0
            if field.indexed:
                terms = self._terms.get(name)
                if terms is None:
                    terms = self._terms[name] = defaultdict(list)
                for btext, freq, weight, vbytes in field.index(value):
                    # Whoosh's writer multiplies by the document's field boost, 1.0 here.
                    terms[btext].extend((docnum, float(weight), vbytes))
                    length += freq
                if not field.scorable:
                    length = 0
            perdoc.add_field(name, field, value if field.stored else None, length)
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        if self.pool.current or self.pool.runs:
            # A document took Whoosh's way: let Whoosh write everything, ours included.
            for name in sorted(self._terms):
                for btext, flat in self._terms[name].items():
                    for i in range(0, len(flat), 3):
                        self.pool.add((name, btext, flat[i], flat[i + 1], flat[i + 2]))
            self._terms = {}
            return super()._flush_segment()
        self.perdocwriter.close()
        writer = self.fieldwriter
        for name in sorted(self._terms):
            terms = self._terms.pop(name)
            writer.start_field(name, self.schema[name])
            for btext in sorted(terms):
                flat = terms.pop(btext)
                writer.start_term(btext)
                add = writer.add
                for i in range(0, len(flat), 3):
                    add(flat[i], flat[i + 1], flat[i + 2] or b"", 0)
                writer.finish_term()
            writer.finish_field()
        writer.close()


def read_postings(matcher) -> tuple[np.ndarray, np.ndarray]:
    """Return every docnum and weight of a segment's posting list as arrays.

    Whoosh 2.7's on-disk matcher keeps a block of up to 128 postings as a delta-coded
    tuple of docnums and a tuple of weights; taking whole blocks is about twice as fast
    as stepping through ``next()``. Any other matcher is stepped through.
    """
    if isinstance(matcher, FilterMatcher):
        # Deleted documents: the ranker masks them itself.
        matcher = matcher.child
    if not FAST or not all(hasattr(matcher, name) for name in ("_read_data", "_next_block", "_blocklength", "_data")):
        return step_through(matcher)
    ids, weights = [], []
    while matcher.is_active():
        matcher._read_data()
        deltas, block_weights = matcher._data[0], matcher._data[1]
        count = matcher._blocklength
        ids.append(np.cumsum(np.asarray(deltas, dtype=np.int64)))
        if block_weights is None:
            weights.append(np.ones(count, dtype=np.float64))
        elif isinstance(block_weights, float):
            weights.append(np.full(count, block_weights, dtype=np.float64))
        else:
            weights.append(np.asarray(block_weights, dtype=np.float64))
        matcher._next_block()
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    return np.concatenate(ids), np.concatenate(weights)


def step_through(matcher) -> tuple[np.ndarray, np.ndarray]:
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)


def read_field_lengths(leaf, field: str) -> np.ndarray:
    """Return the stored length of ``field`` for every document of one segment.

    Whoosh 2.7 keeps them in a column of one byte per document; reading that column in one
    piece beats asking for each document. Other readers are asked document by document.
    """
    count = leaf.doc_count_all()
    perdoc = getattr(leaf, "_perdoc", None)
    column = None
    if FAST and perdoc is not None and hasattr(perdoc, "_cached_reader"):
        column = perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN)
    if column is not None and all(hasattr(column, name) for name in ("_dbfile", "_basepos", "_count")):
        stored = min(column._count, count)
        raw = np.zeros(count, dtype=np.uint8)
        raw[:stored] = np.frombuffer(column._dbfile.get(column._basepos, stored), dtype=np.uint8)
        return LENGTH_OF_BYTE[raw]
    return np.array([leaf.doc_field_length(d, field, 0) or 0 for d in range(count)], dtype=np.float64)
