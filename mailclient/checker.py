"""The settings checker: compare what someone typed into a mail app with the settings file.

Input is one ``ServerInput`` per direction (incoming, outgoing), holding labels as the person's
app shows them. Each given field gets a ``FieldVerdict``: ok, warning or error, a reason, the
correct value from the settings, and the policy sentence and article section the rule comes
from. A configuration that matches in every field is "all good"; one with fields missing is
never called that. Reading JSON, forms and free text into a ``ClientConfig`` is ``mailclient.checkinput``'s job.

The checker never asks for a password and has nowhere to put one.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields

from rapidfuzz.distance import DamerauLevenshtein

from kb.articles import Library
from kb.settings import MailSettings, fill_placeholders
from mailclient.labels import (
    DIRECTIONS,
    INCOMING,
    NO_AUTH,
    OUTGOING,
    POP3_PORTS,
    RELAY_PORT,
    Auth,
    PortFact,
    Protocol,
    Security,
    SecurityLabel,
    normalize_auth,
    normalize_client,
    normalize_protocol,
    normalize_security,
    offered_ports,
    port_facts,
    server_for,
)

OK, WARNING, ERROR, INCOMPLETE = "ok", "warning", "error", "incomplete"
SEVERITY = {OK: 0, WARNING: 1, ERROR: 2}
FIELDS = ("protocol", "host", "port", "security", "authentication", "username", "certificate")
# Without these a direction cannot be called correct. Outgoing mail is always SMTP, so its
# protocol is not asked for; signing in is the classic outgoing mistake, so it is.
REQUIRED = {
    INCOMING: ("protocol", "host", "port", "security", "username"),
    OUTGOING: ("host", "port", "security", "authentication", "username"),
}
MAX_FIELD_CHARS = 200
POP3_HOST_LABELS = ("pop", "pop3", "pops", "pop3s")

PROTOCOLS_ARTICLE = "email-protocols"
SETTINGS_ARTICLE = "email-client-settings"
SETTINGS_SECTION = {INCOMING: "incoming-mail-imap", OUTGOING: "outgoing-mail-smtp"}
BLOCK = {INCOMING: "imap", OUTGOING: "smtp"}

# Where each rule comes from: article, section anchor, and the sentence it rests on (a template
# over the settings for rows of the settings tables). tests/kb/test_checker.py checks each one
# against the loaded articles, so an edited article cannot leave a dangling quotation.
POLICY = {
    "pop3": (
        PROTOCOLS_ARTICLE,
        "pop3-not-supported",
        "To ensure reliability and consistency, POP3 access is disabled.",
    ),
    "cleartext": (
        PROTOCOLS_ARTICLE,
        "required-security-settings",
        "Unencrypted or anonymous connections are not allowed.",
    ),
    "opportunistic": (PROTOCOLS_ARTICLE, "required-security-settings", "Encrypted connections (SSL/TLS)"),
    "insecure_port": (PROTOCOLS_ARTICLE, "common-configuration-mistakes", "Using insecure ports"),
    "smtp_auth": (PROTOCOLS_ARTICLE, "smtp-supported", "SMTP must always be configured with authentication enabled."),
    "partial_username": (PROTOCOLS_ARTICLE, "common-configuration-mistakes", "Using partial usernames"),
    "username_domain": (
        PROTOCOLS_ARTICLE,
        "required-security-settings",
        "Authentication using full email address and password",
    ),
    "username": (
        SETTINGS_ARTICLE,
        "username-and-password",
        "Sign in with your full email address (for example {login.example}) and your password, "
        "for both incoming and outgoing mail.",
    ),
    "wrong_protocol:incoming": (PROTOCOLS_ARTICLE, "protocol-usage-summary", "Receiving email: IMAP"),
    "wrong_protocol:outgoing": (PROTOCOLS_ARTICLE, "protocol-usage-summary", "Sending email: SMTP"),
    "protocol:incoming": (PROTOCOLS_ARTICLE, "imap-supported", "IMAP is the default and recommended protocol."),
    "protocol:outgoing": (PROTOCOLS_ARTICLE, "protocol-usage-summary", "Sending email: SMTP"),
    "alternative_port:outgoing": (SETTINGS_ARTICLE, "outgoing-mail-smtp", "Alternative port: {smtp.alternative}"),
}
# Rules quoted from a row of the direction's settings table.
TABLE_ROWS = {
    "host": "Server: {block.host}",
    "port": "Port: {block.port}",
    "port_not_offered": "Port: {block.port}",
    "alternative_port": "Port: {block.port}",
    "security": "Security: {block.security}",
    "mismatch": "Security: {block.security}",
    "ambiguous_security": "Security: {block.security}",
    "authentication": "Authentication: {login.authentication}",
    "auth_method": "Authentication: {login.authentication}",
}
# Rules that rest on the same sentence as another.
ALIASES = {
    "anonymous": "cleartext",
    "certificate": "opportunistic",
    "relay_port": "insecure_port",
    "username_differs": "username",
    "pop3_host": "pop3",
}


class CheckInputError(ValueError):
    """Input the checker cannot use; the message says what to change."""


@dataclass(frozen=True)
class ServerInput:
    """One direction's settings as an app shows them; every field may be left out."""

    protocol: str | None = None
    host: str | None = None
    port: int | None = None
    security: str | bool | None = None  # a label, or Apple's "Use SSL" switch as a bool
    authentication: bool | None = None  # the on/off switch
    auth_method: str | None = None
    username: str | None = None
    accept_any_certificate: bool | None = None  # "accept all certificates", "allow insecure"

    def is_empty(self) -> bool:
        """Say whether nothing at all was given for this direction."""
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass(frozen=True)
class ClientConfig:
    """A mail app's settings: incoming and outgoing server, and which app (for its vocabulary)."""

    incoming: ServerInput = field(default_factory=ServerInput)
    outgoing: ServerInput = field(default_factory=ServerInput)
    client: str | None = None

    def server(self, direction: str) -> ServerInput:
        """Return one direction's settings."""
        return self.incoming if direction == INCOMING else self.outgoing

    def as_dict(self) -> dict:
        """Return the input as plain data, leaving out what was not given."""
        out: dict = {"client": self.client} if self.client else {}
        for direction in DIRECTIONS:
            given = {k: v for k, v in asdict(self.server(direction)).items() if v is not None}
            if given:
                out[direction] = given
        return out


