"""The settings checker: every row of the reference table of checks, labels, citations and the overall verdict.

Correct values are read from the settings file; the insecure ports are listed literally (see mailpolicy).
Rows refer to the table "What a settings checker should flag" in the project's client-autoconfig notes.
"""

import dataclasses
import imaplib

import pytest
from conftest import ROOT

from kb import DEFAULT_SETTINGS_PATH
from kb.articles import load_articles
from kb.settings import load_settings
from mailclient.checker import ClientConfig, ServerInput, check, citation_problems, normalize_host
from mailclient.labels import (
    Auth,
    Client,
    Security,
    normalize_auth,
    normalize_client,
    normalize_protocol,
    normalize_security,
)

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)
LIBRARY = load_articles(ROOT / "articles", SETTINGS)
IMAP, SMTP, LOGIN = SETTINGS.imap, SETTINGS.smtp, SETTINGS.login
NO_ALTERNATIVE = dataclasses.replace(SETTINGS, smtp=dataclasses.replace(SMTP, alt_port=None, alt_security=None))
IMAP_STARTTLS_OPEN = dataclasses.replace(
    SETTINGS, imap=dataclasses.replace(IMAP, alt_port=imaplib.IMAP4_PORT, alt_security="STARTTLS")
)


def correct_input(server) -> ServerInput:
    """Return what a correctly set-up app shows for one of the settings' servers."""
    return ServerInput(
        protocol=server.protocol,
        host=server.host,
        port=server.port,
        security=server.security,
        authentication=True,
        auth_method=LOGIN.authentication,
        username=LOGIN.example,
    )


GOOD_IN, GOOD_OUT = correct_input(IMAP), correct_input(SMTP)


def run(incoming=None, outgoing=None, client=None, settings=SETTINGS, **changes):
    """Check the correct configuration with some fields changed (``incoming=dict(port=...)``)."""
    config = ClientConfig(
        incoming=dataclasses.replace(GOOD_IN, **(incoming or {})),
        outgoing=dataclasses.replace(GOOD_OUT, **(outgoing or {})),
        client=client,
    )
    return check(config, settings, LIBRARY, "/articles/", **changes)


def verdict(result, direction, field):
    found = result.field(direction, field)
    assert found is not None, f"{direction} {field} was not checked: {result.fields}"
    return found.verdict, found.rule


# --- the reference table, row by row ---------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"protocol": "POP3"},
        {"protocol": "pop"},
        {"protocol": "EmailTypePOP"},
    ],
)
def test_row01_pop3_protocol_is_an_error(change):
    result = run(incoming=change)
    assert verdict(result, "incoming", "protocol") == ("error", "pop3")
    assert result.field("incoming", "protocol").correct == IMAP.protocol
    assert result.field("incoming", "protocol").source.url == "/articles/email-protocols#pop3-not-supported"
    assert result.verdict == "error" and not result.all_good


@pytest.mark.parametrize("port", [110, 995])
def test_row01_pop3_ports_are_errors(port):
    result = run(incoming={"port": port, "security": "STARTTLS" if port == 110 else "SSL/TLS"})
    assert verdict(result, "incoming", "port") == ("error", "pop3")
    assert str(IMAP.port) in result.field("incoming", "port").correct


def test_row02_imap_cleartext_port_with_no_security():
    result = run(incoming={"port": 143, "security": "None"})
    assert verdict(result, "incoming", "port")[0] == "error"
    assert verdict(result, "incoming", "security") == ("error", "cleartext")


def test_row03_imap_starttls_on_a_closed_port_is_an_error():
    result = run(incoming={"port": 143, "security": "STARTTLS"})
    assert verdict(result, "incoming", "port") == ("error", "insecure_port")
    assert verdict(result, "incoming", "security") == ("error", "security")


def test_row03_imap_starttls_on_an_open_port_is_a_warning():
    result = run(incoming={"port": 143, "security": "STARTTLS"}, settings=IMAP_STARTTLS_OPEN)
    assert verdict(result, "incoming", "port") == ("warning", "alternative_port")
    assert verdict(result, "incoming", "security") == ("ok", "security")
    assert result.verdict == "warning"


@pytest.mark.parametrize(
    ("direction", "port", "security"),
    [
        ("incoming", IMAP.port, "STARTTLS"),
        ("outgoing", SMTP.port, "STARTTLS"),
        ("incoming", 143, "SSL/TLS"),
        ("outgoing", SMTP.alt_port, "SSL/TLS"),
    ],
)
def test_row04_port_and_security_mismatch(direction, port, security):
    result = run(**{direction: {"port": port, "security": security}})
    assert verdict(result, direction, "security") == ("error", "mismatch")


