"""The embeddable widget in a real Chromium, embedded on another origin than the app's.

The app runs on one port of 127.0.0.1 and the host pages on others (see conftest.py): the
widget is cross-origin exactly as on a customer's site. Two tests change what the network
returns (page.route): one to fail or stall the API, one to hand the widget hostile HTML that
the real server never sends, since the widget must sanitise it all the same.
"""

from __future__ import annotations

import gzip
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from web.state import knowledge

from .conftest import TIMEOUT_SECONDS

pytestmark = pytest.mark.browser

HOSTILE_CSS = "* { color: red !important; font-size: 40px !important; display: block !important }"
# Host-page script that breaks what a careless or hostile page might break.
HOSTILE_JS = """
window.fetch = null; window.$ = null;
JSON.parse = JSON.stringify = function () { throw new Error("broken by the host"); };
Array.prototype.forEach = Array.prototype.map = function () { throw new Error("broken by the host"); };
Object.prototype.polluted = "yes";
"""
XSS = "<img src=x onerror=alert(1)>"
BUDGET_BYTES = 20 * 1024
CLOSED_SIZE = 88


def host_page(host, app_url, name="index.html", attrs="", body="", head=""):
    """Write a host page that embeds the widget with its one script tag."""
    tag = f'<script src="{app_url}/widget.js" async{attrs}></script>'
    content = f'<h1>Customer portal</h1><p>Your mailbox.</p><p><a id="next" href="page2.html">Next page</a></p>{body}'
    return host.page(name, content + tag, head)


def widget(page):
    """Return a locator scope inside the widget's iframe, once its script has set it up."""
    scope = page.frame_locator("iframe")
    scope.locator("#launcher[aria-label]").wait_for()  # labelled by the script's first task, with all the rest
    return scope


def frame_of(page):
    widget(page)
    return page.locator("iframe").element_handle().content_frame()


def expect_closed(page):
    """Wait until the host page has shrunk the iframe back to the launcher (a message after the panel hides)."""
    page.wait_for_function(f"""() => {{ const box = document.querySelector("iframe").getBoundingClientRect();
        return box.width === {CLOSED_SIZE} && box.height === {CLOSED_SIZE}; }}""")


def open_widget(page):
    scope = widget(page)
    scope.locator("#launcher").click()
    expect(scope.locator("#panel")).to_be_visible()
    expect(scope.locator("#question")).to_be_focused()
    return scope


def ask(scope, question):
    scope.locator("#question").fill(question)
    scope.locator("#question").press("Enter")


def wait_for_answer(scope):
    expect(scope.locator(".msg.bot .feedback, .msg.bot .chips")).not_to_have_count(0)
    expect(scope.locator(".pending")).to_have_count(0)
    return scope.locator(".msg.bot").last


def focused_id(frame):
    return frame.evaluate("document.hasFocus() ? document.activeElement.id || document.activeElement.className : null")


def test_pop3_question_says_not_supported_and_shows_the_imap_settings(page, host, app_url, live_app, artifacts):
    settings = knowledge(live_app).base.settings
    page.set_viewport_size({"width": 1200, "height": 860})
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    ask(scope, "how do I enable POP3")
    answer = wait_for_answer(scope)
    expect(answer.locator(".bubble")).to_contain_text(re.compile(r"POP3 is not supported"))
    incoming = answer.locator(".server").first
    expect(incoming).to_contain_text(settings.imap.host)
    expect(incoming).to_contain_text(str(settings.imap.port))
    expect(incoming).to_contain_text(settings.imap.security)
    # The settings are shown once, as their own block, not again inside the text.
    assert answer.inner_text().count(settings.imap.host) == 1
    expect(answer.locator(".links a")).not_to_have_count(0)
    expect(answer.locator(".source")).to_contain_text("Email protocols")
    expect(scope.locator("#live")).to_contain_text("POP3 is not supported")
    assert page.locator("iframe").get_attribute("title") == f"{settings.provider} Help"
    box = page.locator("iframe").bounding_box()
    assert box["x"] + box["width"] == 1200 and box["y"] + box["height"] == 860 and box["width"] <= 432
    scope.locator(".msg.user").last.evaluate(
        "item => { const log = item.parentNode;"
        " log.scrollTop += item.getBoundingClientRect().top - log.getBoundingClientRect().top - 16; }")
    page.screenshot(path=artifacts / "widget-open.png")


