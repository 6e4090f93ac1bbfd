"""The `flask` commands: each parses its options, calls one domain function and prints a one-line summary."""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import sys
import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

import kb
from analytics.reports import report_csv, reports_json
from classifier import data as intent_data
from classifier import evaluate as intent_evaluation
from classifier import model as intent_model
from kb.answers import pop3_policy_problems
from kb.index import build_index
from mailclient import autoconfig
from web.auth import API_TOKEN_PREFIX, digest, end_all_access, find_agent, normalize_email, password_hasher
from web.events import purge_events
from web.extensions import db
from web.knowledge import database_engine, model_key, read_overlay, store_model
from web.models import ROLES, Agent, AgentSession, AgentToken, LoginFailure, utcnow
from web.reports import build_reports
from web.state import knowledge, state, swap_knowledge
from web.training import OPEN, change_status, request_change, run_gate


@click.command("build-index")
@with_appcontext
@click.option("--full", is_flag=True, help="Reindex every article, not only the changed ones.")
def build_index_command(full: bool):
    """Build the search index aside and swap it in."""
    base = knowledge().base
    report = build_index(base.library, current_app.config["INDEX_DIR"], full=full)
    verb = "built" if report.changed else "unchanged"
    click.echo(
        f"index {verb}: {report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged in {report.seconds:.2f}s"
    )


@click.command("validate")
@with_appcontext
def validate_command():
    """Check every article; print each problem with file and line."""
    base = knowledge().base
    problems = [str(p) for p in base.library.problems] + list(base.responses.problems)
    for problem in problems:
        click.echo(problem)
    click.echo(f"{len(base.library.articles)} articles ok, {len(problems)} problems")
    if problems:
        raise SystemExit(1)


@click.command("train")
@with_appcontext
def train_command():
    """Train the intent model on the data the app answers with, choose its thresholds by cross-validation, and save it.

    The model is saved in the instance folder and, if the database answers, stored there
    for the other nodes (so they load it instead of training it).
    """
    app, current = current_app._get_current_object(), knowledge()
    base, training = current.base, current.training
    model = intent_model.train(
        training, base.normalizer.normalize, fingerprint=base.normalizer.fingerprint, calibration=state().calibration
    )
    intent_model.save(model, current_app.config["MODEL_PATH"])
    swap_knowledge(app, dataclasses.replace(current, model=model))
    shared = ""
    try:
        key = model_key(training, base.normalizer, state().calibration)
        size = store_model(database_engine(app), current_app.config["SECRET_KEY"], key, current.version, model)
        shared = f"; stored in the database for the other nodes ({size // 1024} KB)"
    except sa.exc.SQLAlchemyError as error:
        click.echo(f"not stored in the database: {str(error).splitlines()[0]}", err=True)
    examples = sum(len(i.examples) for i in training.intents)
    click.echo(
        f"trained on {examples} examples of {len(training.intents)} intents (knowledge version {current.version}); "
        f"fallback below {model.thresholds.fallback:.2f}, clarify within {model.thresholds.ambiguity:.2f}{shared}"
    )


