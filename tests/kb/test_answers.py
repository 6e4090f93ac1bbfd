"""Canned answers: rendered from the settings, linked to real sections, safe about POP3."""

import re

import pytest

from kb import answer
from kb.answers import Answer, fallback_answer, load_responses, pop3_policy_problems
from kb.render import html_to_text, markdown_to_html
from kb.search import SearchHit
from web.state import knowledge


@pytest.fixture
def base(app):
    return knowledge(app).base


def test_every_response_renders_with_settings_values(base):
    imap = base.settings.imap
    for intent in ("pop3_enable", "imap_settings", "server_settings"):
        text = base.responses.answers[intent].text
        assert imap.host in text and f"Port: {imap.port}" in text


def test_no_answer_ever_tells_a_user_how_to_enable_pop3(base):
    for intent, rendered in base.responses.answers.items():
        assert pop3_policy_problems(rendered) == [], intent
    for intent in ("pop3_enable", "pop3_why"):
        text = base.responses.answers[intent].text
        assert "not supported" in text and "does not enable POP3 on request" in text


@pytest.mark.parametrize("bad", [
    "To enable POP3, open Settings and tick POP.",
    "Use pop.example.com on port 995.",
    "POP3 is available on request.",
    "Select POP3 and enter the server.",
])
def test_the_pop3_policy_check_catches_instructions(bad):
    assert pop3_policy_problems(Answer("x", bad, bad, bad, None, (), (), None))


def test_a_fallback_linking_any_section_is_policy_safe(base):
    # A fallback lists search results by their titles, so no section title may name POP3 alone.
    for article in base.library.articles.values():
        for section in article.sections:
            hit = SearchHit(article.title, section.title, "/articles/x", "", 1.0, article.slug, section.anchor)
            fallback = fallback_answer(base.responses, base.settings, [hit], "/articles/")
            assert pop3_policy_problems(fallback) == [], section.title


def test_answers_cite_their_source_with_date(base):
    rendered = base.responses.answers["smtp_auth"]
    assert rendered.source.url == "/articles/email-protocols#smtp-supported"
    assert "From: Email protocols › SMTP (Supported) · updated 20 November 2026" in rendered.text


def test_text_html_and_markdown_say_the_same(base):
    rendered = base.responses.answers["username"]
    assert html_to_text(rendered.html, links=True) == rendered.text
    assert "full email address" in rendered.markdown and "full email address" in rendered.html


def test_answers_rendered_block_by_block_equal_their_whole_markdown_rendered(base):
    composed = [
        *base.responses.answers.values(),
        answer(base, "what is the outgoing port", "out_of_scope", fallback=True),
        answer(base, "pop or imap", "pop3_enable", choices=("pop3_enable", "imap_settings")),
    ]
    for rendered in composed:
        whole = markdown_to_html(rendered.markdown)
        assert rendered.html == whole, rendered.intent
        assert rendered.text == html_to_text(whole, links=True), rendered.intent


def test_fallback_offers_search_results_and_a_person(base):
    result = answer(base, "what is the outgoing port", "out_of_scope", fallback=True)
    assert result.intent == "fallback"
    assert result.articles and result.articles[0].url.startswith("/articles/")
    assert base.settings.support.url in result.text


def test_unknown_intent_is_a_fallback(base):
    assert answer(base, "hmm", "no_such_intent").intent == "fallback"


def test_clarifying_question_names_both_intents_and_links_their_sections(base):
    result = answer(base, "pop or imap", "pop3_enable", choices=("pop3_enable", "imap_settings"))
    assert result.intent == "clarify"
    assert "Turning on POP3" in result.text and "Incoming mail (IMAP) settings" in result.text
    assert [a.url for a in result.articles] == ["/articles/email-protocols#pop3-not-supported",
                                                "/articles/email-client-settings#incoming-mail-imap"]
    assert result.suggestions == ("Can I use POP3?", "What are the IMAP settings?")


def test_response_links_point_at_real_sections(base):
    for intent, rendered in base.responses.answers.items():
        for link in rendered.articles:
            slug, _, anchor = link.url.removeprefix("/articles/").partition("#")
            assert base.library.articles[slug].section(anchor), (intent, link.url)


def test_a_response_linking_a_missing_section_is_reported_not_fatal(tmp_path, base):
    from kb.answers import render_responses

    path = tmp_path / "responses.yml"
    path.write_text("responses:\n  greeting:\n    text: Hi\n    articles: [email-protocols#gone]\n"
                    "  fallback:\n    text: Sorry\n  clarify:\n    text: which?\n")
    rendered = render_responses(load_responses(path), base.settings, base.library, "/articles/")
    assert rendered.answers["greeting"].articles == ()
    assert rendered.problems == ("responses.yml: 'greeting' links to missing article section 'email-protocols#gone'",)


def test_no_literal_ports_in_responses():
    from conftest import ROOT

    text = (ROOT / "kb" / "responses.yml").read_text()
    assert not re.search(r"\b(25|110|143|465|587|993|995)\b", text)
