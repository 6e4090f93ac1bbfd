"""The knowledge-gap inbox, the reports and the article vote in a real Chromium, under the app's CSP."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import AGENT_PASSWORD, BROWSER_TESTS, ROOT, create_agent, make_config, serve
from playwright.sync_api import expect

from app import create_app
from web.extensions import db
from web.models import Event
from web.state import knowledge, state
from web.training import run_gate

EMAIL = "gaps.agent@example.com"
QUESTION = "please switch my pop3 access on"

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def gaps_app(tmp_path_factory):
    heldout = [str(ROOT / "tests" / "data" / "heldout.jsonl")]
    app = create_app(make_config(tmp_path_factory.mktemp("gaps-live"), HELDOUT_PATHS=heldout))
    create_agent(app, EMAIL, role="admin")
    events = state(app).events
    events.record(kind="ask", channel="widget", text=QUESTION, intent="pop3_enable", confidence=0.3, fallback=True)
    events.record(kind="search", channel="help_center", text="mailbox quota", results=0)
    events.record(
        kind="ask", channel="widget", text="imap server", intent="imap_settings", confidence=0.9, fallback=False
    )
    assert events.flush()
    with serve(app) as url:
        app.config["LIVE_URL"] = url
        yield app


@pytest.fixture
def agent_page(browser, gaps_app):
    context = browser.new_context()
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text))
    page.goto(f"{gaps_app.config['LIVE_URL']}/admin")
    page.fill("#email", EMAIL)
    page.fill("#password", AGENT_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("h1:has-text('Knowledge gaps')")
    yield page
    assert page.csp_errors == []
    context.close()


def test_a_row_of_the_inbox_becomes_a_training_example(agent_page, gaps_app):
    row = agent_page.locator("tr", has_text=QUESTION)
    expect(row).to_contain_text("bot fell back (1)")
    row.get_by_text("Add as training example").click()
    row.get_by_label("Intent").select_option("pop3_enable")
    # The row's controls belong to a form elsewhere on the page (their form attribute): a real browser sends them.
    row.get_by_role("button", name="Add and retrain").click()
    expect(agent_page.get_by_role("status").first).to_contain_text("Queued as change 1")
    changes = agent_page.locator(".changes")
    expect(changes).to_contain_text(QUESTION)
    expect(changes).to_contain_text("waiting for the gate")
    assert run_gate(gaps_app) == 1  # what a background thread of the app does within a second
    # The page reloads itself while a change is open (a meta refresh: no script), and shows the verdict.
    expect(changes).to_contain_text("accepted (version 1)", timeout=15_000)
    assert QUESTION in next(i for i in knowledge(gaps_app).training.intents if i.name == "pop3_enable").examples


def test_the_reports_draw_their_charts(agent_page):
    agent_page.get_by_role("link", name="Reports").click()
    chart = agent_page.get_by_role("img", name="Questions answered per intent")
    expect(chart).to_be_visible()
    assert chart.locator("rect").first.bounding_box()["width"] > 50
    expect(agent_page.get_by_role("table", name="Fallbacks per day")).to_be_visible()


def test_an_article_vote_with_its_reason(page, gaps_app):
    page.goto(f"{gaps_app.config['LIVE_URL']}/articles/email-protocols")
    page.get_by_label("It was related, but did not answer it").check()
    page.get_by_role("button", name="No").click()
    expect(page.get_by_role("status").filter(has_text="Thanks for your feedback")).to_be_visible()
    assert page.url.endswith("/articles/email-protocols?feedback=sorry#feedback")
    assert state(gaps_app).events.flush()
    with gaps_app.app_context():
        vote = db.session.execute(sa.select(Event).where(Event.kind == "vote")).scalar_one()
    assert (vote.helpful, vote.reason, vote.target) == (False, "not_answered", "email-protocols")


def test_a_click_on_a_widget_search_result_is_reported(page, host, app_url, live_app):
    page.goto(host.page("clicks.html", "<h1>Portal</h1>", f'<script src="{app_url}/widget.js" async></script>'))
    scope = page.frame_locator("iframe")
    scope.locator("#launcher[aria-label]").click()
    scope.locator("#tab-search").click()
    scope.locator("#query").fill("outgoing server port")
    second = scope.locator(".hit").nth(1)
    href = second.get_attribute("href")
    with page.expect_request("**/api/search/click"):  # a beacon: its body is not shown to Playwright
        second.click()
    assert state(live_app).events.flush()
    with live_app.app_context():
        click = db.session.execute(sa.select(Event).where(Event.kind == "click")).scalars().all()[-1]
        search = db.session.execute(sa.select(Event).where(Event.ref == click.ref, Event.kind == "search")).scalar_one()
    assert href.endswith(click.target) and click.rank == 2 and click.channel == "widget"
    assert search.text == "outgoing server port" and search.channel == "widget"
