"""The help center, its JSON API and the answer bot, as one Flask application.

``create_app()`` is the only way to get an app; ``flask`` finds it here without ``--app``.
The web layer parses input, calls one function of ``kb`` or ``classifier`` and renders
the result. It owns no search, scoring or text formatting of its own.
"""

from __future__ import annotations

import os

# scikit-learn and numpy on a 2-core machine: one thread each is much faster than
# contended pools. Set before numpy is first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import atexit
import csv
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import logging
import math
import queue
import re
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import click
import sqlalchemy as sa
import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.cli import with_appcontext
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import validate_csrf
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional, ValidationError

import kb
from analytics import charts
from analytics.gaps import KINDS as GAP_KINDS
from analytics.gaps import REASONS as VOTE_REASONS
from analytics.gaps import Signal, group_signals, typed_further
from analytics.redact import redact
from classifier import data as intent_data
from classifier import evaluate as intent_evaluation
from classifier import model as intent_model
from classifier.gate import Assessment, Verdict, assess, judge
from kb.answers import link_title, pop3_policy_problems
from kb.index import build_index
from kb.search import search
from kb.synonyms import SynonymError, add_synonym, dump_lexicon, merge_lexicons
from mailclient import autoconfig
from mailclient.checker import CheckInputError
from mailclient.checkinput import check_form, check_payload, mention_check, safe_echo, settings_in_question
from mailclient.clientsetup import CLIENT_NAMES, SetupError, parse_client, setup_guide
from replies.message import CustomerMessage, clean_message
from replies.reply import FORMATS as REPLY_FORMATS
from replies.reply import MAX_NAME_CHARS, Reply, compose_reply
from web.config import (  # moved
    ARTICLE_URL,
    ROOT,
    init_secret_key,
    load_config,  # moved
)
from web.errors import BadRequest, register_errors, wants_json  # moved
from web.extensions import db, init_database, login_manager  # moved
from web.inputs import clean_text, int_arg, json_body, optional_text, query_text, text_field  # moved
from web.knowledge import knowledge_stamp, load_bot_data, load_knowledge, refresh_knowledge, with_bot_data  # moved
from web.models import (  # moved
    EVENT_COLUMNS,
    EVENT_LENGTHS,
    Agent,
    AgentToken,
    Event,
    GapNote,
    KnowledgeChange,
    LoginFailure,
    utcnow,
)
from web.observability import init_observability  # moved
from web.ratelimit import init_rate_limits  # moved
from web.security import CookieSessions, add_cors_headers, add_security_headers, frame_policy, parse_origins  # moved
from web.state import STATE_KEY, AppState, knowledge, state, swap_knowledge

# MOVED-IMPORTS: keep a blank line above


log = logging.getLogger(__name__)

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")
ops = Blueprint("ops", __name__)






def create_app(config: dict | None = None) -> Flask:
    """Build the application; ``config`` (tests) replaces the instance file and environment."""
    # Tests give their own instance folder, so no state of a developer's is read or written.
    instance_path = (config or {}).get("INSTANCE_PATH")
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    load_config(app, config)
    os.makedirs(app.instance_path, exist_ok=True)
    init_secret_key(app)
    app.session_interface = CookieSessions()
    # JSON answers keep the order they are built in (question fields first); sorting the keys
    # of every answer was a tenth of the time spent turning it into JSON.
    app.json.sort_keys = False

    init_observability(app)
    loaded = load_knowledge(app)
    init_database(app)
    app.extensions[STATE_KEY] = AppState(
        knowledge=loaded,
        events=make_event_log(app),
        passwords=make_password_hasher(app.config),
        widget_origins=parse_origins(app.config["WIDGET_ALLOWED_ORIGINS"]),
        openapi=load_openapi(loaded.training.names),
        knowledge_checked=time.monotonic(),
        knowledge_stamp=knowledge_stamp(app.config),
    )
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(ops)
    init_mail_clients(app)
    init_agents(app)
    init_rate_limits(app)
    init_analytics(app)
    register_errors(app)
    init_widget(app)
    app.after_request(add_security_headers)
    app.context_processor(lambda: {"provider": knowledge(app).base.settings.provider})
    app.cli.add_command(build_index_command)
    app.cli.add_command(validate_command)
    app.cli.add_command(train_command)
    app.cli.add_command(evaluate_command)
    return app


def load_openapi(intents: list[str]) -> dict:
    """Read the API description and fill in what comes from data: the intent ids a vote may name."""
    spec = yaml.safe_load((ROOT / "docs" / "openapi.yml").read_text(encoding="utf-8"))
    vote = spec["paths"]["/api/feedback"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    vote["properties"]["intent"]["enum"] = intents
    return spec


















# --- input parsing -------------------------------------------------------------------








def run_search(text: str, limit: int, page: int):
    base = knowledge().base
    results = search(base.index, base.library, base.normalizer, text, limit=limit, page=page, article_url=base.article_url)
    g.searched = (text, results)  # logged after the response (see init_analytics)
    return results


# --- pages ---------------------------------------------------------------------------


@pages.get("/")
def home():
    """Show categories, their articles and a search box."""
    return render_template("pages/home.html", categories=knowledge().base.library.categories())


@pages.get(f"{ARTICLE_URL}<slug>")
def article(slug: str):
    """Show one article with its table of contents and related articles."""
    library = knowledge().base.library
    found = library.articles.get(slug)
    if found is None:
        abort(404, description="We could not find that article. It may have moved: try searching for it.")
    return render_template("pages/article.html", article=found, related=library.related(found))


@pages.get("/search")
def search_page():
    """Show search results with highlighted snippets, or help when there are none."""
    text = query_text(required=False)
    if not text:
        return render_template("pages/search.html", query="", results=None)
    page = int_arg("page", 1, 1, current_app.config["SEARCH_MAX_PAGE"])
    results = run_search(text, current_app.config["SEARCH_LIMIT"], page)
    return render_template("pages/search.html", query=text, results=results, categories=knowledge().base.library.categories())


# --- API -----------------------------------------------------------------------------


@api.get("/search")
def api_search():
    """Search sections and articles: ``?q=...&limit=N&page=P``."""
    text = query_text()
    config = current_app.config
    limit = int_arg("limit", config["SEARCH_LIMIT"], 1, config["SEARCH_MAX_LIMIT"])
    page = int_arg("page", 1, 1, config["SEARCH_MAX_PAGE"])
    results = run_search(text, limit, page)
    return jsonify(
        query=text,
        total=results.total,
        page=results.page,
        pages=results.pages,
        suggestion=results.suggestion,
        ref=search_ref(),  # the widget sends it back with a click on a result (POST /api/search/click)
        results=[
            {"title": h.title, "section": h.section, "url": h.url, "snippet": h.snippet, "score": h.score}
            for h in results.hits
        ],
    )






def respond(question: str):
    """Classify a question and answer it: the one place where classifier and knowledge base meet."""
    base = knowledge().base
    prediction = intent_model.predict(knowledge().model, base.normalizer.normalize(question))
    log.debug("ask: %s %.3f fallback=%s clarify=%s", prediction.intent, prediction.confidence, prediction.fallback, prediction.clarify)
    choices = tuple(intent for intent, _ in prediction.ranking[:2]) if prediction.clarify else ()
    g.answered = (question, prediction)  # logged after the response (see init_analytics)
    return prediction, kb.answer(base, question, prediction.intent, fallback=prediction.fallback, choices=choices)


def link_json(link) -> dict:
    return {"title": link.title, "section": link.section, "url": link.url}


@api.post("/ask")
def api_ask():
    """Answer a question: ``{"question": "...", "session": "..."}``."""
    payload = json_body()
    question = text_field(payload, "question", current_app.config["ASK_MAX_CHARS"])
    session = text_field(payload, "session", 100, required=False)
    prediction, answer = respond(question)
    answer, settings_check = settings_check_for(question, answer)  # hand-off to the settings checker
    ranking = [{"intent": i, "confidence": c} for i, c in prediction.ranking]
    body = {
        "intent": intent_data.OUT_OF_SCOPE if prediction.fallback else prediction.intent,
        "confidence": prediction.confidence,
        "fallback": prediction.fallback,
        "clarify": prediction.clarify,
        "answer": {"text": answer.text, "markdown": answer.markdown, "html": answer.html},
        "articles": [link_json(link) for link in answer.articles],
        "suggestions": list(answer.suggestions),
        # On a clarifying question these are the choices offered; otherwise the runners-up.
        "alternatives": ranking[:2] if prediction.clarify else ranking[1:4],
        "source": {**link_json(answer.source), "updated": answer.source.updated.isoformat()} if answer.source else None,
    }
    if answer.settings is not None:
        body["settings"] = answer.settings
    if session is not None:
        body["session"] = session
    if settings_check is not None:
        body["check"] = settings_check
    return jsonify(body)


def article_summary(found) -> dict:
    return {
        "slug": found.slug,
        "title": found.title,
        "summary": found.summary,
        "category": found.category,
        "tags": list(found.tags),
        "updated": found.updated.isoformat(),
        "url": ARTICLE_URL + found.slug,
    }


@api.get("/articles")
def api_articles():
    """List every article."""
    library = knowledge().base.library
    return jsonify(articles=[article_summary(a) for a in sorted(library.articles.values(), key=lambda a: a.title)])


@api.get("/articles/<slug>")
def api_article(slug: str):
    """Return one article with its sections, HTML and Markdown."""
    found = knowledge().base.library.articles.get(slug)
    if found is None:
        abort(404, description=f"no article '{slug}'")
    sections = [
        {"anchor": s.anchor, "title": s.title, "level": s.level, "url": f"{ARTICLE_URL}{slug}#{s.anchor}" if s.anchor else ARTICLE_URL + slug}
        for s in found.sections
    ]
    return jsonify(**article_summary(found), sections=sections, html=found.html, markdown=found.markdown)


# --- operations ----------------------------------------------------------------------


@ops.get("/healthz")
def healthz():
    """Say the process is alive (for a load balancer's liveness check)."""
    return jsonify(status="ok")


@ops.get("/readyz")
def readyz():
    """Say whether the index and the model are loaded, so this node can take traffic."""
    current = knowledge()
    checks = {"index": current.base.index.ready, "model": current.model is not None}
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "not ready", **checks), 200 if ready else 503