@click.command("evaluate")
@click.option("--folds", default=intent_model.CV_FOLDS, show_default=True, help="Cross-validation folds.")
@click.option(
    "--questions",
    "questions_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Held-out JSONL file (repeatable; default: HELDOUT_PATHS).",
)
@click.option("--show-mistakes", is_flag=True, help="List every held-out question the bot got wrong.")
@with_appcontext
def evaluate_command(folds: int, questions_paths: tuple[str, ...], show_mistakes: bool):
    """Cross-validate the classifier, score it on held-out questions, and check POP3 answers."""
    config, current = current_app.config, knowledge()
    base, training, model = current.base, current.training, current.model
    normalize = base.normalizer.normalize
    cv = intent_evaluation.cross_validate(training, normalize, folds, calibration=state().calibration)
    click.echo(f"Cross-validation ({cv.folds} folds, {sum(i.support for i in cv.per_intent)} examples)")
    click.echo(f"  {'intent':24} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>5}")
    for row in cv.per_intent:
        click.echo(f"  {row.intent:24} {row.precision:9.3f} {row.recall:7.3f} {row.f1:6.3f} {row.support:5d}")
    click.echo(
        f"  accuracy {cv.accuracy:.3f}; out-of-scope recall {cv.scores.out_of_scope_recall:.3f}; "
        f"false-reject rate {cv.scores.false_reject_rate:.3f}"
    )
    click.echo("  most confused (true -> predicted): " + ", ".join(f"{t} -> {p} ({n})" for t, p, n in cv.confused[:6]))
    by_writer = intent_evaluation.cross_validate_by_writer(training, normalize, folds, calibration=state().calibration)
    if by_writer is not None:
        click.echo(
            f"Real users' examples, each scored by a model that saw none from its site ({by_writer.questions}): "
            f"{by_writer.summary()}; clarifying questions {by_writer.clarify_rate:.3f}"
        )

    failures = [] if cv.accuracy >= config["EVAL_MIN_CV_ACCURACY"] else ["cross-validation accuracy"]
    questions, predictions = [], []
    for path in questions_paths or config["HELDOUT_PATHS"]:
        file_questions = intent_data.load_questions(path)
        file_predictions, held = intent_evaluation.evaluate_questions(model, file_questions, normalize)
        questions += file_questions
        predictions += file_predictions
        click.echo(f"Held-out questions ({held.questions}, {Path(path).name})")
        click.echo(
            f"  in-scope top-1 accuracy {held.in_scope_accuracy:.3f}; out-of-scope recall "
            f"{held.out_of_scope_recall:.3f}; false-reject rate {held.false_reject_rate:.3f}; "
            f"clarifying questions {held.clarify_rate:.3f}"
        )
        for kind, by_kind in intent_evaluation.score_by_kind(file_predictions, file_questions).items():
            click.echo(f"    {kind:10} {by_kind.summary()}")
        if show_mistakes:
            for question, expected, got in held.mistakes:
                click.echo(f"  expected {expected:24} got {got:24} {question}")
        failures += [
            f"{name} ({Path(path).name})"
            for name, ok in [
                ("held-out accuracy", held.in_scope_accuracy >= config["EVAL_MIN_HELDOUT_ACCURACY"]),
                ("out-of-scope recall", held.out_of_scope_recall >= config["EVAL_MIN_OUT_OF_SCOPE_RECALL"]),
                ("false-reject rate", held.false_reject_rate <= config["EVAL_MAX_FALSE_REJECT"]),
            ]
            if not ok
        ]

    unsafe = []
    for question, prediction in zip(questions, predictions, strict=True):
        answer = kb.answer(base, question.question, prediction.intent, fallback=prediction.fallback)
        unsafe += [f"{question.id}: {p}" for p in pop3_policy_problems(answer)]
    unsafe += [f"response {i}: {p}" for i, a in base.responses.answers.items() for p in pop3_policy_problems(a)]
    pop3_questions = sum(any(i.startswith("pop3") for i in q.intents) for q in questions)
    click.echo(
        f"POP3 policy: {len(unsafe)} unsafe answers "
        f"({pop3_questions} POP3 questions, {len(base.responses.answers)} responses)"
    )
    for line in unsafe:
        click.echo(f"  {line}")
    if unsafe:
        failures.append("POP3 policy")
    click.echo("evaluation " + ("FAILED: " + ", ".join(failures) if failures else "passed"))
    if failures:
        raise SystemExit(1)


@click.command("dns-records")
@click.option(
    "--ttl",
    default=autoconfig.SRV_TTL_SECONDS,
    show_default=True,
    type=click.IntRange(1, 2**31 - 1),
    help="Time to live of each record, in seconds.",
)
@with_appcontext
def dns_records_command(ttl: int):
    """Print the DNS SRV records (RFC 6186, RFC 8314) for the mail settings as zone-file lines."""
    settings = knowledge().base.settings
    records = autoconfig.srv_records(settings)
    for record in records:
        click.echo(f"{record.zone_line(settings.domain, ttl)}  ; {record.meaning}")
    unavailable = sum(record.target == "." for record in records)
    click.echo(f"; {len(records)} records for {settings.domain}, {unavailable} saying a service is not offered")


def read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("create-agent")
@click.argument("email")
@click.option("--name", default="", help="The agent's name, used to sign replies.")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=None,
    help="agent (console and /api/reply; the default for a new account) or admin (also the inbox, reports, training).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option(
    "--update",
    is_flag=True,
    help="Set a new password (and name or role, if given) for an existing agent; ends its sessions and tokens.",
)
@with_appcontext
def create_agent_command(email: str, name: str, role: str | None, password_stdin: bool, update: bool):
    """Create an agent account (or, with --update, reset its password and end every session and token)."""
    email = normalize_email(email)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) or len(email) > 254:
        raise click.BadParameter(f"'{email}' is not an email address", param_hint="EMAIL")
    found = find_agent(email)
    if found and not update:
        raise click.ClickException(f"an agent {email} already exists (use --update to set a new password)")
    if update and not found:
        raise click.ClickException(f"no agent {email}")
    password = read_password(password_stdin)
    minimum = current_app.config["AGENT_MIN_PASSWORD_CHARS"]
    if len(password) < minimum:
        raise click.ClickException(f"the password must have at least {minimum} characters")
    ended = (0, 0)
    if found is not None:
        # A new password is what one sets after a leak: nothing opened with the old one stays open.
        ended = end_all_access(found.id)
    found = found or Agent(email=email, role="agent")
    found.password_hash = password_hasher().hash(password)
    if role:
        found.role = role
    if name or not found.name:
        found.name = name.strip()[:100]
    db.session.add(found)
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.email == email))
    db.session.commit()
    extra = f"; {ended[0]} sessions ended, {ended[1]} API tokens revoked" if update else ""
    click.echo(f"{found.role} {email} {'updated' if update else 'created'}{extra}")


