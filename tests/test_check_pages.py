"""The settings checker, setup guide and configuration files over HTTP: no JavaScript needed, JSON errors, policy."""

import re

import pytest
from defusedxml.ElementTree import fromstring as parse_untrusted
from mailpolicy import assert_autoconfig_policy, assert_autodiscover_policy, assert_profile_policy

from kb import DEFAULT_SETTINGS_PATH
from kb.settings import load_settings

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)
IMAP, SMTP, LOGIN = SETTINGS.imap, SETTINGS.smtp, SETTINGS.login
CORRECT_FORM = {
    "client": "thunderbird",
    "incoming_protocol": "IMAP",
    "incoming_host": IMAP.host,
    "incoming_port": str(IMAP.port),
    "incoming_security": "SSL/TLS",
    "incoming_auth": "normal password",
    "incoming_username": LOGIN.example,
    "outgoing_protocol": "SMTP",
    "outgoing_host": SMTP.host,
    "outgoing_port": str(SMTP.port),
    "outgoing_security": "SSL/TLS",
    "outgoing_auth": "normal password",
    "outgoing_username": LOGIN.example,
}


def assert_csp_safe(html: str) -> None:
    """No inline script, style or event handler: the page works under the app's strict CSP."""
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html, re.I)


# --- the checker page, without JavaScript --------------------------------------------------


def test_check_page_offers_both_forms(client):
    response = client.get("/check")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('method="post" action="/check"') == 2
    assert '<textarea id="description" name="description"' in html
    for name in (
        "incoming_protocol",
        "incoming_host",
        "incoming_port",
        "incoming_security",
        "incoming_auth",
        "incoming_username",
        "outgoing_host",
        "outgoing_auth",
        "outgoing_certificate",
    ):
        assert f'name="{name}"' in html
    assert "Never enter your password" in html
    assert_csp_safe(html)


def test_a_pasted_description_is_checked_on_the_server(client):
    response = client.post(
        "/check", data={"description": f"Outlook: incoming pop.{SETTINGS.domain} 995 SSL, outgoing port 25 no auth"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Some settings are wrong" in html
    assert 'href="/articles/email-protocols#pop3-not-supported"' in html
    assert 'href="/articles/email-protocols#smtp-supported"' in html
    assert "SMTP must always be configured with authentication enabled." in html
    assert IMAP.host in html and f"{SMTP.port} ({SMTP.security})" in html  # the correct values, from the settings
    assert html.count("badge--error") >= 4
    assert_csp_safe(html)


def test_a_correct_form_is_all_good(client):
    html = client.post("/check", data=CORRECT_FORM).get_data(as_text=True)
    assert "All good" in html and "badge--error" not in html and "badge--warning" not in html
    assert f'value="{IMAP.host}"' in html  # the form keeps what was sent


def test_a_partly_filled_form_is_not_called_all_good(client):
    html = client.post("/check", data={"incoming_port": str(IMAP.port)}).get_data(as_text=True)
    assert "Not everything could be checked" in html and "All good" not in html
    assert "incoming host" in html


def test_a_password_in_a_description_is_removed_and_never_shown(client):
    html = client.post("/check", data={"description": f"imap {IMAP.host} {IMAP.port} ssl, password: hunter2"}).get_data(
        as_text=True
    )
    assert "hunter2" not in html
    assert "[removed]" in html and "looked like a password" in html


def test_user_text_is_escaped(client):
    html = client.post("/check", data={"description": "<script>alert(1)</script> port 110"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert_csp_safe(html)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"incoming_port": "ninety"}, "port"),
        ({}, "nothing to check"),
        ({"description": "x" * 5000}, "too long"),
    ],
)
def test_bad_form_input_is_explained_on_the_page(client, data, fragment):
    response = client.post("/check", data=data)
    assert response.status_code == 400
    assert fragment in response.get_data(as_text=True)


# --- the JSON API ---------------------------------------------------------------------------


