"""The "Set up my mail app" guide: per-app steps, values in each app's own words, the policy's warnings.

Thunderbird-family apps read the autoconfig file by themselves, Apple devices take a profile,
and everything else gets the values to type, named the way that app's screens name them.
Every guide carries the two mistakes the policy article warns about most: choosing POP3, and
a username that is not the full email address.
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.articles import Library
from kb.settings import MailSettings
from mailclient.autoconfig import check_address, endpoints
from mailclient.checker import Citation, cite
from mailclient.labels import INCOMING, OUTGOING, Client, client_label

CLIENT_NAMES = {
    Client.THUNDERBIRD: "Thunderbird (Windows, Mac, Linux)",
    Client.APPLE: "Apple Mail (iPhone, iPad, Mac)",
    Client.OUTLOOK: "Outlook",
    Client.ANDROID: "Android (Thunderbird for Android, K-9 Mail, Gmail app)",
    Client.OTHER: "Another mail app",
}
# How each app labels the fields (what is not listed uses the generic label).
FIELD_LABELS = {
    "generic": {
        "protocol": "Account type",
        "host": "Server",
        "port": "Port",
        "security": "Security",
        "auth": "Authentication",
        "username": "Username",
    },
    Client.THUNDERBIRD: {
        "protocol": "Protocol",
        "host": "Hostname",
        "security": "Connection security",
        "auth": "Authentication method",
    },
    Client.APPLE: {"host": "Host name", "port": "Server port", "security": "Use SSL", "username": "User name"},
    Client.OUTLOOK: {
        "security": "Encryption method",
        "auth": "Secure Password Authentication (SPA)",
        "username": "User name",
    },
    Client.ANDROID: {"security": "Security type"},
}


class SetupError(ValueError):
    """A setup request that cannot be answered; the message says why."""


@dataclass(frozen=True)
class Row:
    """One value to type, labelled the way the app labels it."""

    label: str
    value: str


@dataclass(frozen=True)
class ServerValues:
    """The values for one direction."""

    title: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Warning:
    """A warning from the policy, with where it says so."""

    text: str
    source: Citation


@dataclass(frozen=True)
class SetupGuide:
    """How to set up one address in one app."""

    address: str
    client: Client
    client_name: str
    automatic: bool  # the app reads the autoconfig file by itself
    profile: bool  # offer the Apple profile download
    steps: tuple[str, ...]
    servers: tuple[ServerValues, ...]
    warnings: tuple[Warning, ...]


def parse_client(value: str | None) -> Client:
    """Return the app family chosen on the setup form."""
    try:
        return Client(value or "")
    except ValueError:
        raise SetupError("Pick your mail app from the list.") from None


def _label(client: Client, name: str) -> str:
    return FIELD_LABELS.get(client, {}).get(name) or FIELD_LABELS["generic"][name]


def _values(settings: MailSettings, client: Client, address: str) -> tuple[ServerValues, ...]:
    blocks = []
    for direction, title in ((INCOMING, "Incoming mail"), (OUTGOING, "Outgoing mail")):
        server = settings.imap if direction == INCOMING else settings.smtp
        entry = endpoints(settings, direction)[0]
        auth = settings.login.authentication
        if client is Client.OUTLOOK:
            auth = "off (leave unticked)"
        elif client is Client.APPLE:
            auth = "Password"
        rows = [
            Row(_label(client, "protocol"), server.protocol),
            Row(_label(client, "host"), entry.host),
            Row(_label(client, "port"), str(entry.port)),
            Row(_label(client, "security"), client_label(entry.security, client)),
            Row(_label(client, "username"), address),
            Row(_label(client, "auth"), auth),
        ]
        if direction == OUTGOING:
            rows.append(Row("Outgoing server requires authentication", "on"))
            if server.alt_port:
                rows.append(
                    Row("Only if your network blocks that port", f"port {server.alt_port} with {server.alt_security}")
                )
        blocks.append(ServerValues(f"{title} ({server.protocol})", tuple(rows)))
    return tuple(blocks)


def _steps(settings: MailSettings, client: Client, address: str) -> tuple[str, ...]:
    provider = settings.provider
    if client is Client.THUNDERBIRD:
        return (
            "Open Thunderbird and add a mail account (Account Settings, then Account Actions, then Add Mail Account).",
            f"Enter your name, {address} and your password, then choose Continue.",
            f"Thunderbird reads {provider}'s settings file by itself. Check that it shows IMAP, not POP3, "
            "and the servers below, then choose Done.",
            "If it finds nothing, choose Configure manually and type the values below.",
        )
    if client is Client.APPLE:
        return (
            "Download the profile on the device that should get your mail "
            "(on iPhone and iPad, open this page in Safari).",
            "Install it: on iPhone and iPad, open Settings and tap Profile Downloaded; on a Mac, open System Settings "
            "and search for Profiles.",
            "Your device calls the profile unverified because it is not signed. "
            "It holds no password: Mail asks for it.",
            "To set the account up by hand instead, choose Other, Add Mail Account, then IMAP, "
            "and type the values below.",
        )
    if client is Client.OUTLOOK:
        return (
            f"Choose File, then Add Account, and enter {address}.",
            "Choose Advanced options, tick Let me set up my account manually, and choose IMAP (never POP).",
            "Type the values below. Outlook may suggest settings it found elsewhere: they are not "
            f"{provider}'s, so replace them.",
        )
    if client is Client.ANDROID:
        return (
            f"Thunderbird for Android or K-9 Mail: add an account with {address}; the app reads {provider}'s "
            "settings file by itself. Check that it chose IMAP.",
            "Gmail app: choose Add another account, then Other, then Personal (IMAP), never POP3, and type the "
            "values below.",
            "If the app offers to accept all certificates, do not choose it.",
        )
    return ("Add a new mail account, choose IMAP (never POP3), and type the values below.",)


def setup_guide(
    settings: MailSettings, library: Library, address: str, client: Client, article_url: str = "/articles/"
) -> SetupGuide:
    """Return the steps, values and warnings for setting up an address in an app."""
    try:
        address = check_address(settings, address)
    except ValueError as exc:
        raise SetupError(str(exc)) from None
    provider = settings.provider
    warnings = (
        Warning(
            f"Choose IMAP, never POP3: POP3 is not supported at {provider} and is not enabled on request.",
            cite("pop3", INCOMING, settings, library, article_url),
        ),
        Warning(
            f"Your username is your full email address, {address}, for incoming and outgoing mail: "
            "never only the part before the @.",
            cite("partial_username", INCOMING, settings, library, article_url),
        ),
        Warning(
            "Keep authentication switched on for outgoing mail.",
            cite("smtp_auth", OUTGOING, settings, library, article_url),
        ),
    )
    return SetupGuide(
        address=address,
        client=client,
        client_name=CLIENT_NAMES[client],
        automatic=client in (Client.THUNDERBIRD, Client.ANDROID),
        profile=client is Client.APPLE,
        steps=_steps(settings, client, address),
        servers=_values(settings, client, address),
        warnings=warnings,
    )
