"""The render cache: a second load renders nothing that did not change, and never serves a stale rendering."""

import dataclasses
import json

from conftest import ROOT, write_article

from kb import DEFAULT_SETTINGS_PATH
from kb.articles import load_articles
from kb.render import MarkdownRenderer
from kb.settings import load_settings

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)
BODY = "Connect to {imap.host}.\n\n## Settings\n\nUse port {imap.port}.\n\n### Details\n\nA `<b>` tag.\n"


def count_renders(monkeypatch):
    calls = []
    original = MarkdownRenderer.__call__

    def counting(self, source):
        calls.append(source)
        return original(self, source)

    monkeypatch.setattr("kb.articles.MarkdownRenderer.__call__", counting)
    return calls


def test_a_second_load_takes_every_article_from_the_cache_unchanged(tmp_path, monkeypatch):
    cache = tmp_path / "rendered.json"
    first = load_articles(ROOT / "articles", SETTINGS, render_cache=cache)
    calls = count_renders(monkeypatch)
    second = load_articles(ROOT / "articles", SETTINGS, render_cache=cache)
    assert calls == []
    assert second.articles == first.articles
    assert second.articles == load_articles(ROOT / "articles", SETTINGS).articles


def test_only_a_changed_article_is_rendered_again_and_the_file_keeps_only_current_ones(tmp_path, monkeypatch):
    articles, cache = tmp_path / "articles", tmp_path / "rendered.json"
    articles.mkdir()
    write_article(articles, "alpha", body=BODY)
    write_article(articles, "beta", body=BODY)
    load_articles(articles, SETTINGS, render_cache=cache)
    write_article(articles, "beta", body=BODY + "\nOne more line.\n")
    calls = count_renders(monkeypatch)
    library = load_articles(articles, SETTINGS, render_cache=cache)
    assert len(calls) == 1 and "One more line." in library.articles["beta"].html
    (articles / "beta.md").unlink()
    load_articles(articles, SETTINGS, render_cache=cache)
    assert len(json.loads(cache.read_text())["articles"]) == 1


def test_changed_settings_or_article_url_render_again(tmp_path):
    articles, cache = tmp_path / "articles", tmp_path / "rendered.json"
    articles.mkdir()
    write_article(articles, "alpha", body=BODY + "\nSee [beta](beta.md).\n")
    write_article(articles, "beta", body=BODY)
    load_articles(articles, SETTINGS, render_cache=cache)
    moved = dataclasses.replace(SETTINGS, imap=dataclasses.replace(SETTINGS.imap, host="imap.moved.test"))
    assert "imap.moved.test" in load_articles(articles, moved, render_cache=cache).articles["alpha"].html
    assert 'href="/help/beta"' in load_articles(articles, SETTINGS, "/help/", render_cache=cache).articles["alpha"].html


def test_a_changed_renderer_renders_again(tmp_path, monkeypatch):
    articles, cache = tmp_path / "articles", tmp_path / "rendered.json"
    articles.mkdir()
    write_article(articles, "alpha", body=BODY)
    load_articles(articles, SETTINGS, render_cache=cache)
    monkeypatch.setattr("kb.cache.renderer_fingerprint", lambda: "another renderer")
    calls = count_renders(monkeypatch)
    load_articles(articles, SETTINGS, render_cache=cache)
    assert len(calls) == 1


def test_a_damaged_cache_file_is_ignored(tmp_path):
    articles, cache = tmp_path / "articles", tmp_path / "rendered.json"
    articles.mkdir()
    write_article(articles, "alpha", body=BODY)
    cache.write_text("{not json")
    library = load_articles(articles, SETTINGS, render_cache=cache)
    assert library.problems == () and library.articles["alpha"].section("details").title == "Details"
    assert json.loads(cache.read_text())["articles"]  # rewritten


def test_entries_in_a_shape_this_code_never_writes_are_rendered_again(tmp_path):
    articles, cache = tmp_path / "articles", tmp_path / "rendered.json"
    articles.mkdir()
    write_article(articles, "alpha", body=BODY)
    load_articles(articles, SETTINGS, render_cache=cache)
    data = json.loads(cache.read_text())
    data["articles"] = {key: ["<p>only html</p>"] for key in data["articles"]}  # valid JSON, wrong shape
    cache.write_text(json.dumps(data))
    library = load_articles(articles, SETTINGS, render_cache=cache)
    assert library.problems == () and library.articles["alpha"].section("details").title == "Details"