@api.get("/openapi.json")
def openapi():
    """Describe the public API (OpenAPI 3.1)."""
    return jsonify(state().openapi)


# --- CLI -----------------------------------------------------------------------------


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
    """Train the intent model, choose its thresholds by cross-validation, and save it."""
    current = knowledge()
    base, training = current.base, current.training
    model = intent_model.train(training, base.normalizer.normalize, fingerprint=base.normalizer.fingerprint)
    intent_model.save(model, current_app.config["MODEL_PATH"])
    swap_knowledge(current_app._get_current_object(), dataclasses.replace(current, model=model))
    examples = sum(len(i.examples) for i in training.intents)
    click.echo(
        f"trained on {examples} examples of {len(training.intents)} intents; "
        f"fallback below {model.thresholds.fallback:.2f}, clarify within {model.thresholds.ambiguity:.2f}"
    )


@click.command("evaluate")
@click.option("--folds", default=intent_model.CV_FOLDS, show_default=True, help="Cross-validation folds.")
@click.option("--questions", "questions_paths", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Held-out JSONL file (repeatable; default: HELDOUT_PATHS).")
@click.option("--show-mistakes", is_flag=True, help="List every held-out question the bot got wrong.")
@with_appcontext
def evaluate_command(folds: int, questions_paths: tuple[str, ...], show_mistakes: bool):
    """Cross-validate the classifier, score it on held-out questions, and check POP3 answers."""
    config = current_app.config
    base, training = knowledge().base, knowledge().training
    normalize = base.normalizer.normalize
    cv = intent_evaluation.cross_validate(training, normalize, folds)
    click.echo(f"Cross-validation ({cv.folds} folds, {sum(i.support for i in cv.per_intent)} examples)")
    click.echo(f"  {'intent':24} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>5}")
    for row in cv.per_intent:
        click.echo(f"  {row.intent:24} {row.precision:9.3f} {row.recall:7.3f} {row.f1:6.3f} {row.support:5d}")
    click.echo(f"  accuracy {cv.accuracy:.3f}; out-of-scope recall {cv.scores.out_of_scope_recall:.3f}; "
               f"false-reject rate {cv.scores.false_reject_rate:.3f}")
    click.echo("  most confused (true -> predicted): " + ", ".join(f"{t} -> {p} ({n})" for t, p, n in cv.confused[:6]))

    model = knowledge().model
    failures = [] if cv.accuracy >= config["EVAL_MIN_CV_ACCURACY"] else ["cross-validation accuracy"]
    questions, predictions = [], []
    for path in questions_paths or config["HELDOUT_PATHS"]:
        file_questions = intent_data.load_questions(path)
        file_predictions, held = intent_evaluation.evaluate_questions(model, file_questions, normalize)
        questions += file_questions
        predictions += file_predictions
        click.echo(f"Held-out questions ({held.questions}, {Path(path).name})")
        click.echo(f"  in-scope top-1 accuracy {held.in_scope_accuracy:.3f}; out-of-scope recall "
                   f"{held.out_of_scope_recall:.3f}; false-reject rate {held.false_reject_rate:.3f}; "
                   f"clarifying questions {held.clarify_rate:.3f}")
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
    click.echo(f"POP3 policy: {len(unsafe)} unsafe answers ({pop3_questions} POP3 questions, {len(base.responses.answers)} responses)")
    for line in unsafe:
        click.echo(f"  {line}")
    if unsafe:
        failures.append("POP3 policy")
    click.echo("evaluation " + ("FAILED: " + ", ".join(failures) if failures else "passed"))
    if failures:
        raise SystemExit(1)


# --- mail clients: settings checker, autoconfig files, setup guide, DNS records ------
# One blueprint, one init function and one CLI command; the work is in mailclient.checker,
# mailclient.checkinput, mailclient.autoconfig and mailclient.clientsetup.

mail_clients = Blueprint("mailclient", __name__)
XML_CONTENT_TYPE = "text/xml; charset=utf-8"
MOBILECONFIG_CONTENT_TYPE = "application/x-apple-aspen-config"
AUTODISCOVER_MAX_BYTES = 16 * 1024
SETTINGS_ARTICLE_SLUG = "email-client-settings"


def init_mail_clients(app: Flask) -> None:
    """Register the settings checker, the client configuration files and the dns-records command."""
    app.register_blueprint(mail_clients)
    app.cli.add_command(dns_records_command)


def knowledge_args() -> tuple:
    base = knowledge().base
    return base.settings, base.library, base.article_url


def settings_check_for(question: str, answer):
    """Check a bot question that reads like pasted settings; return the answer mentioning it, and the check."""
    result = settings_in_question(question, *knowledge_args())
    if result is None:
        return answer, None
    mentioned = mention_check(answer, result, url_for("mailclient.check_page"), knowledge().base.article_url)
    return mentioned, result.as_dict()


@mail_clients.route("/check", methods=["GET", "POST"])
def check_page():
    """Show the settings checker; on POST, check the form's fields or its pasted description."""
    result = error = None
    if request.method == "POST":
        try:
            result = check_form(request.form, *knowledge_args(), current_app.config["CHECK_MAX_CHARS"])
        except CheckInputError as exc:
            error = str(exc)
    form = safe_echo(request.form)
    if result is not None and result.description is not None:
        form["description"] = result.description
    page = render_template("mailclient/check.html", result=result, error=error, form=form,
                           max_chars=current_app.config["CHECK_MAX_CHARS"])
    return page, 400 if error else 200


@api.post("/check-settings")  # on the api blueprint: JSON errors and the API rate limit
def api_check_settings():
    """Check mail-app settings: ``{"incoming": {...}, "outgoing": {...}, "client"}`` or ``{"description"}``."""
    try:
        result = check_payload(json_body(), *knowledge_args(), current_app.config["CHECK_MAX_CHARS"])
    except CheckInputError as exc:
        raise BadRequest(str(exc)) from None
    return jsonify(result.as_dict())


@mail_clients.get("/.well-known/autoconfig/mail/config-v1.1.xml")
@mail_clients.get("/mail/config-v1.1.xml")  # registered first, so url_for gives this one
def autoconfig_file():
    """Serve the Thunderbird autoconfig file; the same for every ``?emailaddress=`` (it says %EMAILADDRESS%)."""
    documentation = url_for("pages.article", slug=SETTINGS_ARTICLE_SLUG, _external=True)
    body = autoconfig.thunderbird_config(knowledge().base.settings, documentation_url=documentation)
    response = Response(body, content_type=XML_CONTENT_TYPE)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["AUTOCONFIG_CACHE_SECONDS"]
    return response


@mail_clients.get("/setup")
def setup_page():
    """Show "Set up my mail app": pick an app, enter an address, get the file or the values."""
    address = request.args.get("address", "").strip()
    client = request.args.get("client", "")
    guide = error = None
    if address or client:
        settings, library, article_url = knowledge_args()
        try:
            guide = setup_guide(settings, library, address, parse_client(client), article_url)
        except SetupError as exc:
            error = str(exc)
    page = render_template("mailclient/setup.html", guide=guide, error=error, address=address, client=client,
                           clients=CLIENT_NAMES)
    return page, 400 if error else 200


@mail_clients.get("/setup/profile.mobileconfig")
def apple_profile_download():
    """Download the Apple configuration profile for ``?address=`` (no password in it)."""
    settings = knowledge().base.settings
    try:
        body = autoconfig.apple_profile(settings, request.args.get("address", ""))
    except autoconfig.AddressError as exc:
        raise BadRequest(str(exc)) from None
    filename = autoconfig.profile_filename(settings)
    return Response(body, content_type=MOBILECONFIG_CONTENT_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@mail_clients.get("/operator/dns-records")
def dns_records_page():
    """Show operators the DNS SRV records and the names mail apps look up."""
    settings = knowledge().base.settings
    return render_template("mailclient/dns.html", records=autoconfig.srv_records(settings), domain=settings.domain,
                           ttl=autoconfig.SRV_TTL_SECONDS)


@mail_clients.post("/autodiscover/autodiscover.xml")
@mail_clients.post("/Autodiscover/Autodiscover.xml")
def autodiscover():
    """Answer Outlook's Autodiscover (POX) request, best effort: current Outlook often skips it for IMAP."""
    body = request.stream.read(AUTODISCOVER_MAX_BYTES + 1)
    try:
        if len(body) > AUTODISCOVER_MAX_BYTES:
            raise autoconfig.AutodiscoverError("the request is too large")
        address = autoconfig.autodiscover_address(body)
    except autoconfig.AutodiscoverError as exc:
        return Response(autoconfig.autodiscover_error(str(exc)), 400, content_type=XML_CONTENT_TYPE)
    return Response(autoconfig.autodiscover_response(knowledge().base.settings, address), content_type=XML_CONTENT_TYPE)


@click.command("dns-records")
@click.option("--ttl", default=autoconfig.SRV_TTL_SECONDS, show_default=True, type=click.IntRange(1, 2**31 - 1),
              help="Time to live of each record, in seconds.")
@with_appcontext
def dns_records_command(ttl: int):
    """Print the DNS SRV records (RFC 6186, RFC 8314) for the mail settings as zone-file lines."""
    settings = knowledge().base.settings
    records = autoconfig.srv_records(settings)
    for record in records:
        click.echo(f"{record.zone_line(settings.domain, ttl)}  ; {record.meaning}")
    unavailable = sum(record.target == "." for record in records)
    click.echo(f"; {len(records)} records for {settings.domain}, {unavailable} saying a service is not offered")

# --- agent console: accounts, sign-in, /agent and POST /api/reply --------------------
#
# Agents sign in with accounts kept in the embedded database (Flask-SQLAlchemy; SQLite in
# the instance folder unless DATABASE_URL names another database; schema by Alembic
# migrations in migrations/, applied on start). Ticket systems call /api/reply with a
# per-agent API token instead of a session.

API_TOKEN_PREFIX = "agt_"
SIGNATURE_MAX_CHARS = 1000
# A pasted thread of REPLY_MESSAGE_MAX_CHARS, form- or JSON-encoded, can take several bytes a
# character: the console and /api/reply accept larger bodies than MAX_CONTENT_LENGTH.
REPLY_MAX_BODY_BYTES = 256 * 1024
ALTERNATIVES = 3




agent = Blueprint("agent", __name__, url_prefix="/agent")










def init_agents(app: Flask) -> None:
    """Set up sign-in and the agent console."""
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config["SESSION_COOKIE_SAMESITE"] or "Lax"

    login_manager.init_app(app)
    app.register_blueprint(agent)
    app.cli.add_command(create_agent_command)
    app.cli.add_command(create_agent_token_command)








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


# Domain of sign-in: accounts, passwords and lockouts.


def make_password_hasher(config) -> PasswordHasher:
    """Return the Argon2id hasher with the configured cost."""
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_KIB"], parallelism=config["ARGON2_PARALLELISM"]
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
        return SignIn(None, f"Too many failed sign-ins from your network. Try again in {minutes_until(ip_lock, now)}.", 429)
    account_lock = locked_until(LoginFailure.email, email, config["AGENT_MAX_FAILED_LOGINS"], now)
    if account_lock:
        message = (f"This account is locked for {lockout} after {config['AGENT_MAX_FAILED_LOGINS']} failed sign-ins. "
                   f"Try again in {minutes_until(account_lock, now)}, or ask an administrator to reset the password.")
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
        return SignIn(None, f"Wrong email or password. {left} more failed attempt{'s' if left != 1 else ''} "
                            f"will lock this account for {lockout}.", 401)

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
        raise BadRequest(f"CSRF check failed ({error}): send the form's csrf_token as the X-CSRFToken header") from None
    return current_user


# Domain of replies: the wiring of message cleaning, classifier, answers and replies.


@dataclass(frozen=True)
class Alternative:
    """A runner-up intent an agent may pick instead."""

    intent: str
    label: str
    confidence: float


@dataclass(frozen=True)
class Draft:
    """A pasted message answered: what was read, the answer chosen, the alternatives, the replies."""

    message: CustomerMessage
    answer: kb.Answer
    label: str
    confidence: float
    fallback: bool
    chosen: bool
    alternatives: tuple[Alternative, ...]
    replies: dict[str, Reply]
    links: tuple[tuple[str, str], ...]


def draft_reply(
    text: str, *, intent: str | None, customer_name: str | None, agent_name: str | None,
    signature: str | None, base_url: str, formats: tuple[str, ...] = REPLY_FORMATS,
) -> Draft:
    """Read a pasted message, answer it (with the agent's choice of intent, if any) and write replies."""
    base = knowledge().base
    message = clean_message(text)
    if not message.text:
        raise BadRequest("nothing is left to answer once quoted mail and signatures are removed")
    question = message.text[: current_app.config["ASK_MAX_CHARS"]]
    prediction, answer = respond(question)
    answers = base.responses.answers
    if intent and intent not in answers:
        raise BadRequest(f"unknown intent '{intent}'")
    if intent or prediction.clarify:
        # Agents get the answer itself, not the widget's clarifying question; they see the choices.
        answer = kb.answer(base, question, intent or prediction.intent)
    confidences = dict(prediction.ranking)
    confidence = prediction.confidence if answer.intent not in answers else confidences.get(answer.intent, 0.0)
    alternatives = tuple(
        Alternative(i, base.responses.label(i), c) for i, c in prediction.ranking if i in answers and i != answer.intent
    )[:ALTERNATIVES]
    replies = {
        fmt: compose_reply(answer, fmt, base_url=base_url, customer_name=customer_name, agent_name=agent_name,
                           signature=signature, article_url=base.article_url)
        for fmt in formats
    }
    links = tuple((link_title(link, " › "), urljoin(base_url, link.url)) for link in answer.articles)
    label = base.responses.label(answer.intent) if answer.intent in answers else "No confident match"
    return Draft(message, answer, label, confidence, prediction.fallback and not intent, bool(intent), alternatives, replies, links)


def help_center_url() -> str:
    """Return the absolute root URL that links in replies start with."""
    configured = current_app.config["HELP_CENTER_URL"]
    return configured.rstrip("/") + "/" if configured else request.host_url


# Forms: Flask-WTF adds and checks a CSRF token on each.


def max_message_chars(_form, field) -> None:
    limit = current_app.config["REPLY_MESSAGE_MAX_CHARS"]
    if field.data and len(field.data) > limit:
        raise ValidationError(f"The message is too long: at most {limit} characters.")


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1024)])


