"""Event logging: every question, search, click and vote is stored, redacted, after the answer; never at its expense."""

import datetime as dt
import json
import logging
import re

import pytest
import sqlalchemy as sa
from conftest import ROOT, create_agent, csrf_token, make_config, sign_in

from app import create_app
from web.extensions import db
from web.models import Event, utcnow
from web.state import knowledge, state

WIDGET = {"Referer": "http://localhost/widget/?lang=en"}


@pytest.fixture(scope="module")
def logged_app(tmp_path_factory):
    """An app with its own database (the tiny training set), shared by this module's tests."""
    heldout = [str(ROOT / "tests" / "data" / "heldout.jsonl")]
    return create_app(make_config(tmp_path_factory.mktemp("analytics"), HELDOUT_PATHS=heldout))


@pytest.fixture
def lapp(logged_app):
    with logged_app.app_context():
        db.session.execute(sa.delete(Event))
        db.session.commit()
    return logged_app


def stored(app, **where) -> list[Event]:
    """Wait for the writer, then return the stored events (oldest first), filtered by column values."""
    assert state(app).events.flush()
    with app.app_context():
        query = sa.select(Event).filter_by(**where).order_by(Event.id)
        return list(db.session.execute(query).scalars())


def test_a_widget_question_is_stored_with_its_prediction_and_session(lapp):
    client = lapp.test_client()
    body = client.post(
        "/api/ask", json={"question": "how do I enable pop3", "session": "w-1"}, headers=WIDGET
    ).get_json()
    [event] = stored(lapp, kind="ask")
    assert (event.channel, event.session, event.text) == ("widget", "w-1", "how do I enable pop3")
    assert event.intent == body["intent"] == "pop3_enable" and event.confidence == pytest.approx(body["confidence"])
    assert event.fallback is False and event.clarify is False


def test_channels_come_from_the_endpoint_the_referrer_or_a_header(lapp):
    client = lapp.test_client()
    client.post("/api/ask", json={"question": "imap port"})
    client.post("/api/ask", json={"question": "imap port"}, headers={"X-Help-Channel": "help_center"})
    client.get("/search?q=imap+port")
    client.get("/api/search?q=imap", headers=WIDGET)
    create_agent(lapp, "channel@example.com")
    sign_in(client, "channel@example.com")
    client.post("/agent", data={"csrf_token": csrf_token(client, "/agent"), "message": "what is the imap port"})
    assert [(e.kind, e.channel) for e in stored(lapp)] == [
        ("ask", "api"),
        ("ask", "help_center"),
        ("search", "help_center"),
        ("search", "widget"),
        ("ask", "agent"),
    ]


def test_personal_data_is_redacted_before_it_is_stored(lapp):
    lapp.test_client().post("/api/ask", json={"question": "I am jo@example.com, card 4111 1111 1111 1111, pop3?"})
    [event] = stored(lapp, kind="ask")
    assert event.text == "I am [email], card [number], pop3?"


def test_searches_are_stored_with_their_result_counts(lapp):
    client = lapp.test_client()
    client.get("/api/search?q=imap")
    client.get("/api/search?q=qwxzv+plokij")
    found, empty = stored(lapp, kind="search")
    assert found.results > 0 and empty.results == 0 and empty.text == "qwxzv plokij"
    client.get("/api/search?q=")  # a 400 is not a search
    assert len(stored(lapp, kind="search")) == 2


