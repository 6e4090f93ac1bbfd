"""Benchmark the help-center search on a generated knowledge base, against SQLite FTS5.

Run from the repository root:

    .venv/bin/python bench/search_bench.py [--articles 10000] [--queries 300] [--json results.json]

It writes N generated articles to a temporary directory, loads them with the project's
loader, builds the Whoosh index (full, then again after one article changes), runs the
same queries through ``kb.search.search`` as the API does, builds an FTS5 index of the
same documents and runs the same queries there, and finally times the shipped articles.
See ``bench/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import gc
import importlib.metadata
import json
import logging
import os
import platform
import pstats
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import corpus  # noqa: E402  (beside this file)

import kb  # noqa: E402
from kb.articles import Library, load_articles  # noqa: E402
from kb.index import build_index, documents  # noqa: E402
from kb.search import IGNORED_WORDS, search  # noqa: E402
from kb.words import words  # noqa: E402

TARGETS_MS = {"median": 3.0, "p99": 15.0, "shipped_median": 1.0}
TARGETS_S = {"full_build": 10.0, "rebuild_one": 1.0}
LIMIT = 10

# Queries a help-center visitor types: keywords, questions, and both with typos.
FIXED_QUERIES = (
    "password",
    "invoice",
    "printer",
    "vpn",
    "calendar",
    "signature",
    "refund",
    "backup",
    "wifi",
    "spam",
    "reset password",
    "change email signature",
    "shared calendar",
    "payment method",
    "storage quota full",
    "two-step verification",
    "meeting recording",
    "offline mode android",
    "delete contact group",
    "export audit log",
    "cancel subscription",
    "forwarding rule",
    "app password",
    "printer offline",
    "screen share mac",
    "recovery code",
    "guest network",
    "push notification",
    "virtual background",
    "how do I change my password",
    "how can I get a refund for my subscription",
    "why is my shared calendar not syncing",
    "how do I turn on two-step verification",
    "what happens when my storage quota is full",
    "how do I add a printer on windows",
    "can I recover a deleted file",
    "how to set up an automatic reply",
    "why can't I join a video meeting",
    "where do I find my invoices",
    "my vpn keeps dropping every few minutes",
    "who can see my profile photo",
    "how do I merge duplicate contacts",
    "pasword reset",
    "chnage signature",
    "calender sharing",
    "recieve invoice",
    "two step verfication",
    "subscripton cancel",
    "how do i resset my pasword",
    "vpn not conecting",
    "shared folder permisions",
    "notifcations not working on iphone",
    "how do I exprot my adress book",
    "webcam shows a blak image",
)

# Queries on the shipped articles (email protocols and client settings).
SHIPPED_QUERIES = (
    "imap settings",
    "imap setings",
    "incoming mail server",
    "smtp port",
    "outgoing server",
    "outgoign server",
    "smtp authentification",
    "pop3",
    "pop 3",
    "how do I enable POP3",
    "why is pop3 not supported",
    "ssl",
    "encrypted connections required",
    "login",
    "username",
    "common mistakes",
    "syncronization across devices",
    "which protocols are supported",
    "what port for smtp",
    "password",
)


def typo(rng: random.Random, text: str) -> str:
    """Put one typing mistake into one of the longer words."""
    tokens = text.split()
    candidates = [i for i, t in enumerate(tokens) if len(t) >= 5 and t.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = tokens[i]
    at = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        w = w[:at] + w[at + 1] + w[at] + w[at + 2 :]  # swap two letters
    elif kind == 1:
        w = w[:at] + w[at + 1 :]  # drop one
    else:
        w = w[:at] + w[at] + w[at:]  # double one
    tokens[i] = w
    return " ".join(tokens)


def make_queries(count: int, seed: int) -> list[str]:
    """Return ``count`` distinct queries: the fixed ones first, then generated ones."""
    rng = random.Random(seed)
    queries = list(dict.fromkeys(FIXED_QUERIES))
    shapes = (
        "{thing}",
        "{thing}",
        "{verb} {thing}",
        "{thing} {short}",
        "{word}",
        "{word} {thing}",
        "how do I {verb} my {thing}",
        "how can I {verb} my {thing} {platform}",
        "why is my {thing} {problem}",
        "what happens when I {verb} my {thing}",
        "where do I find my {thing}",
        "{thing} {problem}",
    )
    seen = set(queries)
    while len(queries) < count:
        topic = rng.choice(corpus.TOPICS)
        thing = rng.choice(topic.things)
        on, short = rng.choice(corpus.PLATFORMS)
        text = rng.choice(shapes).format(
            thing=thing.name.lower(),
            verb=rng.choice(thing.verbs),
            platform=on,
            short=short.lower(),
            problem=rng.choice(thing.problems),
            word=rng.choice(topic.words),
        )
        if len(text.split()) <= 3 or text.startswith(("how", "why", "what", "where")):
            if rng.random() < 0.2:
                text = typo(rng, text)
            if text not in seen:
                seen.add(text)
                queries.append(text)
    return queries[:count]


# --- measuring ----------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Return the nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Timings:
    """Wall-clock and CPU time of repeated calls (CPU time shows the cost without the neighbours' noise)."""

    def __init__(self):
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def call(self, fn, *args, **kwargs):
        cpu, wall = time.thread_time(), time.perf_counter()
        result = fn(*args, **kwargs)
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.thread_time() - cpu)
        return result

    def summary(self) -> dict[str, float] | None:
        """Median, p99, mean and max in milliseconds, wall-clock and CPU."""
        if not self.wall:
            return None
        wall, cpu = [s * 1000 for s in self.wall], [s * 1000 for s in self.cpu]
        return {
            "n": len(wall),
            "median_ms": round(statistics.median(wall), 3),
            "p99_ms": round(percentile(wall, 99), 3),
            "mean_ms": round(statistics.fmean(wall), 3),
            "max_ms": round(max(wall), 3),
            "cpu_median_ms": round(statistics.median(cpu), 3),
            "cpu_p99_ms": round(percentile(cpu, 99), 3),
            "cpu_mean_ms": round(statistics.fmean(cpu), 3),
        }