class LogoutForm(FlaskForm):
    pass


class ConsoleForm(FlaskForm):
    message = TextAreaField("Customer's message", validators=[InputRequired(), max_message_chars])
    customer_name = StringField("Customer name", validators=[Optional(), Length(max=MAX_NAME_CHARS)])
    signature = TextAreaField("Your signature", validators=[Optional(), Length(max=SIGNATURE_MAX_CHARS)])
    # Set by the button the agent pressed: empty lets the bot choose, an intent overrides it.
    intent = StringField("Intent", validators=[Optional(), Length(max=100)])


def safe_next(target: str | None) -> str:
    """Return a local path to go to after signing in (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("agent.console")


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
        return render_template("agent/login.html", form=form, error=result.message, next=request.args.get("next", "")), result.status
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
                form.message.data, intent=form.intent.data or None, customer_name=form.customer_name.data,
                agent_name=current_user.name, signature=form.signature.data, base_url=help_center_url(),
            )
        except BadRequest as error:
            form.message.errors = [*form.message.errors, str(error)]
            status = 400
    elif form.is_submitted():
        status = 400
    # When the customer described their mail-app settings, show the checker's verdicts beside the answer.
    check = settings_in_question(draft.message.text, *knowledge_args()) if draft else None
    intents = [(i, knowledge().base.responses.label(i)) for i in knowledge().base.responses.answers]
    return render_template("agent/console.html", form=form, draft=draft, check=check, intents=intents,
                           logout_form=LogoutForm()), status




@api.post("/reply")
def api_reply():
    """Answer a customer's message as a ready reply: ``{"message", "format", ...}`` (agents only)."""
    request.max_content_length = REPLY_MAX_BODY_BYTES
    author = api_agent()
    payload = json_body()
    message = text_field(payload, "message", current_app.config["REPLY_MESSAGE_MAX_CHARS"], multiline=True)
    fmt = payload.get("format")
    if fmt not in REPLY_FORMATS:
        raise BadRequest(f"'format' must be one of: {', '.join(REPLY_FORMATS)}")
    intent = optional_text(payload, "intent", 100)
    customer_name = optional_text(payload, "customer_name", MAX_NAME_CHARS)
    signature = optional_text(payload, "signature", SIGNATURE_MAX_CHARS, multiline=True)
    draft = draft_reply(message, intent=intent, customer_name=customer_name, agent_name=author.name,
                        signature=signature, base_url=help_center_url(), formats=(fmt,))
    reply = draft.replies[fmt]
    return jsonify(
        reply=reply.text,
        format=fmt,
        intent=draft.answer.intent,
        label=draft.label,
        confidence=draft.confidence,
        fallback=draft.fallback,
        question=draft.message.text,
        missing=list(reply.missing),
        sections=list(reply.sections_used),
        alternatives=[{"intent": a.intent, "label": a.label, "confidence": a.confidence} for a in draft.alternatives],
    )


