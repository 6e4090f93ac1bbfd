"""The Whoosh index: one document per article (title, summary, tags) and one per section (heading, text).

Every build goes into a fresh directory beside the live one; a pointer file is then
replaced atomically, so a reader sees either the old index or the new one, never half
of either. A build that finds every article unchanged writes nothing; one that finds a
few changed starts from hard links to the live build's files (Whoosh never rewrites a
segment file, it only adds new ones) and reindexes just those articles.

Builds into one index folder take turns on a lock file in it (processes of one machine
starting together, or two `flask build-index` at once): the second finds the first's
build live and has nothing left to do, and no build ever deletes another one in progress.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import ID, KEYWORD, STORED, Schema
from whoosh.lang.porter2 import stem

from kb import internals
from kb.articles import Article, Library
from kb.internals import FreshWriter, StemmedText, codec

log = logging.getLogger(__name__)

# Whoosh's default token pattern, its group made non-capturing so that a build can take
# every token of a text in one findall() call (see kb.internals.TermCounter); it matches the same tokens.
TOKEN_PATTERN = r"[\w\*]+(?:\.?[\w\*]+)*"
# Porter2 undoubles consonants ("resetting" -> "reset"); Whoosh's default Porter does not.
ANALYZER = StemmingAnalyzer(expression=TOKEN_PATTERN, stemfn=stem)

# Text fields keep no word positions (phrase=False): search never asks for a phrase, and
# positions make the index larger and every posting slower to write and to read. Only
# `slug` is indexed among the identifiers (a rebuild deletes an article's documents by
# it); `id` and `kind` are only read back from hits, so they are stored, not indexed.
SCHEMA = Schema(
    id=STORED,
    slug=ID(stored=True),
    anchor=STORED,
    kind=STORED,
    title=StemmedText(analyzer=ANALYZER, field_boost=3.0, phrase=False),
    article_title=StemmedText(analyzer=ANALYZER, field_boost=1.5, phrase=False),
    summary=StemmedText(analyzer=ANALYZER, field_boost=1.5, phrase=False),
    body=StemmedText(analyzer=ANALYZER, phrase=False),
    tags=KEYWORD(lowercase=True, commas=True, scorable=True, field_boost=2.0),
)
SEARCH_FIELDS = ("title", "article_title", "summary", "body", "tags")
# Bump when SCHEMA or documents() change: a build then reindexes everything instead of
# adding new documents to segments written the old way.
INDEX_FORMAT = 3
# An update of at least this many articles to an existing index is split between two
# writer processes. Smaller ones are not worth the start-up cost (and tests never fork).
# A build from nothing takes the in-memory writer in one process instead (kb.internals.FreshWriter):
# on a two-core machine whose other core is busy, the second process saved nothing.
PARALLEL_BUILD_ARTICLES = 2000
BUILD_PROCESSES = 2

POINTER = "CURRENT"
MANIFEST = "manifest.json"
BUILD_LOCK = ".build.lock"
ARTICLE, SECTION = "article", "section"


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    path: str
    added: int
    updated: int
    removed: int
    unchanged: int
    seconds: float

    @property
    def changed(self) -> bool:
        """Tell whether the build wrote a new index."""
        return bool(self.added or self.updated or self.removed)


def documents(article: Article) -> list[dict]:
    """Return the index documents for one article: itself and each of its sections."""
    docs = [
        {
            "id": article.slug,
            "slug": article.slug,
            "anchor": "",
            "kind": ARTICLE,
            "title": article.title,
            "summary": article.summary,
            "tags": ",".join(article.tags),
        }
    ]
    for section in article.sections:
        if not section.anchor:
            # The intro belongs to the article document: it is what the summary sums up.
            docs[0]["body"] = section.text
            continue
        docs.append(
            {
                "id": f"{article.slug}#{section.anchor}",
                "slug": article.slug,
                "anchor": section.anchor,
                "kind": SECTION,
                "title": section.title,
                "article_title": article.title,
                "body": section.text,
            }
        )
    return docs


def current_path(index_dir: str | Path) -> Path | None:
    """Return the directory of the live index, or None if there is none."""
    pointer = Path(index_dir) / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    path = Path(index_dir) / name
    return path if name and (path / MANIFEST).is_file() else None


def open_index(index_dir: str | Path):
    """Open the live index; raise ``FileNotFoundError`` if none has been built."""
    path = current_path(index_dir)
    if path is None:
        raise FileNotFoundError(f"no index in {index_dir}: run 'flask build-index'")
    return whoosh_index.open_dir(str(path))


def _read_manifest(path: Path | None) -> dict[str, str]:
    """Return the live build's article digests, or nothing if it was built another way."""
    if path is None:
        return {}
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("format") != INDEX_FORMAT:
        return {}
    return manifest.get("articles") or {}


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link a file of the live build into the new one; copy where links are not possible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _parallel(articles: int) -> bool:
    """Tell whether indexing this many articles is worth a second writer process."""
    return articles >= PARALLEL_BUILD_ARTICLES and BUILD_PROCESSES > 1 and (os.cpu_count() or 1) > 1


