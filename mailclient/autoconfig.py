"""Machine-readable mail settings, generated from the one settings file.

- Thunderbird autoconfig (clientConfig 1.1), read by Thunderbird, Thunderbird for Android/K-9,
  Evolution, KMail and others. Only IMAP and SMTP entries, implicit TLS first, username
  ``%EMAILADDRESS%``; never POP3 and never ``plain`` (one plain entry makes Thunderbird for
  Android reject the whole file).
- An Apple configuration profile (``com.apple.mail.managed``) for one address. Its SSL and port
  keys default to insecure values, so every one is set; it never holds a password.
- DNS SRV records (RFC 6186, RFC 8314), with "." targets for what is not offered.
- An Outlook Autodiscover (POX) response: best effort, since current Outlook often ignores it for IMAP.

Entries are built with ElementTree and plistlib; the Autodiscover request is untrusted XML and is
parsed with defusedxml.
"""

from __future__ import annotations

import plistlib
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

from kb.settings import MailSettings
from mailclient.labels import INCOMING, NO_AUTH, OUTGOING, Auth, Security, normalize_auth, offered_ports, server_for

ADDRESS_PLACEHOLDER = "%EMAILADDRESS%"
SOCKET_TYPES = {Security.SSL_TLS: "SSL", Security.STARTTLS: "STARTTLS"}
AUTOCONFIG_AUTH = {
    Auth.PASSWORD: "password-cleartext",
    Auth.ENCRYPTED_PASSWORD: "password-encrypted",
    Auth.OAUTH2: "OAuth2",
    Auth.NTLM: "NTLM",
    Auth.KERBEROS: "GSSAPI",
    Auth.CLIENT_CERT: "TLS-client-cert",
}
APPLE_AUTH = {
    Auth.PASSWORD: "EmailAuthPassword",
    Auth.ENCRYPTED_PASSWORD: "EmailAuthCRAMMD5",
    Auth.NTLM: "EmailAuthNTLM",
}
ADDRESS_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)
MAX_ADDRESS_CHARS = 254
AUTODISCOVER_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
AUTODISCOVER_RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
AUTODISCOVER_OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
AUTODISCOVER_ENCRYPTION = {Security.SSL_TLS: "SSL", Security.STARTTLS: "TLS"}  # in Outlook's words, TLS is STARTTLS
SRV_TTL_SECONDS = 3600


class PublishError(ValueError):
    """The settings hold something that must not be published (no encryption, no authentication)."""


class AddressError(ValueError):
    """An email address that cannot be used; the message says why."""


class AutodiscoverError(ValueError):
    """An Autodiscover request that cannot be answered."""


@dataclass(frozen=True)
class Endpoint:
    """One server entry to publish: host, port and how it is protected."""

    host: str
    port: int
    security: Security


def endpoints(settings: MailSettings, direction: str) -> list[Endpoint]:
    """Return the entries to publish for a direction, implicit TLS first, then the settings' order."""
    server = server_for(settings, direction)
    try:
        offered = offered_ports(settings, direction)
    except ValueError as exc:
        raise PublishError(str(exc)) from None
    entries = [Endpoint(server.host, port, security) for port, security in offered.items()]
    return sorted(entries, key=lambda e: e.security is not Security.SSL_TLS)


def published_auth(settings: MailSettings) -> Auth:
    """Return the settings' authentication method, refusing to publish none."""
    auth = normalize_auth(settings.login.authentication)
    if auth is None or auth in NO_AUTH or auth in (Auth.ON, Auth.SAME_AS_INCOMING):
        raise PublishError(f"the settings' authentication {settings.login.authentication!r} cannot be published")
    return auth


def check_address(settings: MailSettings, address: str) -> str:
    """Return a clean email address of the provider's domain, or say what is wrong with it."""
    address = (address or "").strip()
    if not address:
        raise AddressError("Enter your email address.")
    if len(address) > MAX_ADDRESS_CHARS or not ADDRESS_RE.fullmatch(address):
        raise AddressError("That is not an email address: it should look like name@" + settings.domain + ".")
    local, _, domain = address.rpartition("@")
    if domain.lower() != settings.domain:
        raise AddressError(f"That is not a {settings.provider} address: it must end in @{settings.domain}.")
    return f"{local}@{domain.lower()}"


# --- Thunderbird autoconfig ----------------------------------------------------------