# CLI: accounts are made by whoever runs the app, not through the web.


def read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("create-agent")
@click.argument("email")
@click.option("--name", default="", help="The agent's name, used to sign replies.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--update", is_flag=True, help="Set a new password (and name, if given) for an existing agent.")
@with_appcontext
def create_agent_command(email: str, name: str, password_stdin: bool, update: bool):
    """Create an agent account (or, with --update, reset its password)."""
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
    found = found or Agent(email=email)
    found.password_hash = password_hasher().hash(password)
    if name or not found.name:
        found.name = name.strip()[:100]
    db.session.add(found)
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.email == email))
    db.session.commit()
    click.echo(f"agent {email} {'updated' if update else 'created'}")


@click.command("create-agent-token")
@click.argument("email")
@click.option("--label", default="", help="What the token is for, e.g. the ticket system's name.")
@with_appcontext
def create_agent_token_command(email: str, label: str):
    """Create an API token for an agent and print it once (only its digest is kept)."""
    found = find_agent(email)
    if found is None:
        raise click.ClickException(f"no agent {normalize_email(email)}")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(AgentToken(agent_id=found.id, token_hash=hashlib.sha256(token.encode()).hexdigest(), label=label[:100]))
    db.session.commit()
    click.echo(token)
    click.echo(f"token created for {found.email}; it is shown only once", err=True)
# --- widget: the embeddable help panel, its demo host page, feedback and CORS ----------
#
# widget.js (static, embedded by host pages with one script tag) creates an iframe on the
# frame page below; the panel inside talks to /api/* on its own origin. Host pages that
# call the API directly need CORS, answered for WIDGET_ALLOWED_ORIGINS only.

widget = Blueprint("widget", __name__)

DEMO_OPTIONS = ("position", "accent", "greeting", "lang", "tabs")


def init_widget(app: Flask) -> None:
    """Read the widget's settings, register its blueprint and answer CORS on the API."""
    app.register_blueprint(widget)
    app.after_request(add_cors_headers)










@widget.get("/widget.js")
def script():
    """Serve the loader that a host page embeds with one script tag."""
    return current_app.send_static_file("widget.js")


@widget.get("/widget/")
def frame():
    """Serve the panel: the page inside the iframe that widget.js creates."""
    settings = knowledge().base.settings
    timeout_ms = round(current_app.config["WIDGET_TIMEOUT_SECONDS"] * 1000)
    html = render_template("widget/frame.html", support=settings.support, timeout_ms=timeout_ms)
    response = current_app.make_response(html)
    response.headers["Content-Security-Policy"] = frame_policy(state().widget_origins)
    return response


@widget.get("/widget/demo")
def demo():
    """Show a sample host page that embeds the widget; ``?lang=de`` and the like try its options."""
    options = {name: request.args.get(name, "")[:200] for name in DEMO_OPTIONS}
    return render_template("widget/demo.html", options={k: v for k, v in options.items() if v})


@api.post("/feedback")
def api_feedback():
    """Store a "Was this helpful?" vote: ``{"intent": "...", "helpful": true, "session": "...", "reason"?, "question"?}``.

    The vote goes to the analytics events (see init_analytics); ``reason`` says why an
    answer did not help (``not_related`` or ``not_answered``).
    """
    payload = json_body()
    intent = text_field(payload, "intent", 100)
    if intent not in knowledge().training.names:
        raise BadRequest(f"'intent' must be an intent the bot answered with, not {intent!r}")
    helpful = payload.get("helpful")
    if not isinstance(helpful, bool):
        raise BadRequest("'helpful' is required and must be true or false")
    session = text_field(payload, "session", 100, required=False)
    reason = text_field(payload, "reason", 100, required=False)
    if reason is not None and reason not in VOTE_REASONS:
        raise BadRequest(f"'reason' must be one of: {', '.join(VOTE_REASONS)}")
    question = text_field(payload, "question", current_app.config["ASK_MAX_CHARS"], required=False)
    log.info("feedback: intent=%s helpful=%s session=%s", intent, helpful, session or "-")
    record_vote(helpful=helpful, intent=intent, reason=reason, question=question, session_id=session)
    return jsonify(status="logged"), 202


# --- analytics: what people asked, searched and voted; the knowledge-gap inbox and reports ---
#
# Questions (widget, help center, agent console), searches, result clicks and "Was this
# helpful?" votes are written to the `events` table after the response is computed: a view
# leaves what it answered in `g`, an after-request hook puts one event on a bounded queue,
# and a background thread per process redacts personal data and inserts events in batches.
# A slow or missing database never delays or breaks an answer; failures are logged.
# Agents see the failures grouped at /admin (the knowledge-gap inbox) and act on them:
# training examples and synonyms go through a gate that retrains and evaluates the bot.

CHANNELS = ("widget", "help_center", "agent", "api")
# Channels whose search results report their clicks (the search page's links, the widget's beacon).
CLICK_CHANNELS = ("help_center", "widget")
# The widget's panel is a page of this app under this path, so its requests name it as referrer.
WIDGET_PATH = "/widget"
PURGE_INTERVAL_SECONDS = 24 * 3600
TREND_INTENTS = 5

analytics = Blueprint("analytics", __name__)
admin = Blueprint("admin", __name__, url_prefix="/admin")











def prepare_event(event: dict) -> dict:
    """Turn a recorded event into a row: redact the free text and fit every string to its column."""
    row = dict.fromkeys(EVENT_COLUMNS)
    row.update((key, value) for key, value in event.items() if key in EVENT_COLUMNS)
    for name in ("text", "reason"):
        if row[name]:
            row[name] = redact(row[name])
    for name, length in EVENT_LENGTHS.items():
        if isinstance(row[name], str) and len(row[name]) > length:
            row[name] = row[name][:length]
    return row


