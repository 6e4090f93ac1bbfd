"""Sign-in for support agents: passwords, lockouts, sessions and API tokens.

Agents sign in with accounts kept in the database; ticket systems call the API with a
per-agent token instead of a session. Unknown addresses are counted, locked and timed like
real ones, so answers do not tell which accounts exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, abort, current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from web.errors import InputError, wants_json
from web.extensions import db, login_manager
from web.inputs import is_local_path
from web.models import Agent, AgentSession, AgentToken, LoginFailure, utcnow
from web.state import state

log = logging.getLogger(__name__)

API_TOKEN_PREFIX = "agt_"


def digest(secret: str) -> str:
    """Return the SHA-256 hex digest a session id or API token is kept as."""
    return hashlib.sha256(secret.encode()).hexdigest()


@login_manager.user_loader
def load_agent(session_id: str) -> Agent | None:
    """Return the agent of a live session (one indexed query): ended or expired sessions sign nobody in."""
    query = (
        sa.select(Agent)
        .join(AgentSession, AgentSession.agent_id == Agent.id)
        .where(AgentSession.token_hash == digest(session_id), AgentSession.expires_at > utcnow())
    )
    found = db.session.execute(query).scalar_one_or_none()
    if found is not None:
        found.session_token = session_id
    return found


def start_session(agent: Agent, ip: str) -> None:
    """Open a server-side session for a signed-in agent (and drop every expired one)."""
    now = utcnow()
    token = secrets.token_urlsafe(32)
    seconds = current_app.config["AGENT_SESSION_SECONDS"]
    db.session.execute(sa.delete(AgentSession).where(AgentSession.expires_at <= now))
    db.session.add(
        AgentSession(
            agent_id=agent.id,
            token_hash=digest(token),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=seconds),
            ip=ip[:45],
        )
    )
    db.session.commit()
    agent.session_token = token


def end_session(agent: Agent) -> None:
    """End the session an agent is signed in with, on the server: its cookie opens nothing any more."""
    if agent.session_token:
        db.session.execute(sa.delete(AgentSession).where(AgentSession.token_hash == digest(agent.session_token)))
        db.session.commit()


def end_all_access(agent_id: int) -> tuple[int, int]:
    """End every session and revoke every API token of an agent (not committed); return how many of each."""
    sessions = db.session.execute(sa.delete(AgentSession).where(AgentSession.agent_id == agent_id)).rowcount
    tokens = db.session.execute(sa.delete(AgentToken).where(AgentToken.agent_id == agent_id)).rowcount
    return sessions, tokens


@login_manager.unauthorized_handler
def unauthorized():
    if wants_json():
        return jsonify(error="sign in, or send an agent API token as 'Authorization: Bearer <token>'"), 401
    flash("Please sign in to use the agent console.")
    return redirect(url_for("agent.login", next=request.full_path.rstrip("?")))


def make_password_hasher(config) -> PasswordHasher:
    """Return the Argon2id hasher with the configured cost."""
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_KIB"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def password_hasher() -> PasswordHasher:
    return state().passwords


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_agent(email: str) -> Agent | None:
    return db.session.execute(sa.select(Agent).where(Agent.email == normalize_email(email))).scalar_one_or_none()


def wait_text(seconds: float) -> str:
    """Say how long to wait, in seconds below two minutes and in minutes above."""
    if seconds < 120:
        whole = max(1, math.ceil(seconds))
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the agent, or a message and an HTTP status (and seconds to wait)."""

    agent: Agent | None
    message: str = ""
    status: int = 200
    retry_after: int = 0


def address_wait(attempts: list[dt.datetime], free: int, window: dt.timedelta, now: dt.datetime) -> float:
    """Return how many seconds an address must still wait before its next password check (0: none).

    ``attempts`` are the address's other failed or refused attempts within the window, newest
    first. The first ``free`` cost nothing; after that each must wait twice as long as the one
    before (1 s, 2 s, 4 s, ... up to the lockout time) after the newest attempt.
    """
    if len(attempts) < free:
        return 0.0
    wait = min(2.0 ** (len(attempts) - free), window.total_seconds())
    return max(0.0, (attempts[0] + dt.timedelta(seconds=wait) - now).total_seconds())


