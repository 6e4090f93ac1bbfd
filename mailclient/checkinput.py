"""What people give the settings checker: JSON, form fields or a pasted description.

A description such as "Outlook: incoming pop.example.com 995 SSL, outgoing port 25 no auth" is read
in three steps. Anything that looks like a password is cut out first (and the result says so).
Then recognisable pieces are picked out, most specific first: usernames, addresses, host names,
app names, certificate switches, authentication, security labels, directions, protocols, ports.
Each piece is masked once taken, so "same as my incoming server" is read as authentication and
not as a direction. Last, the text is cut into clauses at commas, semicolons and "and", and each
piece goes to the direction its clause names; a clause that names none continues the previous one.

Nothing is guessed silently: a piece whose direction had to be inferred (from a well-known port,
say) is reported in ``notes``; one that could not be placed, two values for one field, and words
that meant nothing are reported in ``not_understood`` and left unchecked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from kb.answers import Answer, append_block, escape_markdown
from kb.articles import Library
from kb.settings import MailSettings
from mailclient.checker import (
    MAX_FIELD_CHARS,
    CheckInputError,
    CheckResult,
    ClientConfig,
    ServerInput,
    check,
    normalize_host,
)
from mailclient.labels import (
    AUTH_LABELS,
    CERTIFICATE_RE,
    CLIENT_LABELS,
    DIRECTIONS,
    INCOMING,
    NO_AUTH,
    OUTGOING,
    PROTOCOL_LABELS,
    SECURITY_LABELS,
    Auth,
    Protocol,
    label_key,
    normalize_auth,
    normalize_client,
    normalize_protocol,
    normalize_security,
    phrase_pattern,
    port_facts,
)

BOTH = "both"
MASK = "\x00"
REMOVED = "[removed]"
MAX_NOT_UNDERSTOOD = 8
MENTION_MAX_ERRORS = 3

# --- passwords ---------------------------------------------------------------------

PASSWORD_WORDS = r"password|passwort|passwd|pass\s*word|passcode|kennwort|pwd|pw"
PASSWORD_RE = re.compile(
    rf"\b(?P<key>(?:{PASSWORD_WORDS})\b|pass(?=\s*[:=]))(?![-/])(?P<sep>\s*(?:[:=]|\bis\b)?\s*)"
    r"(?P<value>[\"'“‘]?[^\s,;\"'”’\x00]+[\"'”’]?)",
    re.I,
)
# What follows the word "password" without being one.
NOT_A_PASSWORD = frozenset(
    "normal encrypted cleartext clear plain required on off yes no none auth authentication same and or for with "
    "over via is the a my your field prompt box wrong incorrect correct right ok fine not rejected keeps fails "
    "failed works doesn't does isn't changed reset expired saved manager sent asked dialog window again every "
    "still also too as in to of at from it that this which when but then method type login secure protected "
    "are was were be been being can can't cannot won't will would should could here there [removed] please "
    "stored remembered keychain, etc".split()
)
PASSWORD_KEY_RE = re.compile(r"pass|pwd|^pw$|secret", re.I)


def remove_passwords(text: str) -> tuple[str, bool]:
    """Cut out anything that looks like a password; say whether something was cut."""
    removed = False

    def cut(match: re.Match) -> str:
        nonlocal removed
        value = match.group("value").strip("\"'“”‘’").lower()
        explicit = bool(match.group("sep").strip())
        before = match.string[max(0, match.start() - 12) : match.start()].lower()
        if value in NOT_A_PASSWORD or set(value) <= set("*•.x"):
            return match.group(0)
        # "password X" without a colon: X is a password unless it is an everyday word, or the
        # phrase is an authentication method ("normal password, port N").
        if not explicit and (
            value in COMMON_WORDS or re.search(r"(?:normal|encrypted|secure|clear\s*text|plain)\s*$", before)
        ):
            return match.group(0)
        removed = True
        return f"{match.group('key')}{match.group('sep') or ' '}{REMOVED}"

    return PASSWORD_RE.sub(cut, text), removed


def looks_like_password(text: str) -> bool:
    """Say whether a text contains something that looks like a password."""
    return remove_passwords(text)[1]


# --- structured input --------------------------------------------------------------

SERVER_KEYS = {f.name for f in fields(ServerInput)}
TOP_KEYS = {"client", "incoming", "outgoing"}
NO_PASSWORD = "never send a password: the checker does not need it, and it was neither checked nor stored"


def _refuse_password_fields(value: object, path: str = "") -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if PASSWORD_KEY_RE.search(str(key)):
                raise CheckInputError(f"'{path}{key}': {NO_PASSWORD}")
            _refuse_password_fields(inner, f"{path}{key}.")


def strip_passwords(value: object) -> tuple[object, bool]:
    """Cut anything that looks like a password out of every string in a JSON value; say whether any was."""
    if isinstance(value, str):
        return remove_passwords(value)
    if isinstance(value, Mapping):
        cleaned = {key: strip_passwords(inner) for key, inner in value.items()}
        return {key: inner for key, (inner, _) in cleaned.items()}, any(removed for _, removed in cleaned.values())
    return value, False


def password_note(settings: MailSettings) -> str:
    """Say that a password was cut out, and that nobody needs it."""
    return (
        "Something that looked like a password was removed. Never send your password to anyone, "
        f"{settings.provider} support included: checking settings does not need it."
    )


def _text(raw: Mapping, key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CheckInputError(f"'{where}{key}' must be a string")
    value = "".join(ch if ch.isprintable() else " " for ch in value).strip()
    if len(value) > MAX_FIELD_CHARS:
        raise CheckInputError(f"'{where}{key}' is too long: at most {MAX_FIELD_CHARS} characters")
    return value or None


def _port(raw: Mapping, where: str) -> int | None:
    value = raw.get("port")
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"[1-9][0-9]{0,4}", value):
        value = int(value)
    elif isinstance(value, float) and value.is_integer():  # JSON Schema counts 1.0 as an integer
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise CheckInputError(f"'{where}port' must be a whole number from 1 to 65535")
    return value


def _flag(raw: Mapping, key: str, where: str) -> bool | None:
    value = raw.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise CheckInputError(f"'{where}{key}' must be true or false")


def _server(payload: Mapping, direction: str) -> ServerInput:
    if direction not in payload:
        return ServerInput()
    raw = payload[direction]
    if not isinstance(raw, Mapping):
        raise CheckInputError(f"'{direction}' must be an object with fields such as 'host' and 'port'")
    where = f"{direction}."
    unknown = sorted(set(raw) - SERVER_KEYS)
    if unknown:
        raise CheckInputError(f"unknown field '{where}{unknown[0]}'; known fields: {', '.join(sorted(SERVER_KEYS))}")
    security = raw.get("security")
    if not isinstance(security, bool):
        security = _text(raw, "security", where)
    return ServerInput(
        protocol=_text(raw, "protocol", where),
        host=_text(raw, "host", where),
        port=_port(raw, where),
        security=security,
        authentication=_flag(raw, "authentication", where),
        auth_method=_text(raw, "auth_method", where),
        username=_text(raw, "username", where),
        accept_any_certificate=_flag(raw, "accept_any_certificate", where),
    )


def config_from_dict(payload: Mapping) -> ClientConfig:
    """Read structured settings (``{"client", "incoming": {...}, "outgoing": {...}}``), refusing passwords."""
    if not isinstance(payload, Mapping):
        raise CheckInputError("send a JSON object")
    _refuse_password_fields(payload)
    unknown = sorted(set(payload) - TOP_KEYS)
    if unknown:
        raise CheckInputError(
            f"unknown field '{unknown[0]}'; send 'incoming', 'outgoing' and 'client', or 'description'"
        )
    if "incoming" not in payload and "outgoing" not in payload:
        raise CheckInputError("nothing to check: give 'incoming' and/or 'outgoing' settings, or a 'description'")
    return ClientConfig(
        incoming=_server(payload, INCOMING),
        outgoing=_server(payload, OUTGOING),
        client=_text(payload, "client", ""),
    )


def form_payload(form: Mapping[str, str]) -> dict:
    """Turn the checker page's form fields (``incoming_host``...) into the JSON shape."""
    payload: dict = {"client": form.get("client") or None}
    for direction in DIRECTIONS:
        server: dict = {}
        for name in ("protocol", "host", "port", "security", "username"):
            value = (form.get(f"{direction}_{name}") or "").strip()
            if value:
                server[name] = value
        auth = (form.get(f"{direction}_auth") or "").strip()
        if auth in ("on", "off"):
            server["authentication"] = auth == "on"
        elif auth:
            server["auth_method"] = auth
        if form.get(f"{direction}_certificate"):
            server["accept_any_certificate"] = True
        if server:
            payload[direction] = server
    return {k: v for k, v in payload.items() if v is not None}