class EventLog:
    """Write events from a bounded queue in a background thread, in batches.

    ``record`` only puts a dictionary on the queue, so a request never waits for the
    database. The writer takes what queues up within ``linger`` seconds of an event (at most
    ``batch_size`` events), redacts it and inserts it in one transaction; a locked SQLite file is retried, anything else
    that fails is logged with the number of events lost. The thread starts with the first
    event in each process, so gunicorn's forked workers each get their own.
    """

    RETRY_SECONDS = (0.05, 0.25, 1.0)

    def __init__(self, engine: sa.Engine, *, queue_size: int, batch_size: int, retention_days: int, enabled: bool = True,
                 linger: float = 0.25):
        self.engine = engine
        self.batch_size = batch_size
        self.linger = linger
        self.retention_days = retention_days
        self.enabled = enabled
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.dropped = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._hurry = threading.Event()
        self._pid = None
        self._created_in = os.getpid()
        self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS

    def record(self, **event) -> None:
        """Queue one event (never blocks, never raises)."""
        if not self.enabled:
            return
        event.setdefault("at", utcnow())
        try:
            self._ensure_writer()
            self.queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("analytics queue is full; %d events dropped so far", self.dropped)
        except Exception:  # logging must never break an answer
            log.exception("could not queue an analytics event")

    def _ensure_writer(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                # After a fork the queue may hold the parent's events and a lock in any state,
                # and the pool the parent's connections (gunicorn --preload): start afresh.
                self.queue = queue.Queue(maxsize=self.queue.maxsize)
                if os.getpid() != self._created_in:
                    self.engine.dispose(close=False)
                threading.Thread(target=self._run, name="analytics-writer", daemon=True).start()
                self._pid = os.getpid()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            # Sleep rather than wake for every event: the requests that queue them keep the CPU.
            self._hurry.wait(self.linger)
            self._hurry.clear()
            while len(batch) < self.batch_size:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.write(batch)
                if time.monotonic() >= self._next_purge:
                    self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
                    purge_events(self.engine, self.retention_days)
            except Exception:
                log.exception("analytics writer failed")
            finally:
                for _ in batch:
                    self.queue.task_done()

    def write(self, batch: list[dict]) -> bool:
        """Insert a batch in one transaction; retry while the database is locked. Return whether it was stored."""
        rows = [prepare_event(event) for event in batch]
        for attempt, pause in enumerate((*self.RETRY_SECONDS, None)):
            try:
                with self.engine.begin() as connection:
                    connection.execute(sa.insert(Event.__table__), rows)
                return True
            except sa.exc.SQLAlchemyError as error:
                if pause is None or not is_transient(error):
                    self.failed += len(rows)
                    log.error("could not store %d analytics events after %d attempts: %s", len(rows), attempt + 1, error)
                    return False
                time.sleep(pause)
        return False

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event is written (or failed); return False on timeout."""
        if self._pid != os.getpid():
            return True
        deadline = time.monotonic() + timeout
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._hurry.set()  # again for every batch: the writer clears it
                self.queue.all_tasks_done.wait(min(remaining, 0.05))
        return True


def is_transient(error: sa.exc.SQLAlchemyError) -> bool:
    """Tell whether a database error may pass if retried (a lock, a dropped connection)."""
    text = str(getattr(error, "orig", error)).lower()
    return bool(getattr(error, "connection_invalidated", False)) or "locked" in text or "busy" in text


def purge_events(engine: sa.Engine, days: int) -> int:
    """Delete events older than ``days`` days; return how many."""
    cutoff = utcnow() - dt.timedelta(days=days)
    with engine.begin() as connection:
        deleted = connection.execute(sa.delete(Event.__table__).where(Event.__table__.c.at < cutoff)).rowcount
    if deleted:
        log.info("deleted %d analytics events older than %d days", deleted, days)
    return deleted


def init_analytics(app: Flask) -> None:
    """Set up event logging, the article and search hooks, the inbox and reports, and their commands."""
    if app.config["DATABASE_UPGRADE_ON_START"]:
        try:
            purge_events(state(app).events.engine, app.config["ANALYTICS_RETENTION_DAYS"])
        except sa.exc.SQLAlchemyError as error:
            log.error("could not delete old analytics events at start: %s", error)
    app.before_request(refresh_knowledge)
    app.after_request(log_events)
    app.context_processor(article_feedback_context)
    app.jinja_env.globals["search_ref"] = search_ref
    app.register_blueprint(analytics)
    app.register_blueprint(admin)
    for command in (purge_events_command, report_command, import_training_command, export_training_command):
        app.cli.add_command(command)


def make_event_log(app: Flask) -> EventLog:
    """Return the app's event log on its database (the writer thread starts with the first event)."""
    config = app.config
    with app.app_context():
        engine = db.engine
    return EventLog(engine, queue_size=config["ANALYTICS_QUEUE_SIZE"], batch_size=config["ANALYTICS_BATCH_SIZE"],
                    retention_days=config["ANALYTICS_RETENTION_DAYS"], enabled=config["ANALYTICS_ENABLED"],
                    linger=config["ANALYTICS_LINGER_SECONDS"])


def event_log() -> EventLog:
    return state().events


def request_channel(req=None) -> str:
    """Say where a request came from: the widget, the help center, the agent console, or the API."""
    req = req or request._get_current_object()  # one look-up: this runs on every answer
    declared = req.headers.get("X-Help-Channel", "").strip().lower()
    if declared in CHANNELS:
        return declared
    blueprint = req.blueprint
    if blueprint == "agent" or req.endpoint == "api.api_reply":
        return "agent"
    if blueprint in ("pages", "analytics"):
        return "help_center"
    referrer = req.referrer
    if referrer and WIDGET_PATH in referrer:
        parts = urlsplit(referrer)
        if parts.netloc == req.host and parts.path.startswith(WIDGET_PATH):
            return "widget"
    return "api"


def request_session(req) -> str | None:
    """Return the client's conversation id (the widget's ``session``), if the request names one."""
    payload = req.get_json(silent=True) if req.is_json else None
    value = payload.get("session") if isinstance(payload, dict) else None
    return clean_text(value)[:100] or None if isinstance(value, str) else None


def search_ref() -> str | None:
    """Return this search page's id, which its result links carry so that clicks can be tied to it."""
    if not current_app.config["ANALYTICS_ENABLED"]:
        return None
    if "search_ref" not in g:
        g.search_ref = secrets.token_hex(8)
    return g.search_ref


def log_events(response):
    """Queue an event for the question answered or the search run by this request."""
    answered, searched = g.pop("answered", None), g.pop("searched", None)
    if response.status_code != 200 or not (answered or searched):
        return response
    events = event_log()
    if not events.enabled:
        return response
    req = request._get_current_object()
    channel, session_id = request_channel(req), request_session(req)
    if answered:
        question, prediction = answered
        choices = ",".join(i for i, _ in prediction.ranking[:2]) if prediction.clarify else None
        events.record(
            kind="ask", channel=channel, session=session_id, text=question, intent=prediction.intent,
            confidence=prediction.confidence, fallback=prediction.fallback, clarify=prediction.clarify, choices=choices,
        )
    if searched:
        text, results = searched
        events.record(kind="search", channel=channel, session=session_id, text=text, results=results.total,
                           ref=g.get("search_ref"))
    return response


def record_vote(*, helpful: bool, intent: str | None = None, article: str | None = None, reason: str | None = None,
                question: str | None = None, session_id: str | None = None) -> None:
    """Store a "Was this helpful?" vote on an answer (by intent) or on an article (by slug)."""
    event_log().record(kind="vote", channel=request_channel(), session=session_id, helpful=helpful, intent=intent,
                       target=article, reason=reason, text=question)


# Help-center hooks: a "Was this helpful?" form under every article, and result clicks.


class ArticleVoteForm(FlaskForm):
    vote = StringField("Was this article helpful?", validators=[InputRequired(), AnyOf(["up", "down"])])
    reason = StringField("What was wrong?", validators=[Optional(), AnyOf(list(VOTE_REASONS))])


def article_feedback_context() -> dict:
    """Give the article page its feedback form, or its thank-you after a vote."""
    if not has_request_context() or request.endpoint != "pages.article":
        return {}
    return {"vote_form": ArticleVoteForm(formdata=None), "vote_reasons": VOTE_REASONS,
            "vote_thanks": request.args.get("feedback") == "thanks"}


@analytics.post(f"{ARTICLE_URL}<slug>/feedback")
def article_vote(slug: str):
    """Take a vote on an article (a plain form post), then show the thank-you on the article."""
    if slug not in knowledge().base.library.articles:
        abort(404, description="We could not find that article.")
    form = ArticleVoteForm()
    if not form.validate_on_submit():
        raise BadRequest("This form expired or was incomplete. Go back, reload the article and vote again.")
    record_vote(helpful=form.vote.data == "up", article=slug, reason=form.reason.data or None)
    return redirect(url_for("pages.article", slug=slug, feedback="thanks", _anchor="feedback"))


def is_article_url(target: str) -> bool:
    """Tell whether a URL is a path to one of our articles (so a redirect to it cannot leave the site)."""
    parts = urlsplit(target)
    return (not parts.scheme and not parts.netloc and parts.path.startswith(ARTICLE_URL)
            and "\\" not in target and not target.startswith("//"))


def record_click(target, ref, rank, channel: str) -> None:
    """Store a click on a search result; ``ref`` names the search (its page or API response)."""
    if not isinstance(target, str) or not is_article_url(target) or len(target) > 300:
        raise BadRequest("That link does not lead to an article of this help center.")
    ref = ref[:32] if isinstance(ref, str) and ref else None
    rank = int(rank) if isinstance(rank, int | str) and str(rank).isdigit() and len(str(rank)) < 4 else None
    event_log().record(kind="click", channel=channel, target=target, ref=ref, rank=rank)


@analytics.get("/search/open")
def open_result():
    """Record a click on a search result, then go to it: ``?to=/articles/...&ref=...&rank=N``."""
    target = request.args.get("to", "")
    record_click(target, request.args.get("ref"), request.args.get("rank", ""), "help_center")
    return redirect(target)


@api.post("/search/click")
def api_search_click():
    """Record a click on a result of ``/api/search`` (the widget's beacon): ``{"url", "ref"?, "rank"?}``."""
    payload = json_body()
    url, ref, rank = payload.get("url"), payload.get("ref"), payload.get("rank")
    if isinstance(rank, float) and rank.is_integer():
        rank = int(rank)  # JSON does not tell 3 from 3.0
    if not isinstance(url, str):
        raise BadRequest("'url' is required and must be a string: the result's url")
    if ref is not None and (not isinstance(ref, str) or len(ref) > 32):
        raise BadRequest("'ref' must be the search's ref: a string of at most 32 characters")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
        raise BadRequest("'rank' must be a whole number from 1")
    record_click(url, ref, rank, request_channel())
    return jsonify(status="logged"), 202


# Closing the loop: training examples and synonyms from the inbox, behind the evaluation gate.
#
# Both go to overlay files in the instance folder (INTENTS_OVERLAY_PATH, SYNONYMS_OVERLAY_PATH),
# in the formats of intents.yml and synonyms.yml, which the loaders merge in. A change is
# written to a file beside the overlay, loaded with the real loaders, trained and evaluated;
# only if no score is lower than before is it moved into place and the new model saved and
# swapped in. Otherwise the overlay stays exactly as it was and the reason is shown.


@dataclass(frozen=True)
class ChangeOutcome:
    """What became of a change to the bot's data: accepted or refused, and why."""

    accepted: bool
    reason: str
    verdict: Verdict | None = None










def assessment_key(config, training, normalizer) -> str:
    held_out = [intent_data.file_digest(path) for path in config["HELDOUT_PATHS"]]
    parts = [training.digest, normalizer.fingerprint, held_out, intent_model.CV_FOLDS]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def current_assessment(config, training, normalizer, questions) -> Assessment:
    """Score the data as it is now; remembered in the instance folder until the data changes."""
    path = Path(current_app.instance_path) / "assessment.json"
    key = assessment_key(config, training, normalizer)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return Assessment(**saved["scores"])
    except (OSError, ValueError, TypeError):
        pass
    _, scores = assess(training, normalizer.normalize, questions, fingerprint=normalizer.fingerprint)
    remember_assessment(config, training, normalizer, scores)
    return scores


def remember_assessment(config, training, normalizer, scores: Assessment) -> None:
    path = Path(current_app.instance_path) / "assessment.json"
    write_atomically(path, json.dumps({"key": assessment_key(config, training, normalizer), "scores": scores.to_dict()}))


def write_atomically(path: Path, text: str) -> None:
    """Write a file aside and move it into place, so readers see the old or the new file, never half of one."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    aside.write_text(text, encoding="utf-8")
    aside.replace(path)


def change_knowledge(author: str, *, examples: dict[str, tuple[str, ...]] | None = None,
                     synonym: tuple[str, str] | None = None) -> ChangeOutcome:
    """Add training examples or a synonym if the bot does not score lower with them; record the outcome."""
    app, config = current_app._get_current_object(), current_app.config
    if examples:
        kind = "examples"
        summary = "; ".join(f"{intent}: " + " | ".join(items) for intent, items in examples.items())
    else:
        kind, summary = "synonym", " = ".join(synonym or ())
    target = Path(config["INTENTS_OVERLAY_PATH"] if examples else config["SYNONYMS_OVERLAY_PATH"])
    candidate = target.with_name(f".{target.name}.candidate.{os.getpid()}")
    # One change at a time on this machine: each starts from what the previous one left.
    with open(Path(app.instance_path) / ".knowledge-change.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            outcome = try_change(app, target, candidate, examples=examples, synonym=synonym)
        finally:
            candidate.unlink(missing_ok=True)
    db.session.add(KnowledgeChange(author=author, kind=kind, summary=summary[:1000], accepted=outcome.accepted,
                                   reason=outcome.reason[:1000]))
    db.session.commit()
    log.info("knowledge change by %s (%s): %s", author, summary[:200], outcome.reason)
    return outcome


def try_change(app: Flask, target: Path, candidate: Path, *, examples, synonym) -> ChangeOutcome:
    """Write the changed overlay beside the real one, load, train and evaluate it, and keep it only if it is no worse."""
    config, current = app.config, state(app).knowledge
    library = current.base.library
    training, lexicon, normalizer = load_bot_data(config, library)
    overlay_text = target.read_text(encoding="utf-8") if target.is_file() else ""
    try:
        if examples:
            if intent_data.merge_examples(training, examples) is training:
                return ChangeOutcome(False, "refused: every one of these is already a training example of that intent")
            overlay = intent_data.parse_examples(overlay_text, str(target))
            candidate.write_text(intent_data.dump_examples(intent_data.add_examples(overlay, examples)), encoding="utf-8")
            changed = load_bot_data(config, library, intents_overlay=candidate)
        else:
            overlay = yaml.safe_load(overlay_text) or {}
            if not isinstance(overlay, dict):
                return ChangeOutcome(False, f"refused: {target} is not a synonyms file; fix or remove it first")
            shipped = yaml.safe_load(Path(config["SYNONYMS_PATH"]).read_text(encoding="utf-8")) or {}
            added = add_synonym(overlay, merge_lexicons(shipped, overlay), *synonym)
            candidate.write_text(dump_lexicon(added), encoding="utf-8")
            changed = load_bot_data(config, library, synonyms_overlay=candidate)
    except (intent_data.DataError, SynonymError, yaml.YAMLError) as error:
        return ChangeOutcome(False, f"refused: {error}")
    questions = [q for path in config["HELDOUT_PATHS"] for q in intent_data.load_questions(path)]
    before = current_assessment(config, training, normalizer, questions)
    new_training, new_lexicon, new_normalizer = changed
    model, after = assess(new_training, new_normalizer.normalize, questions, fingerprint=new_normalizer.fingerprint,
                          reference=training)
    verdict = judge(before, after, config["GATE_TOLERANCE"])
    if verdict.accepted:
        candidate.replace(target)
        intent_model.save(model, config["MODEL_PATH"])
        remember_assessment(config, new_training, new_normalizer, after)
        swap_knowledge(app, with_bot_data(current, new_training, new_lexicon, new_normalizer, model))
        state(app).knowledge_stamp = knowledge_stamp(config)
    return ChangeOutcome(verdict.accepted, verdict.reason, verdict)


# The knowledge-gap inbox: every failure signal of the last days, grouped.

# A search younger than this may still get its click.
NO_CLICK_AFTER = dt.timedelta(minutes=10)
# A clarifying question's answer is the session's next question within this time.
CLARIFY_FOLLOW_UP = dt.timedelta(minutes=30)
# A search followed this soon by a longer one that starts with it was typed further (search as you type).
TYPING_PAUSE = dt.timedelta(seconds=30)


def failure_events(days: int) -> list[Event]:
    """Return the events of the last ``days`` days that signal a gap, newest first."""
    config, now = current_app.config, utcnow()
    clicks = sa.orm.aliased(Event)
    clicked = sa.exists().where(clicks.kind == "click", clicks.ref == Event.ref)
    failure = sa.or_(
        sa.and_(Event.kind == "ask", sa.or_(Event.fallback.is_(True), Event.clarify.is_(True),
                                            Event.confidence < config["GAP_LOW_CONFIDENCE"])),
        sa.and_(Event.kind == "search", Event.results == 0),
        sa.and_(Event.kind == "search", Event.results > 0, Event.ref.is_not(None), Event.channel.in_(CLICK_CHANNELS),
                Event.at < now - NO_CLICK_AFTER, ~clicked),
        sa.and_(Event.kind == "vote", Event.helpful.is_(False)),
    )
    query = sa.select(Event).where(Event.at >= now - dt.timedelta(days=days), failure)
    return list(db.session.execute(query.order_by(Event.at.desc()).limit(config["GAP_MAX_SIGNALS"])).scalars())


def session_questions(sessions: set[str], since: dt.datetime) -> dict[str, list[Event]]:
    """Return the questions asked in each session since a time, oldest first."""
    found: dict[str, list[Event]] = defaultdict(list)
    names = sorted(sessions)
    for start in range(0, len(names), 500):
        query = sa.select(Event).where(Event.kind == "ask", Event.session.in_(names[start:start + 500]), Event.at >= since)
        for event in db.session.execute(query.order_by(Event.at)).scalars():
            found[event.session].append(event)
    return found


def to_signal(event: Event, asked: dict[str, list[Event]], titles: dict[str, str]) -> Signal:
    """Say what kind of gap an event shows, with the question it concerns."""
    if event.kind == "search":
        return Signal("zero_results" if event.results == 0 else "no_click", event.text or "", event.at)
    if event.kind == "vote":
        earlier = [a for a in asked.get(event.session or "", []) if a.at <= event.at and a.intent == event.intent]
        question = event.text or (earlier[-1].text if earlier else None)
        if not question:
            question = f"Article: {titles.get(event.target, event.target)}" if event.target else \
                f"Answer: {knowledge().base.responses.label(event.intent or '')}"
        return Signal("not_helpful", question, event.at, intent=event.intent, reason=event.reason)
    if event.fallback:
        return Signal("fallback", event.text or "", event.at, intent=event.intent)
    if event.clarify:
        later = [a for a in asked.get(event.session or "", []) if event.at < a.at <= event.at + CLARIFY_FOLLOW_UP]
        picked = later[0].intent if later and not later[0].fallback else None
        return Signal("clarify", event.text or "", event.at, intent=event.intent, picked=picked)
    return Signal("low_confidence", event.text or "", event.at, intent=event.intent)


def without_typing_steps(events: list[Event]) -> list[Event]:
    """Leave out searches that found nothing, or were not opened, only because the person was still typing."""
    empty = [e for e in events if e.kind == "search"]
    if not empty:
        return events
    query = sa.select(Event.channel, Event.at, Event.text).where(
        Event.kind == "search", Event.at >= min(e.at for e in empty), Event.at <= max(e.at for e in empty) + TYPING_PAUSE
    )
    later = defaultdict(list)
    for channel, at, text in db.session.execute(query.order_by(Event.at)):
        later[channel].append((at, text or ""))
    steps = {id(e) for e in empty if typed_further(e.text or "", e.at, later[e.channel], TYPING_PAUSE)}
    return [e for e in events if id(e) not in steps]


def knowledge_gaps(days: int):
    """Group the failure signals of the last ``days`` days, the largest groups first."""
    events = without_typing_steps(failure_events(days))
    sessions = {e.session for e in events if e.session and (e.kind == "vote" or e.clarify)}
    asked = session_questions(sessions, utcnow() - dt.timedelta(days=days + 1)) if sessions else {}
    titles = {slug: a.title for slug, a in knowledge().base.library.articles.items()}
    base = knowledge().base
    signals = [to_signal(e, asked, titles) for e in events]
    return group_signals(signals, base.normalizer.normalize, base.lexicon.canonical)


class AdminForm(FlaskForm):
    """Carries the CSRF token of the inbox's forms; their fields are read per row."""


class SynonymForm(FlaskForm):
    word = StringField("Word people use", validators=[InputRequired(), Length(max=40)])
    synonym = StringField("Means the same as", validators=[InputRequired(), Length(max=40)])


class NoteForm(FlaskForm):
    group = StringField(validators=[InputRequired(), Length(max=16)])
    key = StringField(validators=[InputRequired(), Length(max=300)])
    text = TextAreaField("Missing article section", validators=[InputRequired(), Length(max=1000)])


class ImportForm(FlaskForm):
    examples = TextAreaField("Training examples (YAML, as in intents.yml)", validators=[Optional(), Length(max=200_000)])


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
            raise BadRequest("choose an intent and keep a question for every row you add")
        examples.setdefault(intent, []).append(text)
    if not examples:
        raise BadRequest("tick at least one row, or press a row's own button")
    return {intent: tuple(items) for intent, items in examples.items()}


def outcome_message(outcome: ChangeOutcome) -> str:
    return ("Done: " if outcome.accepted else "Not changed: ") + outcome.reason


@admin.get("")
@login_required
def inbox():
    """List every failure signal of the last days, grouped, with an action per group."""
    days = int_arg("days", current_app.config["GAP_WINDOW_DAYS"], 1, 366)
    groups = knowledge_gaps(days)
    ids = [group.id for group in groups]
    notes = defaultdict(list)
    for note in db.session.execute(sa.select(GapNote).where(GapNote.group_id.in_(ids)).order_by(GapNote.at)).scalars():
        notes[note.group_id].append(note)
    changes = db.session.execute(sa.select(KnowledgeChange).order_by(KnowledgeChange.id.desc()).limit(8)).scalars().all()
    return render_template("admin/inbox.html", groups=groups, notes=notes, changes=changes, days=days,
                           kinds=GAP_KINDS, reasons=VOTE_REASONS, intents=intent_choices(), form=AdminForm(),
                           labels=knowledge().base.responses.label, logout_form=LogoutForm())


def require_form(form: FlaskForm) -> None:
    if not form.validate_on_submit():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        raise BadRequest(f"The form was incomplete or expired ({problems}). Go back, reload the page and try again.")


@admin.post("/training")
@login_required
def add_training():
    """Add the chosen inbox questions as training examples (retrained and evaluated first)."""
    require_form(AdminForm())
    flash(outcome_message(change_knowledge(current_user.email, examples=picked_rows(request.form))))
    return redirect(url_for("admin.inbox"))


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
    """Add a batch of training examples from YAML (pasted or uploaded), behind the evaluation gate."""
    form = ImportForm()
    require_form(form)
    upload = request.files.get("file")
    text = upload.read(200_001).decode("utf-8", "replace") if upload and upload.filename else form.examples.data or ""
    try:
        examples = intent_data.parse_examples(text, "the pasted examples")
    except intent_data.DataError as error:
        raise BadRequest(str(error)) from None
    if not examples:
        raise BadRequest("paste or upload training examples in the intents.yml format")
    flash(outcome_message(change_knowledge(current_user.email, examples=examples)))
    return redirect(url_for("admin.inbox"))


@admin.post("/synonyms")
@login_required
def add_synonym_view():
    """Teach search and the bot that two words mean the same (retrained and evaluated first)."""
    form = SynonymForm()
    require_form(form)
    flash(outcome_message(change_knowledge(current_user.email, synonym=(form.word.data, form.synonym.data))))
    return redirect(url_for("admin.inbox"))


@admin.post("/notes")
@login_required
def add_note():
    """Note on a group that an article section is missing."""
    form = NoteForm()
    require_form(form)
    db.session.add(GapNote(group_id=form.group.data, group_key=form.key.data, text=clean_text(form.text.data)[:1000],
                           author=current_user.email))
    db.session.commit()
    flash("Note saved.")
    return redirect(url_for("admin.inbox", _anchor=f"group-{form.group.data}"))


# Reports: top intents and their trend, helpfulness per intent and per article section, fallback rate.


@dataclass(frozen=True)
class Helpfulness:
    """Votes on one intent's answers or one article section."""

    key: str
    label: str
    helpful: int
    not_helpful: int

    @property
    def rate(self) -> float:
        """Return the share of helpful votes."""
        return self.helpful / max(1, self.helpful + self.not_helpful)


@dataclass(frozen=True)
class Reports:
    """What the reports page and `flask report` show, over the last ``len(days)`` days."""

    days: tuple[str, ...]
    questions: int
    fallbacks: int
    searches: int
    zero_results: int
    top_intents: tuple[tuple[str, str, int], ...]  # (intent, label, answered questions)
    trend: tuple[tuple[str, tuple[int, ...]], ...]  # (intent, count per day) for the top intents
    fallback_by_day: tuple[tuple[str, int, int], ...]  # (day, questions, fallbacks)
    by_intent: tuple[Helpfulness, ...]
    by_section: tuple[Helpfulness, ...]

    @property
    def fallback_rate(self) -> float:
        """Return the share of questions the bot fell back on."""
        return self.fallbacks / max(1, self.questions)


def build_reports(days: int) -> Reports:
    """Count questions, fallbacks, searches and votes per day, intent and article section."""
    today = utcnow().date()
    since_day = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(since_day, dt.time())
    day_list = tuple((since_day + dt.timedelta(days=n)).isoformat() for n in range(days))
    day = sa.func.date(Event.at)
    asked = db.session.execute(
        sa.select(day, Event.intent, Event.fallback, sa.func.count())
        .where(Event.kind == "ask", Event.at >= since).group_by(day, Event.intent, Event.fallback)
    ).all()
    per_day, fallback_day = defaultdict(Counter), Counter()
    for when, intent, fallback, count in asked:
        when = str(when)
        if fallback:
            fallback_day[when] += count
        else:
            per_day[intent][when] += count
    totals = Counter({intent: sum(counts.values()) for intent, counts in per_day.items()})
    questions_day = Counter()
    for counts in per_day.values():
        questions_day.update(counts)
    questions_day.update(fallback_day)
    label = knowledge().base.responses.label
    top = tuple((intent, label(intent), count) for intent, count in totals.most_common())
    trend = tuple((intent, tuple(per_day[intent][d] for d in day_list)) for intent, _, _ in top[:TREND_INTENTS])

    searches, zero_results = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((Event.results == 0, 1), else_=0)), 0))
        .where(Event.kind == "search", Event.at >= since)
    ).one()
    votes = db.session.execute(
        sa.select(Event.intent, Event.target, Event.helpful, sa.func.count())
        .where(Event.kind == "vote", Event.at >= since, Event.helpful.is_not(None))
        .group_by(Event.intent, Event.target, Event.helpful)
    ).all()
    return Reports(
        days=day_list,
        questions=sum(questions_day.values()),
        fallbacks=sum(fallback_day.values()),
        searches=searches,
        zero_results=int(zero_results),
        top_intents=top,
        trend=trend,
        fallback_by_day=tuple((d, questions_day[d], fallback_day[d]) for d in day_list),
        by_intent=helpfulness_by_intent(votes),
        by_section=helpfulness_by_section(votes),
    )


