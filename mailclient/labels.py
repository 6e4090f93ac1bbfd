"""What mail apps call things: security, protocol, authentication and app labels, and well-known ports.

Every app names the same few choices differently. Thunderbird offers None / STARTTLS / SSL/TLS,
autoconfig files say plain / STARTTLS / SSL, Outlook says None / SSL/TLS / STARTTLS / Auto (and,
in older versions and in Autodiscover, "TLS" for STARTTLS), Apple has a "Use SSL" switch, Evolution
speaks of "TLS on a dedicated port". This module maps all of them onto a few meanings, so the
checker, the free-text reader and the generated files agree on one vocabulary.

Port numbers of the protocols themselves (IANA assignments) come from the standard library's mail
modules; the provider's own ports come only from the settings file.
"""

from __future__ import annotations

import imaplib
import poplib
import re
import smtplib
from dataclasses import dataclass
from enum import StrEnum

from kb.settings import MailSettings

INCOMING = "incoming"
OUTGOING = "outgoing"
DIRECTIONS = (INCOMING, OUTGOING)


class Security(StrEnum):
    """How a connection is protected."""

    SSL_TLS = "SSL/TLS"  # implicit TLS: encrypted from the first byte
    STARTTLS = "STARTTLS"  # starts in plain text, then must upgrade
    NONE = "None"
    AUTO = "Auto"  # "STARTTLS if available": upgrades only if the server offers it
    ENCRYPTED = "encrypted"  # Apple's "Use SSL" on: the app picks SSL/TLS or STARTTLS from the port


class Protocol(StrEnum):
    """A mail access or sending protocol."""

    IMAP = "IMAP"
    POP3 = "POP3"
    SMTP = "SMTP"
    OTHER = "other"  # Exchange, ActiveSync, JMAP...: not offered


class Auth(StrEnum):
    """An authentication method, or its absence."""

    PASSWORD = "Normal password"  # PLAIN/LOGIN inside TLS
    ENCRYPTED_PASSWORD = "Encrypted password"  # CRAM-MD5, SCRAM...
    NTLM = "NTLM"
    KERBEROS = "Kerberos/GSSAPI"
    OAUTH2 = "OAuth2"
    CLIENT_CERT = "TLS client certificate"
    NONE = "No authentication"
    CLIENT_IP = "Client IP address"
    SMTP_AFTER_POP = "SMTP after POP"
    SAME_AS_INCOMING = "Same as incoming server"
    ON = "on"  # authentication switched on, method not said


class Client(StrEnum):
    """A family of mail apps that share a vocabulary."""

    THUNDERBIRD = "thunderbird"
    APPLE = "apple"
    OUTLOOK = "outlook"
    ANDROID = "android"
    OTHER = "other"


NO_AUTH = frozenset({Auth.NONE, Auth.CLIENT_IP, Auth.SMTP_AFTER_POP})

# Each label as apps, files and people write it, lower-cased with separators collapsed (see label_key).
SECURITY_LABELS: dict[Security, tuple[str, ...]] = {
    Security.SSL_TLS: (
        "ssl/tls",
        "ssl",
        "tls/ssl",
        "ssl tls",
        "implicit tls",
        "implicit ssl",
        "tls on a dedicated port",
        "ssl on a dedicated port",
        "encrypt conn ssl",
        "smtps",
        "imaps",
        "ssl/tls recommended",
    ),
    Security.STARTTLS: (
        "starttls",
        "start tls",
        "starttls required",
        "require starttls",
        "explicit tls",
        "explicit ssl",
        "starttls after connecting",
        "encrypt conn tls",
        "tls starttls",
        "starttls tls",
    ),
    Security.NONE: (
        "none",
        "no",
        "off",
        "false",
        "plain",
        "plaintext",
        "plain text",
        "cleartext",
        "clear text",
        "no ssl",
        "no tls",
        "no ssl/tls",
        "no encryption",
        "no security",
        "unencrypted",
        "not encrypted",
        "without ssl",
        "without tls",
        "without encryption",
        "insecure",
        "encrypt conn no security",
        "use ssl off",
        "use ssl no",
        "use ssl false",
        "use ssl unchecked",
        "ssl off",
        "ssl no",
        "tls off",
        "encryption off",
        "no encryption none",
    ),
    Security.AUTO: (
        "auto",
        "automatic",
        "automatically",
        "autodetect",
        "auto detect",
        "encrypt conn auto",
        "starttls if available",
        "starttls when available",
        "tls if available",
        "use tls if available",
        "ssl if available",
        "if available",
        "opportunistic",
        "opportunistic tls",
        "starttls optional",
        "try starttls",
    ),
    Security.ENCRYPTED: (
        "use ssl",
        "use ssl on",
        "use ssl yes",
        "use ssl true",
        "use ssl checked",
        "ssl on",
        "ssl yes",
        "tls on",
        "encryption on",
        "encrypted",
        "yes",
        "on",
        "true",
        "secure connection",
        "use secure connection",
    ),
}
# Labels that mean different things in different apps.
AMBIGUOUS_TLS = "tls"

