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

import json
import logging
import re
import secrets
import time
import unicodedata
import uuid
from pathlib import Path

import click
import yaml
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask.cli import with_appcontext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.exceptions import HTTPException

import kb
from classifier import data as intent_data
from classifier import evaluate as intent_evaluation
from classifier import model as intent_model
from kb import autoconfig
from kb.answers import pop3_policy_problems
from kb.checker import CheckInputError
from kb.checkinput import check_form, check_payload, mention_check, safe_echo, settings_in_question
from kb.clientsetup import CLIENT_NAMES, SetupError, parse_client, setup_guide
from kb.index import build_index
from kb.search import MAX_QUERY_CHARS, search

ROOT = Path(__file__).resolve().parent
ARTICLE_URL = "/articles/"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)

log = logging.getLogger(__name__)

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")
ops = Blueprint("ops", __name__)


class BadRequest(ValueError):
    """Input the user can fix; its message is shown to them."""


def default_config(instance_path: str) -> dict:
    """Return the built-in configuration: everything embedded, nothing external."""
    return {
        "SECRET_KEY": None,
        # In production the secret key must come from configuration, so that every
        # app server signs sessions alike; elsewhere one is generated per install.
        "PRODUCTION": False,
        "ARTICLES_DIR": str(ROOT / "articles"),
        "INDEX_DIR": str(Path(instance_path) / "index"),
        "MAIL_SETTINGS_PATH": str(kb.DEFAULT_SETTINGS_PATH),
        "SYNONYMS_PATH": str(kb.DEFAULT_LEXICON_PATH),
        "SEARCH_LIMIT": 10,
        "SEARCH_MAX_LIMIT": 50,
        "SEARCH_MAX_PAGE": 50,
        "BUILD_INDEX_ON_START": True,
        "RESPONSES_PATH": str(kb.DEFAULT_RESPONSES_PATH),
        "INTENTS_PATH": str(ROOT / "classifier" / "intents.yml"),
        "HELDOUT_PATH": str(ROOT / "classifier" / "heldout.jsonl"),
        "MODEL_PATH": str(Path(instance_path) / "intent_model.joblib"),
        "ASK_MAX_CHARS": 2000,
        # Requests larger than this are refused with 413 before any view reads them.
        "MAX_CONTENT_LENGTH": 64 * 1024,
        # Per client address (see PROXY_COUNT); a limit string as Flask-Limiter reads it.
        "API_RATE_LIMIT": "300 per minute",
        "ASK_RATE_LIMIT": "60 per minute",
        # Where the rate limiter counts: memory:// per process; redis://... shared by all app servers.
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # How many proxies (load balancers) in front of the app set X-Forwarded-For.
        "PROXY_COUNT": 0,
        # JSON log lines with a request id on stderr (off under tests, which capture logs themselves).
        "LOG_JSON": True,
        # `flask evaluate` fails below these (measured figures are in the README).
        "EVAL_MIN_CV_ACCURACY": 0.80,
        "EVAL_MIN_HELDOUT_ACCURACY": 0.90,
        "EVAL_MIN_OUT_OF_SCOPE_RECALL": 0.80,
        "EVAL_MAX_FALSE_REJECT": 0.08,
    }


def create_app(config: dict | None = None) -> Flask:
    """Build the application; ``config`` (tests) replaces the instance file and environment."""
    # Tests give their own instance folder, so no state of a developer's is read or written.
    instance_path = (config or {}).get("INSTANCE_PATH")
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    app.config.from_mapping(default_config(app.instance_path))
    if config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)
    init_secret_key(app)

    init_observability(app)
    init_knowledge_base(app)
    init_intent_model(app)
    app.extensions["openapi"] = yaml.safe_load((ROOT / "docs" / "openapi.yml").read_text(encoding="utf-8"))
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(ops)
    init_mail_clients(app)
    init_rate_limits(app)
    register_errors(app)
    app.after_request(add_security_headers)
    app.context_processor(lambda: {"provider": app.extensions["kb"].settings.provider})
    app.cli.add_command(build_index_command)
    app.cli.add_command(validate_command)
    app.cli.add_command(train_command)
    app.cli.add_command(evaluate_command)
    return app