def test_search_page_results_link_through_a_click_counter(lapp):
    client = lapp.test_client()
    page = client.get("/search?q=smtp+port").get_data(as_text=True)
    links = re.findall(r'href="(/search/open\?[^"]+)"', page)
    assert links, page
    [search] = stored(lapp, kind="search")
    assert f"ref={search.ref}" in links[0].replace("&amp;", "&")
    response = client.get(links[1].replace("&amp;", "&"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/articles/")
    [click] = stored(lapp, kind="click")
    assert (click.ref, click.rank, click.target) == (search.ref, 2, response.headers["Location"])


@pytest.mark.parametrize(
    "target", ["https://evil.example/articles/x", "//evil.example/articles/x", "/admin", "/articles\\..\\x", ""]
)
def test_the_click_counter_only_leads_to_articles(lapp, target):
    response = lapp.test_client().get("/search/open", query_string={"to": target})
    assert response.status_code == 400 and "Location" not in response.headers


def test_an_article_has_a_helpfulness_form_that_works_without_javascript(lapp):
    client = lapp.test_client()
    page = client.get("/articles/email-protocols").get_data(as_text=True)
    assert 'action="/articles/email-protocols/feedback"' in page and 'name="vote" value="down"' in page
    assert 'name="reason" value="not_related"' in page and "Was this article helpful?" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/articles/email-protocols/feedback", data={"csrf_token": token, "vote": "down", "reason": "not_answered"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/articles/email-protocols?feedback=sorry#feedback"
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thanks for your feedback" in thanks and 'name="vote"' not in thanks
    # A "No" is a dead end no more: the assistant and a person are offered right there.
    support = knowledge(lapp).base.settings.support
    assert 'data-help="open"' in thanks and "Ask the assistant" in thanks
    assert f'<a href="{support.url}">{support.label}</a>' in thanks.split('id="feedback"')[1]
    [vote] = stored(lapp, kind="vote")
    assert (vote.helpful, vote.reason, vote.target, vote.channel) == (
        False,
        "not_answered",
        "email-protocols",
        "help_center",
    )


@pytest.mark.parametrize("data", [{"vote": "up"}, {"vote": "maybe"}, {"vote": "down", "reason": "<script>"}])
def test_article_votes_need_a_csrf_token_and_a_valid_choice(lapp, data):
    client = lapp.test_client()
    if data["vote"] != "up":
        data = {**data, "csrf_token": csrf_token(client, "/articles/email-protocols")}
    assert client.post("/articles/email-protocols/feedback", data=data).status_code == 400
    assert client.post("/articles/no-such-article/feedback", data=data).status_code == 404
    assert stored(lapp, kind="vote") == []


def test_answers_are_given_while_events_cannot_be_stored_and_the_events_wait_for_the_database(tmp_path, caplog):
    app = create_app(make_config(tmp_path, ANALYTICS_LINGER_SECONDS=0))
    with app.app_context():
        db.session.execute(sa.text("ALTER TABLE events RENAME TO events_away"))
        db.session.commit()
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="web.events"):
        for _ in range(3):
            answer = client.post("/api/ask", json={"question": "how do I enable pop3"}).get_json()
            assert answer["intent"] == "pop3_enable"
        assert client.get("/api/search?q=imap").status_code == 200
        assert not state(app).events.flush(timeout=1.0)  # kept in the spool, retried
    assert "could not store" in caplog.text and "retrying; they wait in" in caplog.text
    with app.app_context():
        db.session.execute(sa.text("ALTER TABLE events_away RENAME TO events"))
        db.session.commit()
    assert state(app).events.flush(timeout=10.0)
    assert len(stored(app)) == 4 and state(app).events.failed == 0


def test_logging_can_be_turned_off(tmp_path):
    app = create_app(make_config(tmp_path, ANALYTICS_ENABLED=False))
    client = app.test_client()
    client.post("/api/ask", json={"question": "imap port"})
    page = client.get("/search?q=imap").get_data(as_text=True)
    assert "/search/open" not in page
    assert stored(app) == []


def test_old_events_are_deleted_by_the_command_and_at_start(tmp_path):
    app = create_app(make_config(tmp_path, ANALYTICS_RETENTION_DAYS=30))
    log = state(app).events
    now = utcnow()
    log.write(
        [
            {"kind": "ask", "channel": "api", "text": f"q{n}", "at": now - dt.timedelta(days=days)}
            for n, days in enumerate([1, 29, 31, 400])
        ]
    )
    result = app.test_cli_runner().invoke(args=["purge-events"])
    assert result.exit_code == 0 and "deleted 2 events older than 30 days" in result.output
    assert [e.text for e in stored(app)] == ["q0", "q1"]
    log.write([{"kind": "ask", "channel": "api", "text": "old", "at": now - dt.timedelta(days=45)}])
    restarted = create_app(make_config(tmp_path, ANALYTICS_RETENTION_DAYS=30))
    assert [e.text for e in stored(restarted)] == ["q0", "q1"]
    assert (
        "deleted 1 event older than 2 days"
        in restarted.test_cli_runner().invoke(args=["purge-events", "--days", "2"]).output
    )


def test_report_command_writes_the_same_figures_as_json_and_csv(lapp):
    client = lapp.test_client()
    for question in ["how do I enable pop3", "turn on pop access", "imap server", "what is the weather"]:
        client.post("/api/ask", json={"question": question})
    client.get("/api/search?q=qwxzv")
    state(lapp).events.record(kind="vote", channel="widget", intent="pop3_enable", helpful=False)
    state(lapp).events.record(kind="vote", channel="help_center", target="email-protocols", helpful=True)
    stored(lapp)
    runner = lapp.test_cli_runner()
    result = runner.invoke(args=["report", "--format", "json", "--days", "7"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"] == {
        "questions": 4,
        "fallbacks": 1,
        "fallback_rate": 0.25,
        "searches": 1,
        "zero_results": 1,
    }
    assert report["top_intents"][0] == {"intent": "pop3_enable", "label": "Turning on POP3", "count": 2}
    assert len(report["days"]) == 7 and report["fallback_by_day"][-1] == {
        "day": report["days"][-1],
        "questions": 4,
        "fallbacks": 1,
    }
    assert report["helpfulness_intent"] == [
        {"intent": "pop3_enable", "label": "Turning on POP3", "helpful": 0, "not_helpful": 1, "rate": 0.0}
    ]
    assert report["helpfulness_section"][0]["url"] == "/articles/email-protocols"
    csv_text = runner.invoke(args=["report", "--format", "csv", "--days", "7"]).stdout
    lines = csv_text.splitlines()
    assert lines[0] == "report,key,label,day,count,helpful,not_helpful,rate"
    assert "summary,questions,,,4,,," in lines
    assert "top_intents,pop3_enable,Turning on POP3,,2,,," in lines
    assert f"fallback_rate,fallback,,{report['days'][-1]},4,,,0.25" in lines


def test_a_widget_vote_is_stored_with_its_reason_and_tied_to_the_question_of_its_session(lapp):
    client = lapp.test_client()
    client.post("/api/ask", json={"question": "how do I enable pop3", "session": "w-9"}, headers=WIDGET)
    vote = {"intent": "pop3_enable", "helpful": False, "session": "w-9", "reason": "not_answered"}
    response = client.post("/api/feedback", json=vote, headers=WIDGET)
    assert response.status_code == 202
    [event] = stored(lapp, kind="vote")
    assert (event.intent, event.helpful, event.reason, event.session, event.channel) == (
        "pop3_enable",
        False,
        "not_answered",
        "w-9",
        "widget",
    )
    bad = client.post("/api/feedback", json={**vote, "reason": "too long to read"})
    assert bad.status_code == 400 and "'reason' must be one of" in bad.get_json()["error"]
    client.post("/api/feedback", json={"intent": "greeting", "helpful": True, "question": "hi, I'm jo@example.com"})
    assert stored(lapp, kind="vote")[-1].text == "hi, I'm [email]"


def test_the_widget_reports_clicks_on_api_search_results(lapp):
    client = lapp.test_client()
    body = client.get("/api/search?q=smtp+port", headers=WIDGET).get_json()
    [search] = stored(lapp, kind="search")
    assert body["ref"] == search.ref and len(search.ref) == 16 and search.channel == "widget"
    url = body["results"][0]["url"]
    response = client.post("/api/search/click", json={"url": url, "ref": body["ref"], "rank": 1}, headers=WIDGET)
    assert response.status_code == 202
    [click] = stored(lapp, kind="click")
    assert (click.ref, click.rank, click.target, click.channel) == (search.ref, 1, url, "widget")
    for bad in ({"url": "https://evil.example/articles/x"}, {"ref": body["ref"]}, {"url": 7}):
        response = client.post("/api/search/click", json=bad)
        assert response.status_code == 400 and "error" in response.get_json()
    assert len(stored(lapp, kind="click")) == 1


def test_a_lone_surrogate_costs_no_event(lapp):
    """Half a UTF-16 pair in a question, session, vote or click is cleaned; the batch around it is kept."""
    client = lapp.test_client()
    surrogate = "imap \ud800 settings"
    for n in range(56):
        client.post("/api/ask", json={"question": f"what is the imap port {n}"})
    assert client.post("/api/ask", json={"question": surrogate, "session": "s-\ud800"}).status_code == 200
    assert client.post("/api/feedback", json={"intent": "imap_settings", "helpful": False, "question": surrogate})
    assert client.post("/api/search/click", json={"url": "/articles/email-protocols", "ref": "r\udfff"}).status_code
    events = stored(lapp)
    assert len(events) == 59 and state(lapp).events.failed == 0
    odd = [e for e in events if e.text and "\ufffd" in e.text]
    assert [e.text for e in odd] == ["imap \ufffd settings"] * 2
    assert all(e.ref is None or "\udfff" not in e.ref for e in events)


def test_an_event_the_database_refuses_costs_no_other(lapp):
    """A value the database cannot take fails its own event only; the others in its batch are stored."""
    events = state(lapp).events
    failed = events.failed
    rows = [{"kind": "click", "channel": "api", "target": f"/articles/a{n}", "at": utcnow()} for n in range(20)]
    rows.insert(7, {"kind": "click", "channel": "api", "target": "/articles/x", "rank": 2**70, "at": utcnow()})
    for row in rows:
        events.record(**row)
    assert len(stored(lapp, kind="click")) == 20 and events.failed == failed + 1


@pytest.mark.parametrize(
    "target",
    ["/articles/email-protocols%0d%0aSet-Cookie:%20x=1", "/articles/a%0ab", "/articles/%09x", "/%09/evil.example"],
)
def test_a_result_link_with_a_line_break_is_a_400_not_a_500(lapp, target):
    response = lapp.test_client().get(f"/search/open?to={target}&ref=r1&rank=1")
    assert response.status_code == 400
    assert stored(lapp, kind="click") == []


def test_questions_are_stored_without_direction_overrides(lapp):
    """A right-to-left override would show a question reversed in the inbox; it is dropped where text comes in."""
    lapp.test_client().post("/api/ask", json={"question": "is \u202etpyrcne\u202c imap \u2066port\u2069 on?"})
    [event] = stored(lapp, kind="ask")
    assert event.text == "is tpyrcne imap port on?"
