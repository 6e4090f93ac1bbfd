"""Every page that returns HTML, at a desktop and a phone size, in a real Chromium with axe-core.

For each page and size: axe-core finds no violation, nothing is wider than the window (no
sideways scrolling), the app's CSP refuses nothing, and a full-page screenshot is kept in
``test-artifacts/pages/`` for people to look at.

axe-core is a pinned copy in ``vendor/axe-core`` (see its README): no test downloads anything.
It is not injected inline (the app's CSP would refuse that, and turning the CSP off would hide
what the tests should see): the browser fetches it from a path on the app's own origin that
Playwright answers from the file, so the page's ``script-src 'self'`` admits it like any of the
app's scripts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import AGENT_PASSWORD, BROWSER_TESTS, ROOT, create_agent, make_config, serve
from playwright.sync_api import expect

from app import create_app
from web.state import knowledge, state

pytestmark = BROWSER_TESTS

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_PATH = "/__axe-core.js"  # answered by Playwright, never by the app
SHOTS = ROOT / "test-artifacts" / "pages"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
EMAIL = "pages.agent@example.com"
# A customer's mail as an agent pastes it: a question, settings, a sign-off with a name, the thread.
PASTED = """Hello,

my Outlook says it cannot connect. Incoming: POP3, pop.proredline.com, port 995, SSL.
Outgoing: port 25, no authentication. How do I enable POP3 for my account?

Thanks,
Maria

On Mon, 3 Mar 2026 at 10:12, Support Team <help@example.com> wrote:
> Hello Maria, how can we help?
"""
# Failure signals for the knowledge-gap inbox: short questions, long ones and a pasted mail.
GAP_QUESTIONS = [
    "please switch my pop3 access on",
    "how do I set up my printer",
    "my mailbox is full what now",
    "can I get a second address for my shop",
    "why does my phone keep asking for the password every morning even after I typed it again "
    "and again, it has been like this since the update last week and I am getting really tired of it",
    "what is the maximum attachment size",
    "does the webmail work in internet explorer",
    "spam filter too strict",
    "import old mails from my previous provider",
    "auto reply while on holiday",
    "is there two factor login",
    "forward all mail to gmail",
    "Hi team,\n\nI pasted my whole mail here because I do not know what else to do. " * 6,
]


@dataclass(frozen=True)
class Page:
    """A page to visit: its name (for screenshots), its path, and what to do once it is loaded."""

    name: str
    path: str
    agent: bool = False
    action: str = ""


PAGES = [
    Page("home", "/"),
    Page("search-empty", "/search"),
    Page("search-results", "/search?q=imap+setings"),
    Page("search-none", "/search?q=quantum+fax+gateway"),
    Page("article-protocols", "/articles/email-protocols"),
    Page("article-settings", "/articles/email-client-settings"),
    Page("article-voted-no", "/articles/email-protocols", action="vote-no"),
    Page("error-404", "/articles/no-such-article"),
    Page("error-400", "/search?q=imap&page=zero"),
    Page("check", "/check"),
    Page("check-result", "/check", action="check"),
    Page("setup", "/setup"),
    Page("setup-guide", "/setup?address=jane.doe%40proredline.com&client=thunderbird"),
    Page("dns-records", "/operator/dns-records"),
    Page("widget-demo", "/widget/demo"),
    Page("widget-frame", "/widget/"),
    Page("agent-login", "/agent/login"),
    Page("agent-draft", "/agent", agent=True, action="paste"),
    Page("admin-inbox", "/admin", agent=True),
    Page("admin-reports", "/admin/reports", agent=True),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app with the shipped bot and some history: failures for the inbox, answers and votes for the reports."""
    shipped = {
        "INTENTS_PATH": str(ROOT / "classifier" / "intents.yml"),
        "RESPONSES_PATH": str(ROOT / "kb" / "responses.yml"),
    }
    app = create_app(make_config(tmp_path_factory.mktemp("pages-live"), **shipped))
    create_agent(app, EMAIL, name="Sam Lee")
    events = state(app).events
    for n, text in enumerate(GAP_QUESTIONS):
        events.record(kind="ask", channel="widget", text=text, intent="out_of_scope", confidence=0.2, fallback=True)
        if n % 3 == 0:
            events.record(kind="search", channel="help_center", text=text[:80], results=0)
    for intent, count in [("pop3_enable", 6), ("imap_settings", 4), ("smtp_settings", 3), ("username", 2)]:
        for _ in range(count):
            events.record(kind="ask", channel="widget", text=intent, intent=intent, confidence=0.9, fallback=False)
        events.record(kind="vote", channel="widget", intent=intent, helpful=count > 3)
    assert events.flush()
    with serve(app) as url:
        app.config["LIVE_URL"] = url
        yield app


def sign_in(page, url: str) -> None:
    page.goto(f"{url}/agent/login")
    page.fill("#email", EMAIL)
    page.fill("#password", AGENT_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{url}/agent")


def act(page, action: str) -> None:
    """Bring the page into the state to look at: a vote cast, a check made, a mail answered."""
    if action == "vote-no":
        page.get_by_role("button", name="No", exact=True).click()
        page.wait_for_url("**feedback=**")
    elif action == "check":
        page.fill("#description", "Outlook: incoming POP3 pop.proredline.com 995 SSL, outgoing port 25 no auth")
        page.click("button:has-text('Check this description')")
        page.wait_for_selector(".check-result")
    elif action == "paste":
        page.fill("#message", PASTED)
        page.click("button:has-text('Answer')")
        page.wait_for_selector("#reply-text")


def run_axe(page, url: str) -> list[dict]:
    """Run axe-core in the page (loaded from the app's origin, so the CSP admits it); return its violations."""
    page.add_script_tag(url=url + AXE_PATH)
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in json.loads(result)
    ]


