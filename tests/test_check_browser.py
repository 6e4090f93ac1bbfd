"""The checker and setup pages in a real Chromium with JavaScript switched off, and under the CSP with it on."""

import plistlib
from pathlib import Path

import pytest
from conftest import BROWSER_TESTS, serve
from mailpolicy import assert_profile_policy

from kb import DEFAULT_SETTINGS_PATH
from kb.settings import load_settings

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def live_url(session_app):
    with serve(session_app) as url:
        yield url


@pytest.fixture(scope="module")
def chromium(browser):
    return browser


@pytest.fixture
def no_js_page(chromium):
    context = chromium.new_context(java_script_enabled=False, accept_downloads=True)
    yield context.new_page()
    context.close()


def test_checker_works_without_javascript(no_js_page, live_url):
    page = no_js_page
    page.goto(f"{live_url}/check")
    page.fill("#description", "POP on port 110, user jsmith, no SSL, password: hunter2")
    page.click("text=Check this description")
    page.wait_for_selector("#result-title")
    assert page.inner_text("#result-title") == "Some settings are wrong"
    assert page.locator('a[href="/articles/email-protocols#pop3-not-supported"]').count() >= 1
    assert "hunter2" not in page.content()
    assert page.input_value("#description").endswith("password: [removed]")

    page.fill("#description", "")
    page.select_option("#incoming-protocol", "IMAP")
    page.fill("#incoming-host", SETTINGS.imap.host)
    page.fill("#incoming-port", str(SETTINGS.imap.port))
    page.select_option("#incoming-security", "SSL/TLS")
    page.fill("#incoming-username", SETTINGS.login.example)
    page.fill("#outgoing-host", SETTINGS.smtp.host)
    page.fill("#outgoing-port", str(SETTINGS.smtp.port))
    page.select_option("#outgoing-security", "SSL/TLS")
    page.select_option("#outgoing-auth", "normal password")
    page.fill("#outgoing-username", SETTINGS.login.example)
    page.click("text=Check these settings")
    page.wait_for_selector("#result-title")
    assert page.inner_text("#result-title") == "All good"


def test_setup_gives_the_apple_profile_without_javascript(no_js_page, live_url):
    page = no_js_page
    page.goto(f"{live_url}/setup")
    page.fill("#address", SETTINGS.login.example)
    page.check("#client-apple")
    page.click("text=Show my settings")
    page.wait_for_selector("#guide-title")
    assert "never POP3" in page.inner_text(".setup-guide")
    with page.expect_download() as download_info:
        page.click("text=Download the profile")
    download = download_info.value
    assert download.suggested_filename.endswith(".mobileconfig")
    body = Path(download.path()).read_bytes()
    assert_profile_policy(body, SETTINGS, SETTINGS.login.example)
    assert plistlib.loads(body)["PayloadContent"][0]["EmailAddress"] == SETTINGS.login.example


@pytest.mark.parametrize(
    "path", ["/check", "/setup?client=outlook&address=" + SETTINGS.login.example, "/operator/dns-records"]
)
def test_pages_break_no_content_security_policy_rule(chromium, live_url, path):
    context = chromium.new_context()
    page = context.new_page()
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.goto(f"{live_url}{path}")
    page.wait_for_load_state("load")
    context.close()
    assert violations == []
