"""Help-center pages: content, structure, friendly errors, and a strict CSP."""

import re
from urllib.parse import unquote

import pytest

from web.state import knowledge


def test_home_lists_categories_and_articles(client):
    html = client.get("/").get_data(as_text=True)
    assert "Email setup" in html and 'href="/articles/email-protocols"' in html
    assert 'role="search"' in html and '<label for="home-search"' in html


def test_article_page_has_toc_anchors_breadcrumb_related_and_date(client):
    html = client.get("/articles/email-protocols").get_data(as_text=True)
    assert '<h3 id="pop3-not-supported"' in html
    assert 'class="permalink" href="#pop3-not-supported"' in html
    assert '<nav class="toc"' in html and 'href="#why-pop3-is-not-supported"' in html
    assert 'aria-label="Breadcrumb"' in html and "Help center" in html
    assert 'datetime="2026-11-20"' in html
    assert 'href="/articles/email-client-settings"' in html  # related article


def test_search_page_shows_highlighted_snippets(client):
    html = client.get("/search?q=smtp+port").get_data(as_text=True)
    # Result links go through the click counter (/search/open?to=...), so the target is URL-encoded.
    assert "<mark>" in html and "/articles/email-client-settings#outgoing-mail-smtp" in unquote(html)


def test_search_page_offers_did_you_mean(client):
    html = client.get("/search?q=authentification").get_data(as_text=True)
    assert "authentication" in html


def test_zero_results_page_helps(client):
    html = client.get("/search?q=qqqzzzxx").get_data(as_text=True)
    assert "Nothing matched" in html and "Browse the articles" in html


def test_search_page_escapes_the_query(client):
    html = client.get("/search?q=%3Cscript%3Ealert(1)%3C/script%3E").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_pagination_links(client):
    html = client.get("/search?q=email+imap+smtp+pop3+server").get_data(as_text=True)
    assert 'rel="next"' in html


@pytest.mark.parametrize(("url", "status"), [("/articles/missing", 404), ("/nowhere", 404),
                                             ("/search?q=smtp&page=abc", 400), ("/search?q=" + "x" * 600, 400)])
def test_errors_are_friendly_pages(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert "text/html" in response.content_type and "Traceback" not in html
    assert "help center home" in html


@pytest.mark.parametrize("url", ["/", "/articles/email-protocols", "/search?q=imap", "/nowhere"])
def test_pages_send_a_strict_csp_and_use_no_inline_code(client, url):
    response = client.get(url)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\sstyle=|<style", html), "inline style"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r"src=\"https?://|<link[^>]*href=\"https?://", html), "external host"
    # The one link off the site: to a person, where the settings file says.
    support = knowledge(client.application).base.settings.support
    assert set(re.findall(r'<a [^>]*href="(https?://[^"]+)"', html)) <= {support.url}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
