"""Bulk ranking gives Whoosh's own scores, skips deleted documents and never outlives its index build."""

import threading

import numpy as np
import pytest
from conftest import write_article
from whoosh import query as wq
from whoosh.filedb.filestore import RamStorage

from kb import load_knowledge_base
from kb.index import SCHEMA, build_index
from kb.internals import read_field_lengths, read_postings, step_through
from kb.ranking import Ranker
from kb.search import coordination, search, shape_query

WORDS = "mail password reset calendar share printer invoice refund sync folder backup phone".split()


def make_index(docs=240, segments=1, deleted=()):
    """An in-memory index of small section-like documents, optionally in several segments, some deleted."""
    ix = RamStorage().create_index(SCHEMA)
    rng = np.random.default_rng(7)
    per = -(-docs // segments)
    for start in range(0, docs, per):
        with ix.writer() as writer:
            for n in range(start, min(docs, start + per)):
                picked = rng.choice(WORDS, size=int(rng.integers(3, 40)))
                writer.add_document(
                    id=f"a{n}#s",
                    slug=f"a{n}",
                    anchor="s",
                    kind="section",
                    title=" ".join(picked[:3]),
                    article_title=f"article {picked[0]}",
                    body=" ".join(picked),
                    tags=",".join(picked[:2]),
                )
    if deleted:
        with ix.writer() as writer:
            for n in deleted:
                writer.delete_by_term("slug", f"a{n}")
    return ix


def whoosh_scores(searcher, query):
    """Score every matching document by walking Whoosh's own matchers, segment by segment, with no pruning."""
    scores = {}
    for leaf, offset in searcher.leaf_searchers():
        matcher = query.matcher(leaf)
        while matcher.is_active():
            scores[matcher.id() + offset] = matcher.score()
            matcher.next()
    return scores


QUERIES = [
    wq.Or([wq.Term("body", "mail")]),
    wq.Or(
        [
            wq.Or([wq.Term(f, "password") for f in ("title", "body", "tags")]),
            wq.Or([wq.Term(f, "reset") for f in ("title", "body")]),
        ],
        scale=0.9,
    ),
    wq.Or(
        [
            wq.Or([wq.Term(f, w) for f in ("title", "article_title", "body", "tags")])
            for w in ("share", "printer", "sync")
        ],
        scale=0.9,
    ),
]


@pytest.mark.parametrize(("segments", "deleted"), [(1, ()), (3, ()), (2, (0, 5, 17, 200))])
@pytest.mark.parametrize("query", QUERIES, ids=str)
def test_scores_and_order_are_whooshs(query, segments, deleted):
    ix = make_index(segments=segments, deleted=deleted)
    with ix.searcher() as searcher:
        expected = whoosh_scores(searcher, query)
        docnums, scores, total = Ranker(searcher).rank(searcher, query.iter_all_terms(), coordination(query), 25)
    assert total == len(expected)
    best = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:25]
    assert docnums == [d for d, _ in best]
    assert scores == pytest.approx([s for _, s in best], rel=1e-9)


def test_a_single_known_term_is_ranked_by_its_score():
    # Whoosh's coordination formula multiplies by (terms - 1) / terms: with one term that
    # exists, every document would score zero and come back in index order.
    ix = make_index()
    with ix.searcher() as searcher:
        both = wq.Or([wq.Term("body", "nosuchword"), wq.Term("body", "refund")], scale=0.9)
        ranked = Ranker(searcher).rank(searcher, both.iter_all_terms(), coordination(both), 10)
        alone = Ranker(searcher).rank(searcher, [("body", "refund")], None, 10)
    assert ranked == alone and ranked[1][0] > 0


def test_nothing_matches_gives_nothing():
    ix = make_index()
    with ix.searcher() as searcher:
        assert Ranker(searcher).rank(searcher, [("body", "zzz")], 0.9, 10) == ([], [], 0)


def test_block_reading_equals_stepping_through_postings():
    ix = make_index(docs=600)
    with ix.searcher() as searcher:
        reader = searcher.reader()
        for field, text in [("body", "mail"), ("body", "sync"), ("title", "phone"), ("tags", "phone")]:
            fast = read_postings(reader.postings(field, text))
            slow = step_through(reader.postings(field, text))
            assert field != "body" or len(fast[0]) > 128  # more than one block
            np.testing.assert_array_equal(fast[0], slow[0])
            np.testing.assert_array_equal(fast[1], slow[1])


