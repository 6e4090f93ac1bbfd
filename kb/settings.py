"""Mail-client settings: the one file that pages and answers both render from."""

from __future__ import annotations

import dataclasses
import string
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml


class SettingsError(ValueError):
    """The settings file is missing a value or holds a wrong one."""


@dataclass(frozen=True)
class Server:
    """One server a mail client talks to."""

    protocol: str
    host: str
    port: int
    security: str
    alt_port: int | None = None
    alt_security: str | None = None

    @property
    def alternative(self) -> str:
        """Describe the second port, or say there is none."""
        if not self.alt_port:
            return "none"
        return f"{self.alt_port} ({self.alt_security})"


@dataclass(frozen=True)
class Login:
    """How a mail client authenticates."""

    username: str
    example: str
    authentication: str


@dataclass(frozen=True)
class Support:
    """Where a person can be reached."""

    url: str
    label: str


@dataclass(frozen=True)
class MailSettings:
    """Everything the policy leaves open, loaded from ``mail_settings.yml``."""

    provider: str
    domain: str
    imap: Server
    smtp: Server
    login: Login
    support: Support
    # Ports mail apps and old guides suggest that this service does not use, with the
    # protocol each belongs to; the bot recognises them in questions and says no.
    other_ports: dict[int, str] = dataclasses.field(default_factory=dict)

    def placeholders(self) -> dict[str, object]:
        """Return the names a template may use, e.g. ``{imap.host}``."""
        return {
            "provider": self.provider,
            "domain": self.domain,
            "imap": self.imap,
            "smtp": self.smtp,
            "login": self.login,
            "support": self.support,
        }

    def as_dict(self) -> dict[str, object]:
        """Return the settings as plain data for JSON."""
        return asdict(self)

    def client_settings(self, directions: tuple[str, ...] = ("imap", "smtp")) -> dict[str, dict]:
        """Return what a user types into a mail client, per direction."""
        labels = {"imap": "incoming", "smtp": "outgoing"}
        block = {}
        for name in directions:
            server: Server = getattr(self, name)
            entry = {
                "protocol": server.protocol,
                "host": server.host,
                "port": server.port,
                "security": server.security,
                "username": self.login.username,
                "authentication": self.login.authentication,
            }
            if server.alt_port:
                entry["alternative"] = {"port": server.alt_port, "security": server.alt_security}
            block[labels[name]] = entry
        return block


def load_settings(path: str | Path) -> MailSettings:
    """Load and check the settings file."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: cannot read settings: {exc}") from exc
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected a mapping at the top level")
    try:
        settings = MailSettings(
            provider=str(raw["provider"]),
            domain=str(raw["domain"]),
            imap=Server(**raw["imap"]),
            smtp=Server(**raw["smtp"]),
            login=Login(**raw["login"]),
            support=Support(**raw["support"]),
            other_ports=load_other_ports(raw.get("other_ports") or {}),
        )
    except (KeyError, TypeError) as exc:
        raise SettingsError(f"{path}: missing or unexpected setting: {exc}") from exc
    for server in (settings.imap, settings.smtp):
        for port in (server.port, server.alt_port):
            if port is not None and not (isinstance(port, int) and 0 < port < 65536):
                raise SettingsError(f"{path}: {server.protocol} port {port!r} is not a port number")
    return settings


def load_other_ports(raw: dict) -> dict[int, str]:
    """Check the ``other_ports`` mapping (port number to protocol name)."""
    if not isinstance(raw, dict):
        raise TypeError("other_ports must map port numbers to protocol names")
    ports = {}
    for port, protocol in raw.items():
        if not (isinstance(port, int) and 0 < port < 65536) or protocol not in ("POP3", "IMAP", "SMTP"):
            raise TypeError(f"other_ports: {port!r}: {protocol!r} is not a port and one of POP3, IMAP, SMTP")
        ports[port] = protocol
    return ports


def unknown_placeholders(text: str, settings: MailSettings) -> list[str]:
    """Return the placeholders in ``text`` that the settings cannot fill."""
    formatter = string.Formatter()
    try:
        fields = [field for _, field, _, _ in formatter.parse(text) if field is not None]
    except ValueError:
        return ["an unmatched '{' or '}' (write '{{' or '}}' for a literal brace)"]
    unknown = []
    for field in fields:
        try:
            if "_" == field[:1] or "._" in field:
                raise AttributeError(field)
            formatter.get_field(field, (), settings.placeholders())
        except (KeyError, AttributeError, IndexError, ValueError):
            unknown.append(field or "{}")
    return unknown


def fill_placeholders(text: str, settings: MailSettings) -> str:
    """Insert settings values into one of our own templates (never user input)."""
    return text.format_map(settings.placeholders())