@dataclass(frozen=True)
class Citation:
    """The policy sentence a verdict rests on and the article section it is in."""

    article: str
    section: str
    url: str
    sentence: str


@dataclass(frozen=True)
class FieldVerdict:
    """The verdict on one field of one direction."""

    direction: str
    field: str
    given: str
    verdict: str
    rule: str
    reason: str
    correct: str
    source: Citation


@dataclass(frozen=True)
class CheckResult:
    """Every field's verdict, the overall one, and what could not be checked."""

    verdict: str
    summary: str
    fields: tuple[FieldVerdict, ...]
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    not_understood: tuple[str, ...] = ()
    password_removed: bool = False
    input: ClientConfig = field(default_factory=ClientConfig)
    description: str | None = None  # free text as read, any password taken out

    @property
    def all_good(self) -> bool:
        """Say whether every field was given and is correct."""
        return self.verdict == OK

    def field(self, direction: str, name: str) -> FieldVerdict | None:
        """Return the verdict on one field, if it was checked."""
        return next((f for f in self.fields if f.direction == direction and f.field == name), None)

    def directions(self) -> dict[str, tuple[FieldVerdict, ...]]:
        """Group the verdicts by direction, in field order."""
        return {d: tuple(f for f in self.fields if f.direction == d) for d in DIRECTIONS}

    def as_dict(self) -> dict:
        """Return the result as plain data for JSON."""
        out = {
            "verdict": self.verdict,
            "all_good": self.all_good,
            "summary": self.summary,
            "fields": [asdict(f) for f in self.fields],
            "missing": list(self.missing),
            "notes": list(self.notes),
            "not_understood": list(self.not_understood),
            "password_removed": self.password_removed,
            "input": self.input.as_dict(),
        }
        if self.description is not None:
            out["description"] = self.description
        return out


