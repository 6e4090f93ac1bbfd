"""Search the help center: query shaping over the shared normaliser, ranking, snippets.

A query is shaped into a Whoosh query (an OR of words, each an OR of fields and word
forms); :mod:`kb.ranking` scores it in bulk over the index with Whoosh's own formula,
and the snippets mark the words the analyzer matched.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from whoosh import query as wq
from whoosh.analysis import STOP_WORDS
from whoosh.lang.porter2 import exceptional_forms, stem

from kb.articles import Library
from kb.index import ANALYZER, ARTICLE, POINTER, SEARCH_FIELDS, open_index
from kb.ranking import Ranker
from kb.render import escape
from kb.text import QUESTION_WORDS, Normalizer

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500
MAX_QUERY_WORDS = 12
SNIPPET_CHARS = 180
# Context kept on each side of the marked words, and how many fragments a snippet joins.
SNIPPET_SURROUND = 60
SNIPPET_FRAGMENTS = 2
# Coordination bonus: a result matching more of the query's words ranks higher,
# but no single word is required (a help-center user's words are rarely all there).
COORDINATION = 0.9
IGNORED_WORDS = frozenset(STOP_WORDS) | QUESTION_WORDS


@dataclass(frozen=True)
class SearchHit:
    """One result: a section (or a whole article) with a highlighted snippet."""

    title: str
    section: str
    url: str
    snippet: str
    score: float
    slug: str
    anchor: str


@dataclass(frozen=True)
class SearchPage:
    """A page of results and what the query became."""

    query: str
    total: int
    hits: tuple[SearchHit, ...]
    page: int
    pages: int
    suggestion: str | None


class _Generation:
    """One opened index build, and the ranking caches that belong to it and die with it."""

    def __init__(self, index):
        self.index = index
        self._ranker: Ranker | None = None
        self._lock = threading.Lock()

    def ranker(self, searcher) -> Ranker:
        if self._ranker is None:
            with self._lock:
                if self._ranker is None:
                    ranker = Ranker(searcher)
                    ranker.warm_in_background(self.index.searcher, SEARCH_FIELDS)
                    self._ranker = ranker
        return self._ranker

    def retire(self) -> None:
        """Stop work for a build that has been replaced."""
        if self._ranker is not None:
            self._ranker.stop()


class IndexSearcher:
    """Hand out one reused Whoosh searcher per thread, reopened after a new build is swapped in.

    Each opened build also carries a :class:`~kb.ranking.Ranker` whose caches (postings
    and field lengths) are shared by every thread; a new build gets a new one, so nothing
    cached from an old build is ever used to rank the new one.
    """

    def __init__(self, index_dir: str | Path):
        self.index_dir = Path(index_dir)
        self._forget()
        # A server that loads the app before forking its workers (gunicorn --preload) must not
        # hand them this process's open files: processes sharing a file's read position would
        # read each other's records. A forked child opens the index afresh.
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (searcher := this()) is not None and searcher._forget())

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self._generation: _Generation | None = None
        self._stamp = None

    def _pointer_stamp(self):
        try:
            st = os.stat(self.index_dir / POINTER)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _shared_generation(self, stamp) -> _Generation:
        with self._lock:
            if self._stamp != stamp or self._generation is None:
                if self._generation is not None:
                    self._generation.retire()
                self._generation = _Generation(open_index(self.index_dir))
                self._stamp = stamp
                log.info("opened index %s", self.index_dir)
            return self._generation

    def _thread_state(self):
        stamp = self._pointer_stamp()
        local = self._local
        if getattr(local, "stamp", None) != stamp or getattr(local, "searcher", None) is None:
            old = getattr(local, "searcher", None)
            generation = self._shared_generation(stamp)
            local.searcher = generation.index.searcher()
            local.generation = generation
            local.stamp = stamp
            if old is not None:
                old.close()
        return local

    def searcher(self):
        """Return this thread's searcher on the live index."""
        return self._thread_state().searcher

    def ranked(self):
        """Return this thread's searcher and the ranker of the same build."""
        local = self._thread_state()
        return local.searcher, local.generation.ranker(local.searcher)

    @property
    def ready(self) -> bool:
        """Tell whether a built index can be opened."""
        try:
            self.searcher().doc_count()
        except Exception as exc:  # whoosh raises many kinds of errors on damaged files
            log.warning("index not ready: %s", exc)
            return False
        return True