def safe_echo(form: Mapping[str, str]) -> dict[str, str]:
    """Return form values fit to show again: passwords cut from the description, suspicious fields dropped."""
    echo = {}
    for key, value in form.items():
        if key == "description":
            echo[key] = remove_passwords(value)[0]
        elif not PASSWORD_KEY_RE.search(key) and not looks_like_password(value):
            echo[key] = value
    return echo


# --- free text ---------------------------------------------------------------------

START = r"(?<![\w.@/%\x00-])"
END = r"(?![\w/%-]|\.\w)"
GENERIC_SECURITY = {"no", "off", "false", "yes", "on", "true", "insecure", "automatically", "automatic", "if available"}
GENERIC_AUTH = {
    "password",
    "plain",
    "login",
    "normal",
    "basic",
    "none",
    "no",
    "off",
    "false",
    "on",
    "yes",
    "true",
    "required",
    "enabled",
    "checked",
    "auth",
    "authentication",
    "disabled",
    "not required",
    "unchecked",
    "anonymous",
    "md5",
    "ip address",
    "secure password",
}
ALL_SECURITY = [label for labels in SECURITY_LABELS.values() for label in labels] + ["tls"]
FREE_SECURITY = [label for label in ALL_SECURITY if label not in GENERIC_SECURITY]
ALL_AUTH = [label for labels in AUTH_LABELS.values() for label in labels]
FREE_AUTH = [label for label in ALL_AUTH if label not in GENERIC_AUTH]
ALL_CLIENTS = [label for labels in CLIENT_LABELS.values() for label in labels]
ALL_PROTOCOLS = [label for labels in PROTOCOL_LABELS.values() for label in labels]