def normalize_host(text: str) -> tuple[str, int | None]:
    """Return a host name as typed, cleaned (scheme, path, port and trailing dot removed), and any port in it."""
    host = text.strip().lower()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host).split("/")[0]
    port = None
    match = re.fullmatch(r"(.+):(\d{1,5})", host)
    if match:
        host, port = match.group(1), int(match.group(2))
    return host.rstrip("."), port


def citation_problems(library: Library, settings: MailSettings) -> list[str]:
    """Return every rule whose quoted sentence is not in the section it cites (empty when all resolve)."""
    problems = []
    keys = [(rule, d) for rule in [*POLICY, *TABLE_ROWS, *ALIASES] for d in DIRECTIONS]
    for rule, direction in keys:
        slug, anchor, sentence = _source(rule, direction, settings)
        article = library.articles.get(slug)
        section = article.section(anchor) if article else None
        if section is None:
            problems.append(f"{rule}: no section {slug}#{anchor}")
        elif sentence not in section.text:
            problems.append(f"{rule}: {slug}#{anchor} does not say {sentence!r}")
    return problems


def _source(rule: str, direction: str, settings: MailSettings) -> tuple[str, str, str]:
    rule = ALIASES.get(rule, rule)
    for key in (f"{rule}:{direction}", rule):
        if key in POLICY:
            slug, anchor, template = POLICY[key]
            return slug, anchor, fill_placeholders(template, settings)
    template = TABLE_ROWS.get(rule, TABLE_ROWS["port"]).replace("{block.", "{" + BLOCK[direction] + ".")
    return SETTINGS_ARTICLE, SETTINGS_SECTION[direction], fill_placeholders(template, settings)


def cite(
    rule: str, direction: str, settings: MailSettings, library: Library, article_url: str = "/articles/"
) -> Citation:
    """Return the policy sentence and section a rule rests on, with the section's link."""
    slug, anchor, sentence = _source(rule, direction, settings)
    article = library.articles.get(slug)
    section = article.section(anchor) if article else None
    return Citation(
        article=article.title if article else slug,
        section=section.title if section else anchor,
        url=f"{article_url}{slug}#{anchor}",
        sentence=sentence,
    )