def shape_query(normalizer: Normalizer, text: str) -> tuple[wq.Query | None, str | None]:
    """Turn what a person typed into a Whoosh query, and a corrected query if a word was misspelled.

    Every meaningful word becomes an OR over the fields of its stem, its typo
    correction and its synonyms; the words are OR-ed with a coordination bonus.
    """
    terms = normalizer.terms(text[:MAX_QUERY_CHARS])
    meaningful = [(typed, fixed) for typed, fixed in terms if fixed not in IGNORED_WORDS]
    if not meaningful:
        meaningful = terms
    meaningful = meaningful[:MAX_QUERY_WORDS]
    clauses = []
    for typed, fixed in meaningful:
        variants = {typed, fixed, *normalizer.lexicon.equivalents(fixed)}
        stems = {term for variant in variants for term in _analyzed(variant)}
        subqueries = [wq.Term(field, s) for field in SEARCH_FIELDS if field != "tags" for s in stems]
        subqueries += [wq.Term("tags", v) for v in variants]
        clauses.append(wq.Or(subqueries))
    corrected = [fixed for _, fixed in terms]
    suggestion = " ".join(corrected) if any(t != f for t, f in terms) else None
    if not clauses:
        return None, suggestion
    return wq.Or(clauses, scale=COORDINATION), suggestion


@functools.lru_cache(maxsize=4096)
def _analyzed(word: str) -> tuple[str, ...]:
    """Return the index terms the analyzer makes of one word (queries repeat a small vocabulary)."""
    return tuple(token.text for token in ANALYZER(word))


def coordination(query: wq.Query) -> float | None:
    """Return the query's coordination scale, or None where Whoosh would apply none (a single word)."""
    if isinstance(query, wq.Or) and query.scale and len(query.subqueries) > 1:
        return query.scale
    return None


