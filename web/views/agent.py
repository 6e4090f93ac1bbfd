"""The agent console: sign in and out, paste a customer's mail, get the answer and a reply to paste back."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from mailclient.checkinput import settings_in_question
from web.answering import draft_reply, help_center_url, knowledge_args
from web.auth import normalize_email, safe_next, sign_in
from web.errors import InputError
from web.forms import ConsoleForm, LoginForm, LogoutForm
from web.inputs import REPLY_MAX_BODY_BYTES
from web.state import knowledge

log = logging.getLogger(__name__)


agent = Blueprint("agent", __name__, url_prefix="/agent")


@agent.route("/login", methods=["GET", "POST"])
def login():
    """Sign an agent in."""
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("agent/login.html", form=form, next=request.args.get("next", "")), status
    result = sign_in(form.email.data, form.password.data, request.remote_addr or "unknown")
    if result.agent is None:
        log.info("failed sign-in for %s from %s", normalize_email(form.email.data), request.remote_addr)
        return render_template(
            "agent/login.html", form=form, error=result.message, next=request.args.get("next", "")
        ), result.status
    session.clear()
    login_user(result.agent)
    return redirect(safe_next(request.args.get("next")))


@agent.post("/logout")
def logout():
    """Sign out (a form post, so another site cannot sign an agent out)."""
    if LogoutForm().validate_on_submit():
        logout_user()
        session.clear()
        flash("You are signed out.")
    return redirect(url_for("agent.login"))


@agent.route("", methods=["GET", "POST"])
@login_required
def console():
    """Paste a customer's message; get the answer, the alternatives and a reply to copy."""
    request.max_content_length = REPLY_MAX_BODY_BYTES
    form = ConsoleForm()
    if request.method == "GET":
        form.signature.data = current_user.name
    draft, status = None, 200
    if form.validate_on_submit():
        try:
            draft = draft_reply(
                form.message.data,
                intent=form.intent.data or None,
                customer_name=form.customer_name.data,
                agent_name=current_user.name,
                signature=form.signature.data,
                base_url=help_center_url(),
            )
        except InputError as error:
            form.message.errors = [*form.message.errors, str(error)]
            status = 400
        else:
            # The name the customer signed with fills the empty field, so the agent sees what the reply says.
            form.customer_name.data = draft.customer_name
    elif form.is_submitted():
        status = 400
    # When the customer described their mail-app settings, show the checker's verdicts beside the answer.
    check = settings_in_question(draft.message.text, *knowledge_args()) if draft else None
    intents = [(i, knowledge().base.responses.label(i)) for i in knowledge().base.responses.answers]
    return render_template(
        "agent/console.html", form=form, draft=draft, check=check, intents=intents, logout_form=LogoutForm()
    ), status
