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
import gc
import importlib.metadata
import json
import logging
import os
import platform
import pstats
import random
import re
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
from kb.text import words  # noqa: E402

TARGETS_MS = {"median": 3.0, "p99": 15.0, "shipped_median": 1.0}
TARGETS_S = {"full_build": 10.0, "rebuild_one": 1.0}
LIMIT = 10

# Queries a help-center visitor types: keywords, questions, and both with typos.
FIXED_QUERIES = (
    "password", "invoice", "printer", "vpn", "calendar", "signature", "refund", "backup", "wifi", "spam",
    "reset password", "change email signature", "shared calendar", "payment method", "storage quota full",
    "two-step verification", "meeting recording", "offline mode android", "delete contact group",
    "export audit log", "cancel subscription", "forwarding rule", "app password", "printer offline",
    "screen share mac", "recovery code", "guest network", "push notification", "virtual background",
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
    "pasword reset", "chnage signature", "calender sharing", "recieve invoice", "two step verfication",
    "subscripton cancel", "how do i resset my pasword", "vpn not conecting", "shared folder permisions",
    "notifcations not working on iphone", "how do I exprot my adress book", "webcam shows a blak image",
)

# Queries on the shipped articles (email protocols and client settings).
SHIPPED_QUERIES = (
    "imap settings", "imap setings", "incoming mail server", "smtp port", "outgoing server", "outgoign server",
    "smtp authentification", "pop3", "pop 3", "how do I enable POP3", "why is pop3 not supported", "ssl",
    "encrypted connections required", "login", "username", "common mistakes", "syncronization across devices",
    "which protocols are supported", "what port for smtp", "password",
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
        "{thing}", "{thing}", "{verb} {thing}", "{thing} {short}", "{word}", "{word} {thing}",
        "how do I {verb} my {thing}", "how can I {verb} my {thing} {platform}", "why is my {thing} {problem}",
        "what happens when I {verb} my {thing}", "where do I find my {thing}", "{thing} {problem}",
    )
    seen = set(queries)
    while len(queries) < count:
        topic = rng.choice(corpus.TOPICS)
        thing = rng.choice(topic.things)
        on, short = rng.choice(corpus.PLATFORMS)
        text = rng.choice(shapes).format(
            thing=thing.name.lower(), verb=rng.choice(thing.verbs), platform=on, short=short.lower(),
            problem=rng.choice(thing.problems), word=rng.choice(topic.words),
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


def summary(seconds: list[float]) -> dict[str, float]:
    """Median, p99, mean and max of timings, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "max_ms": round(max(ms), 3),
    }


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def run_whoosh(base, queries: list[str], repeats: int, profile: Path | None) -> dict:
    """Time every query the first time it is seen, then ``repeats`` more passes over all of them."""

    def one(text):
        return search(base.index, base.library, base.normalizer, text, limit=LIMIT, article_url=base.article_url)

    # Opening the index is paid once per process (and after each rebuild); time it apart.
    _, open_seconds = timed(base.index.searcher)
    profiler = cProfile.Profile() if profile else None
    first, hits = [], 0
    for text in queries:
        if profiler:
            profiler.enable()
        page, seconds = timed(one, text)
        if profiler:
            profiler.disable()
        first.append(seconds)
        hits += bool(page.hits)
    again = []
    for _ in range(repeats):
        for text in queries:
            again.append(timed(one, text)[1])
    if profiler:
        profiler.dump_stats(profile)
        pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(25)
    return {
        "open_ms": round(open_seconds * 1000, 2),
        "first": summary(first),
        "repeated": summary(again) if again else None,
        "queries_with_hits": hits,
    }


FTS_COLUMNS = ("title", "article_title", "summary", "body", "tags")
# Same field weights as the Whoosh schema (title 3, article title 1.5, summary 1.5, body 1, tags 2).
FTS_WEIGHTS = (3.0, 1.5, 1.5, 1.0, 2.0)


def build_fts(library: Library, path: Path) -> tuple[sqlite3.Connection, float, int]:
    """Index the same documents as Whoosh in an FTS5 table on disk; return it, the seconds and the rows."""
    started = time.perf_counter()
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
    return db, time.perf_counter() - started, count


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

    first, hits = [], 0
    for text in queries:
        rows, seconds = timed(one, text)
        first.append(seconds)
        hits += bool(rows)
    again = [timed(one, text)[1] for _ in range(repeats) for text in queries]
    return {"first": summary(first), "repeated": summary(again) if again else None, "queries_with_hits": hits}


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
    return f"< {target:g}  {'ok' if value < target else 'MISSED'}"


def print_report(r: dict) -> None:
    c = r["corpus"]
    print()
    print(f"Search benchmark: {c['articles']:,} articles, {c['index_documents']:,} index documents, "
          f"{c['words']:,} words; {r['queries']} queries, {r['repeats']} repeated passes; seed {r['seed']}")
    print(f"{r['environment']['python']}, whoosh-reloaded {r['environment']['whoosh']}, "
          f"SQLite {r['environment']['sqlite']}, {r['environment']['cpus']} CPUs")
    print()
    print(f"{'step':<34}{'seconds':>10}   target")
    rows = [
        ("generate corpus", r["seconds"]["generate"], None),
        ("load knowledge base", r["seconds"]["load"], None),
        ("full index build (whoosh)", r["seconds"]["full_build"], TARGETS_S["full_build"]),
        ("rebuild, one article changed", r["seconds"]["rebuild_one"], TARGETS_S["rebuild_one"]),
        ("rebuild, nothing changed", r["seconds"]["rebuild_none"], None),
        ("FTS5 build", r["seconds"]["fts_build"], None),
    ]
    for name, value, target in rows:
        print(f"{name:<34}{value:>10.2f}   {verdict(value, target) if target else ''}")
    print()
    w, f = r["whoosh"], r["fts5"]
    print(f"{'search, top 10 with snippets':<34}{'median':>10}{'p99':>11}{'mean':>11}   target")
    print(f"{'whoosh, first time seen':<34}{fmt_ms(w['first']['median_ms']):>10}{fmt_ms(w['first']['p99_ms']):>11}"
          f"{fmt_ms(w['first']['mean_ms']):>11}   median {verdict(w['first']['median_ms'], TARGETS_MS['median'])}, "
          f"p99 {verdict(w['first']['p99_ms'], TARGETS_MS['p99'])}")
    if w["repeated"]:
        print(f"{'whoosh, repeated':<34}{fmt_ms(w['repeated']['median_ms']):>10}"
              f"{fmt_ms(w['repeated']['p99_ms']):>11}{fmt_ms(w['repeated']['mean_ms']):>11}")
    print(f"{'FTS5, first time seen':<34}{fmt_ms(f['first']['median_ms']):>10}{fmt_ms(f['first']['p99_ms']):>11}"
          f"{fmt_ms(f['first']['mean_ms']):>11}")
    ratio = r["ratios"]
    print(f"{'ratio whoosh / FTS5':<34}{ratio['median']:>9.1f}x{ratio['p99']:>10.1f}x{ratio['mean']:>10.1f}x")
    s = r["shipped"]
    print(f"{'shipped KB, first time seen':<34}{fmt_ms(s['first']['median_ms']):>10}{fmt_ms(s['first']['p99_ms']):>11}"
          f"{fmt_ms(s['first']['mean_ms']):>11}   median {verdict(s['first']['median_ms'], TARGETS_MS['shipped_median'])}")
    if s["repeated"]:
        print(f"{'shipped KB, repeated':<34}{fmt_ms(s['repeated']['median_ms']):>10}"
              f"{fmt_ms(s['repeated']['p99_ms']):>11}{fmt_ms(s['repeated']['mean_ms']):>11}")
    print()
    print(f"Opening the searcher: {w['open_ms']:.1f} ms (10k), {s['open_ms']:.1f} ms (shipped), not in the figures above.")
    print(f"Queries with at least one hit: whoosh {w['queries_with_hits']}/{r['queries']}, "
          f"FTS5 {f['queries_with_hits']}/{r['queries']} (FTS5 has no typo correction or synonyms).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000, help="articles to generate (default 10000)")
    parser.add_argument("--queries", type=int, default=300, help="distinct queries to run (default 300)")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the queries after the first (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the corpus and the queries")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--workdir", type=Path, help="keep the corpus and indexes here instead of a temporary directory")
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

    print(f"generating {args.articles:,} articles ...", flush=True)
    generated, generate_s = timed(corpus.generate, articles_dir, args.articles, args.seed)
    print("loading ...", flush=True)
    base, load_s = timed(kb.load_knowledge_base, articles_dir, index_dir)
    if base.library.problems:
        print(f"  {len(base.library.problems)} article problems, first: {base.library.problems[0]}")
    word_count = sum(len(a.text.split()) for a in generated)
    print(f"  generated in {generate_s:.1f} s, loaded in {load_s:.1f} s", flush=True)

    print("building the index ...", flush=True)
    _, full_s = timed(build_index, base.library, index_dir, full=True)
    changed = random.Random(args.seed).choice(sorted(base.library.articles))
    library = change_one_article(base, articles_dir, work, changed)
    doc_count = sum(len(documents(a)) for a in library.articles.values())
    print(f"  full build {full_s:.2f} s", flush=True)
    rebuild, rebuild_s = timed(build_index, library, index_dir)
    assert (rebuild.updated, rebuild.added, rebuild.removed) == (1, 0, 0), rebuild
    _, none_s = timed(build_index, library, index_dir)
    base = kb.KnowledgeBase(base.settings, library, base.lexicon, base.normalizer, base.index, base.article_url)

    queries = make_queries(args.queries, args.seed)
    gc.collect()
    print("searching (whoosh) ...", flush=True)
    whoosh = run_whoosh(base, queries, args.repeats, args.profile)

    print("building and searching FTS5 ...", flush=True)
    db, fts_build_s, fts_rows = build_fts(library, work / "fts.sqlite3")
    assert fts_rows == doc_count, (fts_rows, doc_count)
    fts = run_fts(db, queries, args.repeats)
    db.close()

    print("searching the shipped articles ...", flush=True)
    shipped = kb.load_knowledge_base(ROOT / "articles", work / "shipped-index")
    build_index(shipped.library, work / "shipped-index", full=True)
    shipped_result = run_whoosh(shipped, list(SHIPPED_QUERIES), max(args.repeats, 5), None)

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
        },
        "seconds": {
            "generate": round(generate_s, 3), "load": round(load_s, 3), "full_build": round(full_s, 3),
            "rebuild_one": round(rebuild_s, 3), "rebuild_none": round(none_s, 4), "fts_build": round(fts_build_s, 3),
        },
        "whoosh": whoosh,
        "fts5": fts,
        "ratios": {
            key: round(whoosh["first"][f"{key}_ms"] / max(fts["first"][f"{key}_ms"], 1e-6), 2)
            for key in ("median", "p99", "mean")
        },
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