def _text_element(parent: ET.Element, tag: str, text: str, **attrs) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def thunderbird_config(settings: MailSettings, documentation_url: str | None = None) -> bytes:
    """Return a clientConfig 1.1 file: IMAP and SMTP entries only, implicit TLS first, full address as username."""
    method = AUTOCONFIG_AUTH.get(published_auth(settings))
    if method is None:
        raise PublishError(f"autoconfig has no name for {settings.login.authentication!r}")
    root = ET.Element("clientConfig", version="1.1")
    provider = ET.SubElement(root, "emailProvider", id=settings.domain)
    _text_element(provider, "domain", settings.domain)
    _text_element(provider, "displayName", f"{settings.provider} Mail")
    _text_element(provider, "displayShortName", settings.provider)
    for direction, tag, kind in ((INCOMING, "incomingServer", "imap"), (OUTGOING, "outgoingServer", "smtp")):
        for entry in endpoints(settings, direction):
            server = ET.SubElement(provider, tag, type=kind)
            _text_element(server, "hostname", entry.host)
            _text_element(server, "port", str(entry.port))
            _text_element(server, "socketType", SOCKET_TYPES[entry.security])
            _text_element(server, "authentication", method)
            _text_element(server, "username", ADDRESS_PLACEHOLDER)
    if documentation_url:
        documentation = ET.SubElement(provider, "documentation", url=documentation_url)
        _text_element(documentation, "descr", f"{settings.provider} email client settings", lang="en")
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


# --- Apple configuration profile -----------------------------------------------------


def profile_identity(settings: MailSettings, address: str) -> tuple[str, str, str]:
    """Return the profile's identifier and the UUIDs of the profile and its mail payload, all stable per address."""
    namespace = uuid.uuid5(uuid.NAMESPACE_DNS, settings.domain)
    key = address.lower()
    profile_uuid = uuid.uuid5(namespace, f"profile:{key}")
    payload_uuid = uuid.uuid5(namespace, f"mail:{key}")
    reverse_domain = ".".join(reversed(settings.domain.split(".")))
    return f"{reverse_domain}.mail.{profile_uuid}", str(profile_uuid).upper(), str(payload_uuid).upper()


def apple_profile(settings: MailSettings, address: str) -> bytes:
    """Return a .mobileconfig for one address: IMAP and SMTP with SSL on and ports set, and no password."""
    address = check_address(settings, address)
    method = APPLE_AUTH.get(published_auth(settings))
    if method is None:
        raise PublishError(f"Apple profiles have no name for {settings.login.authentication!r}")
    incoming, outgoing = endpoints(settings, INCOMING)[0], endpoints(settings, OUTGOING)[0]
    identifier, profile_uuid, payload_uuid = profile_identity(settings, address)
    mail = {
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{identifier}.account",
        "PayloadUUID": payload_uuid,
        "PayloadDisplayName": f"{settings.provider} mail account",
        "EmailAccountType": "EmailTypeIMAP",
        "EmailAccountDescription": f"{settings.provider} ({address})",
        "EmailAddress": address,
        # Apple's defaults are unencrypted, and without a port it tries the relay port first: set all.
        "IncomingMailServerHostName": incoming.host,
        "IncomingMailServerPortNumber": incoming.port,
        "IncomingMailServerUseSSL": True,
        "IncomingMailServerAuthentication": method,
        "IncomingMailServerUsername": address,
        "OutgoingMailServerHostName": outgoing.host,
        "OutgoingMailServerPortNumber": outgoing.port,
        "OutgoingMailServerUseSSL": True,
        "OutgoingMailServerAuthentication": method,
        "OutgoingMailServerUsername": address,
        "OutgoingPasswordSameAsIncomingPassword": True,
    }
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": identifier,
        "PayloadUUID": profile_uuid,
        "PayloadDisplayName": f"{settings.provider} mail",
        "PayloadDescription": f"Sets up {address} in Mail with IMAP and SMTP over SSL/TLS. "
        "You will be asked for your password; it is not in this file.",
        "PayloadOrganization": settings.provider,
        "PayloadContent": [mail],
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=False)


def profile_filename(settings: MailSettings) -> str:
    """Return the download name of the profile."""
    return f"{re.sub(r'[^A-Za-z0-9]+', '-', settings.provider).strip('-').lower()}-mail.mobileconfig"


# --- DNS SRV records -----------------------------------------------------------------


@dataclass(frozen=True)
class SrvRecord:
    """One SRV record; a target of "." says the service is not offered (RFC 2782)."""

    service: str
    priority: int
    weight: int
    port: int
    target: str
    meaning: str

    def zone_line(self, domain: str, ttl: int = SRV_TTL_SECONDS) -> str:
        """Return the record as a zone-file line."""
        return f"{self.service}._tcp.{domain}. {ttl} IN SRV {self.priority} {self.weight} {self.port} {self.target}"