def test_helpful_vote_goes_to_the_feedback_endpoint(page, host, app_url):
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    ask(scope, "which username do I use")
    answer = wait_for_answer(scope)
    with page.expect_response("**/api/feedback") as response:
        answer.locator(".vote").first.click()
    sent = response.value.request.post_data_json
    assert response.value.status == 202
    assert sent["helpful"] is True and sent["intent"] == "username" and sent["session"]
    expect(answer.locator(".feedback p")).to_be_focused()
    expect(answer.locator(".vote")).to_have_count(0)


def test_an_unknown_question_offers_a_person(page, host, app_url, live_app):
    support = knowledge(live_app).base.settings.support
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    with page.expect_response("**/api/ask") as response:
        ask(scope, "what's the weather in Paris")
    assert response.value.json()["fallback"] is True
    contact = wait_for_answer(scope).locator("a.support")
    expect(contact).to_have_attribute("href", support.url)
    expect(contact).to_have_attribute("target", "_blank")


def test_quick_reply_asks_its_question_and_gets_its_intent(page, host, app_url, live_app):
    responses = knowledge(live_app).base.responses.responses
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    ask(scope, "how do I enable POP3")
    wait_for_answer(scope)
    chip = scope.locator(".chip").first
    text = chip.inner_text()
    expected = next(intent for intent, response in responses.items() if response.ask == text)
    with page.expect_response("**/api/ask") as response:
        chip.click()
    assert response.value.request.post_data_json["question"] == text
    assert response.value.json()["intent"] == expected
    expect(scope.locator(".msg.user .bubble").last).to_have_text(text)
    wait_for_answer(scope)
    expect(scope.locator(".msg.bot")).to_have_count(3)  # greeting and two answers
    expect(scope.locator(".chips")).to_have_count(1)  # only the latest answer offers quick replies
    expect(scope.locator("#question")).to_be_focused()


def test_search_as_you_type_then_open_a_result_in_the_panel_or_a_new_tab(page, host, app_url):
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    scope.locator("#tab-search").click()
    scope.locator("#query").press_sequentially("smtp", delay=40)  # no Enter: results come as you type
    first = scope.locator(".hit").first
    expect(first.locator("mark").first).to_have_text(re.compile("smtp", re.I))
    expect(scope.locator("#search-status")).to_contain_text(re.compile(r"^\d+ results? in \d+ articles?$"))
    title = first.locator(".t").inner_text()
    href = first.get_attribute("href")
    assert href.startswith(app_url + "/articles/") and "#" in href

    with page.context.expect_page() as popup:
        first.click(modifiers=["Control"])
    popup.value.wait_for_load_state()
    assert popup.value.url == href
    popup.value.close()

    first.click()
    heading = scope.locator("#s-" + href.split("#", 1)[1])
    expect(scope.locator("#view-article")).to_be_visible()
    expect(heading).to_have_text(title)
    expect(heading).to_be_focused()
    expect(heading).to_be_in_viewport()
    expect(scope.locator("#newtab")).to_have_attribute("href", href)
    scope.locator("#back").click()
    expect(scope.locator("#view-search")).to_be_visible()
    expect(first).to_be_focused()


STYLE_PROBE = """() => ["body", "#panel", ".head", "#title", "#tab-ask", "#question", ".bubble", "#launcher", ".dock"]
  .map(selector => {
    const node = document.querySelector(selector), style = getComputedStyle(node), box = node.getBoundingClientRect();
    return [selector, style.color, style.fontSize, style.display, style.backgroundColor, box.width, box.height];
  })"""