def overflow(page) -> list[str]:
    """Return what does not fit: a page wider than the window (and its widest elements), and boxes that
    hide part of their content behind a scroll bar (text boxes excepted: they scroll by nature)."""
    return page.evaluate("""() => {
        const name = e => e.tagName.toLowerCase() +
            (e.className && e.className.baseVal === undefined ? "." + e.className : "");
        const width = document.documentElement.clientWidth;
        const found = [];
        if (document.documentElement.scrollWidth > width) {
            const wide = [...document.querySelectorAll("body *")]
                .filter(e => e.getBoundingClientRect().right > width + 1);
            found.push(`page ${document.documentElement.scrollWidth}px wide in a ${width}px window`,
                       ...wide.slice(-8).map(e => `${name(e)} ${Math.round(e.getBoundingClientRect().right)}px`));
        }
        for (const e of document.querySelectorAll("body *")) {
            const style = getComputedStyle(e);
            if (e.matches("textarea, select, .visually-hidden") || !/auto|scroll/.test(style.overflow)) { continue; }
            if (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1) {
                found.push(`${name(e)} shows ${e.clientWidth}x${e.clientHeight}` +
                           ` of ${e.scrollWidth}x${e.scrollHeight}px`);
            }
        }
        return found;
    }""")


@pytest.fixture(scope="module")
def contexts(browser, site):
    """One browser context per size, the agent signed in once in each."""
    site = site.config["LIVE_URL"]
    made = {}
    for size, viewport in SIZES.items():
        context = browser.new_context(viewport=viewport)
        context.route(f"**{AXE_PATH}", lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"))
        sign_in(context.new_page(), site)
        made[size] = context
    yield made
    for context in made.values():
        context.close()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("target", PAGES, ids=lambda p: p.name)
def test_page_has_no_axe_violations_and_no_sideways_scrolling(contexts, site, target, size):
    context, url = contexts[size], site.config["LIVE_URL"]
    page = context.new_page()
    refused = []
    page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m.text))
    try:
        page.goto(url + target.path)
        act(page, target.action)
        page.wait_for_load_state("networkidle")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / f"{target.name}-{size}.png", full_page=True)
        problems = {"axe": run_axe(page, url), "overflow": overflow(page)}
        assert problems == {"axe": [], "overflow": []}, json.dumps(problems, indent=1)
        assert refused == []
    finally:
        page.close()


# Routes that answer with something other than a page: JSON, files, redirects, form posts.
NOT_PAGES = {
    "static",
    "widget.script",
    "analytics.open_result",
    "mailclient.autoconfig_file",
    "mailclient.apple_profile_download",
    "admin.reports_csv",
}


def test_every_page_of_the_app_is_visited(site):
    """A new page must join PAGES: every GET route outside the API that is not a file or redirect is in it."""
    visited = {p.path.split("?")[0] for p in PAGES}
    routes = set()
    for rule in site.url_map.iter_rules():
        prefix = rule.endpoint.split(".")[0]
        if "GET" not in rule.methods or prefix in ("api", "ops") or rule.endpoint in NOT_PAGES:
            continue
        routes.add(rule.rule)
        concrete = rule.rule.replace("<slug>", "email-protocols")
        assert concrete in visited, f"{rule.rule} ({rule.endpoint}) is not visited by the page tests"
    assert len(routes) >= 12


def test_a_search_that_finds_nothing_leads_to_the_assistant_and_to_a_person(contexts, site):
    support = knowledge(site).base.settings.support
    page = contexts["phone"].new_page()
    try:
        page.goto(site.config["LIVE_URL"] + "/search?q=quantum+fax+gateway")
        stuck = page.locator(".stuck")
        expect(stuck.get_by_role("link", name=support.label)).to_have_attribute("href", support.url)
        stuck.get_by_role("link", name="Ask the assistant").click()
        panel = page.frame_locator("iframe")
        # The panel opens on the page and asks what was searched for.
        expect(panel.locator(".msg.user .bubble").last).to_have_text("quantum fax gateway")
        expect(panel.locator(".msg.bot .support")).to_have_attribute("href", support.url)
    finally:
        page.close()


def test_a_no_vote_on_an_article_leads_to_the_assistant_and_to_a_person(contexts, site):
    support = knowledge(site).base.settings.support
    page = contexts["desktop"].new_page()
    try:
        page.goto(site.config["LIVE_URL"] + "/articles/email-client-settings")
        page.get_by_role("button", name="No", exact=True).click()
        stuck = page.locator("#feedback .stuck")
        expect(stuck.get_by_role("link", name=support.label)).to_have_attribute("href", support.url)
        stuck.get_by_role("link", name="Ask the assistant").click()
        panel = page.frame_locator("iframe")
        expect(panel.locator("#question")).to_be_focused()
        panel.locator("#question").fill("how do I enable POP3")
        panel.locator("#question").press("Enter")
        expect(panel.locator(".msg.bot .bubble").last).to_contain_text("POP3 is not supported")
    finally:
        page.close()
