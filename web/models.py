"""The database tables: agents and their tokens, failed sign-ins, analytics events, notes and knowledge changes."""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web.extensions import db


def utcnow() -> dt.datetime:
    """Return the time in UTC without a zone (SQLite keeps no zones)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Agent(UserMixin, db.Model):
    """A support agent who may use the console and its API."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    def get_id(self) -> str:
        # The session names the password too, so changing it signs out every other session.
        stamp = hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]
        return f"{self.id}.{stamp}"


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
    """One failed sign-in, kept for the lockout time so every app server sees it."""

    __tablename__ = "login_failures"
    __table_args__ = (
        sa.Index("ix_login_failures_email_at", "email", "at"),
        sa.Index("ix_login_failures_ip_at", "ip", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    ip: Mapped[str] = mapped_column(sa.String(45))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


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


class KnowledgeChange(db.Model):
    """A change to the bot's training data or synonyms, accepted or refused, and why."""

    __tablename__ = "knowledge_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(sa.String(254))
    kind: Mapped[str] = mapped_column(sa.String(16))
    summary: Mapped[str] = mapped_column(sa.String(1000))
    accepted: Mapped[bool]
    reason: Mapped[str] = mapped_column(sa.String(1000))


EVENT_COLUMNS = {column.name: column for column in Event.__table__.columns if column.name != "id"}


EVENT_LENGTHS = {
    name: column.type.length for name, column in EVENT_COLUMNS.items() if getattr(column.type, "length", None)
}