class RequestContextFilter(logging.Filter):
    """Add the current request's id to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """Write one JSON object per log line, so logs can be searched by field."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# Python's white space plus the byte-order mark, which JSON Schema's \s also counts as blank.
BLANK = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\ufeff"  # U+3000 is the last space
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_log = logging.getLogger("access")


def init_observability(app: Flask) -> None:
    """Give every request an id (from X-Request-ID if sane), log it as JSON, and trust configured proxies."""
    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    if app.config["LOG_JSON"] and not app.testing:
        root = logging.getLogger()
        if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
            handler = logging.StreamHandler()
            handler.setFormatter(JsonFormatter())
            handler.addFilter(RequestContextFilter())
            root.addHandler(handler)
            root.setLevel(logging.INFO)

    @app.before_request
    def start_request():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def finish_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access_log.info(
            "%s %s %s", request.method, request.path, response.status_code,
            extra={"fields": {"method": request.method, "path": request.path, "status": response.status_code,
                              "ms": round(elapsed, 2)}},
        )
        return response


def init_rate_limits(app: Flask) -> None:
    """Limit /api/* per client address; /api/ask, the expensive one, more tightly."""
    limiter = Limiter(get_remote_address, app=app, storage_uri=app.config["RATELIMIT_STORAGE_URI"])
    limiter.limit(lambda: current_app.config["API_RATE_LIMIT"])(api)
    # A decorated limit is checked by its wrapper, so the wrapper must be what the route calls.
    endpoint = "api.api_ask"
    app.view_functions[endpoint] = limiter.limit(lambda: current_app.config["ASK_RATE_LIMIT"])(app.view_functions[endpoint])


def init_secret_key(app: Flask) -> None:
    """Use the configured secret key; outside production, make one per install if none is set."""
    if app.config["SECRET_KEY"]:
        return
    if app.config["PRODUCTION"]:
        raise RuntimeError("PRODUCTION is on but SECRET_KEY is not set: set FLASK_SECRET_KEY or instance/config.py")
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        # Written aside and linked into place, so concurrent workers agree on one key.
        tmp = key_file.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def init_knowledge_base(app: Flask) -> None:
    """Load the knowledge base once and build the index if it is missing or stale.

    The training data's words join the articles' vocabulary, so the shared normaliser
    corrects typos towards words that either of them uses.
    """
    training = intent_data.load_intents(app.config["INTENTS_PATH"])
    base = kb.load_knowledge_base(
        app.config["ARTICLES_DIR"],
        app.config["INDEX_DIR"],
        settings_path=app.config["MAIL_SETTINGS_PATH"],
        lexicon_path=app.config["SYNONYMS_PATH"],
        responses_path=app.config["RESPONSES_PATH"],
        article_url=ARTICLE_URL,
        extra_vocabulary=intent_data.vocabulary(training),
    )
    app.extensions["kb"] = base
    app.extensions["intent_data"] = training
    if app.config["BUILD_INDEX_ON_START"]:
        report = build_index(base.library, app.config["INDEX_DIR"])
        if report.changed:
            log.info("index was missing or stale; built %s", report)
        if not base.index.ready:
            log.error("index in %s is unreadable; rebuilding it from the articles", app.config["INDEX_DIR"])
            build_index(base.library, app.config["INDEX_DIR"], full=True)


def init_intent_model(app: Flask) -> None:
    """Load the trained model from the instance folder, or train it if it is missing or stale."""
    base, training = app.extensions["kb"], app.extensions["intent_data"]
    # A change to the shared normaliser (synonyms, vocabulary) changes what the model reads.
    fingerprint = base.normalizer.fingerprint
    model = intent_model.load(
        app.config["MODEL_PATH"], data_digest=training.digest, fingerprint=fingerprint, trusted_dir=app.instance_path
    )
    if model is None:
        model = intent_model.train(training, base.normalizer.normalize, fingerprint=fingerprint)
        intent_model.save(model, app.config["MODEL_PATH"])
        log.info("trained the intent model (thresholds %s)", model.thresholds)
    app.extensions["intent_model"] = model