PROTOCOL_LABELS: dict[Protocol, tuple[str, ...]] = {
    Protocol.IMAP: ("imap", "imap4", "imaps", "imap4rev1", "emailtypeimap"),
    Protocol.POP3: ("pop", "pop3", "pop 3", "pop3s", "pops", "emailtypepop"),
    Protocol.SMTP: ("smtp", "smtps", "esmtp", "submission", "submissions"),
    Protocol.OTHER: (
        "exchange",
        "microsoft exchange",
        "activesync",
        "exchange activesync",
        "eas",
        "ews",
        "exchange web services",
        "mapi",
        "jmap",
        "graph",
        "webdav",
    ),
}

AUTH_LABELS: dict[Auth, tuple[str, ...]] = {
    Auth.PASSWORD: (
        "normal password",
        "password",
        "password cleartext",
        "cleartext password",
        "clear text password",
        "plain",
        "login",
        "plain/login",
        "auth plain",
        "auth login",
        "emailauthpassword",
        "normal",
        "basic",
        "basic auth",
        "username and password",
        "user and password",
        "password normal",
    ),
    Auth.ENCRYPTED_PASSWORD: (
        "encrypted password",
        "password encrypted",
        "cram md5",
        "crammd5",
        "emailauthcrammd5",
        "digest md5",
        "scram",
        "scram sha 1",
        "scram sha 256",
        "emailauthhttpmd5",
        "http md5",
        "apop",
        "md5",
        "secure password",
    ),
    Auth.NTLM: (
        "ntlm",
        "emailauthntlm",
        "spa",
        "secure password authentication",
        "secure password authentication spa",
        "require logon using secure password authentication",
        "require logon using secure password authentication spa",
    ),
    Auth.KERBEROS: ("kerberos", "gssapi", "kerberos/gssapi", "kerberos gssapi"),
    Auth.OAUTH2: ("oauth2", "oauth", "oauth 2", "oauth 2.0", "xoauth2", "modern authentication", "modern auth"),
    Auth.CLIENT_CERT: ("tls client cert", "tls client certificate", "client certificate", "tls certificate"),
    Auth.NONE: (
        "none",
        "no",
        "off",
        "false",
        "no authentication",
        "no auth",
        "emailauthnone",
        "anonymous",
        "disabled",
        "not required",
        "unchecked",
        "without authentication",
        "without auth",
    ),
    Auth.CLIENT_IP: ("client ip address", "client ip", "ip address"),
    Auth.SMTP_AFTER_POP: ("smtp after pop", "smtp after pop3", "pop before smtp", "pop3 before smtp"),
    Auth.SAME_AS_INCOMING: (
        "same as incoming",
        "same as incoming server",
        "same as my incoming server",
        "same settings as incoming",
        "use same settings as my incoming mail server",
        "use same settings as incoming",
        "same as incoming mail server",
    ),
    Auth.ON: ("on", "yes", "true", "required", "enabled", "checked", "auth", "authentication"),
}