USER_VALUE = r"(?P<v>[^\s,;\x00]*[^\s,;\x00.!?)\"'])"
USERNAME_RES = (
    re.compile(
        rf"\b(?:user\s*name|user\s*id|user|account\s*name|benutzername|benutzer)\s*(?:[:=]|\bis\b|\bas\b)?\s*"
        rf"(?:just\s+|only\s+|simply\s+)?{USER_VALUE}",
        re.I,
    ),
    re.compile(
        rf"\b(?:login\s*name|login|log\s*in|logging\s+in|sign\s*in|signing\s+in)\s*(?:[:=]|\bis\b|\bas\b|\bwith\b)"
        rf"\s*(?:just\s+|only\s+|simply\s+)?{USER_VALUE}",
        re.I,
    ),
)
NOT_A_USERNAME = frozenset(
    "my the a an with name is and full email e-mail address your same account mail port server to for on of as "
    "it this that what which just only settings setting and, set".split()
)
EMAIL_RE = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.I)
HOST_RE = re.compile(
    r"(?<![\w@.-])(?:[a-z][a-z0-9+.-]*://)?(?:(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}|\d{1,3}(?:\.\d{1,3}){3})"
    r"\.?(?::\d{1,5})?(?![\w@-])",
    re.I,
)
CLIENT_RE = re.compile(rf"{START}(?:{phrase_pattern(ALL_CLIENTS)})(?:\s+\d+(?:\.\d+)*)?{END}", re.I)
OUTGOING_AUTH_RE = re.compile(
    r"(?:my\s+)?outgoing\s+server\s*(?:\(smtp\)\s*)?(?P<neg>does\s*n[o']t\s+require|requires?)\s+authentication"
    r"(?:\s*[:=]?\s*(?:is\s+)?(?P<state>on|off|yes|no|checked|unchecked|enabled|disabled|true|false)\b)?",
    re.I,
)
AUTH_OFF_RE = re.compile(
    r"\b(?:no|without|disabled?|off)\s+(?:smtp\s+)?auth(?:entication)?\b"
    r"|\bauth(?:entication)?\s+(?:is\s+)?(?:off|disabled|none|unchecked|not\s+required)\b"
    r"|\b(?:does\s*n[o']t|do\s*n[o']t|doesnt|dont)\s+(?:require|need|use)\s+auth(?:entication)?\b",
    re.I,
)
AUTH_KEYED_RE = re.compile(
    rf"\b(?:smtp\s+)?(?:auth(?:entication)?(?:\s+method)?|login\s+method)\s*(?:[:=]|\bis\b)?\s*"
    rf"(?P<v>{phrase_pattern(ALL_AUTH)}){END}",
    re.I,
)
AUTH_ON_RE = re.compile(
    r"\b(?:requires?|with|using|use)\s+(?:smtp\s+)?auth(?:entication)?\b|\bauthentication\s+required\b", re.I
)
AUTH_FREE_RE = re.compile(rf"{START}(?P<v>{phrase_pattern(FREE_AUTH)}){END}", re.I)
SECURITY_KEYED_RE = re.compile(
    r"\b(?:connection\s+security|security(?:\s+type)?|encryption(?:\s+method)?|socket\s*type|secure\s+connection|"
    rf"use\s+ssl|ssl|tls)\s*(?:[:=]|\bis\b)\s*(?P<v>{phrase_pattern(ALL_SECURITY)}){END}",
    re.I,
)
SECURITY_FREE_RE = re.compile(rf"{START}(?P<v>{phrase_pattern(FREE_SECURITY)}){END}", re.I)
BOTH_RE = re.compile(
    r"\b(?:incoming|receiving)\s*(?:and|&|/|\+)\s*(?:outgoing|sending)\b|\b(?:outgoing|sending)\s*(?:and|&|/|\+)\s*"
    r"(?:incoming|receiving)\b|\bboth\s+(?:servers|directions|ways)\b|\bfor\s+both\b",
    re.I,
)
DIRECTION_RES = (
    (re.compile(r"\b(?:incoming|inbound|receiving|receive)\b", re.I), INCOMING),
    (re.compile(r"\b(?:outgoing|outbound|sending|send)\b", re.I), OUTGOING),
)
PROTOCOL_RE = re.compile(rf"{START}(?:{phrase_pattern(ALL_PROTOCOLS)}){END}", re.I)
PORT_KEYED_RE = re.compile(r"\bports?\s*(?:number\s*)?(?:[:=#]|\bis\b)?\s*(?P<v>\d{1,6})\b", re.I)
BARE_NUMBER_RE = re.compile(
    r"(?<![\w.:/%\x00-])(?P<v>\d{1,6})(?![\w%]|\.\d)(?!\s*(?:accounts?|e?-?mails?|messages?|days?|hours?|minutes?|"
    r"times?|mb|gb|kb|devices?|users?|years?|x)\b)",
    re.I,
)
# Version numbers of systems and apps are not ports ("Windows 11", "version 115").
VERSION_RE = re.compile(
    r"\b(?:windows|win|version|ver|v|build|office|ubuntu|debian|fedora|mac\s*os\s*x?)\s*\d+(?:\.\d+)*\b", re.I
)
# Settings need a port (a number standing alone, or right after "port") or a host (a dotted
# name, or an address of numbers); without one of them, reading is wasted. "pop3" is neither.
SETTINGS_HINT_RE = re.compile(r"(?<!\w)\d|ports?\s*(?:number\s*)?\d|[a-z0-9]\.[a-z]{2}", re.I)
CLAUSE_BREAK_RE = re.compile(r"[,;\n|]|\.(?=\s|$)|\s(?:and|but|then|while|also|plus)\s|\s[-–—]\s", re.I)
REMOVED_RE = re.compile(rf"\b(?:{PASSWORD_WORDS}|pass)\s*(?:[:=]|\bis\b)?\s*{re.escape(REMOVED)}", re.I)
# Words that carry no setting; anything else left over is reported as not understood.
FILLER = frozenset(
    "server servers mail email e-mail emails port ports host hostname name address setting settings set setup "
    "configured configure config configuration connection security encryption method type account accounts is are "
    "was were be i i'm im my me we our you your it its the a an and or but with via using use used on in at to for "
    "of from by as has have had also then both here these this that what whats what's which why how doesn't does "
    "do did not work works working help please hi hello thanks thank can can't cannot cant could should would will "
    "won't get got error errors problem fails failing failed wrong right correct ok okay check checked tried try "
    "still now just only so if when all any some entered enter typed put selected select chose choose picked option "
    "field fields box tab advanced more manual manually details info like following below above app client program "
    "new old phone computer laptop pc mac windows number value values am my is: server: mail: smtp: imap: "
    "requires require required authentication auth secure smtp-server imap-server there their they with: no none "
    "yes off true false enabled disabled checked unchecked same incoming outgoing sending receiving mailbox inbox "
    "protocol protocols receive send sent received setting: username user login password [removed] removed says "
    "say said shows show showing uses".split()
)
COMMON_WORDS = FILLER | NOT_A_PASSWORD