def _writer(ix, parallel: bool, fresh: bool):
    """Open a writer: for an empty index the in-memory one; several processes for a big update; one otherwise."""
    if fresh and internals.FAST:
        return FreshWriter(ix, codec=codec())
    if parallel:
        # multisegment: each process's segment is kept as it is; merging them would
        # take about as long as the time the second process saved.
        return ix.writer(procs=BUILD_PROCESSES, multisegment=True, limitmb=128, codec=codec())
    return ix.writer(limitmb=256, codec=codec())


def _swap(index_dir: Path, build: Path, previous: Path | None) -> None:
    """Point readers at ``build`` in one atomic rename, then drop older builds.

    Called with the build lock held, so ``previous`` is what readers saw until now and no
    other build is in progress: every other ``build-*`` folder is finished or abandoned.
    """
    tmp = index_dir / f".{POINTER}.{uuid.uuid4().hex}"
    tmp.write_text(build.name, encoding="utf-8")
    os.replace(tmp, index_dir / POINTER)
    # Keep the previous build: a reader in another process may have read the old
    # pointer a moment ago and not opened its files yet. Anything older goes.
    for old in index_dir.glob("build-*"):
        if old != build and old != previous:
            shutil.rmtree(old, ignore_errors=True)


def build_index(library: Library, index_dir: str | Path, *, full: bool = False) -> BuildReport:
    """Index the library aside, reusing the live index for unchanged articles, then swap it in.

    One build at a time per index folder: a build waits for one in progress to finish
    (then, unless ``full``, it usually finds nothing left to do).
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / BUILD_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(library, index_dir, full)


def _build_locked(library: Library, index_dir: Path, full: bool) -> BuildReport:
    started = time.perf_counter()
    live = current_path(index_dir)
    before = {} if full else _read_manifest(live)
    after = {slug: article.digest for slug, article in library.articles.items()}
    added = [s for s in after if s not in before]
    updated = [s for s in after if s in before and before[s] != after[s]]
    removed = [s for s in before if s not in after]
    unchanged = len(after) - len(added) - len(updated)
    if live is not None and before and not (added or updated or removed):
        return BuildReport(str(live), 0, 0, 0, unchanged, time.perf_counter() - started)

    build = index_dir / f"build-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    try:
        if live is not None and before:
            # Whoosh only ever adds files; the manifest and the lock are ours to rewrite, so they are left behind.
            shutil.copytree(live, build, copy_function=_link_or_copy, ignore=shutil.ignore_patterns("*LOCK*", MANIFEST))
            ix = whoosh_index.open_dir(str(build))
        else:
            build.mkdir()
            ix = whoosh_index.create_in(str(build), SCHEMA)
            added, updated, removed, unchanged = list(after), [], [], 0
        fresh = not ix.doc_count_all()
        parallel = not fresh and _parallel(len(added) + len(updated))
        written = 0
        with _writer(ix, parallel, fresh) as writer:
            for slug in updated + removed:
                writer.delete_by_term("slug", slug)
            for slug in added + updated:
                for doc in documents(library.articles[slug]):
                    writer.add_document(**doc)
                    written += 1
        if parallel:
            # Whoosh's multiprocess writer drops a worker's documents without a word if the
            # worker's result does not arrive in time: never swap in an index that lost some.
            kept = set(added) | set(updated)
            expected = written + sum(len(documents(a)) for slug, a in library.articles.items() if slug not in kept)
            if ix.doc_count() != expected:
                raise RuntimeError(f"index build lost documents: {ix.doc_count()} of {expected}")
        ix.close()
        manifest = {"format": INDEX_FORMAT, "articles": after}
        # A new file, never an overwrite: a linked file would change in the live build too.
        tmp = build / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
        os.replace(tmp, build / MANIFEST)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    _swap(index_dir, build, live)
    report = BuildReport(str(build), len(added), len(updated), len(removed), unchanged, time.perf_counter() - started)
    log.info("index built: %s", report)
    return report