def search(
    index: IndexSearcher,
    library: Library,
    normalizer: Normalizer,
    text: str,
    *,
    limit: int = 10,
    page: int = 1,
    article_url: str = "/articles/",
) -> SearchPage:
    """Search articles and sections; return one page of hits with snippets."""
    query, suggestion = shape_query(normalizer, text)
    if query is None:
        return SearchPage(text, 0, (), page, 0, suggestion)
    searcher, ranker = index.ranked()
    # Fetch the page plus a little more, because an article hit is dropped when
    # one of its own sections already ranks above it.
    wanted = page * limit
    terms = list(query.iter_all_terms())  # a walk of the whole query tree: once
    docnums, scores, matched = ranker.rank(searcher, terms, coordination(query), wanted + limit)
    body_terms = frozenset(term for field, term in terms if field == "body")
    hits: list[SearchHit] = []
    ranked_articles: set[str] = set()
    dropped = 0
    for docnum, score in zip(docnums, scores, strict=True):
        fields = ranker.stored_fields(searcher, docnum)
        slug, anchor = fields["slug"], fields["anchor"]
        article = library.articles.get(slug)
        if article is None:
            dropped += 1
            continue
        if fields["kind"] == ARTICLE and slug in ranked_articles:
            dropped += 1
            continue
        ranked_articles.add(slug)
        if len(hits) >= wanted:
            continue
        hits.append(_hit(article, anchor, score, body_terms, article_url))
    total = max(0, matched - dropped)
    pages = -(-total // limit) if limit else 0
    hits_on_page = tuple(hits[(page - 1) * limit : wanted])
    return SearchPage(text, total, hits_on_page, page, pages, suggestion)


def _hit(article, anchor: str, score: float, body_terms: frozenset[str], article_url: str) -> SearchHit:
    section = article.section(anchor)
    # Snippets are one line: tables and lists read badly when their line breaks survive.
    text = " ".join((section.text if section else article.summary).split())
    snippet = snippet_html(text, body_terms)
    url = article_url + article.slug + (f"#{anchor}" if anchor else "")
    return SearchHit(
        title=article.title,
        section=section.title if section and anchor else "",
        url=url,
        snippet=snippet,
        score=round(score, 4),
        slug=article.slug,
        anchor=anchor,
    )


# A word's stem never changes; a help center's prose repeats a few thousand words.
_stem = functools.lru_cache(maxsize=50_000)(stem)
# Porter2 keeps the first two letters of every word but three ("dying" -> "die", ...).
_OTHER_PREFIXES: dict[str, set[str]] = {}
for _word, _form in exceptional_forms.items():
    if _word[:2] != _form[:2]:
        _OTHER_PREFIXES.setdefault(_form[:2], set()).add(_word[:2])


def learn_stems(words: Iterable[str]) -> None:
    """Stem a knowledge base's words ahead of its first searches, so that snippets find them ready."""
    for word in words:
        if word.isalpha():
            _stem(word)


@functools.lru_cache(maxsize=256)
def _candidates(initials: str) -> re.Pattern:
    """Match the tokens that start with one of the letters ``initials``.

    Tokens are cut as Whoosh's default tokenizer does (``\\w+(\\.?\\w+)*``), so a snippet
    marks exactly the words the index matched.

    The regex skips, in C, every word that cannot be a match; few queries bring a new set
    of first letters, so the compiled patterns are reused.
    """
    # A token starts after a non-word character, unless that is a dot inside a dotted name.
    return re.compile(r"\b(?<!\w\.)[" + re.escape(initials) + r"]\w*(?:\.\w+)*", re.IGNORECASE)


def _matches(text: str, terms: frozenset[str]) -> list[tuple[int, int, str]]:
    """Return (start, end, term) of every word of ``text`` that the analyzer turns into one of ``terms``."""
    # A word can only stem to a term if it starts with the term's first two letters (or,
    # for three exceptions, their other spelling).
    prefixes = {term[:2] for term in terms}
    prefixes |= {other for prefix in list(prefixes) for other in _OTHER_PREFIXES.get(prefix, ())}
    found = []
    for match in _candidates("".join(sorted({prefix[0] for prefix in prefixes}))).finditer(text):
        word = match.group().lower()
        if word[:2] not in prefixes:
            continue
        # The analyzer does not stem stop words and one-letter words.
        root = word if len(word) < 2 or word in STOP_WORDS else _stem(word)
        if root in terms:
            found.append((match.start(), match.end(), root))
    return found


@functools.lru_cache(maxsize=4096)
def snippet_html(text: str, terms: frozenset[str]) -> str:
    """Return up to two fragments of ``text`` around the words whose stems are in ``terms``, marked and escaped.

    Matches close together share a fragment of at most ``SNIPPET_CHARS`` characters; the
    fragments with the most different words (then the most matches) win and are shown in
    text order. Without a match, the start of the text stands in.

    The same sections come back for the same popular words, so recent snippets are kept
    (the function depends on its arguments alone); a new pair costs about 30 microseconds.
    """
    matches = _matches(text, terms) if text and terms else []
    if not matches:
        return escape(text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + ("…" if len(text) > SNIPPET_CHARS else ""))
    groups = []
    first = 0
    for i in range(1, len(matches) + 1):
        if (
            i == len(matches)
            or matches[i][0] - matches[i - 1][1] > SNIPPET_SURROUND
            or matches[i][1] - matches[first][0] > SNIPPET_CHARS - SNIPPET_SURROUND
        ):
            group = matches[first:i]
            groups.append((len({root for _, _, root in group}), len(group), -first, group))
            first = i
    best = sorted(groups, reverse=True)[:SNIPPET_FRAGMENTS]
    fragments = [_fragment(text, group) for *_, group in sorted(best, key=lambda g: -g[2])]
    return " … ".join(fragments)


_OPEN, _CLOSE = "\ue000", "\ue001"


def _fragment(text: str, group: list[tuple[int, int, str]]) -> str:
    """Mark the matches of one group, with whole words of context around them."""
    start, end = group[0][0], group[-1][1]
    room = max(0, SNIPPET_CHARS - (end - start)) // 2
    left = max(0, start - min(SNIPPET_SURROUND, room))
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space >= 0 else start
    right = min(len(text), end + min(SNIPPET_SURROUND, room))
    if right < len(text):
        space = text.rfind(" ", end, right + 1)
        right = space if space >= 0 else end
    pieces = []
    position = left
    for match_start, match_end, _ in group:
        pieces += ((text[position:match_start], False), (text[match_start:match_end], True))
        position = match_end
    pieces.append((text[position:right], False))
    if _OPEN in text[left:right] or _CLOSE in text[left:right]:
        return "".join(f"<mark>{escape(piece)}</mark>" if marked else escape(piece) for piece, marked in pieces)
    # One escape for the whole fragment, two private-use characters standing in for the tags.
    marked_text = "".join(_OPEN + piece + _CLOSE if marked else piece for piece, marked in pieces)
    return escape(marked_text).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")