def agent_or_fail(email: str) -> Agent:
    found = find_agent(email)
    if found is None:
        raise click.ClickException(f"no agent {normalize_email(email)}")
    return found


@click.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@with_appcontext
def set_role_command(email: str, role: str):
    """Make an account an agent or an admin (its sessions end, so the change holds at once)."""
    found = agent_or_fail(email)
    found.role = role
    sessions = db.session.execute(sa.delete(AgentSession).where(AgentSession.agent_id == found.id)).rowcount
    db.session.commit()
    click.echo(f"{found.email} is now {role}; {sessions} sessions ended")


@click.command("list-agents")
@with_appcontext
def list_agents_command():
    """List every account with its role, last sign-in, open sessions and API tokens."""
    agents = db.session.execute(sa.select(Agent).order_by(Agent.email)).scalars().all()
    now = utcnow()
    for found in agents:
        sessions = db.session.scalar(
            sa.select(sa.func.count()).where(AgentSession.agent_id == found.id, AgentSession.expires_at > now)
        )
        tokens = db.session.scalar(sa.select(sa.func.count()).where(AgentToken.agent_id == found.id))
        last = found.last_login_at.isoformat(timespec="minutes") if found.last_login_at else "never"
        click.echo(f"{found.email}\t{found.role}\tlast sign-in {last}\t{sessions} sessions\t{tokens} tokens")
    click.echo(f"{len(agents)} accounts", err=True)


@click.command("list-tokens")
@click.argument("email", required=False)
@with_appcontext
def list_tokens_command(email: str | None):
    """List API tokens (all, or one agent's): id, agent, label, created, last used. Tokens themselves are not kept."""
    query = sa.select(AgentToken, Agent.email).join(Agent, Agent.id == AgentToken.agent_id).order_by(AgentToken.id)
    if email:
        query = query.where(Agent.id == agent_or_fail(email).id)
    rows = db.session.execute(query).all()
    for token, owner in rows:
        used = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never"
        created = token.created_at.isoformat(timespec="minutes")
        click.echo(f"{token.id}\t{owner}\t{token.label or '-'}\tcreated {created}\tlast used {used}")
    click.echo(f"{len(rows)} tokens", err=True)


@click.command("revoke-token")
@click.argument("token_ids", nargs=-1, type=int)
@click.option("--agent", "email", help="Revoke every token of this agent instead.")
@with_appcontext
def revoke_token_command(token_ids: tuple[int, ...], email: str | None):
    """Revoke API tokens by id (see `flask list-tokens`), or all of one agent's with --agent."""
    if bool(token_ids) == bool(email):
        raise click.UsageError("give token ids, or --agent EMAIL")
    where = AgentToken.agent_id == agent_or_fail(email).id if email else AgentToken.id.in_(token_ids)
    revoked = db.session.execute(sa.delete(AgentToken).where(where)).rowcount
    db.session.commit()
    if token_ids and revoked < len(set(token_ids)):
        raise click.ClickException(f"{revoked} revoked; the other ids are not tokens")
    click.echo(f"{revoked} token{'' if revoked == 1 else 's'} revoked")


@click.command("end-sessions")
@click.argument("email")
@with_appcontext
def end_sessions_command(email: str):
    """Sign an agent out everywhere: every console session of theirs ends at once."""
    found = agent_or_fail(email)
    ended = db.session.execute(sa.delete(AgentSession).where(AgentSession.agent_id == found.id)).rowcount
    db.session.commit()
    click.echo(f"{ended} session{'' if ended == 1 else 's'} of {found.email} ended")


@click.command("unlock-agent")
@click.argument("email")
@with_appcontext
def unlock_agent_command(email: str):
    """Lift a lock on an account (failed sign-ins counted against it are forgotten)."""
    found = agent_or_fail(email)
    cleared = db.session.execute(sa.delete(LoginFailure).where(LoginFailure.email == found.email)).rowcount
    db.session.commit()
    click.echo(f"{found.email} unlocked ({cleared} failed sign-ins forgotten)")


