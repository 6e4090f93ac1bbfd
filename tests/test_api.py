"""The JSON API: search and articles, and every kind of bad input."""

import pytest


def test_search_returns_sections_with_anchored_urls(client):
    data = client.get("/api/search?q=outgoing+server&limit=3").get_json()
    assert data["query"] == "outgoing server" and data["total"] >= 1
    first = data["results"][0]
    assert set(first) == {"title", "section", "heading", "article", "url", "snippet", "score"}
    assert first["url"] == "/articles/email-client-settings#outgoing-mail-smtp"
    assert first["section"] == "Outgoing mail (SMTP)"
    assert first["heading"] == "Email client settings › Outgoing mail (SMTP)"
    assert first["article"] == "email-client-settings"
    assert "<mark>" in first["snippet"]
    assert len(data["results"]) <= 3


def test_search_counts_results_and_the_articles_they_come_from(client):
    data = client.get("/api/search?q=pop3&limit=50").get_json()
    assert data["total"] == len(data["results"])
    assert data["articles"] == len({r["article"] for r in data["results"]}) >= 2
    # Two sections share the title "POP3 (Not Supported)"; their headings tell them apart.
    headings = [r["heading"] for r in data["results"]]
    assert len(headings) == len(set(headings))


def test_search_suggests_a_spelling(client):
    data = client.get("/api/search?q=imap+setings").get_json()
    assert data["suggestion"] == "imap settings"
    assert data["results"]


def test_search_with_no_match(client):
    data = client.get("/api/search?q=qqqzzzxx").get_json()
    assert data["total"] == 0 and data["results"] == []


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("/api/search", "required"),
        ("/api/search?q=", "required"),
        ("/api/search?q=%20%20%09", "required"),
        ("/api/search?q=%00%01", "required"),
        ("/api/search?q=" + "a" * 100_000, "too long"),
        ("/api/search?q=smtp&limit=0", "limit"),
        ("/api/search?q=smtp&limit=1000", "limit"),
        ("/api/search?q=smtp&limit=ten", "limit"),
        ("/api/search?q=smtp&page=-1", "page"),
    ],
)
def test_bad_search_input_is_a_400_with_a_message(client, url, fragment):
    response = client.get(url)
    assert response.status_code == 400
    assert fragment in response.get_json()["error"]


@pytest.mark.parametrize("q", ['"', "AND (", "*", "title:", "title:smtp", "a\x07b", "%FF%FE%80", "imap%C3%28"])
def test_query_syntax_and_odd_bytes_give_sane_results(client, q):
    response = client.get(f"/api/search?q={q}")
    assert response.status_code in (200, 400)
    assert response.is_json
    if response.status_code == 200:
        assert isinstance(response.get_json()["results"], list)


def test_articles_list(client):
    data = client.get("/api/articles").get_json()
    slugs = {a["slug"] for a in data["articles"]}
    assert {"email-protocols", "email-client-settings"} <= slugs
    one = next(a for a in data["articles"] if a["slug"] == "email-protocols")
    assert one["updated"] == "2026-11-20" and one["category"] and one["summary"]


def test_one_article(client):
    data = client.get("/api/articles/email-protocols").get_json()
    assert data["title"] == "Email protocols"
    assert {"title", "summary", "category", "updated", "sections", "html", "markdown"} <= set(data)
    pop3 = next(s for s in data["sections"] if s["anchor"] == "pop3-not-supported")
    assert pop3 == {"anchor": "pop3-not-supported", "title": "POP3 (Not Supported)", "level": 3,
                    "url": "/articles/email-protocols#pop3-not-supported"}
    assert "POP3 is not supported at ProRedLine." in data["markdown"]


def test_missing_article_is_a_json_404(client):
    response = client.get("/api/articles/no-such-thing")
    assert response.status_code == 404 and "no-such-thing" in response.get_json()["error"]


def test_unknown_api_route_is_json(client):
    response = client.get("/api/nope")
    assert response.status_code == 404 and response.is_json


def test_wrong_method_is_json(client):
    response = client.delete("/api/search?q=x")
    assert response.status_code == 405 and response.is_json
