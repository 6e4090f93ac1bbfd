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
from kb.render import escape, html_to_text
from kb.text import QUESTION_WORDS, Normalizer

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500
MAX_QUERY_WORDS = 12
SNIPPET_CHARS = 180
# Context kept on each side of the marked words, and how many fragments a snippet joins.
SNIPPET_SURROUND = 60
SNIPPET_FRAGMENTS = 2
# A result scoring below this share of the best one is noise (a section that mentions one of the
# words in passing): it is neither shown nor counted.
RELEVANCE_SHARE = 0.2
# A sentence ends at . ! ? or … followed by space and what can start a sentence.
SENTENCE_END_RE = re.compile(r"(?<=[.!?…])\s+(?=[\"“(\[]?[A-Z0-9])")
# Separators between the title of an article and of its section, as the pages show them.
HEADING_SEPARATOR = " › "
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

    @property
    def heading(self) -> str:
        """Return the result's title as the pages show it: "Article › Section" (or the article alone)."""
        return f"{self.title}{HEADING_SEPARATOR}{self.section}" if self.section else self.title


@dataclass(frozen=True)
class ResultGroup:
    """The results of one article on a page: the article, and its sections in rank order."""

    title: str
    slug: str
    url: str
    summary: str
    hits: tuple[SearchHit, ...]


@dataclass(frozen=True)
class SearchPage:
    """A page of results and what the query became."""

    query: str
    total: int
    hits: tuple[SearchHit, ...]
    page: int
    pages: int
    suggestion: str | None
    articles: int = 0  # how many articles the counted results come from (when all of them were seen)

    def groups(self, library: Library, article_url: str = "/articles/") -> tuple[ResultGroup, ...]:
        """Group this page's hits by article, in the order of each article's best hit."""
        found: dict[str, list[SearchHit]] = {}
        for hit in self.hits:
            found.setdefault(hit.slug, []).append(hit)
        return tuple(
            ResultGroup(article.title, slug, article_url + slug, article.summary, tuple(hits))
            for slug, hits in found.items()
            if (article := library.articles.get(slug)) is not None
        )


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
    docnums, scores, matched = ranker.rank(
        searcher, terms, coordination(query), wanted + limit, relevance=RELEVANCE_SHARE
    )
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
    # Every counted result was looked at: the number of articles they come from is exact.
    articles = len(ranked_articles) if len(docnums) >= matched else 0
    return SearchPage(text, total, hits_on_page, page, pages, suggestion, articles)


@functools.lru_cache(maxsize=2048)
def snippet_source(section_html: str) -> str:
    """Return a section's text as snippets quote it: one line per paragraph, list item or table row, no markup."""
    return html_to_text(section_html, markers=False)


def _hit(article, anchor: str, score: float, body_terms: frozenset[str], article_url: str) -> SearchHit:
    section = article.section(anchor)
    text = snippet_source(section.html) if section else article.summary
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


def _units(text: str) -> list[tuple[str, int, int]]:
    """Split text into sentences, list items and table rows: (text, line number, place in the text)."""
    units, seen, place = [], set(), 0
    for number, line in enumerate(text.split("\n")):
        for sentence in SENTENCE_END_RE.split(" ".join(line.split())):
            if not sentence:
                continue  # a blank line between paragraphs is no gap in the text
            key = sentence.casefold()
            place += 1
            # The same sentence twice (in a paragraph and again in a table) is quoted once.
            if key not in seen:
                seen.add(key)
                units.append((sentence, number, place))
    return units


@functools.lru_cache(maxsize=4096)
def snippet_html(text: str, terms: frozenset[str]) -> str:
    """Return the sentences, list items or table rows of ``text`` that hold the words whose stems are in
    ``terms``, marked and escaped.

    A snippet starts where a sentence (or an item, or a row) starts, never inside one: the
    unit with the most different words (then the most matches) comes first, a second one is
    added if it brings other words and fits in ``SNIPPET_CHARS``, and a short snippet takes
    the following unit as context. Units are shown in text order; a gap between them is an
    ellipsis. Only a unit longer than ``SNIPPET_CHARS`` is cut, at spaces around its matches.
    Without a match, the text's first units stand in. Lines of ``text`` are units of their
    own (paragraphs, items, rows), so a snippet never runs two list items into one sentence.

    The same sections come back for the same popular words, so recent snippets are kept
    (the function depends on its arguments alone).
    """
    units = _units(text)
    if not units:
        return ""
    found = [_matches(unit, terms) if terms else [] for unit, *_ in units]
    ranked = sorted(
        (i for i in range(len(units)) if found[i]),
        key=lambda i: (-len({root for *_, root in found[i]}), -len(found[i]), i),
    )
    chosen: list[int] = []
    if ranked:
        chosen.append(ranked[0])
        words = {root for *_, root in found[ranked[0]]}
        for i in ranked[1:]:
            if len(chosen) == SNIPPET_FRAGMENTS:
                break
            new_words = {root for *_, root in found[i]} - words
            if new_words and _length(units, [*chosen, i]) <= SNIPPET_CHARS:
                chosen.append(i)
                words |= new_words
    else:
        chosen.append(0)
    # Room left: the sentence after the best one says what it was about (and after a lead-in
    # such as "IMAP:", what it leads into).
    following = chosen[0] + 1
    while following < len(units) and following not in chosen and _length(units, [*chosen, following]) <= SNIPPET_CHARS:
        chosen.append(following)
        if not units[following][0].endswith(":"):
            break
        following += 1
    chosen.sort()
    pieces = []
    for n, i in enumerate(chosen):
        if n:
            previous = chosen[n - 1]
            if units[previous][2] + 1 != units[i][2]:
                pieces.append(" … ")
            elif units[previous][1] != units[i][1] and units[previous][0][-1:] not in ".:!?;…":
                pieces.append("; ")  # two list items or table rows: kept apart
            else:
                pieces.append(" ")
        unit = units[i][0]
        pieces.append(_fragment(unit, found[i]) if found[i] else _cut(unit))
    return "".join(pieces)


def _length(units: list[tuple[str, int, int]], indexes: list[int]) -> int:
    return sum(min(len(units[i][0]), SNIPPET_CHARS) for i in indexes) + 3 * (len(indexes) - 1)


def _cut(unit: str) -> str:
    """Return a unit without a match, escaped, cut at a space before ``SNIPPET_CHARS``."""
    if len(unit) <= SNIPPET_CHARS:
        return escape(unit)
    return escape(unit[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…")


_OPEN, _CLOSE = "\ue000", "\ue001"


def _fragment(text: str, group: list[tuple[int, int, str]]) -> str:
    """Mark the matches in one unit; a unit too long to quote whole is cut at spaces around them."""
    if len(text) <= SNIPPET_CHARS:
        return _marked(text, group, 0, len(text))
    # Keep the matches that fit in one stretch of the snippet's length, from the first.
    group = [m for m in group if m[1] - group[0][0] <= SNIPPET_CHARS - SNIPPET_SURROUND] or group[:1]
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
    # A cut shows an ellipsis; the start of a sentence does not need one.
    return ("…" if left > 0 else "") + _marked(text, group, left, right) + ("…" if right < len(text) else "")


def _marked(text: str, group: list[tuple[int, int, str]], left: int, right: int) -> str:
    """Return ``text[left:right]`` escaped, with the matches of ``group`` in ``<mark>``."""
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
