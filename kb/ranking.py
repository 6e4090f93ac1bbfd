"""Rank the documents of the Whoosh index for a shaped query in bulk, with Whoosh's own scores.

Whoosh scores an OR query one document at a time, walking a tree of matchers in Python,
which costs microseconds per matching document. A three-word question on 10,000 articles
matches tens of thousands of sections, so that walk takes a tenth of a second or more.

Here each term's postings are read from the index once per index generation and kept as
numpy arrays with their BM25F scores already computed; a query then adds up a handful of
arrays. The scores are the ones Whoosh gives: the same BM25F parameters, idf, average and
per-document field lengths (as the index stores them, one byte each), field boosts (baked
into the posting weights when the index is written) and coordination formula.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F

from kb.internals import read_field_lengths, read_postings

log = logging.getLogger(__name__)

# Whoosh's defaults, which the searcher uses.
BM25 = BM25F()
# How many postings to keep in memory per index generation: every term of a 10,000-article
# help center fits (about 3.5 million postings, 12 bytes each: some 40 MB); a bigger index
# evicts the least recently used terms.
MAX_CACHED_POSTINGS = 6_000_000
# Stored fields of this many documents are kept, the most recently shown ones.
MAX_CACHED_DOCUMENTS = 50_000

Term = tuple[str, str]


class Ranker:
    """Score and rank the documents of one index generation; one instance is shared by all threads.

    The caches hold only plain arrays. Reading the index goes through the searcher the caller
    passes in, because Whoosh readers are not safe to share between threads.
    """

    def __init__(self, searcher, max_postings: int = MAX_CACHED_POSTINGS):
        reader = searcher.reader()
        self.doc_count = reader.doc_count_all()
        self.max_postings = max_postings
        live = np.ones(self.doc_count, dtype=bool)
        for leaf, offset in _leaves(reader):
            if leaf.has_deletions():
                count = leaf.doc_count_all()
                live[offset : offset + count] = [not leaf.is_deleted(d) for d in range(count)]
        self.live = live
        self._lengths: dict[str, np.ndarray] = {}
        # None marks a term the index does not have (a typo, a word no article uses).
        self._postings: OrderedDict[Term, tuple[np.ndarray, np.ndarray] | None] = OrderedDict()
        self._cached = 0
        self._stored: OrderedDict[int, dict] = OrderedDict()
        # Every term of the warmed fields, once warming has listed them: a term that is not
        # there (a typo, a synonym no article uses) is answered without a look in the index.
        self._known: frozenset[Term] | None = None
        self._known_fields: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._warm = threading.Event()
        self._warm.set()

    @property
    def cached_postings(self) -> int:
        """Tell how many postings are held in memory."""
        return self._cached

    def warm(self, searcher, fields: Iterable[str]) -> int:
        """Read the posting lists of ``fields`` into the cache, longest first, while they fit; return how many.

        A term read cold costs about a microsecond per document it is in, plus some tens of
        microseconds: the first queries after a start or a rebuild would pay tens of
        milliseconds for common words.
        """
        reader = searcher.reader()
        terms = []
        for field in fields:
            from_bytes = searcher.schema[field].from_bytes
            terms += [(info.doc_frequency(), field, from_bytes(btext)) for btext, info in reader.iter_field(field)]
        self._known = frozenset((field, text) for _, field, text in terms)
        self._known_fields = frozenset(fields)
        terms.sort(key=lambda t: -t[0])
        budget, read = self.max_postings * 3 // 4, 0
        for count, (frequency, field, text) in enumerate(terms):
            if self._stop.is_set() or read + frequency > budget:
                return count
            self._term(searcher, field, text)
            read += frequency
        return len(terms)

    def warm_in_background(self, open_searcher, fields: Iterable[str]) -> None:
        """Warm the cache in a daemon thread with a searcher of its own; failures are only logged."""
        fields = tuple(fields)
        self._warm.clear()

        def work():
            try:
                with open_searcher() as searcher:
                    terms = self.warm(searcher, fields)
                log.info("search cache warmed: %d terms, %d postings", terms, self.cached_postings)
            except Exception:  # noqa: BLE001 (a cold cache is slower, never wrong)
                log.warning("could not warm the search cache", exc_info=True)
            finally:
                self._warm.set()

        threading.Thread(target=work, name="kb-search-warm", daemon=True).start()

    def wait_until_warm(self, timeout: float | None = None) -> bool:
        """Wait for background warming to finish (at once if there is none); tell whether it has."""
        return self._warm.wait(timeout)

    def stop(self) -> None:
        """Stop warming: this index build has been replaced."""
        self._stop.set()

    def clear(self) -> None:
        """Forget every cached term (the field lengths stay)."""
        with self._lock:
            self._postings.clear()
            self._cached = 0

    def rank(
        self, searcher, terms: Iterable[Term], scale: float | None, count: int, relevance: float = 0.0
    ) -> tuple[list[int], list[float], int]:
        """Return the best ``count`` docnums and their scores, best first, and how many documents matched.

        With ``relevance``, a document scoring below that share of the best score counts as not matched.

        A document's score is the sum of the BM25F scores of the terms it contains. With
        ``scale``, Whoosh's coordination formula then favours documents that contain more
        of the terms (but a single term is ranked by its score alone, where Whoosh's
        formula would give every document zero).
        """
        found = [entry for term in dict.fromkeys(terms) if (entry := self._term(searcher, *term)) is not None]
        if not found:
            return [], [], 0
        total_terms = len(found)
        ids = np.concatenate([term_ids for term_ids, _ in found])
        # Summing with bincount visits the postings in the same order as adding term by term.
        scores = np.bincount(
            ids, weights=np.concatenate([term_scores for _, term_scores in found]), minlength=self.doc_count
        )
        matching = np.bincount(ids, minlength=self.doc_count)
        matched = np.flatnonzero(matching > 0)
        score = scores[matched]
        if scale and total_terms > 1:
            # Whoosh's CoordMatcher ("SQR" from the V-Twin paper).
            score = (score + (matching[matched] - 1) / (total_terms - scale) ** 2) * ((total_terms - 1) / total_terms)
        if relevance and len(score):
            keep = score >= relevance * score.max()
            matched, score = matched[keep], score[keep]
        docnums, best = _top(matched, score, count)
        return docnums.tolist(), best.tolist(), len(matched)

    def stored_fields(self, searcher, docnum: int) -> dict:
        """Return a document's stored fields."""
        with self._lock:
            fields = self._stored.get(docnum)
            if fields is not None:
                self._stored.move_to_end(docnum)
                return fields
        fields = searcher.stored_fields(docnum)
        with self._lock:
            self._stored[docnum] = fields
            if len(self._stored) > MAX_CACHED_DOCUMENTS:
                self._stored.popitem(last=False)
        return fields

    def _term(self, searcher, field: str, text: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Return a term's live docnums and their BM25F scores, or None if the index lacks the term."""
        key = (field, text)
        with self._lock:
            if key in self._postings:
                self._postings.move_to_end(key)
                return self._postings[key]
        known = self._known
        if known is not None and field in self._known_fields and key not in known:
            return None
        ids, weights = self._read(searcher.reader(), field, text)
        if not len(ids):
            self._remember(key, None, 1)
            return None
        # Whoosh's idf (WeightingModel.idf): its document frequency counts deleted documents too.
        idf = math.log(self.doc_count / (len(ids) + 1)) + 1
        live = self.live[ids]
        ids, weights = ids[live].astype(np.int32), weights[live]
        if searcher.schema[field].scorable:
            avg = searcher.avg_field_length(field) or 1
            length = self._field_lengths(searcher.reader(), field)[ids]
            k1, b = BM25.K1, BM25.B
            term_scores = idf * ((weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * length / avg)))
        else:
            term_scores = weights
        entry = (ids, term_scores)
        self._remember(key, entry, len(ids))
        return entry

    def _remember(self, key: Term, entry, size: int) -> None:
        with self._lock:
            if key in self._postings:
                return
            self._postings[key] = entry
            self._cached += size
            while self._cached > self.max_postings and len(self._postings) > 1:
                _, old = self._postings.popitem(last=False)
                self._cached -= 1 if old is None else len(old[0])

    @staticmethod
    def _read(reader, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Read a term's postings (deleted documents included) from every segment."""
        ids, weights = [], []
        for leaf, offset in _leaves(reader):
            try:
                matcher = leaf.postings(field, text)
            except TermNotFound:
                continue
            leaf_ids, leaf_weights = read_postings(matcher)
            ids.append(leaf_ids + offset)
            weights.append(leaf_weights)
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return np.concatenate(ids), np.concatenate(weights)

    def _field_lengths(self, reader, field: str) -> np.ndarray:
        lengths = self._lengths.get(field)
        if lengths is None:
            lengths = np.zeros(self.doc_count, dtype=np.float64)
            for leaf, offset in _leaves(reader):
                lengths[offset : offset + leaf.doc_count_all()] = read_field_lengths(leaf, field)
            self._lengths[field] = lengths
        return lengths


def _leaves(reader):
    """Return (segment reader, first docnum) pairs, for one segment or many."""
    return reader.leaf_readers() if hasattr(reader, "leaf_readers") else [(reader, 0)]


def _top(docnums: np.ndarray, scores: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``count`` best (docnum, score) pairs, best first; equal scores by docnum, as Whoosh."""
    if count <= 0:
        return docnums[:0], scores[:0]
    if len(scores) > count:
        kth = np.partition(scores, len(scores) - count)[len(scores) - count]
        keep = scores >= kth
        docnums, scores = docnums[keep], scores[keep]
    order = np.lexsort((docnums, -scores))[:count]
    return docnums[order], scores[order]
