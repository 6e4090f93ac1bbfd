"""Generated client configuration: every file is parsed and the policy asserted on it."""

import dataclasses
import uuid
import xml.etree.ElementTree as ET

import pytest
from conftest import ROOT
from mailpolicy import (
    INSECURE_PORTS,
    assert_autoconfig_policy,
    assert_autodiscover_policy,
    assert_profile_policy,
)

from kb import DEFAULT_SETTINGS_PATH
from kb.articles import load_articles
from kb.settings import load_settings
from mailclient.autoconfig import (
    AUTODISCOVER_OUTLOOK_NS,
    AddressError,
    AutodiscoverError,
    PublishError,
    apple_profile,
    autodiscover_address,
    autodiscover_error,
    autodiscover_response,
    check_address,
    profile_identity,
    srv_records,
    thunderbird_config,
    zone_lines,
)
from mailclient.clientsetup import CLIENT_NAMES, SetupError, parse_client, setup_guide
from mailclient.labels import Client

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)
LIBRARY = load_articles(ROOT / "articles", SETTINGS)
ADDRESS = SETTINGS.login.example
NO_ALTERNATIVE = dataclasses.replace(
    SETTINGS, smtp=dataclasses.replace(SETTINGS.smtp, alt_port=None, alt_security=None)
)
# An operator whose main submission port is STARTTLS and whose implicit-TLS port is the alternative.
STARTTLS_FIRST = dataclasses.replace(
    SETTINGS,
    smtp=dataclasses.replace(
        SETTINGS.smtp,
        port=SETTINGS.smtp.alt_port,
        security="STARTTLS",
        alt_port=SETTINGS.smtp.port,
        alt_security="SSL/TLS",
    ),
)


# --- Thunderbird autoconfig ---------------------------------------------------------------


@pytest.mark.parametrize("settings", [SETTINGS, NO_ALTERNATIVE], ids=["with-alternative", "without"])
def test_autoconfig_file_follows_the_policy(settings):
    root = assert_autoconfig_policy(thunderbird_config(settings, "https://help.example/articles/x"), settings)
    outgoing = root.findall("emailProvider/outgoingServer")
    assert len(outgoing) == (2 if settings.smtp.alt_port else 1)
    if settings.smtp.alt_port:
        assert (int(outgoing[1].findtext("port")), outgoing[1].findtext("socketType")) == (
            settings.smtp.alt_port,
            "STARTTLS",
        )
    assert root.find("emailProvider/documentation").get("url") == "https://help.example/articles/x"


def test_autoconfig_lists_implicit_tls_first_whatever_the_settings_order():
    root = ET.fromstring(thunderbird_config(STARTTLS_FIRST))
    kinds = [(s.findtext("socketType"), int(s.findtext("port"))) for s in root.findall("emailProvider/outgoingServer")]
    assert kinds == [("SSL", SETTINGS.smtp.port), ("STARTTLS", SETTINGS.smtp.alt_port)]


def test_autoconfig_is_utf8_with_a_declaration():
    body = thunderbird_config(SETTINGS)
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    body.decode("utf-8")


@pytest.mark.parametrize(
    "change",
    [
        {"imap": dataclasses.replace(SETTINGS.imap, security="None")},
        {"smtp": dataclasses.replace(SETTINGS.smtp, alt_security="Auto")},
        {"login": dataclasses.replace(SETTINGS.login, authentication="No authentication")},
    ],
)
def test_nothing_insecure_is_ever_published(change):
    bad = dataclasses.replace(SETTINGS, **change)
    with pytest.raises(PublishError):
        thunderbird_config(bad)
    with pytest.raises(PublishError):
        apple_profile(bad, ADDRESS)


# --- Apple profile -----------------------------------------------------------------------


def test_profile_follows_the_policy():
    assert_profile_policy(apple_profile(SETTINGS, ADDRESS), SETTINGS, ADDRESS)


def test_profile_identity_is_stable_per_address():
    first = profile_identity(SETTINGS, ADDRESS)
    assert first == profile_identity(SETTINGS, ADDRESS) == profile_identity(SETTINGS, ADDRESS.upper())
    assert first != profile_identity(SETTINGS, "someone.else@" + SETTINGS.domain)
    identifier, profile_uuid, payload_uuid = first
    assert uuid.UUID(profile_uuid) != uuid.UUID(payload_uuid)
    assert identifier.startswith(".".join(reversed(SETTINGS.domain.split("."))) + ".mail.")
    assert apple_profile(SETTINGS, ADDRESS) == apple_profile(SETTINGS, ADDRESS)


def test_profile_holds_no_password_and_no_pop3():
    body = apple_profile(SETTINGS, ADDRESS)
    mail = assert_profile_policy(body, SETTINGS, ADDRESS)
    assert {k for k in mail if "Password" in k} == {"OutgoingPasswordSameAsIncomingPassword"}
    assert mail["OutgoingPasswordSameAsIncomingPassword"] is True


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("", "Enter"),
        ("jane", "not an email address"),
        ("jane@", "not an email address"),
        ("jane doe@" + SETTINGS.domain, "not an email address"),
        ("jane@example.org", "not a"),
        ("a" * 260 + "@" + SETTINGS.domain, "not an email address"),
    ],
)
def test_addresses_are_checked(address, fragment):
    with pytest.raises(AddressError, match=fragment):
        check_address(SETTINGS, address)