@dataclass(frozen=True)
class _Piece:
    start: int
    kind: str
    value: object
    text: str
    direction: str | None = None  # a piece that names its own direction ("my outgoing server requires...")


@dataclass(frozen=True)
class Description:
    """What was read from a pasted description, and what was not."""

    config: ClientConfig
    text: str  # the description with any password removed
    notes: tuple[str, ...] = ()
    not_understood: tuple[str, ...] = ()
    password_removed: bool = False
    kinds: frozenset[str] = field(default_factory=frozenset)  # the kinds of pieces found ("port", "host"...)

    @property
    def looks_like_settings(self) -> bool:
        """Say whether the text reads as mail-app settings: a port, or a protocol with a host."""
        return "port" in self.kinds or {"protocol", "host"} <= self.kinds


class _Reader:
    """One pass over a description: pick pieces out, masking each, then place them by clause."""

    def __init__(self, text: str, settings: MailSettings):
        self.text = text
        self.masked = text
        self.settings = settings
        self.pieces: list[_Piece] = []
        self.notes: list[str] = []
        self.not_understood: list[str] = []

    def take(self, pattern: re.Pattern, kind: str, value=None, direction=None, group: str | int = 0) -> None:
        for match in list(pattern.finditer(self.masked)):
            found = value(match) if value else match.group(group)
            if found is None:
                continue
            text = self.text[match.start(group) : match.end(group)] if group else self.text[match.start() : match.end()]
            where = direction(match) if callable(direction) else direction
            self.pieces.append(_Piece(match.start(), kind, found, text.strip(), where))
            self.masked = (
                self.masked[: match.start()] + MASK * (match.end() - match.start()) + self.masked[match.end() :]
            )

    def mask(self, pattern: re.Pattern) -> None:
        self.masked = pattern.sub(lambda m: MASK * len(m.group(0)), self.masked)

    def pick(self) -> None:
        self.mask(REMOVED_RE)
        for pattern in USERNAME_RES:
            self.take(pattern, "username", value=_username_value, group="v")
        self.take(EMAIL_RE, "email")
        self.take(HOST_RE, "host")
        self.take(CLIENT_RE, "client", value=lambda m: normalize_client(m.group(0)))
        self.take(CERTIFICATE_RE, "certificate", value=lambda m: True)
        self.take(OUTGOING_AUTH_RE, "auth", value=_outgoing_auth, direction=OUTGOING)
        self.take(AUTH_OFF_RE, "auth", value=lambda m: (False, None))
        self.take(AUTH_KEYED_RE, "auth", value=lambda m: _auth_value(m.group("v")), direction=_auth_direction)
        self.take(AUTH_ON_RE, "auth", value=lambda m: (True, None))
        self.take(AUTH_FREE_RE, "auth", value=lambda m: _auth_value(m.group("v")), direction=_auth_direction)
        self.take(SECURITY_KEYED_RE, "security", value=_keyed_security)
        self.take(SECURITY_FREE_RE, "security", value=lambda m: _balanced(m.group("v")))
        self.take(BOTH_RE, "direction", value=lambda m: BOTH)
        for pattern, direction in DIRECTION_RES:
            self.take(pattern, "direction", value=lambda m, d=direction: d)
        self.take(PROTOCOL_RE, "protocol")
        self.mask(VERSION_RE)
        self.take(PORT_KEYED_RE, "port", value=_port_value)
        self.take(BARE_NUMBER_RE, "port", value=_port_value)

    def clauses(self) -> list[int]:
        """Return where each clause starts."""
        return [0] + [m.end() for m in CLAUSE_BREAK_RE.finditer(self.masked)]

    def place(self) -> tuple[dict[str, list[_Piece]], list[_Piece]]:
        """Give each piece the direction of its clause; return them by direction, and those left over."""
        starts = self.clauses()
        clause_of = {id(p): sum(1 for s in starts if s <= p.start) for p in self.pieces}
        ordered = sorted(self.pieces, key=lambda p: p.start)
        # "N for incoming": a clause's one direction word counts from the clause's start.
        by_clause: dict[int, list[_Piece]] = {}
        for piece in ordered:
            by_clause.setdefault(clause_of[id(piece)], []).append(piece)
        sequence = []
        for clause in sorted(by_clause):
            pieces = by_clause[clause]
            directions = [p for p in pieces if p.kind == "direction"]
            if len(directions) == 1 and pieces[0] is not directions[0]:
                pieces = [directions[0]] + [p for p in pieces if p is not directions[0]]
            sequence += [(clause, p) for p in pieces]

        placed: dict[str, list[_Piece]] = {INCOMING: [], OUTGOING: []}
        pending: list[tuple[int, _Piece]] = []
        current, explicit, clause_protocol, last_clause = None, False, False, None
        for clause, piece in sequence:
            if clause != last_clause:
                last_clause, explicit, clause_protocol = clause, False, False
            if piece.kind == "direction":
                current, explicit, clause_protocol = piece.value, True, False
                continue
            if piece.kind == "client" or piece.kind in ("username", "email") and current is None:
                pending.append((clause, piece))
                continue
            target = piece.direction or current
            if piece.kind == "protocol":
                protocol_direction = _protocol_direction(piece.text)
                if protocol_direction and not (explicit and not clause_protocol):
                    current = target = protocol_direction
                clause_protocol = True
            if target is None:
                pending.append((clause, piece))
            else:
                for direction in DIRECTIONS if target == BOTH else (target,):
                    placed[direction].append(piece)
        return placed, self.place_pending(placed, pending)

    def place_pending(self, placed: dict[str, list[_Piece]], pending: list[tuple[int, _Piece]]) -> list[_Piece]:
        """Place pieces given before any direction: by what they are, or say they could not be placed."""
        facts = port_facts(self.settings)
        hosts = {self.settings.imap.host: INCOMING, self.settings.smtp.host: OUTGOING}
        inferred_by_clause: dict[int, str] = {}
        for clause, piece in pending:
            direction = None
            if piece.kind == "port" and piece.value in facts:
                fact = facts[piece.value]
                direction = fact.direction
                self.notes.append(f"Port {piece.value} was read as {direction} mail: it is the {fact.protocol} port.")
            elif piece.kind == "host":
                host = normalize_host(piece.text)[0]
                direction = hosts.get(host) or _protocol_direction(host.split(".", 1)[0])
                if direction:
                    self.notes.append(f"{host} was read as the {direction} server, from its name.")
            if direction:
                inferred_by_clause.setdefault(clause, direction)
        described = {d for d in DIRECTIONS if placed[d]} | set(inferred_by_clause.values())
        clients = []
        for clause, piece in pending:
            if piece.kind == "client":
                clients.append(piece)
                continue
            direction = inferred_by_clause.get(clause)
            if direction is None and piece.kind in ("username", "email", "certificate", "auth"):
                targets = sorted(described) or list(DIRECTIONS)
                for target in targets:
                    placed[target].append(piece)
                if len(targets) > 1:
                    self.notes.append(
                        f"'{piece.text}' was given once, so it was checked for both incoming and outgoing mail."
                    )
                continue
            if direction is None and len(described) == 1:
                direction = next(iter(described))
                self.notes.append(f"'{piece.text}' was read as {direction} mail, the only direction described.")
            if direction is None:
                self.not_understood.append(
                    f"'{piece.text}': could not tell whether this is for incoming or outgoing mail"
                )
            else:
                placed[direction].append(piece)
        return clients

    def server(self, direction: str, pieces: list[_Piece]) -> ServerInput:
        values: dict[str, list] = {}

        def put(name: str, value, shown: str):
            seen = values.setdefault(name, [])
            if all(_same(value, v) for v, _ in seen) and seen:
                return
            seen.append((value, shown))

        for piece in pieces:
            if piece.kind in ("username", "email"):
                put(piece.kind, piece.value, piece.text)
            elif piece.kind == "host":
                put("host", piece.text, piece.text)
            elif piece.kind == "port":
                put("port", piece.value, piece.text)
            elif piece.kind == "protocol":
                put("protocol", piece.text, piece.text)
            elif piece.kind == "security":
                put("security", piece.value, piece.value)
            elif piece.kind == "certificate":
                put("accept_any_certificate", True, piece.text)
            elif piece.kind == "auth":
                enabled, method = piece.value
                if enabled is not None:
                    put("authentication", enabled, piece.text)
                if method is not None:
                    put("auth_method", method, piece.text)
        # An explicit "user ..." wins over an address mentioned elsewhere.
        emails = values.pop("email", [])
        if emails and "username" not in values:
            values["username"] = emails
            if len(emails) == 1:
                self.notes.append(f"{emails[0][1]} was read as the username.")
        given = {}
        for name, seen in values.items():
            if len(seen) > 1:
                shown = " and ".join(f"'{s}'" for _, s in seen)
                self.not_understood.append(
                    f"{direction} {name.replace('_', ' ')}: {shown} disagree, so neither was checked"
                )
            elif seen:
                given[name] = seen[0][0]
        return ServerInput(**given)

    def leftovers(self) -> None:
        for chunk in re.split(r"[\x00]+", self.masked):
            words = [w for w in re.findall(r"[^\s,;.:!?()\[\]\"'`/=]+", chunk) if w.lower().strip("-'") not in FILLER]
            if words:
                self.not_understood.append(" ".join(words))