@click.command("create-agent-token")
@click.argument("email")
@click.option("--label", default="", help="What the token is for, e.g. the ticket system's name.")
@with_appcontext
def create_agent_token_command(email: str, label: str):
    """Create an API token for an agent and print it once (only its digest is kept)."""
    found = agent_or_fail(email)
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(AgentToken(agent_id=found.id, token_hash=digest(token), label=label[:100]))
    db.session.commit()
    click.echo(token)
    click.echo(f"token created for {found.email}; it is shown only once", err=True)


@click.command("purge-events")
@click.option("--days", type=click.IntRange(min=0), help="Keep this many days (default: ANALYTICS_RETENTION_DAYS).")
@with_appcontext
def purge_events_command(days: int | None):
    """Delete analytics events older than the retention time."""
    days = current_app.config["ANALYTICS_RETENTION_DAYS"] if days is None else days
    deleted = purge_events(db.engine, days)
    click.echo(f"deleted {deleted} event{'' if deleted == 1 else 's'} older than {days} day{'' if days == 1 else 's'}")


@click.command("report")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True)
@click.option("--days", type=click.IntRange(1, 366), help="Days to cover (default: REPORT_DAYS).")
@click.option("--output", type=click.File("w"), default="-", help="File to write (default: standard output).")
@with_appcontext
def report_command(fmt: str, days: int | None, output):
    """Print the reports of /admin/reports as CSV or JSON."""
    reports = build_reports(days or current_app.config["REPORT_DAYS"])
    output.write(json.dumps(reports_json(reports), indent=2) + "\n" if fmt == "json" else report_csv(reports))
    click.echo(f"{reports.questions} questions, {reports.searches} searches over {len(reports.days)} days", err=True)


@click.command("import-training")
@click.argument("path", type=click.File("r", encoding="utf-8"))
@click.option("--author", default="command line", show_default=True, help="Who the change is recorded for.")
@click.option("--wait", "wait_seconds", default=1800, show_default=True, help="Seconds to wait for the verdict.")
@with_appcontext
def import_training_command(path, author: str, wait_seconds: int):
    """Add training examples from a YAML file (intents.yml format) if the bot does not score lower.

    The change is queued like one from the inbox and checked by the gate (here, unless
    another process is checking changes: then this waits for its verdict).
    """
    try:
        examples = intent_data.parse_examples(path.read(), path.name)
    except intent_data.DataError as error:
        raise click.ClickException(str(error)) from None
    app = current_app._get_current_object()
    queued = request_change(app, author, examples=examples)
    if queued.refused:
        click.echo(queued.refused)
        raise SystemExit(1)
    row = wait_for_verdict(app, queued.id, wait_seconds)
    click.echo(row.reason or f"change {queued.id} is still {row.status}: {row.progress or 'waiting'}")
    if row.status != "accepted":
        raise SystemExit(1)


def wait_for_verdict(app: Flask, change_id: int, seconds: int):
    """Check queued changes here when no other process does; return the change's row once decided (or at timeout)."""
    engine = database_engine(app)
    deadline, said = time.monotonic() + seconds, None
    while True:
        run_gate(app)
        row = change_status(engine, change_id)
        if row.status not in OPEN or time.monotonic() > deadline:
            return row
        if row.progress != said:
            said = row.progress
            click.echo(f"change {change_id}: {row.status}, {row.progress or 'waiting for the gate'}", err=True)
        time.sleep(1.0)


@click.command("check-changes")
@click.option("--follow", is_flag=True, help="Keep checking new changes as they come (a gate worker process).")
@with_appcontext
def check_changes_command(follow: bool):
    """Check the queued changes to the bot's data now, in this process (the background thread does it otherwise)."""
    app = current_app._get_current_object()
    decided = run_gate(app)
    while follow:
        time.sleep(max(1.0, current_app.config["KNOWLEDGE_POLL_SECONDS"]))
        decided += run_gate(app)
    click.echo(f"{decided} change{'' if decided == 1 else 's'} checked")


@click.command("export-training")
@with_appcontext
def export_training_command():
    """Print the training examples added from the inbox and accepted (to fold into classifier/intents.yml)."""
    overlay = read_overlay(database_engine(current_app._get_current_object()))
    click.echo(intent_data.dump_examples(overlay.examples), nl=False)
    count = sum(map(len, overlay.examples.values()))
    click.echo(f"{count} examples added from the inbox (knowledge version {overlay.version})", err=True)


COMMANDS = (
    build_index_command,
    validate_command,
    train_command,
    evaluate_command,
    dns_records_command,
    create_agent_command,
    create_agent_token_command,
    set_role_command,
    list_agents_command,
    list_tokens_command,
    revoke_token_command,
    end_sessions_command,
    unlock_agent_command,
    purge_events_command,
    report_command,
    import_training_command,
    check_changes_command,
    export_training_command,
)


def init_cli(app: Flask) -> None:
    """Register every command on the app."""
    for command in COMMANDS:
        app.cli.add_command(command)