class _Check:
    """One run of the checker: the settings, what was found so far, and how to cite it."""

    def __init__(self, config: ClientConfig, settings: MailSettings, library: Library, article_url: str):
        self.config = config
        self.settings = settings
        self.library = library
        self.article_url = article_url
        self.client = normalize_client(config.client)
        self.facts: dict[int, PortFact] = port_facts(settings)
        self.provider = settings.provider
        self.verdicts: list[FieldVerdict] = []
        self.missing: list[str] = []
        self.notes: list[str] = []
        self.not_understood: list[str] = []

    # --- helpers ---------------------------------------------------------------

    def cite(self, rule: str, direction: str) -> Citation:
        return cite(rule, direction, self.settings, self.library, self.article_url)

    def add(self, direction: str, name: str, given: object, verdict: str, rule: str, reason: str, correct: str):
        self.verdicts.append(
            FieldVerdict(direction, name, str(given), verdict, rule, reason, correct, self.cite(rule, direction))
        )

    def correct_port(self, direction: str) -> str:
        server = server_for(self.settings, direction)
        text = f"{server.port} ({server.security})"
        if server.alt_port:
            text += f"; or {server.alt_port} ({server.alt_security}) if your network blocks {server.port}"
        return text

    def correct_security(self, direction: str) -> str:
        server = server_for(self.settings, direction)
        text = f"{server.security} (with port {server.port})"
        if server.alt_port:
            text += f"; {server.alt_security} only with port {server.alt_port}"
        return text

    def canonical_auth(self) -> Auth | None:
        return normalize_auth(self.settings.login.authentication)

    def direction_word(self, direction: str) -> str:
        return "receiving" if direction == INCOMING else "sending"

    # --- fields ----------------------------------------------------------------

    def protocol(self, direction: str, given: str) -> None:
        protocol = normalize_protocol(given)
        server = server_for(self.settings, direction)
        correct = server.protocol
        if protocol is None:
            self.not_understood.append(f"{direction} protocol {given!r}")
        elif direction == INCOMING and protocol is Protocol.POP3:
            self.add(
                direction,
                "protocol",
                given,
                ERROR,
                "pop3",
                f"POP3 is not supported at {self.provider} and is not enabled on request. Choose IMAP: it keeps "
                "your mail on the server and in step on all your devices.",
                correct,
            )
        elif direction == INCOMING and protocol is Protocol.IMAP or direction == OUTGOING and protocol is Protocol.SMTP:
            self.add(
                direction,
                "protocol",
                given,
                OK,
                "protocol",
                f"{protocol} is right for {self.direction_word(direction)} mail.",
                correct,
            )
        elif protocol is Protocol.OTHER:
            self.add(
                direction,
                "protocol",
                given,
                ERROR,
                "wrong_protocol",
                f"{self.provider} offers only IMAP for receiving and SMTP for sending mail.",
                correct,
            )
        else:
            self.add(
                direction,
                "protocol",
                given,
                ERROR,
                "wrong_protocol",
                f"{protocol} is not used for {self.direction_word(direction)} mail.",
                correct,
            )

    def host(self, direction: str, host: str) -> None:
        server = server_for(self.settings, direction)
        other = server_for(self.settings, OUTGOING if direction == INCOMING else INCOMING)
        first_label = host.split(".", 1)[0]
        distance = DamerauLevenshtein.distance(host, server.host)
        if host == server.host:
            self.add(direction, "host", host, OK, "host", f"This is {self.provider}'s {direction} server.", server.host)
        elif host == other.host:
            self.add(
                direction,
                "host",
                host,
                ERROR,
                "host",
                f"This is the {'outgoing' if direction == INCOMING else 'incoming'} server; "
                f"the {direction} server is a different one.",
                server.host,
            )
        elif first_label in POP3_HOST_LABELS:
            self.add(
                direction,
                "host",
                host,
                ERROR,
                "pop3_host",
                f"This is a POP3 server name. {self.provider} has no POP3 service; apps often guess such names "
                "when no settings are given.",
                server.host,
            )
        elif distance <= 2 or host.endswith("." + self.settings.domain) or host == self.settings.domain:
            why = "looks like a typo of" if distance <= 2 else "is a guessed name, not"
            self.add(
                direction,
                "host",
                host,
                ERROR,
                "host",
                f"{host} {why} {self.provider}'s {direction} server.",
                server.host,
            )
        else:
            self.add(
                direction,
                "host",
                host,
                ERROR,
                "host",
                f"This is not {self.provider}'s {direction} server.",
                server.host,
            )

    def port(self, direction: str, port: int) -> None:
        server = server_for(self.settings, direction)
        offered = offered_ports(self.settings, direction)
        fact = self.facts.get(port)
        correct = self.correct_port(direction)
        if direction == INCOMING and port in POP3_PORTS:
            self.add(
                direction,
                "port",
                port,
                ERROR,
                "pop3",
                f"Port {port} is a POP3 port. POP3 is not supported at {self.provider}: "
                f"use IMAP on port {server.port}.",
                correct,
            )
        elif port == server.port:
            self.add(direction, "port", port, OK, "port", f"This is {self.provider}'s {direction} port.", correct)
        elif port in offered:
            self.add(
                direction,
                "port",
                port,
                WARNING,
                "alternative_port",
                f"Works: {port} is the alternative port, with {offered[port]}. Prefer {server.port} with "
                f"{server.security}, which is encrypted from the first byte (RFC 8314); keep {port} only if your "
                f"network blocks {server.port}.",
                correct,
            )
        elif direction == OUTGOING and port == RELAY_PORT:
            self.add(
                direction,
                "port",
                port,
                ERROR,
                "relay_port",
                f"Port {port} is for mail servers relaying to each other, not for apps sending mail: many networks "
                f"block it, and {self.provider} does not accept your mail there.",
                correct,
            )
        elif fact and fact.direction != direction:
            self.add(
                direction,
                "port",
                port,
                ERROR,
                "port_not_offered",
                f"Port {port} is a port for {self.direction_word(fact.direction)} mail, "
                f"not for {self.direction_word(direction)}.",
                correct,
            )
        elif fact and fact.security is Security.STARTTLS:
            self.add(
                direction,
                "port",
                port,
                ERROR,
                "insecure_port",
                f"Port {port} starts unencrypted and {self.provider} does not offer it: "
                f"use {server.port} with {server.security}.",
                correct,
            )
        else:
            self.add(
                direction,
                "port",
                port,
                ERROR,
                "port_not_offered",
                f"{self.provider} does not offer port {port} for {direction} mail.",
                correct,
            )

    def security(self, direction: str, label: SecurityLabel, port: int | None) -> None:
        if label.value is None:
            self.not_understood.append(f"{direction} security {label.given!r}")
            return
        if label.note:
            self.notes.append(f"{direction.capitalize()} security: {label.note}")
        server = server_for(self.settings, direction)
        offered = offered_ports(self.settings, direction)
        fact = self.facts.get(port) if port else None
        correct = self.correct_security(direction)
        given, kind = label.given, label.value

        def add(verdict, rule, reason):
            self.add(direction, "security", given, verdict, rule, reason, correct)

        if kind is Security.NONE:
            return add(
                ERROR,
                "cleartext",
                "No encryption: your password and your mail would cross the network readable "
                "by anyone on the way (RFC 8314 retires cleartext).",
            )
        if kind is Security.AUTO:
            return add(
                ERROR,
                "opportunistic",
                f"'{given}' silently falls back to no encryption when the upgrade fails or "
                "an attacker strips it. Pick an option that requires encryption.",
            )
        if kind is Security.ENCRYPTED:
            if fact is None:
                return add(
                    WARNING,
                    "ambiguous_security",
                    f"With '{given}' the app picks SSL/TLS or STARTTLS from the port. "
                    f"Set port {server.port} so it uses {server.security}.",
                )
            kind = fact.security
        if fact and kind is not fact.security:
            if kind is Security.SSL_TLS:
                why = f"port {port} starts unencrypted and upgrades with STARTTLS, so an {kind} handshake fails"
            else:
                why = f"port {port} expects TLS from the first byte, so the app's plain-text STARTTLS greeting hangs"
            return add(ERROR, "mismatch", f"Wrong combination: {why}.")
        if port is None:
            matching = [p for p, s in offered.items() if s is kind]
            if not matching:
                return add(
                    ERROR, "security", f"{self.provider}'s {direction} server uses {server.security}, not {kind}."
                )
            if matching[0] != server.port:
                return add(
                    WARNING,
                    "alternative_port",
                    f"{kind} works only with port {matching[0]}; prefer {server.security} on port {server.port}.",
                )
        else:
            expected = offered.get(port, offered[server.port])
            if kind is not expected:
                return add(
                    ERROR,
                    "security",
                    f"{self.provider}'s {direction} server uses {expected} on port "
                    f"{port if port in offered else server.port}, not {kind}.",
                )
        if label.ambiguous:
            return add(WARNING, "ambiguous_security", f"{label.note} Choose the option named SSL/TLS to be sure.")
        if port is None:
            return add(OK, "security", f"{kind} is right, with port {server.port}.")
        if port not in offered:
            return add(OK, "security", f"{kind} is right; the port is what needs changing.")
        return add(OK, "security", f"{kind} is right for port {port}.")

    def authentication(self, direction: str, server_input: ServerInput) -> None:
        raw = server_input.auth_method
        method = normalize_auth(raw) if raw else None
        if raw and method is None:
            self.not_understood.append(f"{direction} authentication {raw!r}")
            raw = None  # the on/off switch, if given, can still be checked
        enabled = server_input.authentication
        if enabled is None and method is None:
            return
        canonical = self.canonical_auth()
        correct = self.settings.login.authentication + (", required" if direction == OUTGOING else "")
        given = raw or ("on" if enabled else "off")
        if method is Auth.SAME_AS_INCOMING:
            if direction == INCOMING:
                self.not_understood.append(f"incoming authentication {raw!r}")
                return
            incoming = self.config.incoming.auth_method
            method = normalize_auth(incoming) if incoming else None
            if self.config.incoming.authentication is False:
                enabled = False
            self.notes.append("Outgoing authentication is 'same as incoming': checked with the incoming method.")
        if enabled is False or method in NO_AUTH:
            if direction == INCOMING:
                reason = (
                    f"{self.provider} does not allow anonymous access: "
                    "sign in with your full email address and password."
                )
                return self.add(direction, "authentication", given, ERROR, "anonymous", reason, correct)
            if method is Auth.SMTP_AFTER_POP:
                reason = (
                    f"SMTP after POP needs POP3, which {self.provider} does not offer, and it is obsolete: "
                    "switch SMTP authentication on."
                )
            elif method is Auth.CLIENT_IP:
                reason = "Sending by IP address is obsolete and not offered: switch SMTP authentication on."
            else:
                reason = (
                    "Without authentication the server refuses to send your mail ('relay access denied'). "
                    "Switch 'My outgoing server requires authentication' on."
                )
            return self.add(direction, "authentication", given, ERROR, "smtp_auth", reason, correct)
        if method in (None, Auth.ON):
            return self.add(
                direction,
                "authentication",
                given,
                OK,
                "authentication",
                f"Authentication is on. If your app asks for a method, choose '{canonical}'.",
                correct,
            )
        if method is not canonical:
            return self.add(
                direction,
                "authentication",
                given,
                ERROR,
                "auth_method",
                f"{self.provider} accepts '{canonical}' only, so '{method}' makes sign-in fail. TLS already "
                "encrypts the password, so 'Normal password' is safe here.",
                correct,
            )
        return self.add(direction, "authentication", given, OK, "authentication", f"'{method}' is right.", correct)

    def username(self, direction: str, username: str) -> None:
        login = self.settings.login
        correct = f"{login.username} (for example {login.example})"
        value = username.strip()
        local, at, domain = value.rpartition("@") if "@" in value else (value, "", "")
        if "%EMAILLOCALPART%" in value.upper():
            self.add(
                direction,
                "username",
                value,
                ERROR,
                "partial_username",
                "%EMAILLOCALPART% is only the part before the @. Some providers' files use it, but "
                f"{self.provider} needs the full address (%EMAILADDRESS%).",
                correct,
            )
        elif value.upper() == "%EMAILADDRESS%":
            self.add(direction, "username", value, OK, "username", "The full email address: right.", correct)
        elif not at or not local:
            suggestion = (
                f" ({value}@{self.settings.domain} if that is your address)"
                if re.fullmatch(r"[\w.+'-]+", value)
                else ""
            )
            self.add(
                direction,
                "username",
                value,
                ERROR,
                "partial_username",
                f"This is not a full email address{suggestion}. A partial username makes sign-in fail.",
                correct,
            )
        elif domain.lower() != self.settings.domain:
            self.add(
                direction,
                "username",
                value,
                ERROR,
                "username_domain",
                f"This is not a {self.settings.domain} address: sign in with your {self.provider} address.",
                correct,
            )
        else:
            self.add(direction, "username", value, OK, "username", "Your full email address: right.", correct)

    def certificate(self, direction: str, accepts_any: bool) -> None:
        if accepts_any:
            self.add(
                direction,
                "certificate",
                "accept any certificate: on",
                ERROR,
                "certificate",
                "Accepting any certificate lets anyone in the middle read your password and mail, encryption or "
                "not (RFC 8314 §5.3). Switch it off; the server's certificate is valid.",
                "off",
            )
        else:
            self.add(
                direction,
                "certificate",
                "accept any certificate: off",
                OK,
                "certificate",
                "The app checks the server's certificate: right.",
                "off",
            )

    # --- directions ------------------------------------------------------------

    def direction(self, direction: str) -> None:
        given = self.config.server(direction)
        if given.is_empty():
            return
        host, host_port = normalize_host(given.host) if given.host else (None, None)
        port = given.port
        if host_port is not None and port is not None and host_port != port:
            self.not_understood.append(f"{direction} port: {port} and {host_port} (in the host name) disagree")
            port = None
        elif port is None:
            port = host_port
        label = normalize_security(given.security, self.client)
        if given.protocol:
            self.protocol(direction, given.protocol)
        if host:
            self.host(direction, host)
        if port is not None:
            self.port(direction, port)
        if label is not None:
            self.security(direction, label, port)
        self.authentication(direction, given)
        if given.username:
            self.username(direction, given.username)
        accepts_any = given.accept_any_certificate
        if label is not None and label.accepts_any_certificate:
            accepts_any = True
        if accepts_any is not None:
            self.certificate(direction, accepts_any)
        checked = {v.field for v in self.verdicts if v.direction == direction}
        self.missing += [f"{direction} {name}" for name in REQUIRED[direction] if name not in checked]

    def usernames_agree(self) -> None:
        names = {d: self.config.server(d).username for d in DIRECTIONS}
        if not all(names.values()) or names[INCOMING].strip().lower() == names[OUTGOING].strip().lower():
            return
        outgoing = next(v for v in self.verdicts if v.direction == OUTGOING and v.field == "username")
        if outgoing.verdict != OK:
            return
        self.verdicts.remove(outgoing)
        self.add(
            OUTGOING,
            "username",
            outgoing.given,
            WARNING,
            "username_differs",
            "The outgoing username differs from the incoming one. Both must be the same full email address.",
            outgoing.correct,
        )

    def result(self, **extra) -> CheckResult:
        for direction in DIRECTIONS:
            self.direction(direction)
        self.usernames_agree()
        order = {(d, f): i for i, (d, f) in enumerate((d, f) for d in DIRECTIONS for f in FIELDS)}
        verdicts = tuple(sorted(self.verdicts, key=lambda v: order[(v.direction, v.field)]))
        worst = max((SEVERITY[v.verdict] for v in verdicts), default=None)
        errors = sum(v.verdict == ERROR for v in verdicts)
        warnings = sum(v.verdict == WARNING for v in verdicts)
        if not verdicts:
            verdict, summary = INCOMPLETE, "Nothing to check: no settings were recognised."
        elif worst == SEVERITY[ERROR]:
            verdict = ERROR
            summary = (
                f"{errors} setting{'s' if errors > 1 else ''} will stop your email from working. "
                "Change each one marked 'error' to the correct value shown beside it."
            )
        elif worst == SEVERITY[WARNING]:
            verdict = WARNING
            summary = f"Your settings work, with {warnings} warning{'s' if warnings > 1 else ''}: see below."
        elif self.missing:
            verdict = INCOMPLETE
            summary = "No problems in what you gave, but some settings were not given, so we cannot say it is all good."
        else:
            verdict, summary = OK, f"All good: every setting matches {self.provider}'s."
        return CheckResult(
            verdict=verdict,
            summary=summary,
            fields=verdicts,
            missing=tuple(self.missing),
            notes=tuple(dict.fromkeys(self.notes)),
            not_understood=tuple(dict.fromkeys(self.not_understood)),
            input=self.config,
            **extra,
        )


def check(
    config: ClientConfig,
    settings: MailSettings,
    library: Library,
    article_url: str = "/articles/",
    *,
    notes: tuple[str, ...] = (),
    not_understood: tuple[str, ...] = (),
    password_removed: bool = False,
    description: str | None = None,
) -> CheckResult:
    """Check a mail app's settings against the settings file, field by field."""
    run = _Check(config, settings, library, article_url)
    run.notes += notes
    run.not_understood += not_understood
    if config.client and run.client is None:
        run.not_understood.append(f"app {config.client!r}")
    return run.result(password_removed=password_removed, description=description)