def _username_value(match: re.Match) -> str | None:
    value = match.group("v").strip(".!?)\"'")
    if not value or value.lower() in NOT_A_USERNAME or value == REMOVED:
        return None
    return value


def _balanced(label: str) -> str:
    # "STARTTLS (if available)": the phrase ends before the closing parenthesis.
    return label + ")" if label.count("(") > label.count(")") else label


def _keyed_security(match: re.Match) -> str:
    # "Use SSL: on" is a label as a whole; in "security: none" only the value is.
    whole = normalize_security(match.group(0))
    return _balanced(match.group(0) if whole and whole.value else match.group("v"))


def _outgoing_auth(match: re.Match) -> tuple[bool, None]:
    negative = bool(re.search(r"n[o']t", match.group("neg"), re.I))
    state = (match.group("state") or "").lower()
    if state:
        negative = negative != (state in {"off", "no", "unchecked", "disabled", "false"})
    return (not negative, None)


def _auth_value(label: str) -> tuple[bool | None, str | None]:
    meaning = normalize_auth(label)
    if meaning is Auth.ON:
        return (True, None)
    if meaning is Auth.NONE:
        return (False, None)
    if meaning in NO_AUTH:
        return (False, label)
    return (None, label)


def _auth_direction(match: re.Match) -> str | None:
    meaning = normalize_auth(match.group("v"))
    return OUTGOING if meaning in (Auth.SAME_AS_INCOMING, Auth.SMTP_AFTER_POP, Auth.CLIENT_IP) else None