def knowledge_base() -> kb.KnowledgeBase:
    """Return the app's loaded knowledge base."""
    return current_app.extensions["kb"]


def add_security_headers(response):
    """Send a strict Content-Security-Policy and friends with every response."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/")


def register_errors(app: Flask) -> None:
    """Answer errors as JSON on the API and as friendly pages elsewhere; never a traceback."""

    @app.errorhandler(BadRequest)
    def bad_request(error):
        if wants_json():
            return jsonify(error=str(error)), 400
        return render_template("pages/error.html", code=400, message=str(error)), 400

    friendly = {
        413: lambda e: f"the request is too large: at most {app.config['MAX_CONTENT_LENGTH'] // 1024} KB",
        429: lambda e: f"too many requests (limit {e.description}); please wait a moment and try again",
    }

    @app.errorhandler(HTTPException)
    def http_error(error):
        message = friendly[error.code](error) if error.code in friendly else error.description or error.name
        if wants_json():
            response = jsonify(error=message)
        else:
            response = app.make_response(render_template("pages/error.html", code=error.code, message=message))
        response.status_code = error.code
        for name, value in error.get_headers():
            if name in ("Allow", "Retry-After"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(error):
        log.exception("unhandled error on %s", request.path)
        if wants_json():
            return jsonify(error="internal error; it has been logged"), 500
        return render_template("pages/error.html", code=500, message="Something went wrong on our side."), 500


# --- input parsing -------------------------------------------------------------------


def clean_text(value: str) -> str:
    """Turn control characters into spaces and trim: what is left is what a person typed."""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in value).strip(BLANK)


def query_text(name: str = "q", required: bool = True) -> str:
    """Read a search text from the query string, rejecting what cannot be a question."""
    value = request.args.get(name, "")
    if len(value) > MAX_QUERY_CHARS:
        raise BadRequest(f"'{name}' is too long: at most {MAX_QUERY_CHARS} characters")
    cleaned = clean_text(value)
    if required and not cleaned:
        raise BadRequest(f"'{name}' is required: type a few words to search for")
    return cleaned


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """Read a bounded integer from the query string."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number") from None
    if not low <= value <= high:
        raise BadRequest(f"'{name}' must be between {low} and {high}")
    return value


def run_search(text: str, limit: int, page: int):
    base = knowledge_base()
    return search(base.index, base.library, base.normalizer, text, limit=limit, page=page, article_url=base.article_url)


# --- pages ---------------------------------------------------------------------------


@pages.get("/")
def home():
    """Show categories, their articles and a search box."""
    return render_template("pages/home.html", categories=knowledge_base().library.categories())


@pages.get(f"{ARTICLE_URL}<slug>")
def article(slug: str):
    """Show one article with its table of contents and related articles."""
    library = knowledge_base().library
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
    return render_template("pages/search.html", query=text, results=results, categories=knowledge_base().library.categories())


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
        results=[
            {"title": h.title, "section": h.section, "url": h.url, "snippet": h.snippet, "score": h.score}
            for h in results.hits
        ],
    )


def json_body() -> dict:
    """Return the request's JSON object, or explain why it is not one."""
    if not request.is_json:
        raise BadRequest("send a JSON object with Content-Type: application/json")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object")
    return payload


def text_field(payload: dict, name: str, max_chars: int, required: bool = True) -> str | None:
    """Read a string field: present, a string, not blank, not too long."""
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' is required and must be a string")
    if len(value) > max_chars:
        raise BadRequest(f"'{name}' is too long: at most {max_chars} characters")
    value = clean_text(value)
    if not value:
        raise BadRequest(f"'{name}' must not be empty")
    return value