def test_row04_alternative_port_with_ssl_when_there_is_no_alternative():
    result = run(outgoing={"port": SMTP.alt_port, "security": "SSL/TLS"}, settings=NO_ALTERNATIVE)
    assert verdict(result, "outgoing", "port") == ("error", "port_not_offered")
    assert result.verdict == "error"


@pytest.mark.parametrize(
    "label",
    [
        "Auto",
        "STARTTLS if available",
        "STARTTLS, if available",
        "automatic",
        "ENCRYPT_CONN_AUTO",
        "TLS if available",
        "opportunistic",
    ],
)
@pytest.mark.parametrize("direction", ["incoming", "outgoing"])
def test_row05_opportunistic_security_is_an_error(label, direction):
    result = run(**{direction: {"security": label}})
    assert verdict(result, direction, "security") == ("error", "opportunistic")


@pytest.mark.parametrize("security", ["SSL/TLS", "STARTTLS", "None", None])
def test_row06_port_25_for_sending_is_an_error(security):
    result = run(outgoing={"port": 25, "security": security})
    assert verdict(result, "outgoing", "port") == ("error", "relay_port")


def test_row07_submission_port_without_encryption():
    result = run(outgoing={"port": SMTP.alt_port, "security": "None"})
    assert verdict(result, "outgoing", "security") == ("error", "cleartext")
    no_alt = run(outgoing={"port": SMTP.alt_port, "security": "None"}, settings=NO_ALTERNATIVE)
    assert verdict(no_alt, "outgoing", "port")[0] == "error" and verdict(no_alt, "outgoing", "security")[0] == "error"


@pytest.mark.parametrize(
    "change",
    [
        {"authentication": False, "auth_method": None},
        {"auth_method": "none"},
        {"auth_method": "No authentication"},
        {"auth_method": "client-IP-address"},
        {"auth_method": "SMTP after POP"},
        {"auth_method": "smtp-after-pop"},
        {"auth_method": "EmailAuthNone"},
    ],
)
def test_row08_sending_without_authentication_is_an_error(change):
    result = run(outgoing=change)
    assert verdict(result, "outgoing", "authentication") == ("error", "smtp_auth")
    assert result.field("outgoing", "authentication").source.url == "/articles/email-protocols#smtp-supported"


def test_row08_anonymous_incoming_is_an_error_too():
    result = run(incoming={"authentication": False, "auth_method": None})
    assert verdict(result, "incoming", "authentication") == ("error", "anonymous")


@pytest.mark.parametrize(
    ("username", "rule"),
    [
        ("jsmith", "partial_username"),
        ("jane.doe", "partial_username"),
        ("%EMAILLOCALPART%", "partial_username"),
        ("%EMAILADDRESS", "partial_username"),
        ("jane.doe@example.org", "username_domain"),
        ("@" + SETTINGS.domain, "partial_username"),
    ],
)
def test_row09_username_that_is_not_the_full_address(username, rule):
    result = run(incoming={"username": username}, outgoing={"username": username})
    for direction in ("incoming", "outgoing"):
        assert verdict(result, direction, "username") == ("error", rule)
    assert LOGIN.example in result.field("incoming", "username").correct


def test_row09_placeholder_for_the_full_address_is_fine():
    result = run(incoming={"username": "%EMAILADDRESS%"}, outgoing={"username": "%EMAILADDRESS%"})
    assert verdict(result, "incoming", "username") == ("ok", "username")


@pytest.mark.parametrize(
    "method",
    [
        "Encrypted password",
        "password-encrypted",
        "CRAM-MD5",
        "NTLM",
        "SPA",
        "Kerberos",
        "GSSAPI",
        "OAuth2",
        "EmailAuthCRAMMD5",
        "TLS client certificate",
    ],
)
def test_row10_authentication_methods_the_server_does_not_offer(method):
    result = run(incoming={"auth_method": method}, outgoing={"auth_method": method})
    assert verdict(result, "incoming", "authentication") == ("error", "auth_method")
    assert verdict(result, "outgoing", "authentication") == ("error", "auth_method")
    assert result.field("outgoing", "authentication").correct.startswith(LOGIN.authentication)


@pytest.mark.parametrize(
    "host",
    [
        "pop." + SETTINGS.domain,
        "pop3." + SETTINGS.domain,
        "mail." + SETTINGS.domain,
        SETTINGS.domain,
        IMAP.host[:-1],  # a typo
        IMAP.host.replace(".", "-", 1),
        SMTP.host,  # the other direction's server
        "imap.gmail.com",
        "192.0.2.10",
    ],
)
def test_row11_host_that_is_not_the_configured_one(host):
    result = run(incoming={"host": host})
    found = result.field("incoming", "host")
    assert found.verdict == "error" and found.rule in ("host", "pop3_host")
    assert found.correct == IMAP.host


