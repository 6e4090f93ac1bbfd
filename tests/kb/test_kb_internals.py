"""The Whoosh internals used for speed: taken with the pinned release, left for the public way otherwise."""

import importlib.metadata

import pytest
from conftest import ROOT
from whoosh.fields import TEXT
from whoosh.reading import SegmentReader
from whoosh.writing import SegmentWriter

from kb import internals, load_knowledge_base
from kb.index import build_index
from kb.search import search

QUESTIONS = ["imap settings", "pop3", "smtp authentication port", "why is pop not supported", "synchronized devices"]


def refuse(*args, **kwargs):
    raise AssertionError("the public (slow) way was taken")


def answers(base) -> list[list[tuple[str, str, float]]]:
    found = [search(base.index, base.library, base.normalizer, q).hits for q in QUESTIONS]
    return [[(hit.url, hit.section, round(hit.score, 9)) for hit in hits] for hits in found]


def build(tmp_path, name: str):
    index_dir = tmp_path / name
    base = load_knowledge_base(ROOT / "articles", index_dir)
    build_index(base.library, index_dir)
    return base


def test_the_pinned_release_passes_the_check():
    assert internals.check().fast, internals.check().reason
    assert internals.FAST


def test_with_the_pinned_release_every_fast_path_is_the_one_taken(tmp_path, monkeypatch):
    # Each fast path falls back on one public method; make those fail, and build and search anyway.
    monkeypatch.setattr(TEXT, "index", refuse)
    monkeypatch.setattr(SegmentWriter, "add_document", refuse)
    monkeypatch.setattr(internals, "step_through", refuse)
    monkeypatch.setattr(SegmentReader, "doc_field_length", refuse)
    base = build(tmp_path, "index")
    assert all(answers(base))


def test_another_release_takes_the_public_way_with_the_same_results(tmp_path, monkeypatch):
    fast = answers(build(tmp_path, "fast"))
    monkeypatch.setattr(internals, "FAST", False)
    monkeypatch.setattr(internals.FreshWriter, "add_document", refuse)
    assert answers(build(tmp_path, "public")) == fast


@pytest.mark.parametrize("version", ["2.7.6", "3.0.0"])
def test_the_check_names_a_release_it_was_not_written_for(monkeypatch, version):
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: version if "whoosh" in name else real(name))
    result = internals.check()
    assert not result.fast and version in result.reason and internals.PINNED_VERSION in result.reason
