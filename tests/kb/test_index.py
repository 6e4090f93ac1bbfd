"""Index builds: atomic swap, skipping unchanged articles, and readers that follow a rebuild."""

import json
import os
import pickle
from pathlib import Path

import pytest
from conftest import ROOT, write_article
from whoosh.analysis import StandardAnalyzer, StemmingAnalyzer
from whoosh.fields import TEXT
from whoosh.lang.porter2 import stem

from kb import load_knowledge_base
from kb.index import MANIFEST, POINTER, SCHEMA, StemmedText, build_index, current_path, documents
from kb.search import search


def setup_kb(tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    write_article(articles, "alpha", body="Intro.\n\n## Apples\n\nRed apples grow on trees.\n")
    write_article(articles, "beta", body="Intro.\n\n## Bananas\n\nYellow bananas are curved.\n")
    return articles, tmp_path / "index"


def reload(articles, index_dir):
    return load_knowledge_base(articles, index_dir)


def titles(base, text):
    return [h.section for h in search(base.index, base.library, base.normalizer, text).hits]


def test_first_build_indexes_everything(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    report = build_index(reload(articles, index_dir).library, index_dir)
    assert (report.added, report.updated, report.removed, report.changed) == (2, 0, 0, True)
    assert (index_dir / POINTER).read_text() == current_path(index_dir).name


def test_unchanged_articles_are_skipped(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    first = build_index(reload(articles, index_dir).library, index_dir)
    second = build_index(reload(articles, index_dir).library, index_dir)
    assert not second.changed and second.unchanged == 2 and second.path == first.path


def test_one_changed_article_is_reindexed_alone_into_a_new_directory(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    first = build_index(reload(articles, index_dir).library, index_dir)
    write_article(articles, "beta", body="Intro.\n\n## Cherries\n\nDark cherries are sweet.\n")
    second = build_index(reload(articles, index_dir).library, index_dir)
    assert (second.added, second.updated, second.unchanged) == (0, 1, 1)
    assert second.path != first.path
    base = reload(articles, index_dir)
    assert titles(base, "cherries") == ["Cherries"]
    assert titles(base, "bananas") == []
    assert titles(base, "apples") == ["Apples"]


def test_removed_article_leaves_the_index(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    build_index(reload(articles, index_dir).library, index_dir)
    (articles / "beta.md").unlink()
    report = build_index(reload(articles, index_dir).library, index_dir)
    assert report.removed == 1
    assert titles(reload(articles, index_dir), "bananas") == []


def test_an_open_searcher_follows_a_rebuild(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    base = reload(articles, index_dir)
    build_index(base.library, index_dir)
    assert titles(base, "apples") == ["Apples"]
    searcher = base.index.searcher()
    assert base.index.searcher() is searcher  # reused while nothing changes
    write_article(articles, "gamma", body="Intro.\n\n## Grapes\n\nGreen grapes.\n")
    newer = reload(articles, index_dir)
    build_index(newer.library, index_dir)
    assert base.index.searcher() is not searcher
    assert titles(newer, "grapes") == ["Grapes"]


def test_a_failed_build_leaves_the_live_index_alone(tmp_path, monkeypatch):
    articles, index_dir = setup_kb(tmp_path)
    good = build_index(reload(articles, index_dir).library, index_dir)
    write_article(articles, "alpha", body="Intro.\n\n## Apricots\n\nChanged.\n")
    library = reload(articles, index_dir).library

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("kb.index.documents", explode)
    try:
        build_index(library, index_dir)
    except RuntimeError:
        pass
    assert current_path(index_dir).name == os.path.basename(good.path)
    assert sorted(p.name for p in index_dir.glob("build-*")) == [os.path.basename(good.path)]


def test_full_rebuild_reindexes_everything(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    build_index(reload(articles, index_dir).library, index_dir)
    report = build_index(reload(articles, index_dir).library, index_dir, full=True)
    assert report.added == 2 and report.changed


def test_a_rebuild_shares_unchanged_segment_files_and_leaves_the_live_build_intact(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    first = build_index(reload(articles, index_dir).library, index_dir)
    before = {p.name: p.read_bytes() for p in Path(first.path).iterdir()}
    write_article(articles, "beta", body="Intro.\n\n## Cherries\n\nDark cherries are sweet.\n")
    second = build_index(reload(articles, index_dir).library, index_dir)
    shared = [p for p in Path(first.path).glob("*.seg") if (Path(second.path) / p.name).exists()]
    assert shared and all(os.path.samefile(p, Path(second.path) / p.name) for p in shared)
    assert {p.name: p.read_bytes() for p in Path(first.path).iterdir()} == before


def test_an_index_written_in_an_older_format_is_rebuilt_in_full(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    first = build_index(reload(articles, index_dir).library, index_dir)
    manifest = Path(first.path) / MANIFEST
    digests = json.loads(manifest.read_text())["articles"]
    manifest.write_text(json.dumps(digests))  # the first format: digests only
    report = build_index(reload(articles, index_dir).library, index_dir)
    assert (report.added, report.unchanged, report.changed) == (2, 0, True)


def test_a_big_build_split_between_two_processes_finds_the_same(tmp_path, monkeypatch):
    articles, index_dir = setup_kb(tmp_path)
    for n in range(6):
        write_article(articles, f"extra-{n}", body=f"Intro.\n\n## Part {n}\n\nGrapes number {n} grow here.\n")
    single = reload(articles, index_dir)
    build_index(single.library, index_dir)
    expected = {text: titles(single, text) for text in ("apples", "grapes", "grow")}
    # A build from nothing takes one process; a big update to an index takes two.
    parallel_dir = tmp_path / "parallel"
    alone = tmp_path / "alone"
    alone.mkdir()
    for name in ("alpha", "beta"):
        (alone / f"{name}.md").write_bytes((articles / f"{name}.md").read_bytes())
    build_index(reload(alone, parallel_dir).library, parallel_dir)
    monkeypatch.setattr("kb.index.PARALLEL_BUILD_ARTICLES", 2)
    parallel = reload(articles, parallel_dir)
    assert build_index(parallel.library, parallel_dir).added == 6
    assert len(parallel.index.searcher().reader().leaf_readers()) >= 1
    assert {text: titles(parallel, text) for text in expected} == expected


def test_a_parallel_build_that_loses_documents_is_not_swapped_in(tmp_path, monkeypatch):
    articles, index_dir = setup_kb(tmp_path)
    good = build_index(reload(articles, index_dir).library, index_dir)
    write_article(articles, "gamma", body="Intro.\n\n## Grapes\n\nGreen grapes.\n")
    monkeypatch.setattr("kb.index.PARALLEL_BUILD_ARTICLES", 1)
    monkeypatch.setattr("whoosh.index.FileIndex.doc_count", lambda self: 0)
    try:
        build_index(reload(articles, index_dir).library, index_dir)
    except RuntimeError as exc:
        assert "lost documents" in str(exc)
    else:
        raise AssertionError("the build should have failed")
    assert current_path(index_dir).name == os.path.basename(good.path)


ODD_TEXT = (
    "Ünïcode ÇA va? e-mail smtp.example.com v1.2.3 don't *wild* card_name İstanbul ß ﬁle a I x2 THE The "
    "émail 3.14 ..dots.. _under_ resetting RESETTING passwords' 日本語のテキスト ١٢٣ trailing."
)


def test_the_fast_text_field_indexes_what_whoosh_itself_would(tmp_path):
    # What the index held before the fast field: Whoosh's TEXT, its default token pattern, Porter2.
    reference = TEXT(analyzer=StemmingAnalyzer(stemfn=stem), phrase=False)
    library = load_knowledge_base(ROOT / "articles", tmp_path / "index").library
    texts = [ODD_TEXT, "", "   ", "the and of"]
    texts += [
        doc[field]
        for article in library.articles.values()
        for doc in documents(article)
        for field in ("title", "article_title", "summary", "body")
        if doc.get(field)
    ]
    for name in ("title", "article_title", "summary", "body"):
        field = SCHEMA[name]
        boost = field.format.field_boost
        for text in texts:
            expected = sorted(
                (term, freq, weight * boost, value) for term, freq, weight, value in reference.index(text)
            )
            assert sorted(field.index(text)) == expected, (name, text[:60])


def test_the_fast_text_field_leaves_other_analyzers_to_whoosh():
    field = StemmedText(analyzer=StandardAnalyzer(), phrase=False)
    assert sorted(field.index("Resetting the passwords")) == sorted(TEXT.index(field, "Resetting the passwords"))
    assert {term for term, *_ in field.index("Resetting the passwords")} == {b"resetting", b"passwords"}


@pytest.mark.parametrize("text", [ODD_TEXT, "reset resetting resets"])
def test_the_fast_text_field_survives_pickling_as_the_index_stores_it(text):
    field = pickle.loads(pickle.dumps(SCHEMA["body"]))
    assert sorted(field.index(text)) == sorted(SCHEMA["body"].index(text))


def _contents(ix):
    """Every term's postings, every document's stored fields and field lengths, and the totals."""
    with ix.searcher() as searcher:
        reader = searcher.reader()
        postings = {}
        for field in ix.schema.names():
            if not ix.schema[field].indexed:
                continue
            for btext, info in reader.iter_field(field):
                matcher = reader.postings(field, btext)
                found = []
                while matcher.is_active():
                    found.append((matcher.id(), matcher.weight(), matcher.value()))
                    matcher.next()
                postings[(field, btext)] = (info.weight(), info.doc_frequency(), found)
        scorable = [name for name in ix.schema.names() if ix.schema[name].scorable]
        documents = [
            (reader.stored_fields(d), [reader.doc_field_length(d, name) for name in scorable])
            for d in range(reader.doc_count_all())
        ]
        totals = [(reader.field_length(name), reader.max_field_length(name)) for name in scorable]
    return postings, documents, totals


@pytest.mark.parametrize("boosted", [False, True])
def test_a_fresh_build_writes_what_whoosh_s_own_writer_writes(tmp_path, boosted):
    from whoosh import index as whoosh_index

    from kb.internals import FreshWriter, codec

    library = load_knowledge_base(ROOT / "articles", tmp_path / "index").library
    docs = [doc for article in library.articles.values() for doc in documents(article)]
    docs.insert(3, {"id": "odd", "slug": "odd", "anchor": "", "kind": "article", "title": ODD_TEXT, "body": ODD_TEXT})
    if boosted:  # a document Whoosh's way must take, in the middle: everything then goes Whoosh's way
        docs.insert(5, {"id": "b", "slug": "b", "anchor": "", "kind": "article", "title": "Boosted", "_boost": 2.0})
    built = {}
    for name, make in (
        ("whoosh", lambda ix: ix.writer(codec=codec())),
        ("fresh", lambda ix: FreshWriter(ix, codec=codec())),
    ):
        (tmp_path / name).mkdir()
        ix = whoosh_index.create_in(str(tmp_path / name), SCHEMA)
        with make(ix) as writer:
            for doc in docs:
                writer.add_document(**doc)
        built[name] = _contents(ix)
    assert built["fresh"] == built["whoosh"]
    assert len(built["fresh"][1]) == len(docs)