def stable_screenshot(page, clip):
    """Screenshot ``clip`` once two shots in a row agree: the iframe paints in its own process, a frame late."""
    last = page.screenshot(clip=clip, animations="disabled", caret="hide")
    for _ in range(20):
        page.wait_for_timeout(100)
        shot = page.screenshot(clip=clip, animations="disabled", caret="hide")
        if shot == last:
            return shot
        last = shot
    pytest.fail("the widget never stopped changing")


def test_hostile_host_stylesheet_does_not_change_the_widget(page, host, app_url, artifacts):
    seen = []
    for name, head in (("plain.html", ""), ("hostile.html", f"<style>{HOSTILE_CSS}</style>")):
        page.goto(host_page(host, app_url, name, head=head))
        open_widget(page)
        styles = frame_of(page).evaluate(STYLE_PROBE)
        box = page.frame_locator("iframe").locator("#panel").bounding_box()
        # The panel's pixels, inside its rounded corners (the iframe is see-through around them).
        inner = {"x": box["x"] + 14, "y": box["y"] + 14, "width": box["width"] - 28, "height": box["height"] - 28}
        shot = stable_screenshot(page, inner)
        seen.append((styles, page.locator("iframe").bounding_box(), shot))
    # The hostile rules did apply to the host page...
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).color") == "rgb(255, 0, 0)"
    assert page.evaluate("getComputedStyle(document.querySelector('head')).display") == "block"
    # ...and not to the widget: same computed styles, same box, same pixels.
    (plain_styles, plain_box, plain_shot), (hostile_styles, hostile_box, hostile_shot) = seen
    assert hostile_styles == plain_styles
    assert hostile_box == plain_box
    (artifacts / "widget-plain-css.png").write_bytes(plain_shot)
    (artifacts / "widget-hostile-css.png").write_bytes(hostile_shot)
    assert hostile_shot == plain_shot


def test_host_scripts_that_break_globals_do_not_break_the_widget(page, host, app_url, live_app):
    page.goto(host_page(host, app_url, "hostile-js.html", head=f"<script>{HOSTILE_JS}</script>"))
    scope = open_widget(page)
    ask(scope, "what are the IMAP settings")
    answer = wait_for_answer(scope)
    expect(answer.locator(".server")).to_contain_text(knowledge(live_app).base.settings.imap.host)
    page.evaluate("ProRedLineHelp.close()")
    expect(scope.locator("#panel")).to_be_hidden()


def test_widget_adds_one_global_and_nothing_else_to_the_host_page(page, host, app_url):
    names = "Object.keys(window).filter(name => !/^\\d+$/.test(name))"  # indexed names are child frames
    page.goto(host.page("bare.html", "<h1>Customer portal</h1>"))
    before = set(page.evaluate(names))
    page.goto(host_page(host, app_url, "leak.html"))
    open_widget(page)
    assert set(page.evaluate(names)) - before == {"ProRedLineHelp"}
    assert page.evaluate("document.styleSheets.length") == 0
    elements = page.evaluate("[...document.querySelectorAll('body *')].map(n => n.localName).join(' ')")
    assert elements == "h1 p p a script iframe"


def test_question_with_markup_is_shown_as_text_and_never_runs(page, host, app_url):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    ask(scope, XSS)
    wait_for_answer(scope)
    expect(scope.locator(".msg.user .bubble")).to_have_text(XSS)
    page.reload()  # drawn again from sessionStorage
    scope = open_widget(page)
    expect(scope.locator(".msg.user .bubble")).to_have_text(XSS)
    assert scope.locator("img").count() == 0
    page.wait_for_timeout(200)
    assert dialogs == []


