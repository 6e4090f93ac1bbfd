"""Search quality on realistic help-center queries, typos included, and hostile input."""

import html
import re

import pytest
from conftest import write_article

from kb import load_knowledge_base
from kb.index import ANALYZER, build_index
from kb.search import SNIPPET_CHARS, _matches, search, snippet_html
from web.state import knowledge


def run(app, text, **kwargs):
    base = knowledge(app).base
    return search(base.index, base.library, base.normalizer, text, **kwargs)


# (query, a URL that must be among the first three results)
QUALITY = [
    ("imap settings", "/articles/email-client-settings#incoming-mail-imap"),
    ("imap setings", "/articles/email-client-settings#incoming-mail-imap"),
    ("incoming mail server", "/articles/email-client-settings#incoming-mail-imap"),
    ("incomming server port", "/articles/email-client-settings#incoming-mail-imap"),
    ("smtp port", "/articles/email-client-settings#outgoing-mail-smtp"),
    ("outgoing server", "/articles/email-client-settings#outgoing-mail-smtp"),
    ("outgoign server", "/articles/email-client-settings#outgoing-mail-smtp"),
    ("smtp authentification", "/articles/email-protocols#smtp-supported"),
    ("pop3", "/articles/email-protocols#pop3-not-supported"),
    ("pop 3", "/articles/email-protocols#pop3-not-supported"),
    ("pop", "/articles/email-protocols#pop3-not-supported"),
    ("how do I enable POP3", "/articles/email-protocols#pop3-not-supported"),
    ("why is pop3 not supported", "/articles/email-protocols#why-pop3-is-not-supported"),
    ("ssl", "/articles/email-protocols#required-security-settings"),
    ("encrypted connections required", "/articles/email-protocols#required-security-settings"),
    ("login", "/articles/email-client-settings#username-and-password"),
    ("username", "/articles/email-client-settings#username-and-password"),
    ("partial usernames", "/articles/email-protocols#common-configuration-mistakes"),
    ("common mistakes", "/articles/email-protocols#common-configuration-mistakes"),
    ("syncronization across devices", "/articles/email-protocols#imap-supported"),
    ("which protocols are supported", "/articles/email-protocols#supported-protocols-at-proredline"),
]


@pytest.mark.parametrize(("query", "expected"), QUALITY)
def test_realistic_queries_find_the_right_section(app, query, expected):
    urls = [hit.url for hit in run(app, query, limit=3).hits]
    assert expected in urls, f"{query!r} gave {urls}"


def test_typos_give_a_suggestion(app):
    page = run(app, "smtp authentification")
    assert page.suggestion == "smtp authentication"
    assert run(app, "smtp authentication").suggestion is None


@pytest.mark.parametrize(
    "query",
    ["my host says the password is incorrect", "how many mails can I send", "none of my mail arrives",
     "chat with a person"],
)
def test_real_words_give_no_suggestion(app, query):
    # Each word is English; each used to be "corrected" to a nearby article word (host -> most).
    assert run(app, query).suggestion is None


def test_nothing_found_gives_no_results_and_no_crash(app):
    page = run(app, "zzzqqqxx")
    assert (page.total, page.hits) == (0, ())