def srv_records(settings: MailSettings) -> tuple[SrvRecord, ...]:
    """Return the SRV records for the settings: implicit TLS services, STARTTLS ones if offered, "." for the rest."""
    labels = {
        (INCOMING, Security.SSL_TLS): "_imaps",
        (INCOMING, Security.STARTTLS): "_imap",
        (OUTGOING, Security.SSL_TLS): "_submissions",
        (OUTGOING, Security.STARTTLS): "_submission",
    }
    what = {INCOMING: "IMAP", OUTGOING: "mail submission"}
    records = []
    for (direction, security), service in labels.items():
        entries = [e for e in endpoints(settings, direction) if e.security is security]
        primary = server_for(settings, direction).port
        for entry in entries:
            # The preferred port gets the lowest priority number, so clients try it first (RFC 6186 §3.4).
            priority = 0 if entry.port == primary else 10
            records.append(
                SrvRecord(
                    service,
                    priority,
                    1,
                    entry.port,
                    entry.host + ".",
                    f"{what[direction]} with {security} on port {entry.port}",
                )
            )
        if not entries:
            port_kind = "plain-text (STARTTLS)" if security is Security.STARTTLS else "implicit-TLS"
            records.append(SrvRecord(service, 0, 0, 0, ".", f"{what[direction]} on the {port_kind} port: not offered"))
    records += [
        SrvRecord("_pop3", 0, 0, 0, ".", "POP3: not offered"),
        SrvRecord("_pop3s", 0, 0, 0, ".", "POP3 over TLS: not offered"),
    ]
    return tuple(records)


def zone_lines(settings: MailSettings, ttl: int = SRV_TTL_SECONDS) -> list[str]:
    """Return the SRV records as zone-file lines for the settings' domain."""
    return [record.zone_line(settings.domain, ttl) for record in srv_records(settings)]


# --- Outlook Autodiscover (POX), best effort -------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def autodiscover_address(body: bytes) -> str:
    """Return the address an Autodiscover request asks about; the body is untrusted XML."""
    try:
        root = parse_untrusted_xml(body, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise AutodiscoverError(f"the request is not acceptable XML: {exc.__class__.__name__}") from None
    if _local(root.tag) != "Autodiscover":
        raise AutodiscoverError("the request's root element must be Autodiscover")
    request = next((child for child in root if _local(child.tag) == "Request"), None)
    if request is None:
        raise AutodiscoverError("the request has no Request element")
    values = {_local(child.tag): (child.text or "").strip() for child in request}
    schema = values.get("AcceptableResponseSchema")
    if schema and schema != AUTODISCOVER_OUTLOOK_NS:
        raise AutodiscoverError("only the Outlook response schema is offered")
    address = values.get("EMailAddress", "")
    if len(address) > MAX_ADDRESS_CHARS or not ADDRESS_RE.fullmatch(address):
        raise AutodiscoverError("the request has no valid EMailAddress")
    return address


def autodiscover_response(settings: MailSettings, address: str) -> bytes:
    """Return a POX Autodiscover answer for an address: one IMAP and one SMTP entry, SSL on, SPA off."""
    published_auth(settings)
    # Plain tags with xmlns attributes give the two default namespaces Outlook's examples use,
    # without touching ElementTree's process-wide prefix registry.
    root = ET.Element("Autodiscover", xmlns=AUTODISCOVER_RESPONSE_NS)
    response = ET.SubElement(root, "Response", xmlns=AUTODISCOVER_OUTLOOK_NS)
    account = ET.SubElement(response, "Account")

    def add(parent, tag, text):
        return _text_element(parent, tag, text)

    add(account, "AccountType", "email")
    add(account, "Action", "settings")
    for direction, kind in ((INCOMING, "IMAP"), (OUTGOING, "SMTP")):
        entry = endpoints(settings, direction)[0]
        protocol = ET.SubElement(account, "Protocol")
        add(protocol, "Type", kind)
        add(protocol, "Server", entry.host)
        add(protocol, "Port", str(entry.port))
        add(protocol, "DomainRequired", "off")
        add(protocol, "LoginName", address)
        add(protocol, "SPA", "off")  # absent means on (NTLM); the password goes inside TLS instead
        add(protocol, "SSL", "on")
        add(protocol, "Encryption", AUTODISCOVER_ENCRYPTION[entry.security])
        add(protocol, "AuthRequired", "on")
        if kind == "SMTP":
            add(protocol, "UsePOPAuth", "off")
            add(protocol, "SMTPLast", "off")
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def autodiscover_error(message: str) -> bytes:
    """Return a POX error answer (code 600, invalid request) carrying a short message."""
    root = ET.Element("Autodiscover", xmlns=AUTODISCOVER_RESPONSE_NS)
    response = ET.SubElement(root, "Response")
    error = ET.SubElement(response, "Error", Id="0", Time="00:00:00.0000000")
    _text_element(error, "ErrorCode", "600")
    _text_element(error, "Message", message)
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"
