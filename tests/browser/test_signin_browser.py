"""Signing in on a development run served over plain HTTP under a host name other than localhost."""

from __future__ import annotations

import pytest
from conftest import AGENT_PASSWORD, BROWSER_TESTS, CHROMIUM, CHROMIUM_ARGS, create_agent, make_config, serve
from playwright.sync_api import expect

from app import create_app

pytestmark = BROWSER_TESTS

EMAIL = "newcomer@example.com"
HOST = "dev-vm.example"


@pytest.fixture(scope="module")
def dev_url(tmp_path_factory):
    """A development app (not testing, not production) on 127.0.0.1, as `flask run --host 0.0.0.0` would serve it."""
    app = create_app(make_config(tmp_path_factory.mktemp("dev-host"), TESTING=False, LOG_JSON=False))
    create_agent(app, EMAIL, name="New Comer")
    with serve(app) as url:
        yield url


def test_sign_in_over_plain_http_on_a_named_host(browser_type, dev_url):
    # The browser resolves the made-up name to the server: a page on http://dev-vm.example:PORT is not a
    # secure context, and a Secure cookie sent to it would be dropped ("This form expired").
    port = dev_url.rsplit(":", 1)[1]
    browser = browser_type.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"]
    )
    try:
        page = browser.new_page()
        page.goto(f"http://{HOST}:{port}/agent/login")
        page.fill("#email", EMAIL)
        page.fill("#password", AGENT_PASSWORD)
        page.click("button:has-text('Sign in')")
        expect(page.locator("h1")).to_have_text("Agent console")
        assert page.url == f"http://{HOST}:{port}/agent"
    finally:
        browser.close()
