"""The knowledge-gap inbox at /admin, its actions and the reports: agents only, CSRF on every form, no JavaScript."""

import datetime as dt
import html
import json
import logging
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conftest import ROOT, create_agent, make_config, sign_in

from app import create_app
from classifier.model import predict
from web.extensions import db
from web.knowledge import sync_knowledge
from web.models import GapNote, KnowledgeChange, KnowledgeVersion, utcnow
from web.state import knowledge, state
from web.training import run_gate

TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
HELD_OUT = str(ROOT / "tests" / "data" / "heldout.jsonl")


@pytest.fixture
def gap_app(tmp_path):
    app = create_app(make_config(tmp_path, HELDOUT_PATHS=[HELD_OUT]))
    create_agent(app, "lead@example.com", role="admin")
    return app


@pytest.fixture
def agent(gap_app):
    client = gap_app.test_client()
    assert sign_in(client, "lead@example.com").status_code == 302
    return client


def token(client, path="/admin"):
    return TOKEN_RE.search(client.get(path).get_data(as_text=True)).group(1)


def record(app, **event):
    state(app).events.record(**event)


def settle(app):
    assert state(app).events.flush()


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_inbox_and_reports_are_for_signed_in_agents_only(gap_app):
    client = gap_app.test_client()
    for path in ("/admin", "/admin/reports"):
        response = client.get(path)
        assert response.status_code == 302 and "/agent/login" in response.headers["Location"]
    assert client.post("/admin/training", data={}).status_code == 302


def test_every_failure_signal_is_listed_grouped_with_kinds_counts_and_examples(gap_app, agent):
    now = utcnow()
    record(
        gap_app,
        kind="ask",
        channel="widget",
        text="How do I enable POP3?",
        intent="pop3_enable",
        confidence=0.2,
        fallback=True,
    )
    record(
        gap_app, kind="ask", channel="widget", text="enabel pop 3", intent="pop3_enable", confidence=0.3, fallback=True
    )
    record(gap_app, kind="search", channel="help_center", text="pop3 enable", results=0)
    record(
        gap_app,
        kind="ask",
        channel="api",
        text="imap port",
        intent="imap_settings",
        confidence=0.42,
        fallback=False,
        clarify=False,
    )
    record(
        gap_app,
        kind="ask",
        channel="widget",
        text="confident answer",
        intent="imap_settings",
        confidence=0.95,
        fallback=False,
    )
    # A clarifying question, and the choice the person picked next in the same session.
    record(
        gap_app,
        kind="ask",
        channel="widget",
        session="s1",
        text="mail settings",
        intent="imap_settings",
        confidence=0.5,
        fallback=False,
        clarify=True,
        choices="imap_settings,pop3_enable",
        at=now - dt.timedelta(minutes=3),
    )
    record(
        gap_app,
        kind="ask",
        channel="widget",
        session="s1",
        text="What are the IMAP settings?",
        intent="imap_settings",
        confidence=0.9,
        fallback=False,
        clarify=False,
        at=now - dt.timedelta(minutes=2),
    )
    # A "not helpful" vote tied to the question asked in its session, and one on an article.
    record(
        gap_app,
        kind="ask",
        channel="widget",
        session="s2",
        text="spam filter",
        intent="greeting",
        confidence=0.9,
        fallback=False,
    )
    record(gap_app, kind="vote", channel="widget", session="s2", intent="greeting", helpful=False, reason="not_related")
    record(gap_app, kind="vote", channel="help_center", target="email-protocols", helpful=False, reason="not_answered")
    # A help-center search that found results nobody opened, one that was opened, and one too recent to judge.
    old = now - dt.timedelta(hours=1)
    record(gap_app, kind="search", channel="help_center", text="thunderbird", results=4, ref="r-unclicked", at=old)
    record(gap_app, kind="search", channel="help_center", text="outlook", results=4, ref="r-clicked", at=old)
    record(gap_app, kind="click", channel="help_center", ref="r-clicked", target="/articles/email-protocols", rank=1)
    record(gap_app, kind="search", channel="help_center", text="apple mail", results=4, ref="r-recent")
    # Search as you type: "qwxz" found nothing, but the person went on typing; only the last search counts.
    record(gap_app, kind="search", channel="widget", text="qwxz", results=0, at=now - dt.timedelta(seconds=20))
    record(gap_app, kind="search", channel="widget", text="qwxzv plok", results=0, at=now - dt.timedelta(seconds=19))
    # Too old for the window.
    record(
        gap_app, kind="ask", channel="widget", text="ancient question", fallback=True, at=now - dt.timedelta(days=40)
    )
    settle(gap_app)

    page = page_text(agent.get("/admin"))
    rows = re.findall(r'<tr id="group-[0-9a-f]{16}">(.*?)</tr>', page, re.S)
    assert len(rows) == 7, page
    assert "qwxzv plok" in page and "<li>qwxz</li>" not in page
    first = rows[0]
    assert "How do I enable POP3?" in first and "enabel pop 3" in first and "pop3 enable" in first
    assert "bot fell back (2)" in first and "search found nothing (1)" in first
    assert '<td class="num" data-label="Count">3</td>' in first
    assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\dT\d\d:\d\dZ\">", first)
    text = " ".join(rows)
    assert "low-confidence answer (1)" in text and "imap port" in text
    assert "bot asked to clarify (1)" in text and "People then chose: IMAP settings (1)" in text
    assert "spam filter" in text and "Reasons: not related to my question (1)" in text
    assert "Article: Email Protocols" in text or "Article: Email protocols" in text
    assert "no search result opened (1)" in text and "thunderbird" in text
    assert (
        "outlook" not in text and "apple mail" not in text and "confident answer" not in text and "ancient" not in text
    )
    # Every row offers its three actions, each a form that posts with a CSRF token.
    assert page.count("Add as training example") == 7 and page.count("Add a synonym for search") == 7
    assert page.count("Note a missing article section") == 7
    assert page.count('name="csrf_token" type="hidden"') >= 1 + 2 * 7 + 1
    assert "style=" not in page and "<script>" not in page