def helpfulness_by_intent(votes) -> tuple[Helpfulness, ...]:
    counts = defaultdict(Counter)
    for intent, _, helpful, count in votes:
        if intent:
            counts[intent][bool(helpful)] += count
    label = knowledge().base.responses.label
    rows = [Helpfulness(i, label(i), c[True], c[False]) for i, c in counts.items()]
    return tuple(sorted(rows, key=lambda h: (-(h.helpful + h.not_helpful), h.key)))


def helpfulness_by_section(votes) -> tuple[Helpfulness, ...]:
    """Count votes per article section: an answer's vote counts for the section it quotes, an article's for the article."""
    base = knowledge().base
    counts, labels = defaultdict(Counter), {}
    for intent, target, helpful, count in votes:
        if target in base.library.articles:
            key, name = base.article_url + target, f"{base.library.articles[target].title} (whole article)"
        else:
            source = base.responses.answers[intent].source if intent in base.responses.answers else None
            if source is None:
                continue
            key, name = source.url, f"{source.title} › {source.section}" if source.section else source.title
        counts[key][bool(helpful)] += count
        labels[key] = name
    rows = [Helpfulness(key, labels[key], c[True], c[False]) for key, c in counts.items()]
    return tuple(sorted(rows, key=lambda h: (-(h.helpful + h.not_helpful), h.key)))


