"""The agent console in a real Chromium: sign in, paste a message, copy the reply to the clipboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import AGENT_PASSWORD, BROWSER_TESTS, ROOT, create_agent, make_config, serve

from app import create_app
from kb import DEFAULT_SETTINGS_PATH
from kb.settings import load_settings

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)
EMAIL = "browser.agent@example.com"
MESSAGE = """Hi,

how do I enable POP3 on my phone?

Thanks,
Anna

On Mon, 3 Mar 2026 at 10:12, Support Team <help@example.com> wrote:
> Hello Anna, how can we help?
"""

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def console_url(tmp_path_factory):
    """The app (tiny training set, its own database) served on a free port of 127.0.0.1."""
    app = create_app(make_config(tmp_path_factory.mktemp("console-live")))
    create_agent(app, EMAIL, name="Sam Lee")
    with serve(app) as url:
        yield url


@pytest.fixture
def console_page(browser, console_url):
    """A signed-in console page whose origin may read and write the clipboard."""
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_url)
    page = context.new_page()
    page.csp_errors = []
    page.on(
        "console", lambda message: "Content Security Policy" in message.text and page.csp_errors.append(message.text)
    )
    page.goto(f"{console_url}/agent")
    assert page.locator("h1").inner_text() == "Agent sign-in"
    page.fill("#email", EMAIL)
    page.fill("#password", AGENT_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("h1:has-text('Agent console')")
    yield page
    context.close()


def answer(page) -> None:
    page.fill("#message", MESSAGE)
    page.fill("#customer_name", "Anna")
    page.fill("#signature", "Sam Lee\nSupport")
    page.click("button:has-text('Answer')")
    page.wait_for_selector("#reply-text")


def test_copy_as_plain_text_puts_the_reply_on_the_clipboard(console_page):
    page = console_page
    answer(page)
    assert page.locator(".intent-line code").inner_text() == "pop3_enable"
    assert page.locator(".message-text").text_content() == "how do I enable POP3 on my phone?"
    page.click("button:has-text('Copy as plain text')")
    page.wait_for_selector(".copy-status:has-text('copied to the clipboard')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.input_value("#reply-text")
    assert copied.startswith("Hello Anna,\n\nPOP3 is not supported")
    assert f"  Server:          {SETTINGS.imap.host}\n" in copied
    assert copied.endswith("Best regards,\nSam Lee\nSupport\n")
    assert all(len(line) <= 72 for line in copied.splitlines())
    page.screenshot(path=str(artifacts_dir() / "console.png"), full_page=True)
    assert page.csp_errors == []


def test_copy_as_html_puts_rich_text_on_the_clipboard(console_page):
    page = console_page
    answer(page)
    page.click("button:has-text('Copy as HTML')")
    page.wait_for_selector(".copy-status:has-text('copied to the clipboard')")
    html = page.evaluate("""async () => {
        const [item] = await navigator.clipboard.read();
        return await (await item.getType("text/html")).text();
    }""")
    assert "<p>Hello Anna,</p>" in html and f"<code>{SETTINGS.imap.host}</code>" in html


def test_without_the_clipboard_api_the_reply_is_selected_for_copying(browser, console_url):
    context = browser.new_context()
    # A browser without the Clipboard API (an old one, or a page not served securely).
    context.add_init_script("Object.defineProperty(navigator, 'clipboard', { value: undefined });")
    page = context.new_page()
    page.goto(f"{console_url}/agent/login")
    page.fill("#email", EMAIL)
    page.fill("#password", AGENT_PASSWORD)
    page.click("button:has-text('Sign in')")
    answer(page)
    page.click("button:has-text('Copy as Markdown')")
    page.wait_for_selector(".copy-status:not(:empty)")
    selected = page.evaluate("""() => {
        const box = document.activeElement;
        return [box.id, box.value.substring(box.selectionStart, box.selectionEnd) === box.value, box.value.length];
    }""")
    assert selected[0] == "reply-markdown" and selected[1] and selected[2] > 0
    context.close()


def artifacts_dir() -> Path:
    directory = ROOT / "test-artifacts"
    directory.mkdir(exist_ok=True)
    return directory