CLIENT_LABELS: dict[Client, tuple[str, ...]] = {
    Client.OUTLOOK: ("outlook", "ms outlook", "microsoft outlook", "new outlook", "classic outlook", "autodiscover"),
    Client.THUNDERBIRD: ("thunderbird", "mozilla thunderbird", "betterbird", "autoconfig"),
    Client.APPLE: (
        "apple mail",
        "apple",
        "iphone",
        "ipad",
        "ios",
        "ios mail",
        "macos",
        "macos mail",
        "mac mail",
        "mobileconfig",
    ),
    Client.ANDROID: (
        "android",
        "gmail app",
        "gmail",
        "k 9",
        "k9",
        "k 9 mail",
        "thunderbird for android",
        "samsung email",
        "samsung mail",
        "fairemail",
    ),
    Client.OTHER: ("evolution", "kmail", "mailbird", "em client", "spark", "windows mail", "claws", "mutt", "geary"),
}


@dataclass(frozen=True)
class SecurityLabel:
    """A security label read as a meaning, with what reading it involved."""

    value: Security | None
    given: str
    note: str = ""  # why the reading depends on the app, if it does
    ambiguous: bool = False
    accepts_any_certificate: bool = False


@dataclass(frozen=True)
class PortFact:
    """What a port is for: protocol, direction and the security it expects."""

    port: int
    protocol: Protocol
    direction: str
    security: Security  # SSL_TLS for implicit-TLS ports; STARTTLS for ports that start in plain text
    offered: bool  # the provider listens here


CERTIFICATE_RE = re.compile(
    r"accept(?:ing)?\s+(?:all|any)\s+certificates?|allow(?:ing)?\s+(?:all|any|invalid|untrusted|self[\s-]?signed)"
    r"\s+certificates?|allow\s+insecure(?:\s+connections?)?|ignore\s+certificate(?:\s+(?:errors?|warnings?))?"
    r"|certificate\s+exception|trust\s+(?:all|any|self[\s-]?signed)\s+certificates?|accept\s+self[\s-]?signed"
    r"(?:\s+certificates?)?|skip\s+certificate\s+(?:check|verification|validation)|insecure\s+connections?\s+allowed",
    re.I,
)


LABEL_PUNCTUATION_RE = re.compile(r"[_\-:=,\"'()\[\]]")
# A version after an app's name ("Outlook 2016"). It starts only where a run of spaces starts, and
# takes the run whole (possessive), so a long run is read once, not once per space.
CLIENT_VERSION_RE = re.compile(r"(?<!\s)\s++\d++(?:\.\d++)*+$")


def label_key(text: str) -> str:
    """Reduce a label to the form the vocabularies use: lower case, separators collapsed."""
    key = LABEL_PUNCTUATION_RE.sub(" ", text.lower())
    key = "/".join(part.strip() for part in key.split("/"))
    return " ".join(key.split()).strip(" .")


def _lookup(vocabulary: dict, text: str):
    key = label_key(text)
    for meaning, labels in vocabulary.items():
        if key in labels:
            return meaning
    return None


def normalize_client(text: str | None) -> Client | None:
    """Return the app family a name belongs to, or None if it is not one we know."""
    if not text:
        return None
    for key in (label_key(text), label_key(CLIENT_VERSION_RE.sub("", text.strip()))):  # "Outlook 2016"
        found = _lookup(CLIENT_LABELS, key) or (Client(key) if key in {c.value for c in Client} else None)
        if found:
            return found
    return None


def normalize_protocol(text: str | None) -> Protocol | None:
    """Return the protocol a label names, or None if it is not one we know."""
    return _lookup(PROTOCOL_LABELS, text) if text else None


def normalize_auth(text: str | None) -> Auth | None:
    """Return the authentication method a label names, or None if it is not one we know."""
    return _lookup(AUTH_LABELS, text) if text else None


def normalize_security(text: str | bool | None, client: Client | None = None) -> SecurityLabel | None:
    """Read a security label in the vocabulary of ``client``; None if nothing was given.

    A ``True``/``False`` is Apple's "Use SSL" switch. An unknown label comes back with ``value=None``.
    """
    if text is None or text == "":
        return None
    if isinstance(text, bool):
        given = f"Use SSL: {'on' if text else 'off'}"
        return SecurityLabel(Security.ENCRYPTED if text else Security.NONE, given)
    given = text.strip()
    accepts_any = bool(CERTIFICATE_RE.search(given))
    key = label_key(CERTIFICATE_RE.sub(" ", given))
    if key == AMBIGUOUS_TLS:
        if client is Client.OUTLOOK:
            return SecurityLabel(
                Security.STARTTLS,
                given,
                "In Outlook and Autodiscover, 'TLS' means STARTTLS.",
                accepts_any_certificate=accepts_any,
            )
        return SecurityLabel(
            Security.ENCRYPTED,
            given,
            "'TLS' is ambiguous: Outlook means STARTTLS by it, most other apps mean SSL/TLS.",
            ambiguous=True,
            accepts_any_certificate=accepts_any,
        )
    return SecurityLabel(_lookup(SECURITY_LABELS, key), given, accepts_any_certificate=accepts_any)