def report_rows(reports: Reports) -> list[dict]:
    """Flatten the reports into rows with the same columns, for CSV (and the JSON ``rows``)."""
    rows = [{"report": "summary", "key": name, "label": "", "day": "", "count": value, "helpful": "", "not_helpful": "",
             "rate": ""} for name, value in (("questions", reports.questions), ("fallbacks", reports.fallbacks),
                                             ("searches", reports.searches), ("zero_results", reports.zero_results))]
    blank = {"label": "", "day": "", "count": "", "helpful": "", "not_helpful": "", "rate": ""}
    rows += [{**blank, "report": "top_intents", "key": i, "label": name, "count": n} for i, name, n in reports.top_intents]
    rows += [{**blank, "report": "intent_trend", "key": i, "day": d, "count": n}
             for i, counts in reports.trend for d, n in zip(reports.days, counts, strict=True)]
    rows += [{**blank, "report": "fallback_rate", "key": "fallback", "day": d, "count": q, "not_helpful": "",
              "rate": round(f / q, 4) if q else 0.0} for d, q, f in reports.fallback_by_day]
    for name, group in (("helpfulness_intent", reports.by_intent), ("helpfulness_section", reports.by_section)):
        rows += [{**blank, "report": name, "key": h.key, "label": h.label, "count": h.helpful + h.not_helpful,
                  "helpful": h.helpful, "not_helpful": h.not_helpful, "rate": round(h.rate, 4)} for h in group]
    return rows