def test_unopened_searches_count_only_where_clicks_are_reported(gap_app, agent):
    old = utcnow() - dt.timedelta(hours=1)
    for channel, text, ref in [
        ("widget", "roundcube", "w-1"),
        ("widget", "opened in widget", "w-2"),
        ("api", "api only", "a-1"),
    ]:
        record(gap_app, kind="search", channel=channel, text=text, results=3, ref=ref, at=old)
    record(gap_app, kind="click", channel="widget", ref="w-2", target="/articles/email-protocols", rank=1)
    settle(gap_app)
    page = page_text(agent.get("/admin"))
    assert "roundcube" in page and "no search result opened (1)" in page
    assert "opened in widget" not in page and "api only" not in page


def test_a_good_example_is_queued_checked_by_the_gate_and_swapped_in(gap_app, agent):
    question = "please switch my pop3 access on"
    record(gap_app, kind="ask", channel="widget", text=question, intent="pop3_enable", confidence=0.3, fallback=True)
    settle(gap_app)
    before = knowledge(gap_app).model
    response = agent.post(
        "/admin/training",
        data={
            "csrf_token": token(agent),
            "only": "0",
            "question-0": question,
            "intent-0": "pop3_enable",
            "question-1": "ignored",
            "intent-1": "greeting",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#changes-title")
    # The request only queued the change: nothing was trained inside it.
    page = page_text(agent.get(response.headers["Location"]))
    assert "Queued as change 1." in page and "waiting for the gate" in page
    assert '<meta http-equiv="refresh" content="5; url=/admin?days=30">' in page  # it follows the gate by itself
    assert knowledge(gap_app).model is before and knowledge(gap_app).version == 0

    assert run_gate(gap_app) == 1
    page = page_text(agent.get("/admin"))
    assert "accepted (version 1)" in page and "accepted: cross-validation accuracy" in page
    assert 'http-equiv="refresh"' not in page and "answers with knowledge version 1" in page
    model = knowledge(gap_app).model
    assert model is not before and model.data_digest == knowledge(gap_app).training.digest
    assert question in next(i for i in knowledge(gap_app).training.intents if i.name == "pop3_enable").examples
    with gap_app.app_context():
        [change] = db.session.execute(sa.select(KnowledgeChange)).scalars().all()
        [version] = db.session.execute(sa.select(KnowledgeVersion)).scalars().all()
    assert change.status == "accepted" and change.accepted and change.author == "lead@example.com"
    assert question in change.summary and change.version == version.id == 1 and change.decided_at >= change.at
    assert json.loads(version.examples) == {"pop3_enable": [question]} and version.author == "lead@example.com"
    # A restarted app loads version 1 and this node's copy of its model as they are: no retraining.
    restarted = create_app(make_config(Path(gap_app.instance_path).parent, HELDOUT_PATHS=[HELD_OUT]))
    assert knowledge(restarted).version == 1 and knowledge(restarted).model.trained_at == model.trained_at


def test_a_harmful_batch_is_refused_and_nothing_changes(gap_app, agent):
    agent.post(
        "/admin/training/import",
        data={
            "csrf_token": token(agent),
            "examples": "intents:\n- intent: pop3_enable\n  examples: [please enable pop3 on my account]\n",
        },
    )
    run_gate(gap_app)
    model = knowledge(gap_app).model
    greetings = [
        "hey there friend",
        "good afternoon",
        "hiya",
        "howdy",
        "greetings",
        "hello bot",
        "hey hey",
        "hi all",
        "morning!",
        "hello, anyone around?",
    ]
    batch = yaml.safe_dump({"version": 1, "intents": [{"intent": "pop3_enable", "examples": greetings}]})
    response = agent.post("/admin/training/import", data={"csrf_token": token(agent), "examples": batch})
    assert "Queued as change 2." in page_text(agent.get(response.headers["Location"]))
    assert run_gate(gap_app) == 1
    page = page_text(agent.get("/admin"))
    assert "refused: cross-validation accuracy would fall from" in page
    assert knowledge(gap_app).model is model and knowledge(gap_app).version == 1
    normalize = knowledge(gap_app).base.normalizer.normalize
    assert predict(model, normalize("hey there friend")).intent != "pop3_enable"
    with gap_app.app_context():
        outcomes = [
            (c.status, c.accepted)
            for c in db.session.execute(sa.select(KnowledgeChange).order_by(KnowledgeChange.id)).scalars()
        ]
        versions = db.session.scalar(sa.select(sa.func.count()).select_from(KnowledgeVersion))
    assert outcomes == [("accepted", True), ("refused", False)] and versions == 1


def test_the_same_batch_is_refused_by_the_command_line(gap_app, tmp_path):
    batch = tmp_path / "batch.yml"
    batch.write_text(
        yaml.safe_dump(
            {
                "intents": [
                    {
                        "intent": "pop3_enable",
                        "examples": [
                            "hey there friend",
                            "good afternoon",
                            "hiya",
                            "howdy",
                            "greetings",
                            "hello bot",
                            "hey hey",
                            "hi all",
                        ],
                    }
                ]
            }
        )
    )
    result = gap_app.test_cli_runner().invoke(args=["import-training", str(batch)])
    assert result.exit_code == 1 and "refused: cross-validation accuracy would fall" in result.output
    good = tmp_path / "good.yml"
    good.write_text("intents:\n- intent: pop3_enable\n  examples: [please enable pop3 on my account]\n")
    result = gap_app.test_cli_runner().invoke(args=["import-training", str(good)])
    assert result.exit_code == 0 and result.stdout.startswith("accepted:")
    exported = gap_app.test_cli_runner().invoke(args=["export-training"])
    assert yaml.safe_load(exported.stdout)["intents"] == [
        {"intent": "pop3_enable", "examples": ["please enable pop3 on my account"]}
    ]
    assert "(knowledge version 1)" in exported.stderr


@pytest.mark.parametrize(
    "examples, reason",
    [
        ("intents:\n- intent: billing\n  examples: [my invoice]\n", "unknown intent 'billing'"),
        ("intents:\n- intent: pop3_enable\n  examples: [hello]\n", "already an example of greeting"),
        ("intents:\n- intent: greeting\n  examples: [Hello]\n", "already a training example"),
    ],
)
def test_impossible_examples_are_refused_at_once_with_the_reason(gap_app, agent, examples, reason):
    response = agent.post("/admin/training/import", data={"csrf_token": token(agent), "examples": examples})
    page = page_text(agent.get(response.headers["Location"]))
    flashed = page[: page.index("changes-title")]
    assert "Not changed: refused:" in flashed and reason in flashed
    with gap_app.app_context():
        [change] = db.session.execute(sa.select(KnowledgeChange)).scalars().all()
    assert change.status == "refused" and reason in change.reason and change.decided_at is not None
    assert run_gate(gap_app) == 0  # nothing left for the gate


def test_ticked_rows_download_as_training_data(gap_app, agent):
    form = {
        "csrf_token": token(agent),
        "pick": ["0", "2"],
        "question-0": "pop3 on my phone",
        "intent-0": "pop3_enable",
        "question-1": "not ticked",
        "intent-1": "greeting",
        "question-2": "imap host name",
        "intent-2": "imap_settings",
    }
    response = agent.post("/admin/training/export", data=form)
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert yaml.safe_load(response.get_data(as_text=True))["intents"] == [
        {"intent": "pop3_enable", "examples": ["pop3 on my phone"]},
        {"intent": "imap_settings", "examples": ["imap host name"]},
    ]
    assert agent.post("/admin/training/export", data={"csrf_token": form["csrf_token"]}).status_code == 400


def test_every_action_needs_its_csrf_token(gap_app, agent):
    for path, data in [
        ("/admin/training", {"only": "0", "question-0": "x", "intent-0": "greeting"}),
        ("/admin/synonyms", {"word": "mailbox", "synonym": "inbox"}),
        ("/admin/notes", {"group": "abc", "key": "abc", "text": "x"}),
        ("/admin/training/import", {"examples": "intents: []"}),
    ]:
        assert agent.post(path, data=data).status_code == 400
    with gap_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(KnowledgeChange)) == 0


def test_a_synonym_is_added_for_search_and_the_bot(gap_app, agent):
    response = agent.post("/admin/synonyms", data={"csrf_token": token(agent), "word": "Sender", "synonym": "smtp"})
    assert "Queued as change 1." in page_text(agent.get(response.headers["Location"]))
    run_gate(gap_app)
    assert "accepted (version 1)" in page_text(agent.get("/admin"))
    assert knowledge(gap_app).base.lexicon.equivalents("sender")[:2] == ("sender", "smtp")
    assert knowledge(gap_app).model.fingerprint == knowledge(gap_app).base.normalizer.fingerprint
    with gap_app.app_context():
        assert "sender" in db.session.scalar(sa.select(KnowledgeVersion.synonyms))
    agent.post("/admin/synonyms", data={"csrf_token": token(agent), "word": "outgoing", "synonym": "incoming"})
    run_gate(gap_app)
    assert "refused: 'outgoing' is a synonym of 'smtp'" in page_text(agent.get("/admin"))
    response = agent.post("/admin/synonyms", data={"csrf_token": token(agent), "word": "Inbox", "synonym": "inbox"})
    page = page_text(agent.get(response.headers["Location"]))
    assert "Not changed: refused: a word is already its own synonym" in page


def test_another_worker_picks_up_a_change_and_its_model_without_training(gap_app, agent, caplog):
    other = create_app(make_config(Path(gap_app.instance_path).parent, HELDOUT_PATHS=[HELD_OUT]))
    agent.post("/admin/synonyms", data={"csrf_token": token(agent), "word": "sender", "synonym": "smtp"})
    run_gate(gap_app)
    with caplog.at_level(logging.INFO, logger="web.knowledge"):
        assert sync_knowledge(other) is True
    assert knowledge(other).version == 1
    assert knowledge(other).base.lexicon.equivalents("sender")[:2] == ("sender", "smtp")
    assert knowledge(other).model.trained_at == knowledge(gap_app).model.trained_at
    assert "trained the intent model" not in caplog.text
    assert sync_knowledge(other) is False  # nothing new


def test_a_note_on_a_missing_section_is_kept_on_its_row(gap_app, agent):
    record(gap_app, kind="search", channel="help_center", text="forward mail", results=0)
    settle(gap_app)
    page = agent.get("/admin").get_data(as_text=True)
    group = re.search(r'name="group" value="([0-9a-f]{16})"', page).group(1)
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    response = agent.post(
        "/admin/notes",
        data={
            "csrf_token": token(agent),
            "group": group,
            "key": key,
            "text": "Forwarding article needs a section on rules",
        },
    )
    assert response.headers["Location"].endswith(f"#group-{group}")
    assert "Note by lead@example.com: Forwarding article needs a section on rules" in page_text(agent.get("/admin"))
    with gap_app.app_context():
        assert db.session.execute(sa.select(GapNote.group_key)).scalar_one() == key


def test_reports_draw_accessible_svg_charts_beside_their_tables(gap_app, agent):
    for intent, n in (("pop3_enable", 3), ("imap_settings", 1)):
        for _ in range(n):
            record(gap_app, kind="ask", channel="widget", text="q", intent=intent, confidence=0.9, fallback=False)
    record(gap_app, kind="ask", channel="widget", text="q", intent="out_of_scope", confidence=0.9, fallback=True)
    record(gap_app, kind="vote", channel="widget", intent="pop3_enable", helpful=True)
    record(gap_app, kind="vote", channel="widget", intent="pop3_enable", helpful=False)
    settle(gap_app)
    response = agent.get("/admin/reports?days=7")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "style-src 'self'" in response.headers["Content-Security-Policy"]
    assert page.count("<svg") == 5 - 1  # no section votes yet: that chart says so instead
    assert page.count('role="img"') == 4 and page.count("<title id=") == 4 and page.count("<desc id=") == 4
    assert " style=" not in page and "<script" not in page.split("</head>")[1]
    assert page.count("<table") == 5
    assert "<dd>5</dd>" in page and "<dd>20%</dd>" in page
    assert re.search(r"<th scope=\"row\">Turning on POP3</th><td class=\"num\">3</td>", page)
    assert "50% helpful" in page
    assert re.search(r'<rect class="bar series-0" x="[\d.]+" y="0" width="[\d.]+" height="22">', page)
    # The per-day table names intents as people read them, not by their ids.
    trend = page.split('id="trend-heading"')[1].split("</table>")[0]
    assert '<th scope="col" class="num">Turning on POP3</th>' in trend and ">pop3_enable<" not in trend


def test_anonymous_votes_have_a_limit_of_their_own(tmp_path):
    app = create_app(make_config(tmp_path, FEEDBACK_RATE_LIMIT="10 per minute"))
    client = app.test_client()
    vote = {"intent": "imap_settings", "helpful": False, "question": "why is my inbox empty"}
    codes = [client.post("/api/feedback", json=vote).status_code for _ in range(30)]
    assert codes.count(202) == 10 and codes.count(429) == 20
    settle(app)
    assert client.post("/api/ask", json={"question": "imap port"}).status_code == 200  # asking is not held back


def test_a_flood_of_long_questions_is_paged_and_cut_short_in_the_inbox(gap_app, agent):
    words = "imap smtp port server password outlook login error mailbox quota spam filter alias forward".split()
    rows = [
        {
            "kind": "vote",
            "channel": "api",
            "helpful": False,
            "intent": "imap_settings",
            "text": f"flood {n} " + " ".join(f"{words[(n * 7 + k) % len(words)]}{n * 31 + k}" for k in range(300)),
            "at": utcnow(),
        }
        for n in range(3000)
    ]
    state(gap_app).events.write(rows)
    start = time.perf_counter()
    response = agent.get("/admin")
    took = time.perf_counter() - start
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and len(page) < 1_000_000, len(page)
    assert re.search(r"3000\s+groups", page) and "page 1 of 60" in page and page.count('<tr id="group-') == 50
    shown = re.findall(r'<ul class="examples"><li>([^<]*)</li>', page)
    assert shown and all(len(html.unescape(text)) <= 300 for text in shown)
    assert took < 10, took
    second = agent.get("/admin?page=2").get_data(as_text=True)
    assert "page 2 of 60" in second and 'rel="prev"' in second
    assert agent.get("/admin?page=999").status_code == 200  # past the end: the last page


def test_direction_overrides_stored_before_cleaning_are_not_shown(gap_app, agent):
    from web.models import Event

    with gap_app.app_context():  # as an older release stored it, past today's cleaning
        db.session.execute(
            sa.insert(Event).values(
                at=utcnow(), kind="ask", channel="api", text="why \u202egnikrow ton\u202c imap", fallback=True
            )
        )
        db.session.commit()
    page = agent.get("/admin").get_data(as_text=True)
    assert "why gnikrow ton imap" in page and "\u202e" not in page


def test_the_reports_page_offers_the_figures_as_a_csv_download(gap_app, agent):
    record(gap_app, kind="ask", channel="widget", text="q", intent="pop3_enable", confidence=0.9, fallback=False)
    settle(gap_app)
    page = agent.get("/admin/reports?days=7").get_data(as_text=True)
    assert 'href="/admin/reports.csv?days=7" download' in page and "flask report" in page
    response = agent.get("/admin/reports.csv?days=7")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="report-7-days.csv"'
    printed = gap_app.test_cli_runner().invoke(args=["report", "--format", "csv", "--days", "7"])
    assert response.get_data(as_text=True) == printed.stdout
    assert "intent_trend,pop3_enable,Turning on POP3," in printed.stdout
    assert gap_app.test_client().get("/admin/reports.csv").status_code == 302  # agents only
