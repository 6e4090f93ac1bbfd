"""The database tables: agents, their sessions and tokens, sign-in attempts, analytics events, notes,
knowledge changes and versions, leases, and the event spools' shipping marks."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web.extensions import db


def utcnow() -> dt.datetime:
    """Return the time in UTC without a zone (SQLite keeps no zones)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


ROLES = ("agent", "admin")  # agents use the console and /api/reply; admins also the inbox, reports and training


class Agent(UserMixin, db.Model):
    """A support agent who may use the console and its API; an admin also the inbox, reports and training."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), default="agent", server_default="agent")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    # The session this agent object was loaded for (see web.auth); not a column.
    session_token = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str | None:
        # Flask-Login keeps this in the signed cookie: the session's own random id, checked
        # against the database on every request, so a session can be ended on the server.
        return self.session_token


class AgentSession(db.Model):
    """A signed-in console session, kept as a SHA-256 digest of the id in the agent's cookie."""

    __tablename__ = "agent_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(sa.ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    ip: Mapped[str] = mapped_column(sa.String(45), default="")


class AgentToken(db.Model):
    """An API token of an agent, kept as a SHA-256 digest (tokens are long and random)."""

    __tablename__ = "agent_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(sa.ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    agent: Mapped[Agent] = relationship()


class LoginFailure(db.Model):
    """One sign-in attempt that did not succeed, kept for the lockout time so every app server sees it.

    ``checked`` says whether the password was checked (and was wrong); an attempt refused
    because its address had to wait is recorded too, unchecked: it slows the address, but
    does not count against the account.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        sa.Index("ix_login_failures_email_at", "email", "at"),
        sa.Index("ix_login_failures_ip_at", "ip", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    ip: Mapped[str] = mapped_column(sa.String(45))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    checked: Mapped[bool] = mapped_column(default=True, server_default=sa.true())


ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Event(db.Model):
    """One question, search, result click or vote, with personal data redacted."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_at", "at"),
        sa.Index("ix_events_kind_at", "kind", "at"),
        sa.Index("ix_events_session_at", "session", "at"),
        sa.Index("ix_events_ref", "ref"),
    )
    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(sa.String(16))  # ask, search, click, vote
    channel: Mapped[str] = mapped_column(sa.String(16))  # one of CHANNELS
    session: Mapped[str | None] = mapped_column(sa.String(100))
    text: Mapped[str | None] = mapped_column(sa.String(2000))  # the question or query, redacted
    intent: Mapped[str | None] = mapped_column(sa.String(100))
    confidence: Mapped[float | None] = mapped_column(sa.Float())
    fallback: Mapped[bool | None]
    clarify: Mapped[bool | None]
    choices: Mapped[str | None] = mapped_column(sa.String(300))  # intents a clarifying question offered
    results: Mapped[int | None]  # a search's number of results
    rank: Mapped[int | None]  # a clicked result's position
    helpful: Mapped[bool | None]
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    target: Mapped[str | None] = mapped_column(sa.String(300))  # article slug, or a clicked result's URL
    ref: Mapped[str | None] = mapped_column(sa.String(32))  # ties a search page to its clicks


class GapNote(db.Model):
    """An agent's note on a group of the inbox, e.g. which article section is missing."""

    __tablename__ = "gap_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[str] = mapped_column(sa.String(16), index=True)
    group_key: Mapped[str] = mapped_column(sa.String(300))
    text: Mapped[str] = mapped_column(sa.String(1000))
    author: Mapped[str] = mapped_column(sa.String(254))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


CHANGE_STATUSES = ("pending", "checking", "accepted", "refused")


class KnowledgeChange(db.Model):
    """A change to the bot's training data or synonyms: queued, checked by the gate in order, accepted or refused."""

    __tablename__ = "knowledge_changes"
    __table_args__ = (sa.Index("ix_knowledge_changes_status", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(sa.String(254))
    kind: Mapped[str] = mapped_column(sa.String(16))  # examples, synonym
    summary: Mapped[str] = mapped_column(sa.String(1000))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # one of CHANGE_STATUSES
    payload: Mapped[str | None] = mapped_column(sa.Text())  # JSON: {"examples": {...}} or {"synonym": [a, b]}
    progress: Mapped[str | None] = mapped_column(sa.String(200))  # what the gate is doing now
    accepted: Mapped[bool | None]
    reason: Mapped[str] = mapped_column(sa.String(1000), default="")
    decided_at: Mapped[dt.datetime | None]
    version: Mapped[int | None]  # the knowledge version an accepted change made


class KnowledgeVersion(db.Model):
    """One accepted state of the bot's data: every example and synonym added since release, in full."""

    __tablename__ = "knowledge_versions"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # the version number, from 1
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    change_id: Mapped[int | None] = mapped_column(sa.ForeignKey("knowledge_changes.id"))
    author: Mapped[str] = mapped_column(sa.String(254))
    examples: Mapped[str] = mapped_column(sa.Text())  # JSON: intent -> examples added
    synonyms: Mapped[str] = mapped_column(sa.Text())  # JSON: an overlay in the format of synonyms.yml
    scores: Mapped[str | None] = mapped_column(sa.Text())  # JSON: the gate's assessment of this version
    scores_key: Mapped[str | None] = mapped_column(sa.String(64))  # what the scores were computed from


class KnowledgeModel(db.Model):
    """A trained intent model (joblib bytes, signed), shared by every node whose data gives the same key."""

    __tablename__ = "knowledge_models"
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    version: Mapped[int]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    size: Mapped[int]
    signature: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[bytes] = mapped_column(sa.LargeBinary())


class Lease(db.Model):
    """A named job that one process at a time may do (the knowledge gate, training one model), until it expires."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    expires_at: Mapped[dt.datetime]


class SpoolMark(db.Model):
    """How many bytes of one process's event spool file are in the events table (committed with them)."""

    __tablename__ = "event_spool"
    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    shipped: Mapped[int] = mapped_column(sa.BigInteger())
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


EVENT_COLUMNS = {column.name: column for column in Event.__table__.columns if column.name != "id"}


EVENT_LENGTHS = {
    name: column.type.length for name, column in EVENT_COLUMNS.items() if getattr(column.type, "length", None)
}