def test_api_checks_structured_settings(client):
    payload = {
        "client": "thunderbird",
        "incoming": {
            "protocol": "IMAP",
            "host": IMAP.host,
            "port": IMAP.port,
            "security": "SSL/TLS",
            "username": LOGIN.example,
        },
        "outgoing": {
            "host": SMTP.host,
            "port": SMTP.port,
            "security": "SSL/TLS",
            "authentication": True,
            "username": LOGIN.example,
        },
    }
    data = client.post("/api/check-settings", json=payload).get_json()
    assert data["verdict"] == "ok" and data["all_good"] is True
    assert data["summary"].startswith("All good")


def test_api_checks_a_description(client):
    response = client.post("/api/check-settings", json={"description": "POP on port 110, user jsmith, no SSL"})
    data = response.get_json()
    assert response.status_code == 200 and data["verdict"] == "error"
    by_field = {f["field"]: f for f in data["fields"]}
    assert by_field["protocol"]["rule"] == "pop3" and by_field["protocol"]["correct"] == IMAP.protocol
    assert by_field["port"]["source"]["url"] == "/articles/email-protocols#pop3-not-supported"
    assert by_field["username"]["verdict"] == "error"
    assert data["input"] == {"incoming": {"protocol": "POP", "port": 110, "security": "no SSL", "username": "jsmith"}}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"data": "description=imap", "content_type": "application/x-www-form-urlencoded"}, "JSON"),
        ({"data": "{not json", "content_type": "application/json"}, "JSON object"),
        ({"json": ["imap"]}, "JSON object"),
        ({"json": {"incoming": {"host": IMAP.host}, "password": "hunter2"}}, "password"),
        ({"json": {"incoming": {"password": "hunter2"}}}, "password"),
        ({"json": {"incoming": {"port": "x"}}}, "port"),
        ({"json": {"incoming": {"port": 1}, "flavour": 1}}, "unknown field"),
        ({"json": {"description": ""}}, "non-empty"),
        ({"json": {"description": "imap", "incoming": {"port": 1}}}, "either"),
        ({"json": {"description": "x" * 10_000}}, "too long"),
        ({"json": {}}, "nothing to check"),
    ],
)
def test_api_bad_input_is_a_400_with_a_json_message(client, kwargs, fragment):
    response = client.post("/api/check-settings", **kwargs)
    assert response.status_code == 400 and response.is_json
    assert fragment in response.get_json()["error"]
    assert "hunter2" not in response.get_data(as_text=True)


def test_api_answers_only_post(client):
    response = client.get("/api/check-settings")
    assert response.status_code == 405 and response.is_json


# --- the answer bot hands off to the checker --------------------------------------------------


def test_the_bot_checks_pasted_settings_and_keeps_its_answer(client):
    data = client.post("/api/ask", json={"question": "POP on port 110, user jsmith, no SSL"}).get_json()
    assert {
        "intent",
        "confidence",
        "fallback",
        "clarify",
        "answer",
        "articles",
        "suggestions",
        "alternatives",
        "source",
    } <= set(data)
    assert data["check"]["verdict"] == "error"
    assert {f["field"] for f in data["check"]["fields"]} >= {"protocol", "port", "security", "username"}
    assert "I also checked the settings in your message" in data["answer"]["text"]
    assert 'href="/check"' in data["answer"]["html"]


@pytest.mark.parametrize("question", ["how do I enable POP3", "hello", "what is the incoming mail server"])
def test_ordinary_questions_get_no_check(client, question):
    data = client.post("/api/ask", json={"question": question}).get_json()
    assert "check" not in data and "I also checked" not in data["answer"]["text"]


# --- autoconfig, profile, Autodiscover, DNS -----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/mail/config-v1.1.xml",
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        "/mail/config-v1.1.xml?emailaddress=jane.doe%40" + SETTINGS.domain,
        "/mail/config-v1.1.xml?emailaddress=nobody%40unknown.example",
        "/mail/config-v1.1.xml?emailaddress=%3Cnot-an-address%3E",
    ],
)
def test_autoconfig_is_served_for_every_address(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = assert_autoconfig_policy(response.data, SETTINGS)
    assert root.find("emailProvider/documentation").get("url").endswith("/articles/email-client-settings")
    assert response.data == client.get("/mail/config-v1.1.xml").data
    assert b"not-an-address" not in response.data


def test_profile_download(client):
    response = client.get("/setup/profile.mobileconfig", query_string={"address": LOGIN.example})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-apple-aspen-config"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Content-Disposition"].endswith('.mobileconfig"')
    assert_profile_policy(response.data, SETTINGS, LOGIN.example)