def test_address_domain_is_lower_cased():
    assert check_address(SETTINGS, f" Jane.Doe@{SETTINGS.domain.upper()} ") == f"Jane.Doe@{SETTINGS.domain}"


# --- DNS SRV records -----------------------------------------------------------------------


def records_by_service(settings):
    return {r.service: r for r in srv_records(settings)}


def test_srv_records_point_at_the_implicit_tls_services_and_refuse_the_rest():
    records = records_by_service(SETTINGS)
    assert (records["_imaps"].port, records["_imaps"].target) == (SETTINGS.imap.port, SETTINGS.imap.host + ".")
    assert (records["_submissions"].port, records["_submissions"].target) == (
        SETTINGS.smtp.port,
        SETTINGS.smtp.host + ".",
    )
    for service in ("_pop3", "_pop3s", "_imap"):
        assert (records[service].target, records[service].port) == (".", 0)
    assert records["_submission"].port == SETTINGS.smtp.alt_port
    assert records["_submission"].priority > records["_submissions"].priority
    for record in srv_records(SETTINGS):
        assert record.port not in INSECURE_PORTS


def test_submission_says_not_offered_only_without_the_alternative_port():
    assert records_by_service(NO_ALTERNATIVE)["_submission"].target == "."


def test_zone_lines():
    lines = zone_lines(SETTINGS, ttl=300)
    assert f"_imaps._tcp.{SETTINGS.domain}. 300 IN SRV 0 1 {SETTINGS.imap.port} {SETTINGS.imap.host}." in lines
    assert f"_pop3._tcp.{SETTINGS.domain}. 300 IN SRV 0 0 0 ." in lines


# --- Outlook Autodiscover (POX) -----------------------------------------------------------

REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
    "<Request><EMailAddress>{address}</EMailAddress>"
    f"<AcceptableResponseSchema>{AUTODISCOVER_OUTLOOK_NS}</AcceptableResponseSchema></Request></Autodiscover>"
)


def test_autodiscover_answer_follows_the_policy():
    address = autodiscover_address(REQUEST.format(address=ADDRESS).encode())
    assert address == ADDRESS
    assert_autodiscover_policy(autodiscover_response(SETTINGS, address), SETTINGS, ADDRESS)


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
    "<Autodiscover><Request><EMailAddress>&lol2;</EMailAddress></Request></Autodiscover>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<Autodiscover><Request><EMailAddress>&xxe;</EMailAddress></Request></Autodiscover>"
)


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        '<?xml version="1.0"?><!DOCTYPE a><Autodiscover/>',
        "<Autodiscover><Request>",
        "not xml at all",
        "<Other><Request><EMailAddress>a@b.c</EMailAddress></Request></Other>",
        "<Autodiscover><Nothing/></Autodiscover>",
        "<Autodiscover><Request><EMailAddress>not an address</EMailAddress></Request></Autodiscover>",
        "<Autodiscover><Request><EMailAddress>a@b.c</EMailAddress>"
        "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
        "</AcceptableResponseSchema></Request></Autodiscover>",
    ],
)
def test_hostile_or_bad_autodiscover_requests_are_refused(body):
    with pytest.raises(AutodiscoverError):
        autodiscover_address(body.encode())


def test_autodiscover_error_is_xml():
    root = ET.fromstring(autodiscover_error("bad <request>"))
    assert root.find(".//{*}ErrorCode").text == "600" and root.find(".//{*}Message").text == "bad <request>"


# --- the setup guide --------------------------------------------------------------------------


@pytest.mark.parametrize("client", list(Client))
def test_every_guide_warns_about_pop3_and_the_full_address(client):
    guide = setup_guide(SETTINGS, LIBRARY, ADDRESS, client)
    texts = " ".join(w.text for w in guide.warnings)
    assert "never POP3" in texts and "full email address" in texts and ADDRESS in texts
    urls = {w.source.url for w in guide.warnings}
    assert "/articles/email-protocols#pop3-not-supported" in urls
    incoming, outgoing = guide.servers
    values = {row.label: row.value for row in incoming.rows}
    assert SETTINGS.imap.host in values.values() and str(SETTINGS.imap.port) in values.values()
    assert ADDRESS in values.values()
    assert SETTINGS.smtp.host in {row.value for row in outgoing.rows}
    assert all(str(port) not in {row.value for block in guide.servers for row in block.rows} for port in INSECURE_PORTS)
    assert guide.client_name == CLIENT_NAMES[client]


def test_each_app_gets_its_own_words_and_file():
    apple = setup_guide(SETTINGS, LIBRARY, ADDRESS, Client.APPLE)
    assert apple.profile and not apple.automatic
    assert {"Use SSL": "Use SSL: on"}.items() <= {r.label: r.value for r in apple.servers[0].rows}.items()
    outlook = setup_guide(SETTINGS, LIBRARY, ADDRESS, Client.OUTLOOK)
    assert not outlook.profile and not outlook.automatic
    assert any(
        r.label.startswith("Secure Password Authentication") and r.value.startswith("off")
        for r in outlook.servers[0].rows
    )
    assert setup_guide(SETTINGS, LIBRARY, ADDRESS, Client.THUNDERBIRD).automatic


def test_setup_refuses_what_it_cannot_set_up():
    with pytest.raises(SetupError, match="not a"):
        setup_guide(SETTINGS, LIBRARY, "jane@example.org", Client.OTHER)
    with pytest.raises(SetupError, match="Pick"):
        parse_client("lotus-notes")
    assert parse_client("apple") is Client.APPLE