def test_row11_pop_host_cites_the_pop3_section():
    found = run(incoming={"host": "pop." + SETTINGS.domain}).field("incoming", "host")
    assert found.rule == "pop3_host" and found.source.url.endswith("#pop3-not-supported")


def test_row12_certificate_exceptions_are_errors():
    result = run(incoming={"accept_any_certificate": True})
    assert verdict(result, "incoming", "certificate") == ("error", "certificate")
    # Android's "SSL/TLS (accept all certificates)" is a security choice that carries the exception.
    result = run(outgoing={"security": "SSL/TLS (accept all certificates)"})
    assert verdict(result, "outgoing", "security") == ("ok", "security")
    assert verdict(result, "outgoing", "certificate") == ("error", "certificate")


def test_row13_different_usernames_are_a_warning():
    other = "john.roe@" + SETTINGS.domain
    result = run(outgoing={"username": other})
    assert verdict(result, "incoming", "username") == ("ok", "username")
    assert verdict(result, "outgoing", "username") == ("warning", "username_differs")
    assert result.verdict == "warning"


def test_row14_the_correct_configuration_is_all_good():
    result = run()
    assert result.verdict == "ok" and result.all_good
    assert result.summary.startswith("All good")
    assert not result.missing and not result.not_understood
    assert {(f.direction, f.field) for f in result.fields} >= {
        ("incoming", "protocol"),
        ("incoming", "host"),
        ("incoming", "port"),
        ("incoming", "security"),
        ("incoming", "username"),
        ("outgoing", "host"),
        ("outgoing", "port"),
        ("outgoing", "security"),
        ("outgoing", "authentication"),
        ("outgoing", "username"),
    }
    assert all(f.verdict == "ok" for f in result.fields)


# --- the alternative port, judged from the settings -----------------------------------


def test_alternative_submission_port_with_starttls_works_with_a_warning():
    result = run(outgoing={"port": SMTP.alt_port, "security": SMTP.alt_security})
    assert verdict(result, "outgoing", "port") == ("warning", "alternative_port")
    assert verdict(result, "outgoing", "security") == ("ok", "security")
    assert result.verdict == "warning"
    assert str(SMTP.port) in result.field("outgoing", "port").reason


def test_alternative_submission_port_is_an_error_when_the_settings_have_none():
    result = run(outgoing={"port": SMTP.alt_port, "security": SMTP.alt_security}, settings=NO_ALTERNATIVE)
    assert verdict(result, "outgoing", "port") == ("error", "port_not_offered")
    assert verdict(result, "outgoing", "security") == ("error", "security")


def test_the_checker_follows_the_settings_file():
    moved = dataclasses.replace(SETTINGS, imap=dataclasses.replace(IMAP, host="mail.example.net", port=10993))
    assert run(incoming={"host": "mail.example.net", "port": 10993}, settings=moved).verdict == "ok"
    result = run(settings=moved)
    assert verdict(result, "incoming", "host")[0] == "error" and verdict(result, "incoming", "port")[0] == "error"
    assert result.field("incoming", "host").correct == "mail.example.net"


# --- security labels in each app's words ------------------------------------------------


@pytest.mark.parametrize(
    ("label", "client", "meaning"),
    [
        ("SSL/TLS", Client.THUNDERBIRD, Security.SSL_TLS),
        ("SSL", None, Security.SSL_TLS),
        ("TLS on a dedicated port", None, Security.SSL_TLS),
        ("STARTTLS", Client.THUNDERBIRD, Security.STARTTLS),
        ("STARTTLS after connecting", None, Security.STARTTLS),
        ("TLS", Client.OUTLOOK, Security.STARTTLS),
        ("TLS", None, Security.ENCRYPTED),
        ("ENCRYPT_CONN_TLS", None, Security.STARTTLS),
        ("None", Client.THUNDERBIRD, Security.NONE),
        ("plain", None, Security.NONE),
        ("No encryption", None, Security.NONE),
        ("Use SSL: off", Client.APPLE, Security.NONE),
        ("Use SSL: on", Client.APPLE, Security.ENCRYPTED),
        (True, Client.APPLE, Security.ENCRYPTED),
        (False, Client.APPLE, Security.NONE),
        ("Auto", Client.OUTLOOK, Security.AUTO),
        ("STARTTLS (if available)", None, Security.AUTO),
    ],
)
def test_security_labels_are_read_in_each_apps_vocabulary(label, client, meaning):
    assert normalize_security(label, client).value is meaning


def test_other_labels():
    assert normalize_protocol("IMAP4") == normalize_protocol("EmailTypeIMAP") == "IMAP"
    assert normalize_protocol("Exchange ActiveSync") == "other"
    assert normalize_auth("password-cleartext") is normalize_auth("Normal password") is Auth.PASSWORD
    assert normalize_auth("Use same settings as my incoming mail server") is Auth.SAME_AS_INCOMING
    assert normalize_client("Outlook 2016") is Client.OUTLOOK and normalize_client("K-9") is Client.ANDROID
    assert normalize_client("iPhone") is Client.APPLE and normalize_client("Lotus Notes") is None