def test_field_lengths_read_in_one_piece_equal_whooshs(tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    for n in range(5):
        write_article(articles, f"doc-{n}", body="Intro words here.\n\n## Part\n\n" + "word " * (n * 7 + 1) + "\n")
    base = load_knowledge_base(articles, tmp_path / "index")
    build_index(base.library, tmp_path / "index")
    searcher = base.index.searcher()
    for leaf, _ in searcher.reader().leaf_readers():
        for field in ("title", "body"):
            lengths = read_field_lengths(leaf, field)
            expected = [leaf.doc_field_length(d, field, 0) or 0 for d in range(leaf.doc_count_all())]
            assert lengths.tolist() == expected


def test_evicted_terms_are_read_again_and_rank_the_same():
    ix = make_index()
    query = QUERIES[2]
    with ix.searcher() as searcher:
        roomy = Ranker(searcher).rank(searcher, query.iter_all_terms(), 0.9, 10)
        tight = Ranker(searcher, max_postings=50)
        assert tight.rank(searcher, query.iter_all_terms(), 0.9, 10) == roomy
        assert tight.rank(searcher, query.iter_all_terms(), 0.9, 10) == roomy
        assert tight.cached_postings <= 50 or len(tight._postings) == 1


def setup_kb(tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    write_article(articles, "alpha", body="Intro.\n\n## Apples\n\nRed apples grow on trees.\n")
    write_article(articles, "beta", body="Intro.\n\n## Bananas\n\nYellow bananas grow on plants.\n")
    return articles, tmp_path / "index"


def found(base, text):
    return [h.url for h in search(base.index, base.library, base.normalizer, text).hits]


def test_deleted_documents_never_rank(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    build_index(load_knowledge_base(articles, index_dir).library, index_dir)
    write_article(articles, "beta", body="Intro.\n\n## Cherries\n\nDark cherries grow on trees.\n")
    base = load_knowledge_base(articles, index_dir)
    build_index(base.library, index_dir)
    searcher, ranker = base.index.ranked()
    assert searcher.reader().has_deletions()  # the old beta documents are still in the segment
    query, _ = shape_query(base.normalizer, "bananas")
    assert ranker.rank(searcher, query.iter_all_terms(), None, 10) == ([], [], 0)
    assert found(base, "grow") and all("/articles/beta#bananas" != url for url in found(base, "grow"))


def test_a_rebuild_brings_a_new_ranker_and_drops_the_old_caches(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    base = load_knowledge_base(articles, index_dir)
    build_index(base.library, index_dir)
    assert found(base, "apples") == ["/articles/alpha#apples"]
    _, first = base.index.ranked()
    assert first._postings.get(("title", "appl")) is not None
    assert base.index.ranked()[1] is first  # shared while nothing changes

    write_article(articles, "alpha", body="Intro.\n\n## Apricots\n\nOrange apricots.\n")
    newer = load_knowledge_base(articles, index_dir)
    build_index(newer.library, index_dir)
    _, second = base.index.ranked()
    assert second is not first and second.wait_until_warm(timeout=30)
    assert second._postings.get(("title", "appl")) is None  # nothing carried over from the old build
    assert found(newer, "apples") == []
    assert found(newer, "apricots") == ["/articles/alpha#apricots"]


def test_threads_share_one_ranker_but_not_searchers(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    base = load_knowledge_base(articles, index_dir)
    build_index(base.library, index_dir)
    seen = []

    def work():
        seen.append(base.index.ranked())
        found(base, "apples")

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(ranker) for _, ranker in seen}) == 1
    assert len({id(searcher) for searcher, _ in seen}) == 3


def test_an_opened_index_warms_its_cache_in_the_background(tmp_path):
    articles, index_dir = setup_kb(tmp_path)
    base = load_knowledge_base(articles, index_dir)
    build_index(base.library, index_dir)
    searcher, ranker = base.index.ranked()
    assert ranker.wait_until_warm(timeout=30)
    assert ("body", "grow") in ranker._postings and ranker.cached_postings > 0
    cold = Ranker(searcher)
    terms = [("body", "grow"), ("title", "apples"), ("body", "bananas")]
    assert ranker.rank(searcher, terms, 0.9, 10) == cold.rank(searcher, terms, 0.9, 10)


def test_warming_stops_once_the_build_is_replaced():
    ix = make_index()
    with ix.searcher() as searcher:
        ranker = Ranker(searcher)
        ranker.stop()
        assert ranker.warm(searcher, ["body", "title"]) == 0 and ranker.cached_postings == 0


def test_after_warming_an_unknown_term_is_answered_without_the_index(monkeypatch):
    ix = make_index()
    with ix.searcher() as searcher:
        ranker = Ranker(searcher)
        ranker.warm(searcher, ["body"])

        def no_reading(*args):
            raise AssertionError("read the index")

        monkeypatch.setattr(ranker, "_read", no_reading)
        assert ranker.rank(searcher, [("body", "zzzz"), ("body", "mail")], 0.9, 5)[2] > 0
