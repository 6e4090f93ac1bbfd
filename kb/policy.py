"""Recognise a question about a set-up the policy rules out, and say no to it first.

The canned answers state each rule (encryption is required, SMTP needs authentication, ...)
so they read right whichever way a question leans. A question that names something the
policy forbids gets more: its answer opens with a sentence that says so and gives the
setting to use instead, read from the settings file. The forbidden set-ups are:

- POP3 in any form (and the POP3 ports the settings file lists under ``other_ports``);
- a port the service does not use (``other_ports``), or one of its own ports without encryption;
- switching encryption off ("security: none", "without SSL", "unencrypted");
- switching SMTP authentication off (sending without signing in, an open relay);
- signing in with the part of the address before the @.

Only fixed word lists and bounded windows are used, so reading a question is linear in
its length. Nothing here decides an intent for the classifier: the answer names the
intent whose canned response explains the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.settings import MailSettings
from kb.words import words

# Topics, and the canned response that explains each rule.
POP3 = "pop3"
OTHER_PORT = "other_port"
PLAIN_PORT = "plain_port"
SECURITY_NONE = "security_none"
SMTP_AUTH_OFF = "smtp_auth_off"
SHORT_USERNAME = "short_username"
POP3_INTENTS = frozenset({"pop3_enable", "pop3_why"})
RULE_INTENT = {
    POP3: "pop3_enable",
    SECURITY_NONE: "encryption",
    SMTP_AUTH_OFF: "smtp_auth",
    SHORT_USERNAME: "username",
}
# Intents whose answer already deals with each topic, so a question routed there keeps it.
RELATED = {
    POP3: POP3_INTENTS,
    OTHER_PORT: frozenset({"imap_settings", "smtp_settings", "server_settings", "encryption"}),
    PLAIN_PORT: frozenset({"encryption"}),
    SECURITY_NONE: frozenset({"encryption"}),
    SMTP_AUTH_OFF: frozenset({"smtp_auth"}),
    SHORT_USERNAME: frozenset({"username"}),
}

ENCRYPTION_WORDS = frozenset("ssl tls ssl/tls starttls encryption encrypted encrypt secure security secured".split())
# Words that on their own say a connection is not encrypted.
PLAIN_WORDS = frozenset("unencrypted unsecure unsecured insecure cleartext plaintext non-encrypted".split())
# Words that switch off or leave out what follows them within a few words ("without SSL",
# "disable TLS", "no encryption", "untick ...authentication").
OFF_BEFORE = frozenset(
    "without no off disable disabled disabling deactivate untick unticked uncheck unchecked skip skipping bypass "
    "instead drop avoid remove lose ignore".split()
)
# Ticking a box off, which may be several words before the setting the box names.
BOX_WORDS = frozenset("untick unticked uncheck unchecked untoggle".split())
BOX_WINDOW = 6
# Words that switch off what comes just before them ("SSL off", "security: none").
OFF_AFTER = frozenset("off none disabled unchecked unticked".split())
# "my phone doesn't support TLS": a device that cannot do the thing, so would go without it.
CANNOT = frozenset("don't doesn't can't cannot won't isn't".split())
CANNOT_VERBS = frozenset("do support have handle use offer".split())
AUTH_WORDS = frozenset(
    "authentication auth authenticate authenticated authorization password passwords login logon log logging "
    "sign signing signin sign-in credentials".split()
)
SENDING_WORDS = frozenset(
    "smtp outgoing sending send sends relay server scanner printer copier device website form app client "
    "thunderbird outlook".split()
)
PORT_CONTEXT = ENCRYPTION_WORDS | PLAIN_WORDS | frozenset(
    "port ports pop3 imap smtp incoming outgoing inbound outbound receiving sending send receive connect "
    "connection connections listen listens block blocks blocked open plain submission use".split()
)
# Units after a number that make it a size, count or time rather than a port ("25 MB").
UNITS = frozenset(
    "mb gb kb tb mib gib kib bytes % percent minutes minute mins min hours hour seconds days day weeks months "
    "years emails messages mails times users accounts people dollars euros".split()
)
PORT_WINDOW = 4
OFF_WINDOW = 3
# The part of a sentence that asks: a clause starting with one of these asks yes or no.
YES_NO_STARTS = frozenset(
    "can could may might is are am was does do did will would should shall has have isn't aren't doesn't "
    "don't can't won't".split()
)
WH_WORDS = frozenset("how why what what's which where when who whom whose".split())
PERMISSION_WORDS = frozenset(
    "allowed allow permitted permit possible ok okay acceptable fine accepted accept supported whether "
    "exception enable enabled activate activated".split()
)
REQUEST_STARTS = (("please",), ("i'd", "like"), ("i", "would", "like"), ("i", "want"), ("we", "want"),
                  ("i", "need"), ("we", "need"), ("we'd", "like"), ("we", "would", "like"))
# Words a clause may open with before it asks ("hi, can I ...", "so is it ...").
OPENERS = frozenset("hi hello hey dear ok okay so and but also then well yes no thanks please".split())
CLAUSE_RE = re.compile(r"[^.?!;,\n]+")
# "the part before the @", "without the @proredline.com", "instead of jane.doe@example.com".
SHORT_NAME_RE = re.compile(
    r"\b(?:before|without|minus|leave out|leaving out|omit|drop|not)\s+(?:the\s+|my\s+)?@"
    r"|\b(?:instead of|rather than|not)\s+(?:the\s+|my\s+)?(?:full|whole|complete|entire)\s+(?:e-?mail\s+)?address"
    r"|\b(?:instead of|rather than)\s+[\w.+-]{1,64}@"
    r"|\b(?:without|minus|no)\s+(?:the\s+|my\s+)?domain\b"
    r"|\b(?:first|local)\s+part\b"
    r"|\bshort(?:er)?\s+user\s?-?name\b|\bpartial\s+user\s?-?name\b"
    r"|\b(?:only|just)\s+(?:my\s+|the\s+)?(?:name|user\s?-?name|first\s+name)\b"
    r"|\b(?:my\s+)?name\s+only\b"
    r"|\bwithout\s+(?:the\s+)?@"
)
USERNAME_CONTEXT_RE = re.compile(r"\b(?:user\s?-?name|login|log\s?in|logon|sign\s?-?in|account name|@)")


@dataclass(frozen=True)
class Violation:
    """A set-up the policy rules out, as a question names it."""

    topic: str
    port: int | None = None
    protocol: str = ""  # the protocol a port belongs to (POP3, IMAP, SMTP)

    @property
    def intent(self) -> str:
        """Return the intent whose canned answer explains the rule."""
        if self.topic in RULE_INTENT:
            return RULE_INTENT[self.topic]
        if self.protocol == "POP3":
            return "pop3_enable"
        if self.topic == PLAIN_PORT:
            return "encryption"
        return "imap_settings" if self.protocol == "IMAP" else "smtp_settings"

    @property
    def related(self) -> frozenset[str]:
        """Return the intents whose answers already deal with this set-up."""
        if self.protocol == "POP3":
            return POP3_INTENTS
        return RELATED[self.topic] | {self.intent}


@dataclass(frozen=True)
class Reading:
    """What the policy check saw in a question."""

    violations: tuple[Violation, ...]
    mentions_pop3: bool
    asks_permission: bool


def _near(tokens: list[str], index: int, vocabulary: frozenset[str], before: int, after: int) -> bool:
    return any(t in vocabulary for t in tokens[max(0, index - before) : index + after + 1])


def find_ports(tokens: list[str], known: dict[int, str]) -> list[tuple[int, int]]:
    """Return (position, port) for each number that is a known mail port used as a port."""
    found = []
    for i, token in enumerate(tokens):
        number = token.strip("/:()")
        if not (number.isascii() and number.isdigit() and len(number) <= 5) or int(number) not in known:
            continue
        if i + 1 < len(tokens) and tokens[i + 1] in UNITS:
            continue
        if _near(tokens, i, PORT_CONTEXT, PORT_WINDOW, PORT_WINDOW):
            found.append((i, int(number)))
    return found


def _switched_off(tokens: list[str], targets: frozenset[str]) -> bool:
    """Tell whether any target word is switched off or left out ("without SSL", "auth off")."""
    for i, token in enumerate(tokens):
        if token not in targets:
            continue
        window = tokens[max(0, i - OFF_WINDOW) : i]
        if any(w in OFF_BEFORE for w in window):
            return True
        # "untick 'my outgoing server requires authentication'": a box names the setting at length.
        if any(w in BOX_WORDS for w in tokens[max(0, i - BOX_WINDOW) : i]):
            return True
        if any(w in OFF_AFTER for w in tokens[i + 1 : i + 4]):
            return True
        # "doesn't support TLS", "can't do SSL"
        if i >= 2 and tokens[i - 1] in CANNOT_VERBS and tokens[i - 2] in CANNOT:
            return True
        if i >= 1 and tokens[i - 1] == "plain":  # "plain imap", "plain smtp"
            return True
    return False


def unencrypted(tokens: list[str]) -> bool:
    """Tell whether the question asks to connect without encryption."""
    if any(t in PLAIN_WORDS for t in tokens):
        return True
    for i, token in enumerate(tokens[:-1]):
        # "plain text", "clear text", "in plain", "connect plain"
        if token in ("plain", "clear") and tokens[i + 1] in ("text", "connection", "connections", "login", "password"):
            return True
        if token == "plain" and i and tokens[i - 1] in ("in", "connect", "just"):
            return True
    return _switched_off(tokens, ENCRYPTION_WORDS)


def authentication_off(tokens: list[str], text: str) -> bool:
    """Tell whether the question asks to send without signing in."""
    if "open relay" in text or "anonymous" in tokens or "anonymously" in tokens:
        return True
    if not any(t in SENDING_WORDS for t in tokens):
        return False
    if "whitelist" in tokens or "allowlist" in tokens:
        return True
    return _switched_off(tokens, AUTH_WORDS)


def short_username(text: str) -> bool:
    """Tell whether the question asks to sign in with less than the full address."""
    return bool(SHORT_NAME_RE.search(text)) and bool(USERNAME_CONTEXT_RE.search(text))


def asks_permission(text: str) -> bool:
    """Tell whether any clause asks yes or no, asks for permission, or requests something.

    A clause opening with a question word ("how can I ...", "why is ...") asks something else.
    """
    for clause in CLAUSE_RE.findall(text):
        tokens = words(clause)
        while tokens and tokens[0] in OPENERS:
            tokens = tokens[1:]
        if not tokens or tokens[0] in WH_WORDS:
            continue
        if tokens[0] in YES_NO_STARTS or any(t in PERMISSION_WORDS for t in tokens):
            return True
        if any(tuple(tokens[: len(start)]) == start for start in REQUEST_STARTS):
            return True
    return False


def known_ports(settings: MailSettings) -> dict[int, str]:
    """Return every port the bot recognises: the service's own and ``other_ports``, with their protocols."""
    ports = {port: protocol for port, protocol in settings.other_ports.items()}
    for server in (settings.imap, settings.smtp):
        for port in (server.port, server.alt_port):
            if port:
                ports[port] = server.protocol
    return ports