def test_apple_use_ssl_takes_its_meaning_from_the_port():
    result = run(incoming={"security": True}, outgoing={"security": "Use SSL: on"}, client="apple")
    assert verdict(result, "incoming", "security") == ("ok", "security")
    assert verdict(result, "outgoing", "security") == ("ok", "security")
    unknown_port = run(incoming={"security": True, "port": None}, client="apple")
    assert verdict(unknown_port, "incoming", "security") == ("warning", "ambiguous_security")


def test_tls_is_starttls_for_outlook_and_ambiguous_elsewhere():
    assert verdict(run(incoming={"security": "TLS"}, client="outlook"), "incoming", "security") == ("error", "mismatch")
    result = run(incoming={"security": "TLS"}, client="thunderbird")
    assert verdict(result, "incoming", "security") == ("warning", "ambiguous_security")
    assert any("ambiguous" in note for note in result.notes)


def test_unknown_labels_are_reported_not_guessed():
    result = run(
        incoming={"security": "quantum", "protocol": "carrier pigeon"},
        outgoing={"auth_method": "magic"},
        client="Lotus Notes",
    )
    assert result.field("incoming", "security") is None and result.field("incoming", "protocol") is None
    assert result.field("outgoing", "authentication").given == "on"  # the switch was given; the method is unknown
    text = " ".join(result.not_understood)
    assert "quantum" in text and "carrier pigeon" in text and "magic" in text and "Lotus Notes" in text
    assert result.verdict == "incomplete" and not result.all_good


def test_host_names_are_cleaned_before_comparing():
    assert normalize_host(f" IMAPS://{IMAP.host.upper()}.:{IMAP.port}/inbox ") == (IMAP.host, IMAP.port)
    result = run(incoming={"host": f"imap://{IMAP.host}.", "port": None})
    assert verdict(result, "incoming", "host") == ("ok", "host")
    assert run(incoming={"host": f"{IMAP.host}:{IMAP.port}", "port": None}).all_good


def test_a_port_in_the_host_that_disagrees_is_not_guessed():
    result = run(incoming={"host": f"{IMAP.host}:143"})
    assert result.field("incoming", "port") is None
    assert any("disagree" in item for item in result.not_understood)


# --- overall verdict, citations and what is missing ------------------------------------


def test_missing_fields_are_never_all_good():
    result = check(ClientConfig(incoming=ServerInput(port=IMAP.port)), SETTINGS, LIBRARY)
    assert result.verdict == "incomplete" and not result.all_good
    assert "incoming host" in result.missing and "All good" not in result.summary
    assert not any(m.startswith("outgoing") for m in result.missing)  # outgoing was not described at all


def test_nothing_given_is_nothing_to_check():
    result = check(ClientConfig(), SETTINGS, LIBRARY)
    assert result.verdict == "incomplete" and result.fields == ()


def test_every_rule_quotes_a_sentence_that_is_in_the_article_it_cites():
    assert citation_problems(LIBRARY, SETTINGS) == []
    assert citation_problems(load_articles(ROOT / "articles", NO_ALTERNATIVE), NO_ALTERNATIVE) == []


def test_a_citation_that_no_longer_matches_is_reported():
    changed = dataclasses.replace(SETTINGS, login=dataclasses.replace(LOGIN, example="someone@else.example"))
    assert any("username" in problem for problem in citation_problems(LIBRARY, changed))


def test_every_verdict_has_a_reason_a_correct_value_and_a_section_link():
    result = run(
        incoming={"protocol": "POP3", "port": 110, "security": "None", "username": "jsmith"},
        outgoing={"port": 25, "authentication": False, "auth_method": None},
    )
    assert result.verdict == "error"
    for found in result.fields:
        assert found.reason and found.correct
        assert found.source.url.startswith("/articles/") and "#" in found.source.url
        assert found.source.sentence and found.source.section
        slug, anchor = found.source.url.removeprefix("/articles/").split("#")
        section = LIBRARY.articles[slug].section(anchor)
        assert section is not None and found.source.sentence in section.text


def test_the_result_as_json_data():
    data = run().as_dict()
    assert data["verdict"] == "ok" and data["all_good"] is True
    assert {"direction", "field", "given", "verdict", "rule", "reason", "correct", "source"} == set(data["fields"][0])
    assert set(data["fields"][0]["source"]) == {"article", "section", "url", "sentence"}
    assert data["input"]["incoming"]["host"] == IMAP.host
    assert not any("password" in key.lower() for key in data["input"]["incoming"])