def _port_value(match: re.Match) -> int | None:
    value = int(match.group("v"))
    return value if 0 < value < 65536 else None


def _protocol_direction(text: str) -> str | None:
    protocol = normalize_protocol(text)
    if protocol in (Protocol.IMAP, Protocol.POP3):
        return INCOMING
    if protocol is Protocol.SMTP:
        return OUTGOING
    return None


def _same(a, b) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        sa, sb = normalize_security(a), normalize_security(b)
        if sa and sb and sa.value is not None and sa.value == sb.value:
            return True
        return label_key(a) == label_key(b)
    return a == b


def share_username(placed: dict[str, list[_Piece]], notes: list[str]) -> None:
    """Use a username given for one direction for the other too, if that one is described without any."""
    names = {d: [p for p in placed[d] if p.kind in ("username", "email")] for d in DIRECTIONS}
    for direction, other in ((INCOMING, OUTGOING), (OUTGOING, INCOMING)):
        if names[direction] and not names[other] and placed[other]:
            placed[other] += names[direction]
            shown = names[direction][0].text
            notes.append(
                f"The username '{shown}' was given once, so it was checked for both incoming and outgoing mail."
            )
            return


def read_description(text: str, settings: MailSettings) -> Description:
    """Read mail-app settings out of free text; report what was inferred and what was not understood."""
    clean, removed = remove_passwords(text)
    reader = _Reader(clean, settings)
    reader.pick()
    placed, clients = reader.place()
    reader.leftovers()
    names = list(dict.fromkeys(p.value for p in clients if p.value))
    client = names[0].value if len(names) == 1 else None
    if len(names) > 1:
        reader.notes.append("Several apps were named, so labels were read without any one app's meanings.")
    share_username(placed, reader.notes)
    config = ClientConfig(
        incoming=reader.server(INCOMING, placed[INCOMING]),
        outgoing=reader.server(OUTGOING, placed[OUTGOING]),
        client=client,
    )
    notes = list(reader.notes)
    if removed:
        notes.insert(0, password_note(settings))
    kinds = frozenset(p.kind for d in DIRECTIONS for p in placed[d])
    return Description(
        config=config,
        text=clean,
        notes=tuple(dict.fromkeys(notes)),
        not_understood=tuple(reader.not_understood[:MAX_NOT_UNDERSTOOD]),
        password_removed=removed,
        kinds=kinds,
    )


