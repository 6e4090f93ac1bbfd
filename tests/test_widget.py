"""The widget's server side: loader and frame, frame-ancestors, CORS, feedback, demo page and size budget."""

from __future__ import annotations

import gzip
import logging
import re
from html.parser import HTMLParser

import pytest
from conftest import make_config

from app import create_app
from web.security import parse_origins

PORTAL = "https://portal.example.com"
BUDGET_BYTES = 20 * 1024


@pytest.fixture(scope="module")
def portal_client(tmp_path_factory):
    """A client of an app that lets one other origin embed the widget."""
    app = create_app(make_config(tmp_path_factory.mktemp("portal"), WIDGET_ALLOWED_ORIGINS=[PORTAL + "/"]))
    return app.test_client()


class _Assets(HTMLParser):
    """Collect the script and stylesheet URLs of a page."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"])
        elif tag == "link" and found.get("rel") == "stylesheet":
            self.urls.append(found["href"])


def assets(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


def fetch(client, url: str):
    """GET a URL and close the response (static files are streamed from an open file)."""
    with client.get(url) as response:
        response.get_data()
        return response


def test_loader_is_served_as_javascript(client):
    response = fetch(client, "/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "window[NAME] = api" in response.get_data(as_text=True)


def test_frame_page_uses_no_inline_code_and_gets_its_endpoints_from_url_for(client):
    response = client.get("/widget/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\sstyle=|<style", html), "inline style"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert 'data-ask="/api/ask"' in html and 'data-feedback="/api/feedback"' in html
    assert 'role="dialog"' in html and 'aria-expanded="false"' in html and 'aria-live="polite"' in html


def test_frame_may_be_embedded_only_by_the_app_itself_by_default(client):
    csp = client.get("/widget/").headers["Content-Security-Policy"]
    assert csp.endswith("frame-ancestors 'self'")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_frame_ancestors_come_from_the_allowed_origins(portal_client):
    csp = portal_client.get("/widget/").headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {PORTAL}" in csp
    assert csp.count("frame-ancestors") == 1 and "default-src 'self'" in csp
    # Only the frame may be embedded elsewhere; every other page stays same-origin only.
    assert portal_client.get("/").headers["Content-Security-Policy"].endswith("frame-ancestors 'self'")


@pytest.mark.parametrize(("value", "expected"), [
    ([], set()),
    ("", set()),
    (["https://Portal.Example.com/"], {"https://portal.example.com"}),
    ("https://a.example.com, http://localhost:8000", {"https://a.example.com", "http://localhost:8000"}),
    (["https://a.example.com:443", "http://b.example.com:80"], {"https://a.example.com", "http://b.example.com"}),
    (["http://[::1]:8000"], {"http://[::1]:8000"}),
    (["*"], {"*"}),
])
def test_allowed_origins_are_normalised(value, expected):
    assert parse_origins(value) == expected


@pytest.mark.parametrize("value", [["portal.example.com"], ["https://portal.example.com/help"], ["ftp://example.com"],
                                   ["https://example.com?x=1"], ["https://user@example.com"],
                                   ["https://example.com:99999"]])
def test_a_mistyped_origin_stops_the_app_from_starting(tmp_path, value):
    with pytest.raises(ValueError, match="WIDGET_ALLOWED_ORIGINS"):
        create_app(make_config(tmp_path, WIDGET_ALLOWED_ORIGINS=value))


@pytest.mark.parametrize("value", ["soon", 0, -1, 600, True])
def test_a_wrong_timeout_stops_the_app_from_starting(tmp_path, value):
    with pytest.raises(ValueError, match="WIDGET_TIMEOUT_SECONDS"):
        create_app(make_config(tmp_path, WIDGET_TIMEOUT_SECONDS=value))


def test_cors_answers_allowed_origins(portal_client):
    response = portal_client.get("/api/search?q=smtp", headers={"Origin": PORTAL})
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "Origin" in response.headers["Vary"]
    ask = portal_client.post("/api/ask", json={"question": "smtp port"}, headers={"Origin": PORTAL})
    assert ask.status_code == 200 and ask.headers["Access-Control-Allow-Origin"] == PORTAL
    # Errors too, so that a host page can read the message.
    bad = portal_client.get("/api/search", headers={"Origin": PORTAL})
    assert bad.status_code == 400 and bad.headers["Access-Control-Allow-Origin"] == PORTAL


def test_cors_preflight_is_answered_for_allowed_origins_only(portal_client):
    asking = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = portal_client.options("/api/ask", headers={"Origin": PORTAL, **asking})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert allowed.headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert int(allowed.headers["Access-Control-Max-Age"]) > 0
    refused = portal_client.options("/api/ask", headers={"Origin": "https://evil.example.net", **asking})
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Methods" not in refused.headers


def test_cors_is_not_sent_to_other_origins_or_outside_the_api(portal_client, client):
    for origin in ("https://evil.example.net", PORTAL + ".evil.example.net", "null"):
        response = portal_client.get("/api/search?q=smtp", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response.headers, origin
    assert "Access-Control-Allow-Origin" not in portal_client.get("/", headers={"Origin": PORTAL}).headers
    # With the default configuration, no other origin at all.
    assert "Access-Control-Allow-Origin" not in client.get("/api/search?q=smtp", headers={"Origin": PORTAL}).headers


def test_any_origin_can_be_allowed_on_purpose(tmp_path):
    app = create_app(make_config(tmp_path, WIDGET_ALLOWED_ORIGINS="*"))
    response = app.test_client().get("/api/search?q=smtp", headers={"Origin": "https://anyone.example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://anyone.example.org"
    assert app.test_client().get("/widget/").headers["Content-Security-Policy"].endswith("frame-ancestors *")


def test_feedback_is_validated_and_logged(client, caplog):
    with caplog.at_level(logging.INFO, logger="web.views.api"):
        response = client.post("/api/feedback", json={"intent": "pop3_enable", "helpful": False, "session": "s-1"})
    assert response.status_code == 202 and response.get_json() == {"status": "logged"}
    assert "feedback: intent=pop3_enable helpful=False session=s-1" in caplog.text


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"data": "helpful", "content_type": "text/plain"}, "JSON"),
    ({"json": ["pop3_enable", True]}, "JSON object"),
    ({"json": {"helpful": True}}, "'intent' is required"),
    ({"json": {"intent": "no_such_intent", "helpful": True}}, "'intent' must be"),
    ({"json": {"intent": "pop3_enable"}}, "'helpful' is required"),
    ({"json": {"intent": "pop3_enable", "helpful": "yes"}}, "true or false"),
    ({"json": {"intent": "pop3_enable", "helpful": 1}}, "true or false"),
    ({"json": {"intent": "pop3_enable", "helpful": True, "session": "x" * 101}}, "too long"),
    ({"json": {"intent": "pop3_enable", "helpful": True, "session": 7}}, "must be a string"),
])
def test_bad_feedback_is_a_400_with_a_reason(client, caplog, kwargs, message):
    with caplog.at_level(logging.INFO, logger="app"):
        response = client.post("/api/feedback", **kwargs)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert "feedback:" not in caplog.text


def test_demo_page_embeds_the_widget_with_one_tag_and_escapes_its_options(client):
    response = client.get('/widget/demo?lang=de&greeting="><script>alert(1)</script>&bogus=1')
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    tags = re.findall(r"<script [^>]*widget\.js[^>]*>", html)
    assert len(tags) == 1 and 'data-lang="de"' in tags[0] and "async" in tags[0]
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html and "bogus" not in html
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html)


def test_everything_the_widget_loads_is_under_20_kb_gzipped(client):
    frame = client.get("/widget/")
    files = {"/widget.js": fetch(client, "/widget.js").data, "/widget/": frame.data}
    for url in assets(frame.get_data(as_text=True)):
        response = fetch(client, url)
        assert response.status_code == 200, url
        files[url] = response.data
    assert {"/static/widget-frame.js", "/static/widget-frame.css"} <= set(files)
    sizes = {url: len(gzip.compress(body)) for url, body in files.items()}
    assert sum(sizes.values()) < BUDGET_BYTES, sizes