def reports_json(reports: Reports) -> dict:
    """Return the reports as one JSON-ready object."""
    return {
        "days": list(reports.days),
        "summary": {"questions": reports.questions, "fallbacks": reports.fallbacks, "fallback_rate": round(reports.fallback_rate, 4),
                    "searches": reports.searches, "zero_results": reports.zero_results},
        "top_intents": [{"intent": i, "label": name, "count": n} for i, name, n in reports.top_intents],
        "intent_trend": [{"intent": i, "counts": list(counts)} for i, counts in reports.trend],
        "fallback_by_day": [{"day": d, "questions": q, "fallbacks": f} for d, q, f in reports.fallback_by_day],
        "helpfulness_intent": [{"intent": h.key, "label": h.label, "helpful": h.helpful, "not_helpful": h.not_helpful,
                                "rate": round(h.rate, 4)} for h in reports.by_intent],
        "helpfulness_section": [{"url": h.key, "label": h.label, "helpful": h.helpful, "not_helpful": h.not_helpful,
                                 "rate": round(h.rate, 4)} for h in reports.by_section],
    }


def report_charts(reports: Reports) -> dict:
    """Lay out the reports page's charts."""
    short_days = [d[5:] for d in reports.days]  # MM-DD under the axis; the tables give full dates
    return {
        "top": charts.bar_chart([(name, [n]) for _, name, n in reports.top_intents[:10]]),
        "trend": charts.line_chart(short_days, [(knowledge().base.responses.label(i), c) for i, c in reports.trend]),
        "fallback": charts.line_chart(short_days, [("Fallback rate", [f / q if q else 0.0 for _, q, f in reports.fallback_by_day])],
                                      percent=True),
        "by_intent": charts.bar_chart([(h.label, [h.helpful, h.not_helpful]) for h in reports.by_intent[:10]],
                                      value_texts=[f"{h.rate:.0%} helpful" for h in reports.by_intent[:10]]),
        "by_section": charts.bar_chart([(h.label, [h.helpful, h.not_helpful]) for h in reports.by_section[:10]],
                                       value_texts=[f"{h.rate:.0%} helpful" for h in reports.by_section[:10]]),
    }


@admin.get("/reports")
@login_required
def reports_page():
    """Show top intents and their trend, helpfulness and the fallback rate, as charts with their tables."""
    days = int_arg("days", current_app.config["REPORT_DAYS"], 1, 366)
    reports = build_reports(days)
    return render_template("admin/reports.html", reports=reports, charts=report_charts(reports), days=days,
                           logout_form=LogoutForm())


# CLI: retention, reports and training data.


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
    if fmt == "json":
        output.write(json.dumps(reports_json(reports), indent=2) + "\n")
    else:
        rows = report_rows(reports)
        writer = csv.DictWriter(output, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    click.echo(f"{reports.questions} questions, {reports.searches} searches over {len(reports.days)} days", err=True)


@click.command("import-training")
@click.argument("path", type=click.File("r", encoding="utf-8"))
@click.option("--author", default="command line", show_default=True, help="Who the change is recorded for.")
@with_appcontext
def import_training_command(path, author: str):
    """Add training examples from a YAML file (intents.yml format) if the bot does not score lower."""
    try:
        examples = intent_data.parse_examples(path.read(), path.name)
    except intent_data.DataError as error:
        raise click.ClickException(str(error)) from None
    outcome = change_knowledge(author, examples=examples)
    click.echo(outcome.reason)
    if not outcome.accepted:
        raise SystemExit(1)


@click.command("export-training")
@with_appcontext
def export_training_command():
    """Print the training examples added from the inbox (to fold into classifier/intents.yml)."""
    path = Path(current_app.config["INTENTS_OVERLAY_PATH"])
    examples = intent_data.parse_examples(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}
    click.echo(intent_data.dump_examples(examples), nl=False)
    click.echo(f"{sum(map(len, examples.values()))} examples added from the inbox", err=True)