@pytest.mark.parametrize("address", ["", "jane", "jane@example.org"])
def test_profile_download_refuses_bad_addresses(client, address):
    response = client.get("/setup/profile.mobileconfig", query_string={"address": address})
    assert response.status_code == 400 and "mobileconfig" not in response.content_type


def test_autodiscover_answers_outlook(client):
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
        f"<Request><EMailAddress>{LOGIN.example}</EMailAddress>"
        "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
        "</AcceptableResponseSchema></Request></Autodiscover>"
    )
    for url in ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"):
        response = client.post(url, data=body, content_type="text/xml")
        assert response.status_code == 200 and response.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert_autodiscover_policy(response.data, SETTINGS, LOGIN.example)


@pytest.mark.parametrize(
    "body",
    [
        '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><Autodiscover><Request><EMailAddress>&x;</EMailAddress>'
        "</Request></Autodiscover>",
        "<Autodiscover>" + "<x>" * 10_000,
        "",
    ],
)
def test_autodiscover_refuses_hostile_or_bad_requests(client, body):
    response = client.post("/autodiscover/autodiscover.xml", data=body, content_type="text/xml")
    assert response.status_code == 400
    root = parse_untrusted(response.data)
    assert root.find(".//{*}ErrorCode").text == "600"
    assert b"root:" not in response.data


def test_dns_records_page_and_command(client, runner):
    html = client.get("/operator/dns-records").get_data(as_text=True)
    assert f"_imaps._tcp.{SETTINGS.domain}. 3600 IN SRV 0 1 {IMAP.port} {IMAP.host}." in html
    assert f"_pop3._tcp.{SETTINGS.domain}. 3600 IN SRV 0 0 0 ." in html
    assert f"autoconfig.{SETTINGS.domain}" in html
    assert_csp_safe(html)
    result = runner.invoke(args=["dns-records", "--ttl", "600"])
    assert result.exit_code == 0
    assert f"_submissions._tcp.{SETTINGS.domain}. 600 IN SRV 0 1 {SMTP.port} {SMTP.host}." in result.output
    assert result.output.strip().splitlines()[-1].startswith("; 6 records")
    assert runner.invoke(args=["dns-records", "--ttl", "0"]).exit_code != 0


# --- "Set up my mail app" -------------------------------------------------------------------------


def test_setup_page_form(client):
    html = client.get("/setup").get_data(as_text=True)
    assert '<form class="setup-form" method="get" action="/setup">' in html
    assert html.count('type="radio"') == 5 and 'name="address"' in html
    assert_csp_safe(html)


@pytest.mark.parametrize(
    ("app_name", "expect"),
    [
        ("apple", "/setup/profile.mobileconfig?address="),
        ("thunderbird", 'href="/mail/config-v1.1.xml"'),
        ("android", "Personal (IMAP)"),
        ("outlook", "Secure Password Authentication"),
        ("other", "choose IMAP (never POP3)"),
    ],
)
def test_setup_guides(client, app_name, expect):
    response = client.get("/setup", query_string={"address": LOGIN.example, "client": app_name})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and expect in html
    assert "never POP3" in html and "full email address" in html
    assert 'href="/articles/email-protocols#pop3-not-supported"' in html
    assert IMAP.host in html and SMTP.host in html and LOGIN.example in html
    assert_csp_safe(html)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"address": "jane@example.org", "client": "apple"}, "not a"),
        ({"address": "", "client": "apple"}, "Enter your email address"),
        ({"address": LOGIN.example, "client": "lotus"}, "Pick your mail app"),
    ],
)
def test_setup_explains_bad_input(client, query, fragment):
    response = client.get("/setup", query_string=query)
    assert response.status_code == 400 and fragment in response.get_data(as_text=True)


def test_every_page_links_to_setup_and_checker(client):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/setup"' in html and 'href="/check"' in html
