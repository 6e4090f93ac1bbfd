"""Sign-in for support agents: passwords, lockouts, sessions and API tokens.

Agents sign in with accounts kept in the database; ticket systems call the API with a
per-agent token instead of a session. Unknown addresses are counted, locked and timed like
real ones, so answers do not tell which accounts exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
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
from web.models import Agent, AgentToken, LoginFailure, utcnow
from web.state import state

API_TOKEN_PREFIX = "agt_"


@login_manager.user_loader
def load_agent(session_id: str) -> Agent | None:
    """Return the signed-in agent, unless the password changed since the session began."""
    agent_id, _, _ = session_id.partition(".")
    found = db.session.get(Agent, int(agent_id)) if agent_id.isdigit() else None
    return found if found is not None and found.get_id() == session_id else None


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


def locked_until(column, value: str, limit: int, now: dt.datetime) -> dt.datetime | None:
    """Return when a lock on ``value`` ends, if ``limit`` failures within the lockout time set one."""
    if limit <= 0:
        return None
    window = dt.timedelta(seconds=current_app.config["AGENT_LOCKOUT_SECONDS"])
    query = sa.select(LoginFailure.at).where(column == value).order_by(LoginFailure.at.desc()).limit(limit)
    recent = db.session.execute(query).scalars().all()
    # No failure is recorded while locked, so the newest one is the one that set the lock.
    if len(recent) == limit and recent[0] - recent[-1] <= window and now < recent[0] + window:
        return recent[0] + window
    return None


def minutes_until(moment: dt.datetime, now: dt.datetime) -> str:
    minutes = max(1, math.ceil((moment - now).total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the agent, or a message and an HTTP status."""

    agent: Agent | None
    message: str = ""
    status: int = 200


def sign_in(email: str, password: str, ip: str) -> SignIn:
    """Check a password, counting failures per email address and per client address.

    Unknown addresses are counted and locked like real ones and take as long to check,
    so the answers do not tell which accounts exist.
    """
    config, now = current_app.config, utcnow()
    email = normalize_email(email)
    lockout = minutes_until(now + dt.timedelta(seconds=config["AGENT_LOCKOUT_SECONDS"]), now)
    ip_lock = locked_until(LoginFailure.ip, ip, config["AGENT_MAX_FAILED_LOGINS_PER_IP"], now)
    if ip_lock:
        return SignIn(
            None, f"Too many failed sign-ins from your network. Try again in {minutes_until(ip_lock, now)}.", 429
        )
    account_lock = locked_until(LoginFailure.email, email, config["AGENT_MAX_FAILED_LOGINS"], now)
    if account_lock:
        message = (
            f"This account is locked for {lockout} after {config['AGENT_MAX_FAILED_LOGINS']} failed sign-ins. "
            f"Try again in {minutes_until(account_lock, now)}, or ask an administrator to reset the password."
        )
        return SignIn(None, message, 429)

    found = find_agent(email)
    try:
        password_hasher().verify(found.password_hash if found else dummy_hash(), password)
        if found is None:
            raise VerifyMismatchError
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        window = dt.timedelta(seconds=config["AGENT_LOCKOUT_SECONDS"])
        db.session.add(LoginFailure(email=email, ip=ip, at=now))
        # A lock looks back one lockout time from a failure up to one lockout time old.
        db.session.execute(sa.delete(LoginFailure).where(LoginFailure.at < now - 2 * window))
        db.session.commit()
        if locked_until(LoginFailure.email, email, config["AGENT_MAX_FAILED_LOGINS"], now):
            return SignIn(None, f"Wrong email or password. This account is now locked for {lockout}.", 429)
        failures = db.session.scalar(
            sa.select(sa.func.count()).where(LoginFailure.email == email, LoginFailure.at >= now - window)
        )
        left = config["AGENT_MAX_FAILED_LOGINS"] - failures
        return SignIn(
            None,
            f"Wrong email or password. {left} more failed attempt{'s' if left != 1 else ''} "
            f"will lock this account for {lockout}.",
            401,
        )

    if password_hasher().check_needs_rehash(found.password_hash):
        found.password_hash = password_hasher().hash(password)
    found.last_login_at = now
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.email == email))
    db.session.commit()
    return SignIn(found)


def dummy_hash() -> str:
    """Return a hash to check unknown addresses against, so they cost the same time."""
    app_state = state()
    if app_state.dummy_hash is None:
        app_state.dummy_hash = password_hasher().hash(secrets.token_hex(16))
    return app_state.dummy_hash


def agent_for_token(token: str) -> Agent | None:
    """Return the agent an API token belongs to, and note when it was used."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    found = db.session.execute(sa.select(AgentToken).where(AgentToken.token_hash == digest)).scalar_one_or_none()
    if found is None:
        return None
    found.last_used_at = utcnow()
    db.session.commit()
    return found.agent


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
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("agent.console")


def init_auth(app: Flask) -> None:
    """Set up sign-in: HttpOnly, SameSite session cookies (Secure: see CookieSessions) and Flask-Login."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config["SESSION_COOKIE_SAMESITE"] or "Lax"
    login_manager.init_app(app)