def sign_in(email: str, password: str, ip: str) -> SignIn:
    """Check a password: an address that keeps failing is slowed down; an account is locked only by many.

    The attempt is recorded (and committed) before anything is decided, and each attempt
    counts every other one its address made: of attempts racing each other, each sees all
    those recorded before it, so no more than the free attempts ever reach the password check.
    An attempt refused for being too soon is recorded unchecked: it slows the address down
    further, but does not count against the account, so one address cannot lock anyone out.
    Unknown addresses are handled, and take as long, as real ones.
    """
    config, now = current_app.config, utcnow()
    email = normalize_email(email)
    window = dt.timedelta(seconds=config["AGENT_LOCKOUT_SECONDS"])
    free = config["AGENT_MAX_FAILED_LOGINS"]
    attempt = LoginFailure(email=email, ip=ip[:45], at=now, checked=False)
    db.session.add(attempt)
    # A lock looks back one lockout time from attempts up to one lockout time old.
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.at < now - 2 * window))
    db.session.commit()

    others = (
        sa.select(LoginFailure.at)
        .where(LoginFailure.ip == attempt.ip, LoginFailure.at >= now - window, LoginFailure.id != attempt.id)
        .order_by(LoginFailure.at.desc())
        .limit(free + 32)  # enough to reach the longest wait
    )
    wait = address_wait(db.session.execute(others).scalars().all(), free, window, now)
    if wait > 0:
        message = f"Too many failed sign-ins from your network. Try again in {wait_text(wait)}."
        return SignIn(None, message, 429, math.ceil(wait))
    account_limit = config["AGENT_MAX_FAILED_LOGINS_PER_ACCOUNT"]
    failures = sa.select(sa.func.count()).where(
        LoginFailure.email == email, LoginFailure.checked.is_(True), LoginFailure.at >= now - window
    )
    if account_limit and db.session.scalar(failures) >= account_limit:
        message = (
            f"This account is locked after {account_limit} failed sign-ins. "
            f"Try again in {wait_text(window.total_seconds())}, or ask an administrator to unlock it."
        )
        return SignIn(None, message, 429, int(window.total_seconds()))

    found = find_agent(email)
    try:
        password_hasher().verify(found.password_hash if found else dummy_hash(), password)
        if found is None:
            raise VerifyMismatchError
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        db.session.execute(sa.update(LoginFailure).where(LoginFailure.id == attempt.id).values(checked=True))
        db.session.commit()
        mine = db.session.scalar(
            sa.select(sa.func.count()).where(LoginFailure.ip == attempt.ip, LoginFailure.at >= now - window)
        )
        left = free - mine
        if left > 0:
            more = f"{left} more failed attempt{'s' if left != 1 else ''} and sign-in from your network slows down."
        else:
            more = "Each further attempt from your network must wait longer."
        return SignIn(None, f"Wrong email or password. {more}", 401)

    if password_hasher().check_needs_rehash(found.password_hash):
        found.password_hash = password_hasher().hash(password)
    found.last_login_at = now
    # Forget this address's own slips on this account; failures from elsewhere (someone else
    # guessing) still count: a sign-in by the agent must not give them a fresh start.
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.email == email, LoginFailure.ip == attempt.ip))
    db.session.commit()
    return SignIn(found)


def dummy_hash() -> str:
    """Return a hash to check unknown addresses against, so they cost the same time."""
    app_state = state()
    if app_state.dummy_hash is None:
        app_state.dummy_hash = password_hasher().hash(secrets.token_hex(16))
    return app_state.dummy_hash


# A token's last use is written at most this often: a write per call would make every reply wait
# for (and fail with) a busy database, for a date nobody needs to the second.
TOKEN_USE_WRITE_SECONDS = 3600


def agent_for_token(token: str) -> Agent | None:
    """Return the agent an API token belongs to, noting (now and then, never at the call's expense) its use."""
    found = db.session.execute(sa.select(AgentToken).where(AgentToken.token_hash == digest(token))).scalar_one_or_none()
    if found is None:
        return None
    agent, now = found.agent, utcnow()
    if found.last_used_at is None or now - found.last_used_at >= dt.timedelta(seconds=TOKEN_USE_WRITE_SECONDS):
        try:
            db.session.execute(
                sa.update(AgentToken).where(AgentToken.id == found.id).values(last_used_at=now),
                execution_options={"synchronize_session": False},
            )
            db.session.commit()
        except sa.exc.SQLAlchemyError as error:
            db.session.rollback()
            log.warning("could not note the use of API token %d: %s", found.id, error)
    return agent


def api_agent() -> Agent:
    """Authenticate an API call: a bearer token, or a session with its CSRF token in a header.

    Only a session needs the CSRF header: browsers never add an Authorization header by
    themselves, so a token-authenticated request cannot be forged by another site.
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        found = agent_for_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if found is None:
            abort(401, description="the API token is not valid")
        return found
    if not current_user.is_authenticated:
        abort(401, description="sign in, or send an agent API token as 'Authorization: Bearer <token>'")
    try:
        validate_csrf(request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token"))
    except ValidationError as error:
        raise InputError(f"CSRF check failed ({error}): send the form's csrf_token as the X-CSRFToken header") from None
    return current_user


def safe_next(target: str | None) -> str:
    """Return a local path to go to after signing in (never another site)."""
    if target and is_local_path(target):
        return target
    return url_for("agent.console")


def init_auth(app: Flask) -> None:
    """Set up sign-in: HttpOnly, SameSite session cookies (Secure: see CookieSessions) and Flask-Login."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config["SESSION_COOKIE_SAMESITE"] or "Lax"
    login_manager.init_app(app)
