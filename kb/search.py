"""Search the help center: query shaping over the shared normaliser, ranking, snippets."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from whoosh import highlight, query as wq
from whoosh.analysis import STOP_WORDS

from kb.articles import Library
from kb.index import ANALYZER, ARTICLE, POINTER, SEARCH_FIELDS, open_index
from kb.render import escape
from kb.text import QUESTION_WORDS, Normalizer

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500
MAX_QUERY_WORDS = 12
SNIPPET_CHARS = 180
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


class MarkFormatter(highlight.Formatter):
    """Wrap matched words in ``<mark>``, escaping everything else; keeps no state."""

    between = " … "

    def _text(self, text):
        return escape(text)

    def format_token(self, text, token, replace=False):
        return f"<mark>{escape(highlight.get_text(text, token, replace))}</mark>"


HIGHLIGHTER = highlight.Highlighter(
    fragmenter=highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=60),
    formatter=MarkFormatter(),
)


class IndexSearcher:
    """Hand out one reused Whoosh searcher per thread, reopened after a new build is swapped in."""

    def __init__(self, index_dir: str | Path):
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._index = None
        self._stamp = None

    def _pointer_stamp(self):
        try:
            st = os.stat(self.index_dir / POINTER)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _shared_index(self, stamp):
        with self._lock:
            if self._stamp != stamp or self._index is None:
                self._index = open_index(self.index_dir)
                self._stamp = stamp
                log.info("opened index %s", self.index_dir)
            return self._index

    def searcher(self):
        """Return this thread's searcher on the live index."""
        stamp = self._pointer_stamp()
        local = self._local
        if getattr(local, "stamp", None) != stamp or getattr(local, "searcher", None) is None:
            old = getattr(local, "searcher", None)
            local.searcher = self._shared_index(stamp).searcher()
            local.stamp = stamp
            if old is not None:
                old.close()
        return local.searcher

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
        stems = {token.text for variant in variants for token in ANALYZER(variant)}
        subqueries = [wq.Term(field, s) for field in SEARCH_FIELDS if field != "tags" for s in stems]
        subqueries += [wq.Term("tags", v) for v in variants]
        clauses.append(wq.Or(subqueries))
    corrected = [fixed for _, fixed in terms]
    suggestion = " ".join(corrected) if any(t != f for t, f in terms) else None
    if not clauses:
        return None, suggestion
    return wq.Or(clauses, scale=COORDINATION), suggestion


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
    searcher = index.searcher()
    # Fetch the page plus a little more, because an article hit is dropped when
    # one of its own sections already ranks above it.
    wanted = page * limit
    results = searcher.search(query, limit=wanted + limit, terms=False)
    results.fragmenter = HIGHLIGHTER.fragmenter
    hits: list[SearchHit] = []
    ranked_articles: set[str] = set()
    dropped = 0
    for hit in results:
        fields = hit.fields()
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
        hits.append(_hit(article, anchor, hit, query, article_url))
    total = max(0, len(results) - dropped)
    pages = -(-total // limit) if limit else 0
    hits_on_page = tuple(hits[(page - 1) * limit : wanted])
    return SearchPage(text, total, hits_on_page, page, pages, suggestion)


def _hit(article, anchor: str, hit, query, article_url: str) -> SearchHit:
    section = article.section(anchor)
    # Snippets are one line: tables and lists read badly when their line breaks survive.
    text = " ".join((section.text if section else article.summary).split())
    snippet = HIGHLIGHTER.highlight_hit(hit, "body", text=text, top=2) if text else ""
    if not snippet:
        snippet = escape(text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + ("…" if len(text) > SNIPPET_CHARS else ""))
    url = article_url + article.slug + (f"#{anchor}" if anchor else "")
    return SearchHit(
        title=article.title,
        section=section.title if section and anchor else "",
        url=url,
        snippet=snippet,
        score=round(hit.score, 4),
        slug=article.slug,
        anchor=anchor,
    )