def test_answer_html_from_the_server_is_sanitised_in_the_widget(page, host, app_url):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    hostile = (
        '<p onclick="alert(1)" style="color:red">ok <a href="javascript:alert(2)">bad link</a> '
        '<a href="/articles/email-protocols#imap-supported" onmouseover="alert(3)">good link</a></p>'
        "<img src=x onerror=alert(4)><script>alert(5)</script><iframe src=\"javascript:alert(6)\"></iframe>"
        "<svg onload=alert(7)></svg><form><input value=x></form><details open ontoggle=alert(8)>kept text</details>"
        "<a href=\"data:text/html,<script>alert(9)</script>\">data link</a>"
    )
    body = {"intent": "greeting", "confidence": 1.0, "fallback": False, "clarify": False,
            "answer": {"text": "ok", "markdown": "ok", "html": hostile}, "articles": [], "suggestions": [XSS],
            "alternatives": [], "source": None}
    page.route("**/api/ask", lambda route: route.fulfill(json=body))
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    ask(scope, "hello")
    bubble = wait_for_answer(scope).locator(".bubble")
    expect(bubble).to_contain_text("kept text")
    html = bubble.inner_html()
    for bad in ("<img", "<script", "<iframe", "<svg", "<form", "<input", "<details", "onclick", "onerror",
                "onmouseover", "ontoggle", "style=", "javascript:", "data:"):
        assert bad not in html, bad
    assert bubble.locator("a", has_text="good link").get_attribute("href") == "/articles/email-protocols#imap-supported"
    assert bubble.locator("a", has_text="bad link").get_attribute("href") is None
    expect(scope.locator(".chip")).to_have_text(XSS)
    page.wait_for_timeout(200)
    assert dialogs == []


