"""The knowledge-gap inbox and the reports, for admins: what the bot could not answer, and what to do.

Every page and action here reads every question people asked or changes what the bot answers,
so all of them are for accounts with the admin role; other agents get a 403.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from analytics.gaps import KINDS as GAP_KINDS
from analytics.gaps import REASONS as VOTE_REASONS
from analytics.reports import report_charts, report_csv
from classifier import data as intent_data
from web.errors import InputError
from web.extensions import db
from web.forms import AdminForm, ImportForm, LogoutForm, NoteForm, SynonymForm
from web.inbox import knowledge_gaps
from web.inputs import clean_text, int_arg
from web.models import GapNote, KnowledgeChange
from web.reports import build_reports
from web.state import knowledge
from web.training import OPEN, TRAINING_UPLOAD_MAX_BYTES, read_uploaded_examples, request_change

admin = Blueprint("admin", __name__, url_prefix="/admin")


@admin.before_request
def admins_only():
    """Send visitors to sign in; refuse signed-in agents who are not admins."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403, description="These pages are for administrators. Ask one to give your account the admin role.")
    return None


def intent_choices() -> list[tuple[str, str]]:
    """Return the intents an example may be added to, with their names."""
    labels = knowledge().base.responses
    return [(name, labels.label(name)) for name in knowledge().training.names]


def picked_rows(form) -> dict[str, tuple[str, ...]]:
    """Read the inbox rows chosen for training: the one whose button was pressed, or every ticked one."""
    rows = [form["only"]] if form.get("only") else form.getlist("pick")
    examples: dict[str, list[str]] = {}
    for row in rows:
        text = clean_text(form.get(f"question-{row}", ""))[: current_app.config["ASK_MAX_CHARS"]]
        intent = form.get(f"intent-{row}", "")
        if not text or not intent:
            raise InputError("choose an intent and keep a question for every row you add")
        examples.setdefault(intent, []).append(text)
    if not examples:
        raise InputError("tick at least one row, or press a row's own button")
    return {intent: tuple(items) for intent, items in examples.items()}


def queue_change(*, examples=None, synonym=None):
    """Queue a change for the gate (or refuse it at once if it can never apply) and say so; back to the inbox."""
    app = current_app._get_current_object()
    queued = request_change(app, current_user.email, examples=examples, synonym=synonym)
    if queued.refused:
        flash(f"Not changed: {queued.refused}")
    else:
        flash(
            f"Queued as change {queued.id}. The bot is retrained and evaluated in the background; "
            "the list of changes below shows its progress and verdict."
        )
    return redirect(url_for("admin.inbox", _anchor="changes-title"))


@admin.get("")
@login_required
def inbox():
    """List every failure signal of the last days, grouped, with an action per group."""
    days = int_arg("days", current_app.config["GAP_WINDOW_DAYS"], 1, 366)
    every_group = knowledge_gaps(days)
    # A page at a time: a flood of odd questions must not make the inbox megabytes long.
    per_page = current_app.config["GAP_GROUPS_PER_PAGE"]
    pages = max(1, -(-len(every_group) // per_page))
    page = min(int_arg("page", 1, 1, 100_000), pages)
    groups = every_group[(page - 1) * per_page : page * per_page]
    ids = [group.id for group in groups]
    notes = defaultdict(list)
    for note in db.session.execute(sa.select(GapNote).where(GapNote.group_id.in_(ids)).order_by(GapNote.at)).scalars():
        notes[note.group_id].append(note)
    changes = (
        db.session.execute(sa.select(KnowledgeChange).order_by(KnowledgeChange.id.desc()).limit(8)).scalars().all()
    )
    return render_template(
        "admin/inbox.html",
        groups=groups,
        total_groups=len(every_group),
        page=page,
        pages=pages,
        first_row=(page - 1) * per_page,
        notes=notes,
        changes=changes,
        checking=any(change.status in OPEN for change in changes),
        version=knowledge().version,
        days=days,
        kinds=GAP_KINDS,
        reasons=VOTE_REASONS,
        intents=intent_choices(),
        form=AdminForm(),
        labels=knowledge().base.responses.label,
        logout_form=LogoutForm(),
    )


def require_form(form: FlaskForm) -> None:
    if not form.validate_on_submit():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        raise InputError(f"The form was incomplete or expired ({problems}). Go back, reload the page and try again.")


@admin.post("/training")
@login_required
def add_training():
    """Queue the chosen inbox questions as training examples (retrained and evaluated by the gate)."""
    require_form(AdminForm())
    return queue_change(examples=picked_rows(request.form))


@admin.post("/training/export")
@login_required
def export_training():
    """Download the chosen inbox questions as training data (YAML, the intents.yml format)."""
    require_form(AdminForm())
    text = intent_data.dump_examples(picked_rows(request.form))
    response = current_app.response_class(text, mimetype="application/yaml")
    response.headers["Content-Disposition"] = 'attachment; filename="training-examples.yml"'
    return response


@admin.post("/training/import")
@login_required
def import_training():
    """Queue a batch of training examples from YAML (pasted or uploaded) for the evaluation gate."""
    form = ImportForm()
    require_form(form)
    upload = request.files.get("file")
    if upload and upload.filename:
        raw = upload.read(TRAINING_UPLOAD_MAX_BYTES + 1)
        if len(raw) > TRAINING_UPLOAD_MAX_BYTES:
            raise InputError(f"The file is too large: at most {TRAINING_UPLOAD_MAX_BYTES // 1000} KB of examples.")
        text = raw.decode("utf-8", "replace")
    else:
        text = form.examples.data or ""
    examples = read_uploaded_examples(text)
    if not examples:
        raise InputError("paste or upload training examples in the intents.yml format")
    return queue_change(examples=examples)


@admin.post("/synonyms")
@login_required
def add_synonym_view():
    """Teach search and the bot that two words mean the same (retrained and evaluated by the gate)."""
    form = SynonymForm()
    require_form(form)
    return queue_change(synonym=(form.word.data, form.synonym.data))


@admin.post("/notes")
@login_required
def add_note():
    """Note on a group that an article section is missing."""
    form = NoteForm()
    require_form(form)
    db.session.add(
        GapNote(
            group_id=form.group.data,
            group_key=form.key.data,
            text=clean_text(form.text.data)[:1000],
            author=current_user.email,
        )
    )
    db.session.commit()
    flash("Note saved.")
    return redirect(url_for("admin.inbox", _anchor=f"group-{form.group.data}"))


@admin.get("/reports")
@login_required
def reports_page():
    """Show top intents and their trend, helpfulness and the fallback rate, as charts with their tables."""
    days = int_arg("days", current_app.config["REPORT_DAYS"], 1, 366)
    reports = build_reports(days)
    return render_template(
        "admin/reports.html",
        reports=reports,
        charts=report_charts(reports, knowledge().base.responses.label),
        labels=knowledge().base.responses.label,
        days=days,
        logout_form=LogoutForm(),
    )


@admin.get("/reports.csv")
@login_required
def reports_csv():
    """Download the reports' figures as CSV, as `flask report --format csv` prints them."""
    days = int_arg("days", current_app.config["REPORT_DAYS"], 1, 366)
    response = current_app.response_class(report_csv(build_reports(days)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="report-{days}-days.csv"'
    return response
