"""Reading what people give the checker: free-text descriptions, JSON, forms; passwords never get through."""

import dataclasses
import json

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb import DEFAULT_SETTINGS_PATH
from kb.answers import Answer, compose
from kb.articles import load_articles
from kb.render import html_to_text, markdown_to_html
from kb.settings import load_settings
from mailclient.checker import CheckInputError, ClientConfig, ServerInput, check
from mailclient.checkinput import (
    SETTINGS_HINT_RE,
    check_description,
    check_form,
    check_payload,
    config_from_dict,
    form_payload,
    mention_check,
    read_description,
    remove_passwords,
    safe_echo,
    settings_in_question,
)

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)
LIBRARY = load_articles(ROOT / "articles", SETTINGS)
IMAP, SMTP, LOGIN = SETTINGS.imap, SETTINGS.smtp, SETTINGS.login
D = SETTINGS.domain

# (description, expected verdict per "direction field", expected overall verdict)
DESCRIPTIONS = [
    (
        "POP on port 110, user jsmith, no SSL",
        {
            "incoming protocol": "error",
            "incoming port": "error",
            "incoming security": "error",
            "incoming username": "error",
        },
        "error",
    ),
    (
        f"Outlook: incoming pop.{D} 995 SSL, outgoing port 25 no auth",
        {
            "incoming host": "error",
            "incoming port": "error",
            "incoming security": "ok",
            "outgoing port": "error",
            "outgoing authentication": "error",
        },
        "error",
    ),
    (
        f"Incoming: IMAP, {IMAP.host}, port {IMAP.port}, SSL/TLS, username {LOGIN.example}. "
        f"Outgoing: SMTP, {SMTP.host}, "
        f"port {SMTP.port}, SSL/TLS, authentication normal password, username {LOGIN.example}",
        {
            "incoming protocol": "ok",
            "incoming host": "ok",
            "incoming port": "ok",
            "incoming security": "ok",
            "incoming username": "ok",
            "outgoing host": "ok",
            "outgoing port": "ok",
            "outgoing security": "ok",
            "outgoing authentication": "ok",
            "outgoing username": "ok",
        },
        "ok",
    ),
    (
        f"imap {IMAP.host} {IMAP.port} ssl, smtp {SMTP.host} {SMTP.port} ssl, user {LOGIN.example}, smtp auth on",
        {"incoming host": "ok", "outgoing authentication": "ok", "outgoing username": "ok"},
        "ok",
    ),
    (
        f"Apple Mail: incoming {IMAP.host} port {IMAP.port} Use SSL: on; "
        f"outgoing {SMTP.host} port {SMTP.port} Use SSL: off",
        {"incoming security": "ok", "outgoing security": "error"},
        "error",
    ),
    (f"Outlook 2016: IMAP {IMAP.host} {IMAP.port} encryption: TLS", {"incoming security": "error"}, "error"),
    (
        f"Thunderbird says IMAP {IMAP.host} {IMAP.port} STARTTLS and SMTP {SMTP.host} {SMTP.port} STARTTLS",
        {"incoming security": "error", "outgoing security": "error", "incoming port": "ok"},
        "error",
    ),
    (
        f"sending via {SMTP.host} on port 25, no authentication",
        {"outgoing host": "ok", "outgoing port": "error", "outgoing authentication": "error"},
        "error",
    ),
    (
        f"SMTP port {SMTP.alt_port} with STARTTLS if available",
        {"outgoing port": "warning", "outgoing security": "error"},
        "error",
    ),
    (f"incoming {IMAP.host[:-1]} port {IMAP.port}", {"incoming host": "error", "incoming port": "ok"}, "error"),
    (
        f"Gmail app: POP3 account, server pop.{D}, port 995, security type SSL/TLS (accept all certificates)",
        {
            "incoming protocol": "error",
            "incoming host": "error",
            "incoming port": "error",
            "incoming certificate": "error",
        },
        "error",
    ),
    (
        f"IMAP username jsmith, SMTP username {LOGIN.example}",
        {"incoming username": "error", "outgoing username": "warning"},
        "error",
    ),
    (
        f"outgoing {SMTP.host}:{SMTP.port} auth: CRAM-MD5",
        {"outgoing host": "ok", "outgoing port": "ok", "outgoing authentication": "error"},
        "error",
    ),
    (
        f"K-9: incoming server {IMAP.host}, security STARTTLS (if available), port 143",
        {"incoming port": "error", "incoming security": "error"},
        "error",
    ),
    (
        f"my outgoing server (SMTP) requires authentication is unchecked, smtp {SMTP.host} {SMTP.port} SSL",
        {"outgoing authentication": "error", "outgoing security": "ok"},
        "error",
    ),
    (
        f"SMTP: {SMTP.host} port {SMTP.port} SSL/TLS, Use same settings as my incoming mail server; "
        f"IMAP {IMAP.host} {IMAP.port} SSL/TLS auth: NTLM",
        {"incoming authentication": "error", "outgoing authentication": "error", "outgoing port": "ok"},
        "error",
    ),
    (
        f"port {IMAP.port} SSL, user {LOGIN.example}",
        {"incoming port": "ok", "incoming security": "ok", "incoming username": "ok"},
        "incomplete",
    ),
    (
        "incoming exchange activesync server outlook.office365.com",
        {"incoming protocol": "error", "incoming host": "error"},
        "error",
    ),
    (
        "POP3 on 110 without SSL, SMTP 25 without SSL, login: jdoe",
        {
            "incoming protocol": "error",
            "incoming port": "error",
            "incoming security": "error",
            "outgoing port": "error",
            "outgoing security": "error",
            "outgoing username": "error",
        },
        "error",
    ),
    (
        f"smtp {SMTP.host} {SMTP.port} ssl, smtp after pop",
        {"outgoing authentication": "error", "outgoing port": "ok"},
        "error",
    ),
    (f"incoming {SMTP.host} {IMAP.port} SSL", {"incoming host": "error", "incoming port": "ok"}, "error"),
    (f"outgoing {SMTP.host} {SMTP.port} SSL/TLS, username %EMAILLOCALPART%", {"outgoing username": "error"}, "error"),
    (
        f"Evolution: IMAP {IMAP.host}, port {IMAP.port}, TLS on a dedicated port; SMTP {SMTP.host} port {SMTP.port}, "
        "STARTTLS after connecting",
        {"incoming security": "ok", "outgoing security": "error"},
        "error",
    ),
    (
        f"{IMAP.port} for incoming, {SMTP.port} for outgoing",
        {"incoming port": "ok", "outgoing port": "ok"},
        "incomplete",
    ),
    (
        f"SMTP {SMTP.host} port {SMTP.alt_port} STARTTLS, requires authentication, user {LOGIN.example}",
        {"outgoing port": "warning", "outgoing security": "ok", "outgoing authentication": "ok"},
        "warning",
    ),
    (
        f"IMAP {IMAP.host} {IMAP.port} SSL/TLS with allow insecure connections",
        {"incoming security": "ok", "incoming certificate": "error"},
        "error",
    ),
]


