import re

from conftest import SOURCE_ARTICLES, write_article

from kb import DEFAULT_SETTINGS_PATH
from kb.articles import load_articles
from kb.settings import load_settings
from web.state import knowledge

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)


def load(directory):
    return load_articles(directory, SETTINGS)


def test_shipped_articles_load_without_problems():
    from conftest import ROOT

    library = load(ROOT / "articles")
    assert library.problems == ()
    assert {"email-protocols", "email-client-settings"} <= set(library.articles)


def test_email_protocols_keeps_every_sentence_of_the_source(app):
    """Every line of the support team's text is in the article, in the same order."""
    article = knowledge(app).base.library.articles["email-protocols"]
    text = " ".join(f"{s.title} {s.text}" for s in article.sections)
    text = " ".join(text.split())
    source = (SOURCE_ARTICLES / "email-protocols.txt").read_text(encoding="utf-8").splitlines()
    position = 0
    for line in source[:-1]:  # the last line is the old site's footer
        wanted = re.sub(r"\s+#$", "", line.strip()).removeprefix("- ").strip()
        found = text.find(wanted, position)
        assert found >= 0, f"missing or out of order: {wanted!r}"
        position = found + len(wanted)


def test_sections_have_stable_anchors(app):
    article = knowledge(app).base.library.articles["email-protocols"]
    anchors = [s.anchor for s in article.sections]
    assert anchors[:1] == [""]  # the intro
    for anchor in ["imap-supported", "smtp-supported", "pop3-not-supported", "why-pop3-is-not-supported",
                   "required-security-settings", "common-configuration-mistakes", "responsibility-notice"]:
        assert anchor in anchors
    assert article.section("pop3-not-supported").title == "POP3 (Not Supported)"
    assert article.section("imap-supported").level == 3


def test_placeholders_are_filled_from_the_settings_file(app):
    article = knowledge(app).base.library.articles["email-client-settings"]
    incoming = article.section("incoming-mail-imap").text
    assert SETTINGS.imap.host in incoming and str(SETTINGS.imap.port) in incoming
    assert "{" not in article.html


def test_links_between_articles_become_help_center_urls(app):
    html = knowledge(app).base.library.articles["email-client-settings"].html
    assert 'href="/articles/email-protocols#pop3-not-supported"' in html


def test_html_is_sanitised(tmp_path):
    write_article(tmp_path, "evil", body="Hi <script>alert(1)</script> <a href=\"javascript:alert(2)\">x</a>\n\n"
                  "<img src=x onerror=alert(3)>\n")
    html = load(tmp_path).articles["evil"].html
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html


def test_slug_from_file_name_unless_given(tmp_path):
    write_article(tmp_path, "first-one")
    write_article(tmp_path, "second", slug="custom-slug")
    assert set(load(tmp_path).articles) == {"first-one", "custom-slug"}


def test_bad_front_matter_is_reported_with_its_line_and_the_rest_still_loads(tmp_path):
    write_article(tmp_path, "good")
    (tmp_path / "broken.md").write_text("---\ntitle: Broken\nsummary: [unclosed\nupdated: 2026-01-01\n---\nText\n")
    library = load(tmp_path)
    assert list(library.articles) == ["good"]
    [problem] = library.problems
    assert problem.path == "broken.md" and problem.line == 3 and "front matter" in problem.message


def test_missing_front_matter_and_keys_are_reported(tmp_path):
    (tmp_path / "plain.md").write_text("# Just text\n")
    write_article(tmp_path, "untitled", title=None)
    messages = [str(p) for p in load(tmp_path).problems]
    assert any(m.startswith("plain.md:1: no front matter") for m in messages)
    assert any(m.startswith("untitled.md:1:") and "'title'" in m for m in messages)


def test_bad_date_is_reported(tmp_path):
    write_article(tmp_path, "dated", updated="last week")
    [problem] = load(tmp_path).problems
    assert "updated" in problem.message


def test_duplicate_slug_is_reported_and_the_first_wins(tmp_path):
    write_article(tmp_path, "a-one", title="First", slug="same")
    write_article(tmp_path, "b-two", title="Second", slug="same")
    library = load(tmp_path)
    assert library.articles["same"].title == "First"
    [problem] = library.problems
    assert problem.path == "b-two.md" and "duplicate slug 'same'" in problem.message


def test_links_to_missing_articles_and_sections_are_reported_with_lines(tmp_path):
    write_article(tmp_path, "target", body="Intro.\n\n## Real section\n\nText.\n")
    write_article(tmp_path, "source", body="Intro.\n\nSee [ok](target.md#real-section).\n\n"
                  "See [gone](nowhere.md).\n\nAnd [bad](target.md#no-such-section).\n")
    library = load(tmp_path)
    assert set(library.articles) == {"target", "source"}  # a broken link does not hide the article
    found = sorted((p.line, p.message) for p in library.problems)
    assert found == [
        (11, "link to missing article 'nowhere'"),
        (13, "link to missing section 'target#no-such-section'"),
    ]


def test_unknown_placeholder_is_reported_with_its_line(tmp_path):
    write_article(tmp_path, "typo", body="Intro.\n\nServer: {imap.hots}\n")
    [problem] = load(tmp_path).problems
    assert (problem.line, problem.message) == (9, "unknown placeholder {imap.hots}")


def test_private_attributes_are_not_placeholders(tmp_path):
    write_article(tmp_path, "sneaky", body="{imap.__class__}\n")
    assert "unknown placeholder" in load(tmp_path).problems[0].message


def test_one_renderer_renders_each_article_as_a_fresh_parser_would():
    from kb.render import MarkdownRenderer, markdown_to_html

    render = MarkdownRenderer()
    first = "# Title\n\n## Same\n\nText with [a link](other.md#part).\n\n## Same\n\n1. one\n2. two\n"
    second = "## Same\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[^note]: not a footnote\n"
    assert render(first) == markdown_to_html(first)
    assert render(second) == markdown_to_html(second)
    assert 'id="same"' in render(second)  # anchors from the previous article do not carry over


def test_plain_text_takes_the_short_way_to_the_same_text():
    from kb.render import _TextWriter, html_to_text

    for fragment in ["  Set up   your\n mail\t", "- not a list", "1. not numbered", "", "x\u00a0y"]:
        writer = _TextWriter(False)
        writer.feed(fragment)
        writer.close()
        assert html_to_text(fragment) == writer.text()