def timed(fn, *args, **kwargs):
    """Call ``fn``; return its result, the wall-clock seconds and the CPU seconds (this process and its children)."""
    before, started = os.times(), time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    after = os.times()
    return result, seconds, sum(after[i] - before[i] for i in range(4))


def run_whoosh(base, queries: list[str], repeats: int, profile: Path | None, cold: bool = True) -> dict:
    """Time the API's search call on each query: first time seen, repeated, and with the term cache emptied."""

    def one(text):
        return search(base.index, base.library, base.normalizer, text, limit=LIMIT, article_url=base.article_url)

    # Opening the index is paid once per process (and after each rebuild); time it apart,
    # and the background warming of the term cache that starts with it. (Code from before
    # the ranker had neither; the benchmark still runs on it, to compare.)
    ranked = getattr(base.index, "ranked", None)
    opened, open_seconds, _ = timed(ranked or base.index.searcher)
    ranker = opened[1] if ranked else None
    started = time.perf_counter()
    if ranker:
        ranker.wait_until_warm()
    warm_seconds = time.perf_counter() - started
    warmed = ranker.cached_postings if ranker else 0
    profiler = cProfile.Profile() if profile else None
    first, hits = Timings(), 0
    for text in queries:
        if profiler:
            profiler.enable()
        page = first.call(one, text)
        if profiler:
            profiler.disable()
        hits += bool(page.hits)
    cached = ranker.cached_postings if ranker else 0
    again = Timings()
    for _ in range(repeats):
        for text in queries:
            again.call(one, text)
    # The worst case: every term read from the index again, as right after a start or a rebuild.
    cold_terms = Timings()
    for text in queries if cold and ranker else ():
        ranker.clear()
        cold_terms.call(one, text)
    if profiler:
        profiler.dump_stats(profile)
        pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(25)
    return {
        "open_ms": round(open_seconds * 1000, 2),
        "warm_seconds": round(warm_seconds, 3),
        "warmed_postings": warmed,
        "first": first.summary(),
        "repeated": again.summary(),
        "cold_terms": cold_terms.summary(),
        "queries_with_hits": hits,
        "cached_postings": cached,
    }