def read_question(question: str, settings: MailSettings, respell=lambda text: text) -> Reading:
    """Find the forbidden set-ups a question names, most specific first.

    ``respell`` is the lexicon's spelling rewriter ("pop 3" -> "pop3", "start tls" -> "starttls").
    """
    text = " ".join(respell(question.lower()).split())
    tokens = words(text)
    ports = find_ports(tokens, known_ports(settings))
    own = {p for s in (settings.imap, settings.smtp) for p in (s.port, s.alt_port) if p}
    violations: list[Violation] = []
    is_plain = unencrypted(tokens)
    for _, port in ports:
        protocol = known_ports(settings)[port]
        if port not in own:
            violations.append(Violation(OTHER_PORT, port, protocol))
        elif is_plain:
            violations.append(Violation(PLAIN_PORT, port, protocol))
    mentions_pop3 = "pop3" in tokens or any(settings.other_ports.get(p) == "POP3" for _, p in ports)
    if mentions_pop3 and not any(v.protocol == "POP3" for v in violations):
        violations.append(Violation(POP3, protocol="POP3"))
    if is_plain and not any(v.topic == PLAIN_PORT for v in violations):
        violations.append(Violation(SECURITY_NONE))
    if authentication_off(tokens, text):
        violations.append(Violation(SMTP_AUTH_OFF))
    if short_username(text):
        violations.append(Violation(SHORT_USERNAME))
    # One finding per port or topic, in the order found.
    unique = tuple(dict.fromkeys(violations))
    return Reading(unique, mentions_pop3, asks_permission(text))


