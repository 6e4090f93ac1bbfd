"""Policy assertions on generated client-configuration files, shared by the kb and page tests.

The insecure ports are listed here on purpose and not read from the settings: the point is to
catch a settings file (or a generator) that would publish one of them.
"""

import plistlib
import xml.etree.ElementTree as ET

# POP3 (cleartext and TLS), cleartext IMAP, server-to-server SMTP relay.
INSECURE_PORTS = (25, 110, 143, 995)
AUTOCONFIG_SOCKET_TYPES = {"SSL", "STARTTLS"}
OUTLOOK_NS = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
RESPONSE_NS = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"


def assert_autoconfig_policy(body: bytes, settings) -> ET.Element:
    """Parse a clientConfig file and assert the policy on it; return its root."""
    root = ET.fromstring(body)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    provider = root.find("emailProvider")
    assert provider is not None and provider.get("id") == settings.domain
    assert [d.text for d in provider.findall("domain")] == [settings.domain]
    assert b"pop3" not in body.lower() and b"plain" not in body.lower()
    incoming = provider.findall("incomingServer")
    outgoing = provider.findall("outgoingServer")
    assert incoming and outgoing
    assert {s.get("type") for s in incoming} == {"imap"}
    assert {s.get("type") for s in outgoing} == {"smtp"}
    for group in (incoming, outgoing):
        # Thunderbird prefers the first entry: it must be implicit TLS.
        assert group[0].findtext("socketType") == "SSL"
        for server in group:
            # Thunderbird for Android rejects the whole file if any of these is missing or unknown.
            assert server.findtext("socketType") in AUTOCONFIG_SOCKET_TYPES
            assert int(server.findtext("port")) not in INSECURE_PORTS
            assert server.findtext("username") == "%EMAILADDRESS%"
            assert server.findtext("authentication") == "password-cleartext"
            assert server.findtext("hostname")
    assert incoming[0].findtext("hostname") == settings.imap.host
    assert int(incoming[0].findtext("port")) == settings.imap.port
    assert outgoing[0].findtext("hostname") == settings.smtp.host
    assert int(outgoing[0].findtext("port")) == settings.smtp.port
    return root


def assert_profile_policy(body: bytes, settings, address: str) -> dict:
    """Parse a .mobileconfig and assert the policy on it; return the mail payload."""
    profile = plistlib.loads(body)
    assert profile["PayloadType"] == "Configuration" and profile["PayloadVersion"] == 1
    assert profile["PayloadIdentifier"].startswith(".".join(reversed(settings.domain.split("."))) + ".")
    (mail,) = profile["PayloadContent"]
    assert mail["PayloadType"] == "com.apple.mail.managed"
    assert mail["EmailAccountType"] == "EmailTypeIMAP"
    for side in ("Incoming", "Outgoing"):
        assert mail[f"{side}MailServerUseSSL"] is True
        assert mail[f"{side}MailServerPortNumber"] not in INSECURE_PORTS
        assert mail[f"{side}MailServerAuthentication"] == "EmailAuthPassword"
        assert mail[f"{side}MailServerUsername"] == address
        assert f"{side}Password" not in mail
    assert mail["IncomingMailServerHostName"] == settings.imap.host
    assert mail["IncomingMailServerPortNumber"] == settings.imap.port
    assert mail["OutgoingMailServerHostName"] == settings.smtp.host
    assert mail["OutgoingMailServerPortNumber"] == settings.smtp.port
    assert mail["EmailAddress"] == address
    assert b"pop" not in body.lower()
    return mail


def assert_autodiscover_policy(body: bytes, settings, address: str) -> list[ET.Element]:
    """Parse a POX Autodiscover answer and assert the policy on it; return its Protocol elements."""
    root = ET.fromstring(body)
    assert root.tag == f"{RESPONSE_NS}Autodiscover"
    protocols = root.findall(f"{OUTLOOK_NS}Response/{OUTLOOK_NS}Account/{OUTLOOK_NS}Protocol")
    assert [p.findtext(f"{OUTLOOK_NS}Type") for p in protocols] == ["IMAP", "SMTP"]
    for protocol, server in zip(protocols, (settings.imap, settings.smtp), strict=True):
        assert protocol.findtext(f"{OUTLOOK_NS}Server") == server.host
        port = int(protocol.findtext(f"{OUTLOOK_NS}Port"))
        assert port == server.port and port not in INSECURE_PORTS
        assert protocol.findtext(f"{OUTLOOK_NS}SSL") == "on"
        assert protocol.findtext(f"{OUTLOOK_NS}SPA") == "off"
        assert protocol.findtext(f"{OUTLOOK_NS}AuthRequired") == "on"
        assert protocol.findtext(f"{OUTLOOK_NS}Encryption") in ("SSL", "TLS")
        assert protocol.findtext(f"{OUTLOOK_NS}LoginName") == address
    assert b"POP3" not in body
    return protocols