def respond(question: str):
    """Classify a question and answer it: the one place where classifier and knowledge base meet."""
    base = knowledge_base()
    prediction = intent_model.predict(current_app.extensions["intent_model"], base.normalizer.normalize(question))
    log.debug("ask: %s %.3f fallback=%s clarify=%s", prediction.intent, prediction.confidence, prediction.fallback, prediction.clarify)
    choices = tuple(intent for intent, _ in prediction.ranking[:2]) if prediction.clarify else ()
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
    library = knowledge_base().library
    return jsonify(articles=[article_summary(a) for a in sorted(library.articles.values(), key=lambda a: a.title)])


@api.get("/articles/<slug>")
def api_article(slug: str):
    """Return one article with its sections, HTML and Markdown."""
    found = knowledge_base().library.articles.get(slug)
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
    checks = {"index": knowledge_base().index.ready, "model": "intent_model" in current_app.extensions}
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "not ready", **checks), 200 if ready else 503


@api.get("/openapi.json")
def openapi():
    """Describe the public API (OpenAPI 3.1)."""
    return jsonify(current_app.extensions["openapi"])


# --- CLI -----------------------------------------------------------------------------


@click.command("build-index")
@with_appcontext
@click.option("--full", is_flag=True, help="Reindex every article, not only the changed ones.")
def build_index_command(full: bool):
    """Build the search index aside and swap it in."""
    base = knowledge_base()
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
    base = knowledge_base()
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
    base, training = knowledge_base(), current_app.extensions["intent_data"]
    model = intent_model.train(training, base.normalizer.normalize, fingerprint=base.normalizer.fingerprint)
    intent_model.save(model, current_app.config["MODEL_PATH"])
    current_app.extensions["intent_model"] = model
    examples = sum(len(i.examples) for i in training.intents)
    click.echo(
        f"trained on {examples} examples of {len(training.intents)} intents; "
        f"fallback below {model.thresholds.fallback:.2f}, clarify within {model.thresholds.ambiguity:.2f}"
    )


@click.command("evaluate")
@click.option("--folds", default=intent_model.CV_FOLDS, show_default=True, help="Cross-validation folds.")
@click.option("--questions", "questions_path", type=click.Path(exists=True, dir_okay=False), help="Held-out JSONL file.")
@click.option("--show-mistakes", is_flag=True, help="List every held-out question the bot got wrong.")
@with_appcontext
def evaluate_command(folds: int, questions_path: str | None, show_mistakes: bool):
    """Cross-validate the classifier, score it on held-out questions, and check POP3 answers."""
    config = current_app.config
    base, training = knowledge_base(), current_app.extensions["intent_data"]
    normalize = base.normalizer.normalize
    cv = intent_evaluation.cross_validate(training, normalize, folds)
    click.echo(f"Cross-validation ({cv.folds} folds, {sum(i.support for i in cv.per_intent)} examples)")
    click.echo(f"  {'intent':24} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>5}")
    for row in cv.per_intent:
        click.echo(f"  {row.intent:24} {row.precision:9.3f} {row.recall:7.3f} {row.f1:6.3f} {row.support:5d}")
    click.echo(f"  accuracy {cv.accuracy:.3f}; out-of-scope recall {cv.scores.out_of_scope_recall:.3f}; "
               f"false-reject rate {cv.scores.false_reject_rate:.3f}")
    click.echo("  most confused (true -> predicted): " + ", ".join(f"{t} -> {p} ({n})" for t, p, n in cv.confused[:6]))

    questions = intent_data.load_questions(questions_path or config["HELDOUT_PATH"])
    model = current_app.extensions["intent_model"]
    predictions, held = intent_evaluation.evaluate_questions(model, questions, normalize)
    click.echo(f"Held-out questions ({held.questions})")
    click.echo(f"  in-scope top-1 accuracy {held.in_scope_accuracy:.3f}; out-of-scope recall {held.out_of_scope_recall:.3f}; "
               f"false-reject rate {held.false_reject_rate:.3f}; clarifying questions {held.clarify_rate:.3f}")
    if show_mistakes:
        for question, expected, got in held.mistakes:
            click.echo(f"  expected {expected:24} got {got:24} {question}")

    unsafe = []
    for question, prediction in zip(questions, predictions):
        answer = kb.answer(base, question.question, prediction.intent, fallback=prediction.fallback)
        unsafe += [f"{question.id}: {p}" for p in pop3_policy_problems(answer)]
    unsafe += [f"response {i}: {p}" for i, a in base.responses.answers.items() for p in pop3_policy_problems(a)]
    pop3_questions = sum(any(i.startswith("pop3") for i in q.intents) for q in questions)
    click.echo(f"POP3 policy: {len(unsafe)} unsafe answers ({pop3_questions} POP3 questions, {len(base.responses.answers)} responses)")
    for line in unsafe:
        click.echo(f"  {line}")

    failures = [
        name
        for name, ok in [
            ("cross-validation accuracy", cv.accuracy >= config["EVAL_MIN_CV_ACCURACY"]),
            ("held-out accuracy", held.in_scope_accuracy >= config["EVAL_MIN_HELDOUT_ACCURACY"]),
            ("out-of-scope recall", held.out_of_scope_recall >= config["EVAL_MIN_OUT_OF_SCOPE_RECALL"]),
            ("false-reject rate", held.false_reject_rate <= config["EVAL_MAX_FALSE_REJECT"]),
            ("POP3 policy", not unsafe),
        ]
        if not ok
    ]
    click.echo("evaluation " + ("FAILED: " + ", ".join(failures) if failures else "passed"))
    if failures:
        raise SystemExit(1)