def rule_sentence(violation: Violation, settings: MailSettings, *, answer_no: bool) -> str:
    """Say in one sentence that the set-up is not allowed and what to use instead (Markdown)."""
    imap, smtp, login = settings.imap, settings.smtp, settings.login
    use_imap = f"use IMAP on `{imap.host}`, port {imap.port} with {imap.security}"
    alt = f", or port {smtp.alt_port} with {smtp.alt_security}" if smtp.alt_port else ""
    use_smtp = f"send with SMTP on `{smtp.host}`, port {smtp.port} with {smtp.security}{alt}"
    pop3 = f"POP3 is not supported at {settings.provider} and is not enabled on request"
    port = violation.port
    if violation.topic == OTHER_PORT and violation.protocol == "POP3":
        sentence = f"port {port} is a POP3 port, and {pop3}; {use_imap}"
    elif violation.topic == POP3:
        sentence = f"{pop3}; {use_imap}"
    elif violation.topic == OTHER_PORT:
        use = use_imap if violation.protocol == "IMAP" else use_smtp
        sentence = f"port {port} is not one of {settings.provider}'s ports; {use}"
    elif violation.topic == PLAIN_PORT:
        server = imap if violation.protocol == "IMAP" else smtp
        security = server.alt_security if port == server.alt_port else server.security
        use = use_imap if violation.protocol == "IMAP" else use_smtp
        sentence = f"port {port} works only with {security}, because unencrypted connections are not allowed; {use}"
    elif violation.topic == SECURITY_NONE:
        sentence = (
            f"encryption cannot be switched off, because unencrypted connections are not allowed; use {imap.security} "
            f"for incoming mail (IMAP, port {imap.port}) and for outgoing mail (SMTP, port {smtp.port}{alt})"
        )
    elif violation.topic == SMTP_AUTH_OFF:
        sentence = (
            "SMTP authentication cannot be switched off, and anonymous sending is not allowed; every device "
            f"that sends mail signs in with {login.username} and password"
        )
    else:
        sentence = (
            f"the part before the @ is not enough; sign in with {login.username} (for example `{login.example}`) "
            "and your password"
        )
    if answer_no:
        return f"**No**, {sentence}."
    return sentence[0].upper() + sentence[1:] + "."


def pop3_line(settings: MailSettings) -> str:
    """Return the one-line POP3 policy that every answer to a question about POP3 carries."""
    return rule_sentence(Violation(POP3, protocol="POP3"), settings, answer_no=False)
