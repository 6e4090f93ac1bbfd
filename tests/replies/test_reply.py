"""Replies for tickets: three formats, absolute links, aligned settings and flagged missing names."""

import datetime as dt
import re

import pytest

from kb import DEFAULT_SETTINGS_PATH
from kb.answers import ArticleLink, compose
from kb.settings import load_settings
from replies.reply import FORMATS, compose_reply

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)
BASE = "https://help.example.org/"
POP3 = ArticleLink(
    "Email protocols", "POP3 (Not Supported)", "/articles/email-protocols#pop3-not-supported", dt.date(2026, 1, 2)
)
IMAP = ArticleLink(
    "Email client settings", "Incoming mail (IMAP)", "/articles/email-client-settings#incoming-mail-imap"
)
BODY = (
    "**POP3 is not supported**, and it is not enabled on request. POP3 downloads mail to a single device and "
    "removes it from the server, so your other devices never see it. See [why](email-protocols.md#why-pop3) "
    "or [ask a person]({support.url}). Use IMAP:"
).replace("{support.url}", SETTINGS.support.url)


def answer(blocks=("imap", "smtp"), links=(POP3, IMAP)):
    return compose(
        "pop3_enable",
        BODY,
        settings=SETTINGS,
        blocks=blocks,
        links=links,
        source=links[0] if links else None,
        article_url="/articles/",
    )


def reply(fmt="text", **names):
    return compose_reply(answer(), fmt, base_url=BASE, **{"customer_name": "Anna", "signature": "Sam", **names})


def test_plain_text_wraps_at_72_columns_and_never_breaks_a_url():
    text = reply().text
    for line in text.splitlines():
        assert len(line) <= 72 or re.fullmatch(r"\s*https?://\S+", line), line
    assert f"  {BASE}articles/email-protocols#pop3-not-supported\n" in text
    assert f"({BASE}articles/email-protocols#why-pop3)" in text.replace("\n", " ").replace("( ", "(")
    assert SETTINGS.support.url in text


def test_plain_text_settings_are_an_aligned_block():
    text = reply().text
    block = text.split("Incoming mail (IMAP)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block[0].split() == ["Server:", SETTINGS.imap.host]
    assert block[1].split() == ["Port:", str(SETTINGS.imap.port)]
    columns = {
        line.index(value) for line, value in zip(block, (SETTINGS.imap.host, str(SETTINGS.imap.port)), strict=False)
    }
    assert len(columns) == 1
    outgoing = text.split("Outgoing mail (SMTP)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len({len(line) - len(line.lstrip(" ").split(":", 1)[1].lstrip()) for line in outgoing}) == 1
    assert any(
        line.split() == ["Alternative:", "port", str(SETTINGS.smtp.alt_port), "with", SETTINGS.smtp.alt_security]
        for line in outgoing
    )


def test_every_format_greets_answers_names_its_sources_and_signs():
    for fmt in FORMATS:
        made = reply(fmt)
        assert "Hello Anna," in made.text
        assert "not supported" in made.text and SETTINGS.imap.host in made.text
        assert "Source: Email protocols › POP3 (Not Supported)" in made.text
        assert made.text.rstrip().endswith("Sam" if fmt != "html" else "Sam</p>")
        assert made.sections_used == (
            "Email protocols › POP3 (Not Supported)",
            "Email client settings › Incoming mail (IMAP)",
        )
        assert made.missing == ()


def test_markdown_and_html_links_are_absolute():
    markdown, html = reply("markdown").text, reply("html").text
    assert f"]({BASE}articles/email-protocols#why-pop3)" in markdown
    assert f"]({BASE}articles/email-client-settings#incoming-mail-imap)" in markdown
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert hrefs and all(href.startswith(("https://", "http://")) for href in hrefs)
    assert f'href="{BASE}articles/email-protocols#pop3-not-supported"' in html


def test_missing_names_are_flagged_and_marked_never_left_blank():
    made = compose_reply(answer(), "text", base_url=BASE)
    assert made.missing == ("customer_name", "agent_name")
    assert made.text.startswith("Hello [customer name],\n")
    assert made.text.rstrip().endswith("Best regards,\n[agent name]")
    html = compose_reply(answer(), "html", base_url=BASE, customer_name="  ")
    assert "Hello [customer name]," in html.text and html.missing == ("customer_name", "agent_name")


def test_the_agents_name_signs_when_there_is_no_signature():
    made = compose_reply(answer(), "text", base_url=BASE, customer_name="Anna", agent_name="Sam Lee")
    assert made.missing == () and made.text.endswith("Best regards,\nSam Lee\n")
    signed = compose_reply(
        answer(), "text", base_url=BASE, customer_name="Anna", agent_name="Sam Lee", signature="Sam\nProRedLine Support"
    )
    assert signed.text.endswith("Best regards,\nSam\nProRedLine Support\n")


def test_names_and_signatures_cannot_inject_markup():
    evil = "<script>alert(1)</script> [x](javascript:alert(1))"
    html = compose_reply(answer(), "html", base_url=BASE, customer_name=evil, signature="- " + evil).text
    assert "<script" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html
    markdown = compose_reply(answer(), "markdown", base_url=BASE, customer_name="Anna\nEvil", signature="-- \nSam").text
    assert markdown.startswith("Hello Anna Evil,\n") and "\\--" in markdown


def test_answers_without_settings_or_sources_still_make_a_reply():
    bare = compose("greeting", "Hello! How can I help?", settings=SETTINGS, article_url="/articles/")
    made = compose_reply(bare, "text", base_url=BASE, customer_name="Anna", signature="Sam")
    assert made.text == "Hello Anna,\n\nHello! How can I help?\n\nBest regards,\nSam\n"
    assert made.sections_used == ()


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="format"):
        compose_reply(answer(), "rtf", base_url=BASE)