# --- mail clients: settings checker, autoconfig files, setup guide, DNS records ------
# One blueprint, one init function and one CLI command; the work is in kb.checker,
# kb.checkinput, kb.autoconfig and kb.clientsetup.

mail_clients = Blueprint("mailclient", __name__)
XML_CONTENT_TYPE = "text/xml; charset=utf-8"
MOBILECONFIG_CONTENT_TYPE = "application/x-apple-aspen-config"
AUTODISCOVER_MAX_BYTES = 16 * 1024
SETTINGS_ARTICLE_SLUG = "email-client-settings"


def init_mail_clients(app: Flask) -> None:
    """Register the settings checker, the client configuration files and the dns-records command."""
    app.config.setdefault("CHECK_MAX_CHARS", 4000)
    app.config.setdefault("AUTOCONFIG_CACHE_SECONDS", 3600)
    app.register_blueprint(mail_clients)
    app.cli.add_command(dns_records_command)


def knowledge_args() -> tuple:
    base = knowledge_base()
    return base.settings, base.library, base.article_url


def settings_check_for(question: str, answer):
    """Check a bot question that reads like pasted settings; return the answer mentioning it, and the check."""
    result = settings_in_question(question, *knowledge_args())
    if result is None:
        return answer, None
    mentioned = mention_check(answer, result, url_for("mailclient.check_page"), knowledge_base().article_url)
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
    body = autoconfig.thunderbird_config(knowledge_base().settings, documentation_url=documentation)
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
    settings = knowledge_base().settings
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
    settings = knowledge_base().settings
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
    return Response(autoconfig.autodiscover_response(knowledge_base().settings, address), content_type=XML_CONTENT_TYPE)


@click.command("dns-records")
@click.option("--ttl", default=autoconfig.SRV_TTL_SECONDS, show_default=True, type=click.IntRange(1, 2**31 - 1),
              help="Time to live of each record, in seconds.")
@with_appcontext
def dns_records_command(ttl: int):
    """Print the DNS SRV records (RFC 6186, RFC 8314) for the mail settings as zone-file lines."""
    settings = knowledge_base().settings
    records = autoconfig.srv_records(settings)
    for record in records:
        click.echo(f"{record.zone_line(settings.domain, ttl)}  ; {record.meaning}")
    unavailable = sum(record.target == "." for record in records)
    click.echo(f"; {len(records)} records for {settings.domain}, {unavailable} saying a service is not offered")