def test_keyboard_alone_opens_asks_moves_around_and_closes(page, host, app_url):
    page.goto(host_page(host, app_url))
    frame = frame_of(page)
    scope = widget(page)
    launcher = scope.locator("#launcher")
    for _ in range(6):
        page.keyboard.press("Tab")
        if focused_id(frame) == "launcher":
            break
    else:
        pytest.fail("Tab never reached the launcher")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_have_attribute("aria-label", "Open help")
    ring = launcher.evaluate("b => getComputedStyle(b).outlineStyle + ' ' + getComputedStyle(b).outlineWidth")
    assert ring == "solid 3px"

    page.keyboard.press("Enter")
    expect(scope.locator("#panel")).to_be_visible()
    expect(scope.locator("#panel")).to_have_attribute("role", "dialog")
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(scope.locator("#question")).to_be_focused()
    page.keyboard.type("what are the smtp settings")
    page.keyboard.press("Enter")
    wait_for_answer(scope)
    page.keyboard.press("Tab")
    expect(scope.locator(".send")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    chip = scope.locator(".chip").last
    expect(chip).to_be_focused()
    text = chip.inner_text()
    page.keyboard.press("Enter")
    expect(scope.locator(".msg.user .bubble").last).to_have_text(text)
    wait_for_answer(scope)

    scope.locator("#tab-ask").focus()
    page.keyboard.press("ArrowRight")
    expect(scope.locator("#tab-search")).to_be_focused()
    expect(scope.locator("#tab-search")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Tab")
    expect(scope.locator("#query")).to_be_focused()
    page.keyboard.type("imap")
    expect(scope.locator(".hit")).not_to_have_count(0)

    page.keyboard.press("Escape")
    expect(scope.locator("#panel")).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect_closed(page)


def test_host_page_drives_the_widget_through_its_javascript_api(page, host, app_url, live_app):
    article = next(iter(knowledge(live_app).base.library.articles.values()))
    section = next(s for s in article.sections if s.anchor)
    button = ('<button id="help" type="button">Help with IMAP</button><script>document.getElementById("help")'
              '.onclick = function () { ProRedLineHelp.ask("What are the IMAP settings?"); };</script>')
    page.goto(host_page(host, app_url, "api.html", body=button))
    frame = frame_of(page)
    scope = widget(page)
    page.evaluate("""window.seen = [];
        ["open", "close", "answer"].forEach(name => ProRedLineHelp.on(name, detail => seen.push([name, detail])))""")

    with page.expect_response("**/api/ask") as response:
        page.click("#help")
    answer = wait_for_answer(scope)
    expect(answer.locator(".server")).to_contain_text(knowledge(live_app).base.settings.imap.host)
    assert focused_id(frame) == "question"  # focus followed into the panel
    intent = response.value.json()["intent"]
    page.wait_for_function("seen.length >= 2")
    assert page.evaluate("seen") == [["open", {}], ["answer", {"intent": intent, "fallback": False}]]
    page.keyboard.press("Escape")
    expect(scope.locator("#panel")).to_be_hidden()
    page.wait_for_function("document.activeElement.id === 'help'")  # and back to the host's button
    page.wait_for_function("seen.at(-1)[0] === 'close'")

    page.evaluate("ProRedLineHelp.search('imap')")
    expect(scope.locator("#view-search")).to_be_visible()
    expect(scope.locator("#query")).to_have_value("imap")
    expect(scope.locator(".hit")).not_to_have_count(0)

    page.evaluate("([slug, anchor]) => ProRedLineHelp.openArticle(slug, anchor)", [article.slug, section.anchor])
    heading = scope.locator("#s-" + section.anchor)
    expect(heading).to_have_text(section.title)
    expect(heading).to_be_focused()

    page.evaluate("ProRedLineHelp.ask(42); ProRedLineHelp.openArticle('../../etc/passwd'); ProRedLineHelp.close()")
    expect(scope.locator("#panel")).to_be_hidden()
    expect_closed(page)
    page.evaluate("ProRedLineHelp.open()")
    expect(scope.locator("#panel")).to_be_visible()
    expect(scope.locator("#view-article")).to_be_visible()
    assert scope.locator(".msg.user").count() == 1  # the invalid calls did nothing


def test_calls_made_before_the_widget_is_ready_are_queued(page, host, app_url, live_app):
    # A synchronous tag, then a call at once: the frame cannot be ready yet.
    page.goto(host.page("sync.html", f'<script src="{app_url}/widget.js"></script>'
                                     '<script>ProRedLineHelp.search("smtp"); window.early = true;</script>'))
    assert page.evaluate("window.early") is True
    scope = widget(page)
    expect(scope.locator("#query")).to_have_value("smtp")
    expect(scope.locator(".hit")).not_to_have_count(0)

    # An async tag with the documented stub: calls made before the script even loaded.
    stub = ("<script>window.ProRedLineHelp = window.ProRedLineHelp || function () {"
            " (ProRedLineHelp.q = ProRedLineHelp.q || []).push(arguments); };"
            " ProRedLineHelp('on', 'answer', function (detail) { window.answered = detail; });"
            " ProRedLineHelp('ask', 'Which username do I use?');</script>")
    page.goto(host_page(host, app_url, "stub.html", head=stub))
    scope = widget(page)
    wait_for_answer(scope)
    expect(scope.locator(".msg.user .bubble")).to_have_text(["Which username do I use?"])
    page.wait_for_function("window.answered")
    assert page.evaluate("window.answered.fallback") is False


def test_failing_api_shows_a_retry_and_the_panel_stays_usable(page, host, app_url):
    failures = ["once"]

    def flaky(route):
        if failures:
            failures.pop()
            route.abort("connectionrefused")
        else:
            route.continue_()

    page.route("**/api/ask", flaky)
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    ask(scope, "how do I enable POP3")
    retry = scope.locator(".error .retry")
    expect(retry).to_be_visible()
    expect(scope.locator("#live")).not_to_be_empty()
    expect(scope.locator("#question")).to_be_editable()
    retry.click()
    expect(wait_for_answer(scope).locator(".server")).not_to_have_count(0)
    expect(scope.locator(".error")).to_have_count(0)


def test_slow_api_times_out_into_a_retry(page, host, app_url):
    stalled = []
    page.route("**/api/ask", lambda route: stalled.append(route))  # never answered
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    ask(scope, "how do I enable POP3")
    expect(scope.locator(".pending")).to_be_visible()
    expect(scope.locator("#log")).to_have_attribute("aria-busy", "true")
    expect(scope.locator(".error .retry")).to_be_visible(timeout=(TIMEOUT_SECONDS + 5) * 1000)
    assert stalled
    page.unroute("**/api/ask")
    scope.locator(".error .retry").click()
    expect(wait_for_answer(scope).locator(".server")).not_to_have_count(0)


def test_conversation_survives_navigation(page, host, app_url):
    host_page(host, app_url, "page2.html")
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    ask(scope, "which username do I use")
    before = wait_for_answer(scope).locator(".bubble").inner_text()
    scope.locator(".vote").first.click()

    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/api/ask" in request.url else None)
    page.click("#next")
    page.wait_for_url("**/page2.html")
    scope = open_widget(page)
    expect(scope.locator(".msg.user .bubble")).to_have_text(["which username do I use"])
    assert scope.locator(".msg.bot .bubble").last.inner_text() == before
    expect(scope.locator(".msg.bot .feedback p")).to_have_text(re.compile("Thanks"))
    assert asked == []


def test_narrow_screen_gets_a_full_screen_panel(page, host, app_url, artifacts):
    page.set_viewport_size({"width": 375, "height": 667})
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    assert page.locator("iframe").bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
    expect(scope.locator(".dock")).to_be_hidden()
    ask(scope, "what are the server settings")
    wait_for_answer(scope)
    scope.locator("#log").evaluate("log => { log.scrollTop = 0; }")
    page.screenshot(path=artifacts / "widget-narrow.png")
    scope.locator("#close").click()
    expect(scope.locator("#launcher")).to_be_focused()
    expect_closed(page)


def test_script_tag_options_set_language_position_accent_tabs_and_greeting(page, host, app_url):
    attrs = ' data-lang="de" data-position="bottom-left" data-accent="#ffff00" data-tabs="search"'
    page.goto(host_page(host, app_url, "options.html", attrs=attrs))
    frame = frame_of(page)
    scope = widget(page)
    assert frame.evaluate("document.documentElement.lang") == "de"
    expect(scope.locator("#launcher")).to_have_attribute("aria-label", "Hilfe öffnen")
    assert page.locator("iframe").bounding_box()["x"] == 0
    colours = scope.locator("#launcher").evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]")
    assert colours == ["rgb(255, 255, 0)", "rgb(0, 0, 0)"]  # dark text on a light accent
    scope.locator("#launcher").click()
    expect(scope.locator("#tabs")).to_be_hidden()
    expect(scope.locator("#view-search")).to_be_visible()
    expect(scope.locator("#query")).to_be_focused()
    expect(scope.locator("#query")).to_have_attribute("placeholder", "Artikel suchen…")

    greeting = "<b>Welcome</b> to the portal"
    bad = (f' data-greeting="{greeting.replace("<", "&lt;")}" data-accent="red;background:url(x)"'
           ' data-position="top" data-lang="xx"')
    page.goto(host_page(host, app_url, "defaults.html", attrs=bad))
    frame = frame_of(page)
    scope = widget(page)
    assert frame.evaluate("document.documentElement.lang") == "en"
    assert page.locator("iframe").bounding_box()["x"] > 0
    assert frame.evaluate("document.documentElement.style.getPropertyValue('--accent')") == ""
    expect(scope.locator(".msg.bot .bubble").first).to_have_text(greeting)
    assert scope.locator(".msg.bot b").count() == 0


CONTRAST = """(selectors) => {
  const channel = v => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const rgba = text => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = node => {
    for (; node && node.nodeType === 1; node = node.parentNode) {
      const colour = rgba(getComputedStyle(node).backgroundColor);
      if (colour.length < 4 || colour[3] > 0) return colour;
    }
    return [255, 255, 255];
  };
  return selectors.map(selector => {
    const node = document.querySelector(selector);
    if (!node) return [selector, null];
    const a = luminance(rgba(getComputedStyle(node).color)), b = luminance(background(node));
    return [selector, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}"""
TEXT_ELEMENTS = ["#title", "#tab-ask", "#tab-search", ".msg.user .bubble", ".msg.bot .bubble p", ".server .name",
                 ".server dt", ".server dd", ".links a", ".source", ".feedback span", ".vote", ".chip", "#question",
                 ".hit .t", ".hit .w", ".snip", "mark", "#search-status"]


@pytest.mark.parametrize("accent", ["", "#ffff00", "#0b5394", "#777777", "#ff6600"])
def test_text_has_at_least_4_5_to_1_contrast(page, host, app_url, accent):
    page.goto(host_page(host, app_url, "contrast.html", attrs=f' data-accent="{accent}"' if accent else ""))
    scope = open_widget(page)
    ask(scope, "how do I enable POP3")
    wait_for_answer(scope)
    scope.locator("#tab-search").click()
    scope.locator("#query").fill("smtp")
    expect(scope.locator(".hit")).not_to_have_count(0)
    scope.locator("#tab-ask").click()
    ratios = frame_of(page).evaluate(CONTRAST, TEXT_ELEMENTS)
    assert all(ratio is not None for _, ratio in ratios), ratios
    low = [(selector, round(ratio, 2)) for selector, ratio in ratios if ratio < 4.5]
    assert low == []


FETCH_FROM_HOST = """async (base) => {
  const out = {};
  try { out.get = (await fetch(base + "/api/search?q=smtp")).status; } catch (e) { out.get = "blocked"; }
  try {
    out.post = (await fetch(base + "/api/ask", {method: "POST", headers: {"Content-Type": "application/json"},
                                                body: JSON.stringify({question: "smtp port"})})).status;
  } catch (e) { out.post = "blocked"; }
  return out;
}"""


def test_only_allowed_origins_may_embed_the_widget_or_call_the_api(page, host, stranger, app_url):
    page.goto(host_page(host, app_url, "cors.html"))
    widget(page)
    assert page.evaluate(FETCH_FROM_HOST, app_url) == {"get": 200, "post": 200}  # the POST is preflighted

    page.goto(host_page(stranger, app_url, "cors.html"))  # waits for the iframe's load too
    assert page.locator("iframe").count() == 1
    assert page.frame_locator("iframe").locator("#launcher").count() == 0  # frame-ancestors refused it
    assert page.evaluate(FETCH_FROM_HOST, app_url) == {"get": "blocked", "post": "blocked"}


def test_everything_the_widget_loads_fits_the_size_budget(page, host, app_url):
    loaded = {}
    page.on("response", lambda r: loaded.setdefault(urlsplit(r.url).path, r)
            if r.url.startswith(app_url) and "/api/" not in r.url else None)
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    ask(scope, "how do I enable POP3")
    wait_for_answer(scope)
    assert set(loaded) == {"/widget.js", "/widget/", "/static/widget-frame.css", "/static/widget-frame.js"}
    total = sum(len(gzip.compress(loaded[path].body())) for path in loaded)
    assert total < BUDGET_BYTES, f"{total} bytes gzipped"


def test_demo_page_embeds_the_widget_with_one_tag_and_wires_help_links(page, app_url):
    page.goto(app_url + "/widget/demo")
    assert page.locator("script[src$='/widget.js']").count() == 1
    scope = widget(page)
    page.get_by_role("link", name="Help: incoming mail settings").click()
    heading = scope.locator("#s-incoming-mail-imap")
    expect(heading).to_be_visible()
    expect(heading).to_be_focused()


def test_messages_from_anyone_but_the_widget_and_its_host_are_ignored(page, host, stranger, app_url):
    page.goto(host_page(host, app_url, "target.html"))
    widget(page)
    # The host page's own window pretending to be the frame: the loader ignores it.
    page.evaluate("""window.fake = [];
        ProRedLineHelp.on("answer", detail => fake.push(detail));
        window.postMessage({ns: "prl-help", type: "answer", intent: "forged"}, "*");
        window.postMessage({ns: "prl-help", type: "open"}, "*");""")

    # A page on another origin that opens the host page and messages the widget frame in it.
    attacker = page.context.new_page()
    attacker.goto(stranger.page("attacker.html", "<h1>Elsewhere</h1>"))
    with page.context.expect_page() as opened:
        attacker.evaluate("url => { window.victim = window.open(url); }", page.url)
    victim = opened.value
    scope = widget(victim)
    attacker.evaluate("""() => victim.frames[0].postMessage(
        {ns: "prl-help", type: "ask", question: "forged question", focus: true}, "*")""")
    attacker.evaluate("""() => victim.frames[0].postMessage(
        {ns: "prl-help", type: "layout", open: true, full: true}, "*")""")
    # The same message from the real parent is obeyed: the check is on the sender, not the format.
    victim.evaluate("""origin => document.querySelector("iframe").contentWindow.postMessage(
        {ns: "prl-help", type: "ask", question: "What are the IMAP settings?"}, origin)""", app_url)
    expect(scope.locator(".msg.user .bubble")).to_have_text(["What are the IMAP settings?"])
    wait_for_answer(scope)
    page.wait_for_timeout(200)
    assert page.evaluate("fake") == []
    box = page.locator("iframe").bounding_box()
    assert (box["width"], box["height"]) == (CLOSED_SIZE, CLOSED_SIZE)


def test_a_question_longer_than_the_api_takes_is_cut_and_the_person_told(page, host, app_url, live_app):
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    long_question = "Hello, I have a problem with my mail app and here is the whole story. " * 40 + "Can I use POP3?"
    assert len(long_question) > 2000
    with page.expect_response("**/api/ask") as response:
        ask(scope, long_question)
    assert len(response.value.request.post_data_json["question"]) == 2000
    expect(scope.locator(".msg.user .note")).to_contain_text("only its first 2,000 characters were sent")
    wait_for_answer(scope)


def test_a_short_question_carries_no_note(page, host, app_url, live_app):
    page.goto(host_page(host, app_url))
    scope = open_widget(page)
    ask(scope, "which username do I use")
    wait_for_answer(scope)
    expect(scope.locator(".msg.user .note")).to_have_count(0)


def test_a_german_panel_says_answers_are_in_english_and_gets_the_pop3_policy(page, host, app_url, live_app):
    settings = knowledge(live_app).base.settings
    page.goto(host_page(host, app_url, "deutsch.html", attrs=' data-lang="de"'))
    scope = open_widget(page)
    expect(scope.locator(".msg.bot .note").first).to_have_text("Die Antworten und Artikel sind auf Englisch.")
    ask(scope, "Wie aktiviere ich POP3?")
    answer = wait_for_answer(scope)
    expect(answer.locator(".bubble")).to_contain_text("POP3 is not supported")
    # English text on a German panel is marked as English; the labels around it are German.
    assert answer.locator(".bubble").get_attribute("lang") == "en"
    incoming = answer.locator(".server").first
    expect(incoming).to_contain_text("Benutzername")
    expect(incoming).to_contain_text(settings.imap.host)
    scope.locator("#tab-search").click()
    scope.locator("#query").fill("pop3")
    expect(scope.locator("#search-status")).to_contain_text(re.compile(r"^\d+ Treffer in \d+ Artikeln"))
    assert scope.locator(".hit").first.get_attribute("lang") == "en"