def verdicts(result) -> dict[str, str]:
    return {f"{f.direction} {f.field}": f.verdict for f in result.fields}


@pytest.mark.parametrize(("text", "expected", "overall"), DESCRIPTIONS, ids=[t[:40] for t, _, _ in DESCRIPTIONS])
def test_descriptions_get_the_expected_verdicts(text, expected, overall):
    result = check_description(text, SETTINGS, LIBRARY)
    found = verdicts(result)
    assert {key: found.get(key) for key in expected} == expected, result.input
    assert result.verdict == overall, (result.summary, found)


def test_there_are_at_least_twenty_descriptions():
    assert len(DESCRIPTIONS) >= 20


def test_the_first_example_of_the_issue_in_detail():
    result = check_description("POP on port 110, user jsmith, no SSL", SETTINGS, LIBRARY)
    assert result.input.incoming.port == 110 and result.input.incoming.username == "jsmith"
    assert result.input.outgoing.is_empty()
    assert f"jsmith@{D}" in result.field("incoming", "username").reason
    assert "incoming host" in result.missing


def test_what_was_inferred_is_said():
    result = check_description(f"port {IMAP.port} SSL", SETTINGS, LIBRARY)
    assert any(f"Port {IMAP.port} was read as incoming" in note for note in result.notes)
    shared = check_description(f"imap {IMAP.host}, smtp {SMTP.host}, user {LOGIN.example}", SETTINGS, LIBRARY)
    assert shared.field("outgoing", "username") is not None
    assert any("given once" in note for note in shared.notes)


def test_what_was_not_understood_is_said_and_not_checked():
    result = check_description(f"incoming {IMAP.host} {IMAP.port} SSL/TLS, flux capacitor enabled", SETTINGS, LIBRARY)
    assert "flux capacitor" in result.not_understood
    conflict = check_description(f"imap server {IMAP.host} port {IMAP.port} or 143", SETTINGS, LIBRARY)
    assert conflict.field("incoming", "port") is None
    assert any("disagree" in item for item in conflict.not_understood)
    unplaced = check_description(f"imap {IMAP.host}, smtp {SMTP.host}, port 2525", SETTINGS, LIBRARY)
    assert unplaced.field("outgoing", "port").given == "2525"  # continues the outgoing clause
    lost = read_description("port 2525", SETTINGS)
    assert lost.config.incoming.is_empty() and lost.config.outgoing.is_empty()
    assert any("incoming or outgoing" in item for item in lost.not_understood)