# --- entry points --------------------------------------------------------------------


def check_description(
    text: str, settings: MailSettings, library: Library, article_url: str = "/articles/"
) -> CheckResult:
    """Read a pasted description and check what it says."""
    read = read_description(text, settings)
    return check(
        read.config,
        settings,
        library,
        article_url,
        notes=read.notes,
        not_understood=read.not_understood,
        password_removed=read.password_removed,
        description=read.text,
    )


def check_settings(payload: Mapping, settings: MailSettings, library: Library, article_url: str) -> CheckResult:
    """Check structured settings; a password typed into a field is cut out and reported, a password field refused."""
    cleaned, removed = strip_passwords(payload)
    return check(
        config_from_dict(cleaned),
        settings,
        library,
        article_url,
        notes=(password_note(settings),) if removed else (),
        password_removed=removed,
    )


def check_payload(
    payload: Mapping, settings: MailSettings, library: Library, article_url: str, max_chars: int
) -> CheckResult:
    """Check a JSON request: structured settings, or ``{"description": "..."}``."""
    if not isinstance(payload, Mapping):
        raise CheckInputError("send a JSON object")
    if "description" not in payload:
        return check_settings(payload, settings, library, article_url)
    extra = sorted(set(payload) - {"description"})
    if extra:
        raise CheckInputError(f"send either 'description' or structured settings, not both (found '{extra[0]}')")
    text = payload["description"]
    # At least one visible character (U+FEFF counts as a space, as in JSON Schema patterns).
    if not isinstance(text, str) or not re.search(r"[^\s\ufeff\x00-\x1f\x7f-\x9f]", text):
        raise CheckInputError("'description' must be a non-empty string")
    if len(text) > max_chars:
        raise CheckInputError(f"'description' is too long: at most {max_chars} characters")
    return check_description(text, settings, library, article_url)