def settings_security(text: str) -> Security:
    """Read a security value from the settings file, which must name SSL/TLS or STARTTLS."""
    label = normalize_security(text)
    if label is None or label.value not in (Security.SSL_TLS, Security.STARTTLS):
        raise ValueError(f"the settings file names security {text!r}; only SSL/TLS or STARTTLS can be published")
    return label.value


def server_for(settings: MailSettings, direction: str):
    """Return the settings' server for a direction: IMAP for incoming, SMTP for outgoing."""
    return settings.imap if direction == INCOMING else settings.smtp


def offered_ports(settings: MailSettings, direction: str) -> dict[int, Security]:
    """Return the ports the provider offers for a direction, the preferred one first, with their security."""
    server = server_for(settings, direction)
    offered = {server.port: settings_security(server.security)}
    if server.alt_port:
        offered[server.alt_port] = settings_security(server.alt_security or "")
    return offered


# IANA's assignments, as the standard library knows them; the submission port has no constant
# there and is known only if the settings offer it.
WELL_KNOWN_PORTS = (
    (imaplib.IMAP4_PORT, Protocol.IMAP, INCOMING, Security.STARTTLS),
    (imaplib.IMAP4_SSL_PORT, Protocol.IMAP, INCOMING, Security.SSL_TLS),
    (poplib.POP3_PORT, Protocol.POP3, INCOMING, Security.STARTTLS),
    (poplib.POP3_SSL_PORT, Protocol.POP3, INCOMING, Security.SSL_TLS),
    (smtplib.SMTP_PORT, Protocol.SMTP, OUTGOING, Security.STARTTLS),
    (smtplib.SMTP_SSL_PORT, Protocol.SMTP, OUTGOING, Security.SSL_TLS),
)
POP3_PORTS = frozenset({poplib.POP3_PORT, poplib.POP3_SSL_PORT})
RELAY_PORT = smtplib.SMTP_PORT


def port_facts(settings: MailSettings) -> dict[int, PortFact]:
    """Return what each known port is for: the well-known ports, then the provider's own."""
    facts = {
        port: PortFact(port, protocol, direction, security, offered=False)
        for port, protocol, direction, security in WELL_KNOWN_PORTS
    }
    for direction in DIRECTIONS:
        protocol = Protocol.IMAP if direction == INCOMING else Protocol.SMTP
        for port, security in offered_ports(settings, direction).items():
            facts[port] = PortFact(port, protocol, direction, security, offered=True)
    return facts


# What may stand between the words of a label in free text ("SSL / TLS", "STARTTLS (if available)").
LABEL_SEPARATORS = "_-:=(),"


def phrase_pattern(labels) -> str:
    """Return a regex alternation matching any of the labels in free text, longest first."""
    # Separators are possessive (``*+``): a run of them is taken whole or not at all, never
    # given back one character at a time. Every word starts with a letter or digit, which no
    # separator is, so nothing a greedy run could match is lost, and the match stays linear.
    parts = []
    for label in sorted(set(labels), key=len, reverse=True):
        words = [
            r"\s*+/\s*+".join(re.escape(piece) for piece in word.strip(LABEL_SEPARATORS).split("/"))
            for word in label.split(" ")
            if word.strip(LABEL_SEPARATORS)
        ]
        parts.append(r"[\s_\-:=(),]*+".join(words))
    return "|".join(parts)


def client_label(security: Security, client: Client | None) -> str:
    """Name a security setting the way an app's menu does."""
    if client is Client.APPLE:
        return "Use SSL: on" if security in (Security.SSL_TLS, Security.STARTTLS) else "Use SSL: off"
    if client is Client.OUTLOOK and security is Security.SSL_TLS:
        return "SSL/TLS"
    return security.value