def test_nothing_recognisable():
    result = check_description("hello there, my cat is called Smtpy", SETTINGS, LIBRARY)
    assert result.verdict == "incomplete" and result.fields == ()


@pytest.mark.parametrize(
    "text",
    [
        "password: hunter2",
        "Password = hunter2",
        "pw hunter2",
        "pwd: hunter2",
        "my password is hunter2",
        "pass: hunter2",
        "password hunter2",
        "Passwort: hunter2",
        "password 'hunter2'",
        "PW: hunter2!",
    ],
)
def test_passwords_are_cut_out_and_reported(text):
    description = f"IMAP {IMAP.host} {IMAP.port} SSL, {text}, user {LOGIN.example}"
    result = check_description(description, SETTINGS, LIBRARY)
    assert result.password_removed
    assert "hunter2" not in json.dumps(result.as_dict())
    assert "[removed]" in result.description
    assert "password" in result.notes[0].lower()
    assert result.field("incoming", "port").verdict == "ok"  # the rest is still checked


@pytest.mark.parametrize(
    "text",
    [
        "authentication: normal password",
        "Encrypted password",
        "password-cleartext",
        "EmailAuthPassword",
        "require logon using Secure Password Authentication",
        "password authentication required",
        "my password is wrong",
        "normal password, port 25",
        "password: ********",
    ],
)
def test_words_about_passwords_are_not_passwords(text):
    cleaned, removed = remove_passwords(text)
    assert not removed and cleaned == text


def test_looks_like_settings():
    assert read_description("POP on port 110", SETTINGS).looks_like_settings
    assert read_description(f"imap server {IMAP.host}", SETTINGS).looks_like_settings
    for question in (
        "how do I enable POP3",
        "hello",
        "my login is just jsmith, is that right?",
        "what is the imap server",
        "incoming server for Outlook on Windows 11",
        "Thunderbird version 115 cannot send",
        "I have 2 accounts on my iPhone 15",
    ):
        assert not read_description(question, SETTINGS).looks_like_settings, question


SETTINGS_LIKE_PIECES = [
    "port", "Port:", " ", ".", ":", "993", "٩", "imap", "smtp", "mail", "example", "com", "x",
    "-", "ssl", "10.0.0.1", "K", "is", "\n", "pop3", "number", "=", "#", "_", "/", "@", "ports", "\t",
]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SETTINGS_LIKE_PIECES), max_size=12).map("".join) | st.text(max_size=40))
def test_the_quick_hint_never_skips_text_that_reads_as_settings(text):
    # The bot skips the close reading of a question when the hint does not match.
    if not SETTINGS_HINT_RE.search(text):
        assert not read_description(text, SETTINGS).looks_like_settings


# --- structured input -------------------------------------------------------------------


def test_structured_input_is_read():
    config = config_from_dict(
        {
            "client": "outlook",
            "incoming": {"host": IMAP.host, "port": str(IMAP.port), "security": True, "accept_any_certificate": False},
        }
    )
    assert config.incoming.port == IMAP.port and config.incoming.security is True
    assert config.incoming.accept_any_certificate is False and config.outgoing.is_empty()


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"incoming": {"host": IMAP.host, "password": "x"}}, "password"),
        ({"password": "x", "incoming": {"port": 1}}, "password"),
        ({"incoming": {"Password": "x"}}, "password"),
        ({"outgoing": {"app_password": "x"}}, "password"),
        ({"incoming": {"host": IMAP.host, "colour": "red"}}, "unknown field"),
        ({"servers": []}, "unknown field"),
        ({"incoming": {"port": "nine"}}, "port"),
        ({"incoming": {"port": 0}}, "port"),
        ({"incoming": {"port": 70000}}, "port"),
        ({"incoming": {"port": True}}, "port"),
        ({"incoming": {"port": 1.5}}, "port"),
        ({"incoming": ["imap"]}, "object"),
        ({"incoming": {"host": 42}}, "string"),
        ({"incoming": {"host": "x" * 500}}, "too long"),
        ({"incoming": {"authentication": "maybe"}}, "true or false"),
        ({"incoming": {"accept_any_certificate": "yes"}}, "true or false"),
        ({"incoming": None}, "object"),
        ({"incoming": {}, "outgoing": None}, "object"),
        ({}, "nothing to check"),
        ({"client": "outlook"}, "nothing to check"),
    ],
)
def test_bad_structured_input_is_refused_with_a_reason(payload, fragment):
    with pytest.raises(CheckInputError, match=fragment):
        config_from_dict(payload)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"description": ""}, "non-empty"),
        ({"description": "   "}, "non-empty"),
        ({"description": 5}, "non-empty"),
        ({"description": "\x00\x01 \ufeff"}, "non-empty"),
        ({"description": None}, "non-empty"),
        ({"description": "x" * 101}, "too long"),
        ({"description": "imap", "incoming": {"port": 1}}, "either"),
        ([], "JSON object"),
    ],
)
def test_bad_payloads(payload, fragment):
    with pytest.raises(CheckInputError, match=fragment):
        check_payload(payload, SETTINGS, LIBRARY, "/articles/", 100)