def check_form(
    form: Mapping[str, str], settings: MailSettings, library: Library, article_url: str, max_chars: int
) -> CheckResult:
    """Check what the checker page's form sent: its description box, or its fields."""
    description = (form.get("description") or "").strip()
    if description:
        return check_payload({"description": description}, settings, library, article_url, max_chars)
    return check_settings(form_payload(form), settings, library, article_url)


def settings_in_question(
    question: str, settings: MailSettings, library: Library, article_url: str
) -> CheckResult | None:
    """Check a bot question that reads like pasted settings; None if it does not."""
    if not SETTINGS_HINT_RE.search(question):  # most questions: no need to read them closely
        return None
    read = read_description(question, settings)
    if not read.looks_like_settings:
        return None
    result = check_description(question, settings, library, article_url)
    return result if result.fields else None


def _markdown_text(text: str) -> str:
    # Python-Markdown has no escape for "<", so user text is HTML-escaped first.
    return escape_markdown(html.escape(text, quote=False))


def mention_check(answer: Answer, result: CheckResult, checker_url: str, article_url: str = "/articles/") -> Answer:
    """Add a short account of a settings check to a bot answer."""
    lines = [f"**I also checked the settings in your message.** {_markdown_text(result.summary)}"]
    problems = [f for f in result.fields if f.verdict != "ok"][:MENTION_MAX_ERRORS]
    if problems:
        lines.append(
            "\n".join(
                f"- {f.direction.capitalize()} {f.field} ({_markdown_text(f.given)}): {_markdown_text(f.reason)} "
                f"Correct: {_markdown_text(f.correct)}."
                for f in problems
            )
        )
    if result.password_removed:
        lines.append(_markdown_text(result.notes[0]))
    lines.append(f"Every field is on the [settings checker]({checker_url}).")
    return append_block(answer, "\n\n".join(lines), article_url)
