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

import logging
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request
from flask.cli import with_appcontext
from werkzeug.exceptions import HTTPException

import kb
from classifier import data as intent_data
from classifier import evaluate as intent_evaluation
from classifier import model as intent_model
from kb.answers import pop3_policy_problems
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

    init_knowledge_base(app)
    init_intent_model(app)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    register_errors(app)
    init_widget(app)
    app.after_request(add_security_headers)
    app.context_processor(lambda: {"provider": app.extensions["kb"].settings.provider})
    app.cli.add_command(build_index_command)
    app.cli.add_command(validate_command)
    app.cli.add_command(train_command)
    app.cli.add_command(evaluate_command)
    return app


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

    @app.errorhandler(HTTPException)
    def http_error(error):
        if wants_json():
            return jsonify(error=error.description or error.name), error.code
        return render_template("pages/error.html", code=error.code, message=error.description), error.code

    @app.errorhandler(Exception)
    def unexpected(error):
        log.exception("unhandled error on %s", request.path)
        if wants_json():
            return jsonify(error="internal error; it has been logged"), 500
        return render_template("pages/error.html", code=500, message="Something went wrong on our side."), 500


# --- input parsing -------------------------------------------------------------------


def query_text(name: str = "q", required: bool = True) -> str:
    """Read a search text from the query string, rejecting what cannot be a question."""
    value = request.args.get(name, "")
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value).strip()
    if required and not cleaned:
        raise BadRequest(f"'{name}' is required: type a few words to search for")
    if len(value) > MAX_QUERY_CHARS:
        raise BadRequest(f"'{name}' is too long: at most {MAX_QUERY_CHARS} characters")
    return cleaned


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """Read a bounded integer from the query string."""
    raw = request.args.get(name)
    if raw is None or raw == "":
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
    value = "".join(ch if ch.isprintable() else " " for ch in value).strip()
    if not value:
        raise BadRequest(f"'{name}' must not be empty")
    if len(value) > max_chars:
        raise BadRequest(f"'{name}' is too long: at most {max_chars} characters")
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


# --- widget: the embeddable help panel, its demo host page, feedback and CORS ----------
#
# widget.js (static, embedded by host pages with one script tag) creates an iframe on the
# frame page below; the panel inside talks to /api/* on its own origin. Host pages that
# call the API directly need CORS, answered for WIDGET_ALLOWED_ORIGINS only.

widget = Blueprint("widget", __name__)

WIDGET_DEFAULTS = {
    # Origins (scheme://host[:port]) whose pages may frame the widget and call /api/* from
    # the browser. Empty: the app's own origin only, which is all its demo page needs.
    # "*" allows every origin (the API is read-only but for feedback votes).
    "WIDGET_ALLOWED_ORIGINS": [],
    # How long the panel waits for an answer before it offers a retry.
    "WIDGET_TIMEOUT_SECONDS": 15,
}
DEMO_OPTIONS = ("position", "accent", "greeting", "lang", "tabs")
CORS_MAX_AGE_SECONDS = 600
DEFAULT_PORTS = {"http": 80, "https": 443}


def init_widget(app: Flask) -> None:
    """Read the widget's settings, register its blueprint and answer CORS on the API."""
    for key, value in WIDGET_DEFAULTS.items():
        app.config.setdefault(key, value)
    app.extensions["widget_origins"] = parse_origins(app.config["WIDGET_ALLOWED_ORIGINS"])
    timeout = app.config["WIDGET_TIMEOUT_SECONDS"]
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 120:
        raise ValueError(f"WIDGET_TIMEOUT_SECONDS must be a number of seconds above 0 and at most 120, not {timeout!r}")
    app.register_blueprint(widget)
    app.after_request(add_cors_headers)


def parse_origins(value) -> frozenset[str]:
    """Normalise the allowed origins: a list, or one string split at commas or spaces.

    A typo must not silently open or close the widget, so anything that is not an
    http(s) origin without a path is an error at start-up.
    """
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or ())
    origins = set()
    for item in items:
        text = str(item).strip().removesuffix("/")
        if text == "*":
            origins.add(text)
            continue
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path or parts.query or parts.fragment \
                or parts.username or parts.password or port == -1:
            raise ValueError(f"WIDGET_ALLOWED_ORIGINS: {item!r} is not an origin such as https://www.example.com")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        origins.add(f"{parts.scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[parts.scheme] else ""))
    return frozenset(origins)


def origin_allowed(origin: str) -> bool:
    """Say whether a browser Origin header names an allowed origin."""
    allowed = current_app.extensions["widget_origins"]
    return "*" in allowed or origin in allowed


def add_cors_headers(response):
    """Let allowed origins read /api/* responses, and answer their preflight requests."""
    if not wants_json():
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if origin and origin_allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "GET, POST")
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_SECONDS)
    return response


def frame_policy(origins: frozenset[str]) -> str:
    """Return the app's CSP with frame-ancestors opened to the allowed origins."""
    ancestors = "*" if "*" in origins else " ".join(["'self'", *sorted(origins)])
    directives = [d.strip() for d in CONTENT_SECURITY_POLICY.split(";") if d.strip()]
    kept = [d for d in directives if not d.startswith("frame-ancestors")]
    return "; ".join([*kept, f"frame-ancestors {ancestors}"])


@widget.get("/widget.js")
def script():
    """Serve the loader that a host page embeds with one script tag."""
    return current_app.send_static_file("widget.js")


@widget.get("/widget/")
def frame():
    """Serve the panel: the page inside the iframe that widget.js creates."""
    settings = knowledge_base().settings
    timeout_ms = round(current_app.config["WIDGET_TIMEOUT_SECONDS"] * 1000)
    html = render_template("widget/frame.html", support=settings.support, timeout_ms=timeout_ms)
    response = current_app.make_response(html)
    response.headers["Content-Security-Policy"] = frame_policy(current_app.extensions["widget_origins"])
    return response


@widget.get("/widget/demo")
def demo():
    """Show a sample host page that embeds the widget; ``?lang=de`` and the like try its options."""
    options = {name: request.args.get(name, "")[:200] for name in DEMO_OPTIONS}
    return render_template("widget/demo.html", options={k: v for k, v in options.items() if v})


@api.post("/feedback")
def api_feedback():
    """Log a "Was this helpful?" vote: ``{"intent": "...", "helpful": true, "session": "..."}``.

    Logged only, until the analytics database exists to store it.
    """
    payload = json_body()
    intent = text_field(payload, "intent", 100)
    if intent not in current_app.extensions["intent_data"].names:
        raise BadRequest(f"'intent' must be an intent the bot answered with, not {intent!r}")
    helpful = payload.get("helpful")
    if not isinstance(helpful, bool):
        raise BadRequest("'helpful' is required and must be true or false")
    session = text_field(payload, "session", 100, required=False)
    log.info("feedback: intent=%s helpful=%s session=%s", intent, helpful, session or "-")
    return jsonify(status="logged"), 202