def test_a_password_typed_into_a_field_is_cut_out_and_reported():
    payload = {"incoming": {"host": IMAP.host, "username": "jane pw hunter2"}}
    result = check_payload(payload, SETTINGS, LIBRARY, "/articles/", 100)
    assert result.password_removed and "password" in result.notes[0]
    assert "hunter2" not in json.dumps(result.as_dict())
    assert result.field("incoming", "host").verdict == "ok"


@pytest.mark.parametrize("port", ["²", "٩٩٣", "1e3", "99999", "0", "0993", " 993", "", -1, 993.5])
def test_ports_that_only_look_like_numbers_are_refused(port):
    with pytest.raises(CheckInputError, match="port"):
        config_from_dict({"incoming": {"port": port}})


def test_ports_as_digit_strings_and_whole_floats_are_read():
    assert config_from_dict({"incoming": {"port": str(IMAP.port)}}).incoming.port == IMAP.port
    assert config_from_dict({"incoming": {"port": float(IMAP.port)}}).incoming.port == IMAP.port


def test_empty_directions_are_nothing_to_check_but_not_an_error():
    result = check_payload({"incoming": {}, "outgoing": {"host": ""}}, SETTINGS, LIBRARY, "/articles/", 100)
    assert result.verdict == "incomplete" and result.fields == () and "Nothing to check" in result.summary


def test_form_fields_become_the_json_shape():
    form = {
        "client": "apple",
        "incoming_host": f" {IMAP.host} ",
        "incoming_port": str(IMAP.port),
        "incoming_auth": "off",
        "outgoing_auth": "normal password",
        "outgoing_certificate": "on",
        "outgoing_security": "",
    }
    assert form_payload(form) == {
        "client": "apple",
        "incoming": {"host": IMAP.host, "port": str(IMAP.port), "authentication": False},
        "outgoing": {"auth_method": "normal password", "accept_any_certificate": True},
    }
    result = check_form(form, SETTINGS, LIBRARY, "/articles/", 100)
    assert result.field("incoming", "authentication").verdict == "error"


def test_what_the_page_shows_again_holds_no_password():
    echo = safe_echo(
        {
            "description": "imap, password: hunter2",
            "incoming_username": "pw hunter2",
            "incoming_host": IMAP.host,
            "password": "x",
        }
    )
    assert echo == {"description": "imap, password: [removed]", "incoming_host": IMAP.host}


# --- the answer bot's hand-off ------------------------------------------------------------


def test_a_pasted_description_is_checked_for_the_bot_and_a_question_is_not():
    assert settings_in_question("how do I enable POP3", SETTINGS, LIBRARY, "/articles/") is None
    result = settings_in_question("POP on port 110, user jsmith, no SSL", SETTINGS, LIBRARY, "/articles/")
    assert result is not None and result.verdict == "error"


def test_a_mentioned_check_reads_as_if_the_whole_answer_were_rendered_at_once():
    answer = compose("imap_settings", "Use IMAP.", settings=SETTINGS, blocks=("imap",), article_url="/articles/")
    result = check(ClientConfig(incoming=ServerInput(protocol="pop3", port=110)), SETTINGS, LIBRARY)
    mentioned = mention_check(answer, result, "/check")
    assert mentioned.html == markdown_to_html(mentioned.markdown)
    assert mentioned.text == html_to_text(mentioned.html, links=True)


def test_mentioning_a_check_in_an_answer():
    answer = Answer(
        "pop3_enable", "text", "POP3 is not supported.", "<p>POP3 is not supported.</p>", None, (), (), None
    )
    config = ClientConfig(incoming=ServerInput(host="<b>evil</b>.example", port=995))
    result = check(config, SETTINGS, LIBRARY)
    mentioned = mention_check(answer, result, "/check")
    assert mentioned.markdown.startswith("POP3 is not supported.")
    assert "I also checked the settings in your message" in mentioned.text
    assert "Incoming port (995)" in mentioned.text and str(IMAP.port) in mentioned.text
    assert 'href="/check"' in mentioned.html
    assert "(<b>evil<)" in mentioned.text and "<b>" not in mentioned.html
    assert dataclasses.replace(mentioned, text=answer.text, markdown=answer.markdown, html=answer.html) == answer