FTS_COLUMNS = ("title", "article_title", "summary", "body", "tags")
# Same field weights as the Whoosh schema (title 3, article title 1.5, summary 1.5, body 1, tags 2).
FTS_WEIGHTS = (3.0, 1.5, 1.5, 1.0, 2.0)


def build_fts(library: Library, path: Path) -> tuple[sqlite3.Connection, int]:
    """Index the same documents as Whoosh in an FTS5 table on disk; return it and its row count."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, "
        + ", ".join(FTS_COLUMNS)
        + ", tokenize='porter unicode61')"
    )
    rows = (
        (doc["id"], *(doc.get(c, "") for c in FTS_COLUMNS[:-1]), doc.get("tags", "").replace(",", " "))
        for article in library.articles.values()
        for doc in documents(article)
    )
    with db:
        db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.execute("INSERT INTO docs(docs) VALUES ('optimize')")
    count = db.execute("SELECT count(*) FROM docs").fetchone()[0]
    return db, count


def fts_query(text: str) -> str | None:
    """OR the meaningful words, each quoted so nothing is read as FTS5 syntax."""
    found = words(text)
    meaningful = [w for w in found if w not in IGNORED_WORDS] or found
    if not meaningful:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in meaningful[:12])


def run_fts(db: sqlite3.Connection, queries: list[str], repeats: int) -> dict:
    weights = ", ".join(map(str, FTS_WEIGHTS))
    sql = (
        f"SELECT id, snippet(docs, 4, '<mark>', '</mark>', '…', 24), bm25(docs, 0, {weights}) AS score "
        f"FROM docs WHERE docs MATCH ? ORDER BY score LIMIT {LIMIT}"
    )

    def one(text):
        match = fts_query(text)
        return db.execute(sql, (match,)).fetchall() if match else []

    first, again, hits = Timings(), Timings(), 0
    for text in queries:
        hits += bool(first.call(one, text))
    for _ in range(repeats):
        for text in queries:
            again.call(one, text)
    return {"first": first.summary(), "repeated": again.summary(), "queries_with_hits": hits}


def change_one_article(base, articles_dir: Path, work: Path, slug: str) -> Library:
    """Edit one article on disk; return the library with that article reloaded and the others as they were.

    Reloading all 10,000 files would time the loader again; the rebuild only needs the new digest.
    """
    path = articles_dir / f"{slug}.md"
    text = path.read_text(encoding="utf-8") + "\n## Recent changes\n\nThis article was reviewed and updated.\n"
    path.write_text(text, encoding="utf-8")
    one = work / "one"
    one.mkdir(exist_ok=True)
    for old in one.glob("*.md"):
        old.unlink()
    (one / path.name).write_text(text, encoding="utf-8")
    with _quiet("kb.articles"):
        reloaded = load_articles(one, base.settings, base.article_url)
    return Library({**base.library.articles, **reloaded.articles})


# --- reporting ----------------------------------------------------------------------------


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def verdict(value: float, target: float) -> str:
    return f"< {target:g} {'ok' if value < target else 'MISSED'}"


def print_report(r: dict) -> None:
    c, env = r["corpus"], r["environment"]
    print()
    print(
        f"Search benchmark: {c['articles']:,} articles, {c['index_documents']:,} index documents, "
        f"{c['words']:,} words; {r['queries']} queries, {r['repeats']} repeated passes; seed {r['seed']}"
    )
    print(
        f"{env['python']}, whoosh-reloaded {env['whoosh']}, SQLite {env['sqlite']}, {env['cpus']} CPUs, "
        f"load average {env['load_before']:.1f} before, {env['load_after']:.1f} after"
    )
    print()
    print(f"{'step':<36}{'wall s':>9}{'CPU s':>9}   target (wall)")
    for key, name, target in [
        ("generate", "generate corpus", None),
        ("load", "load knowledge base", None),
        ("load_again", "load again (render cache)", None),
        ("full_build", "full index build (whoosh)", TARGETS_S["full_build"]),
        ("rebuild_one", "rebuild, one article changed", TARGETS_S["rebuild_one"]),
        ("rebuild_none", "rebuild, nothing changed", None),
        ("fts_build", "FTS5 build", None),
    ]:
        if key not in r["seconds"]:
            continue
        wall, cpu = r["seconds"][key], r["cpu_seconds"][key]
        print(f"{name:<36}{wall:>9.2f}{cpu:>9.2f}   {verdict(wall, target) if target else ''}")
    print()
    print(f"{'search, top 10 with snippets':<36}{'median':>10}{'p99':>11}{'mean':>11}{'CPU median':>12}{'CPU p99':>11}")

    def row(name, t, note=""):
        if t:
            print(
                f"{name:<36}{fmt_ms(t['median_ms']):>10}{fmt_ms(t['p99_ms']):>11}{fmt_ms(t['mean_ms']):>11}"
                f"{fmt_ms(t['cpu_median_ms']):>12}{fmt_ms(t['cpu_p99_ms']):>11}   {note}"
            )

    w, f, s = r["whoosh"], r["fts5"], r["shipped"]
    row(
        "whoosh, first time seen",
        w["first"],
        f"median {verdict(w['first']['median_ms'], TARGETS_MS['median'])}, "
        f"p99 {verdict(w['first']['p99_ms'], TARGETS_MS['p99'])}",
    )
    row("whoosh, repeated", w["repeated"])
    row("whoosh, term cache emptied each time", w["cold_terms"])
    row("FTS5, first time seen", f["first"])
    row("FTS5, repeated", f["repeated"])
    ratio = r["ratios"]
    print(
        f"{'ratio whoosh / FTS5 (first seen)':<36}{ratio['median']:>9.1f}x{ratio['p99']:>10.1f}x{ratio['mean']:>10.1f}x"
        f"{ratio['cpu_median']:>11.1f}x{ratio['cpu_p99']:>10.1f}x"
    )
    row(
        "shipped KB, first time seen",
        s["first"],
        f"median {verdict(s['first']['median_ms'], TARGETS_MS['shipped_median'])}",
    )
    row("shipped KB, repeated", s["repeated"])
    print()
    print(
        f"Opening the index: {w['open_ms']:.1f} ms ({c['articles']:,} articles), {s['open_ms']:.1f} ms (shipped); "
        f"then warming the term cache in the background: {w['warm_seconds']:.2f} s, {w['warmed_postings']:,} postings "
        f"(searches waited for it). Postings cached after the first pass: {w['cached_postings']:,}."
    )
    print(
        f"Queries with at least one hit: whoosh {w['queries_with_hits']}/{r['queries']}, "
        f"FTS5 {f['queries_with_hits']}/{r['queries']} (FTS5 has no typo correction or synonyms)."
    )
    print(
        "Nothing caches results: 'repeated' differs from 'first time seen' only by warmer term, stem, "
        "spelling and stored-field caches."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000, help="articles to generate (default 10000)")
    parser.add_argument("--queries", type=int, default=300, help="distinct queries to run (default 300)")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the queries after the first (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the corpus and the queries")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--workdir", type=Path, help="keep the corpus and indexes here instead of a temporary directory"
    )
    parser.add_argument("--profile", type=Path, help="profile the first pass of searches into this file and print it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    with contextlib.ExitStack() as stack:
        if args.workdir:
            work = args.workdir
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kb-bench-")))
        result = run(args, work)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.json}")
    return 0


def run(args, work: Path) -> dict:
    articles_dir, index_dir = work / "articles", work / "index"
    for stale in articles_dir.glob("*.md") if articles_dir.exists() else ():
        stale.unlink()
    shutil.rmtree(index_dir, ignore_errors=True)
    load_before = os.getloadavg()[0]
    wall, cpu = {}, {}

    print(f"generating {args.articles:,} articles ...", flush=True)
    generated, wall["generate"], cpu["generate"] = timed(corpus.generate, articles_dir, args.articles, args.seed)
    print("loading ...", flush=True)
    base, wall["load"], cpu["load"] = timed(kb.load_knowledge_base, articles_dir, index_dir)
    if base.library.problems:
        print(f"  {len(base.library.problems)} article problems, first: {base.library.problems[0]}")
    word_count = sum(len(a.text.split()) for a in generated)
    print(f"  generated in {wall['generate']:.1f} s, loaded in {wall['load']:.1f} s", flush=True)
    if hasattr(kb, "RENDER_CACHE"):
        # A restart: the articles' renderings are kept in the index folder. (Code from before
        # the render cache would render everything again; the step is skipped there.)
        again, wall["load_again"], cpu["load_again"] = timed(kb.load_knowledge_base, articles_dir, index_dir)
        assert again.library.articles == base.library.articles
        del again  # not kept alive beside the first through the searches
        print(f"  loaded again in {wall['load_again']:.1f} s (render cache)", flush=True)

    print("building the index ...", flush=True)
    _, wall["full_build"], cpu["full_build"] = timed(build_index, base.library, index_dir, full=True)
    print(f"  full build {wall['full_build']:.2f} s", flush=True)
    changed = random.Random(args.seed).choice(sorted(base.library.articles))
    library = change_one_article(base, articles_dir, work, changed)
    doc_count = sum(len(documents(a)) for a in library.articles.values())
    rebuild, wall["rebuild_one"], cpu["rebuild_one"] = timed(build_index, library, index_dir)
    assert (rebuild.updated, rebuild.added, rebuild.removed) == (1, 0, 0), rebuild
    _, wall["rebuild_none"], cpu["rebuild_none"] = timed(build_index, library, index_dir)
    base = dataclasses.replace(base, library=library)

    queries = make_queries(args.queries, args.seed)
    gc.collect()
    print("searching (whoosh) ...", flush=True)
    whoosh = run_whoosh(base, queries, args.repeats, args.profile)

    print("building and searching FTS5 ...", flush=True)
    (db, fts_rows), wall["fts_build"], cpu["fts_build"] = timed(build_fts, library, work / "fts.sqlite3")
    assert fts_rows == doc_count, (fts_rows, doc_count)
    fts = run_fts(db, queries, args.repeats)
    db.close()

    print("searching the shipped articles ...", flush=True)
    shipped_dir = work / "shipped-index"
    shutil.rmtree(shipped_dir, ignore_errors=True)
    shipped = kb.load_knowledge_base(ROOT / "articles", shipped_dir)
    build_index(shipped.library, shipped_dir, full=True)
    shipped_result = run_whoosh(shipped, list(SHIPPED_QUERIES), max(args.repeats, 5), None)

    ratios = {}
    for key in ("median", "p99", "mean", "cpu_median", "cpu_p99"):
        ratios[key] = round(whoosh["first"][f"{key}_ms"] / max(fts["first"][f"{key}_ms"], 1e-6), 2)
    return {
        "corpus": {"articles": len(base.library.articles), "index_documents": doc_count, "words": word_count},
        "queries": len(queries),
        "repeats": args.repeats,
        "seed": args.seed,
        "environment": {
            "python": f"Python {platform.python_version()}",
            "whoosh": importlib.metadata.version("whoosh-reloaded"),
            "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        },
        "seconds": {key: round(value, 4) for key, value in wall.items()},
        "cpu_seconds": {key: round(value, 4) for key, value in cpu.items()},
        "whoosh": whoosh,
        "fts5": fts,
        "ratios": ratios,
        "shipped": shipped_result,
        "targets": {**{f"{k}_ms": v for k, v in TARGETS_MS.items()}, **{f"{k}_s": v for k, v in TARGETS_S.items()}},
    }


@contextlib.contextmanager
def _quiet(name: str):
    """Silence one logger: an article loaded on its own reports its links to the others as missing."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