def test_snippets_highlight_matches_and_escape_text(tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    write_article(articles, "code", body="Intro.\n\n## Markup\n\nType `<b>bold</b>` to get bold text in a signature.\n")
    base = load_knowledge_base(articles, tmp_path / "index")
    build_index(base.library, tmp_path / "index")
    [hit] = search(base.index, base.library, base.normalizer, "bold signature").hits
    assert "&lt;b&gt;" in hit.snippet and "<b>" not in hit.snippet
    assert "<mark>signature</mark>" in hit.snippet
    assert hit.url == "/articles/code#markup" and hit.section == "Markup"


QUERY_SYNTAX = ['"', "AND (", "*", "title:", "title:imap", "OR OR", "((((", "imap~2", "\x00\x1f", "🙂", "é" * 50]


@pytest.mark.parametrize("text", QUERY_SYNTAX)
def test_query_syntax_is_just_text(app, text):
    page = run(app, text)
    assert page.total >= 0


def test_pagination_splits_results(app):
    first = run(app, "email imap smtp pop3", limit=2, page=1)
    second = run(app, "email imap smtp pop3", limit=2, page=2)
    assert first.pages >= 2 and len(first.hits) == 2
    assert not {h.url for h in first.hits} & {h.url for h in second.hits}


def test_an_article_hit_is_dropped_below_its_own_sections(app):
    urls = [h.url for h in run(app, "pop3", limit=20).hits]
    assert len(urls) == len(set(urls))
    if "/articles/email-protocols" in urls:
        assert urls.index("/articles/email-protocols") < urls.index("/articles/email-protocols#pop3-not-supported")


SNIPPET_TEXTS = [
    "Connect to imap.proredline.com on port 993. If IMAP fails, check the server name (imap.proredline.com) again.",
    "He was dying to know why the lying clock kept tying up the queue; skies were grey, policies were changed.",
    "Your signatures, your signature's look and the signing rules: <b>bold</b> & more. " * 3,
    "Save the server list as .pdf or (.txt) files; imap..server and x.imap stay apart.",
]


@pytest.mark.parametrize("text", SNIPPET_TEXTS)
@pytest.mark.parametrize(
    "words", [["imap", "server"], ["die", "lie", "tie", "sky", "policy"], ["signature", "your"], ["pdf", "txt", "list"]]
)
def test_snippets_mark_exactly_the_words_the_analyzer_matches(text, words):
    terms = frozenset(token.text for word in words for token in ANALYZER(word, removestops=False))
    expected = [(t.startchar, t.endchar) for t in ANALYZER(text, chars=True, removestops=False) if t.text in terms]
    assert [(start, end) for start, end, _ in _matches(text, terms)] == expected


def test_a_snippet_joins_two_short_fragments_and_escapes_them():
    text = (
        "Billing starts here. "
        + "Filler words that say nothing at all. " * 12
        + "Your invoice <b>total</b> is shown. "
        + "More filler that says nothing. " * 12
        + "The refund arrives in ten days."
    )
    snippet = snippet_html(text, frozenset({"invoic", "refund"}))
    first, second = snippet.split(" … ")
    assert "<mark>invoice</mark> &lt;b&gt;total&lt;/b&gt;" in first and "<mark>refund</mark>" in second
    plain = re.sub(r"</?mark>", "", snippet)
    assert all(len(html.unescape(part)) <= SNIPPET_CHARS for part in plain.split(" … "))


def test_a_snippet_without_a_match_is_the_start_of_the_text():
    text = "Plain words only, <nothing> to mark here. Then a second sentence. " + "And more. " * 30
    snippet = snippet_html(text, frozenset({"zebra"}))
    assert snippet == "Plain words only, &lt;nothing&gt; to mark here. Then a second sentence."


def test_a_snippet_starts_at_a_sentence_and_quotes_a_repeated_one_once():
    text = "Intro words here. POP3 is not supported at all. Other words. " * 3
    assert snippet_html(text, frozenset({"pop3"})) == "<mark>POP3</mark> is not supported at all. Other words."


def test_a_snippet_keeps_list_items_and_table_rows_apart():
    text = "IMAP:\nKeeps emails synchronized across all devices\nStores emails on the server\n\nServer: x.example"
    snippet = snippet_html(text, frozenset({"imap"}))
    assert snippet == "<mark>IMAP</mark>: Keeps emails synchronized across all devices"
    rows = "Protocol: IMAP\nServer: imap.example.com\nPort: 993"
    assert snippet_html(rows, frozenset({"port"})) == "<mark>Port</mark>: 993"
    assert snippet_html(rows, frozenset({"protocol"})) == "<mark>Protocol</mark>: IMAP; Server: imap.example.com"


def test_a_long_sentence_is_cut_at_spaces_around_its_match():
    text = "Filler words that say nothing much " * 8 + "about the invoice total " + "and then more filler words " * 8
    snippet = snippet_html(text, frozenset({"invoic"}))
    assert snippet.startswith("…") and snippet.endswith("…") and "<mark>invoice</mark>" in snippet
    assert len(re.sub(r"</?mark>", "", snippet)) <= SNIPPET_CHARS + 2


def test_counting_words_counts_every_occurrence():
    from kb.words import count_words, words

    texts = ["Reset the password, then reset it again.", "imap.proredline.com and IMAP", ""]
    expected = {}
    for text in texts:
        for word in words(text):
            expected[word] = expected.get(word, 0) + 1
    assert count_words(texts) == expected and count_words(iter(texts)) == expected


def test_a_snippet_of_text_with_private_use_characters_is_still_marked_and_escaped():
    text = "Odd \ue000 and \ue001 characters <here> next to the invoice."
    assert snippet_html(text, frozenset({"invoic"})) == (
        "Odd \ue000 and \ue001 characters &lt;here&gt; next to the <mark>invoice</mark>."
    )
