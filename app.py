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

import click
from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request
from flask.cli import with_appcontext
from werkzeug.exceptions import HTTPException

import kb
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
    }


def create_app(config: dict | None = None) -> Flask:
    """Build the application; ``config`` (tests) replaces the instance file and environment."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(default_config(app.instance_path))
    if config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)
    init_secret_key(app)

    init_knowledge_base(app)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    register_errors(app)
    app.after_request(add_security_headers)
    app.context_processor(lambda: {"provider": app.extensions["kb"].settings.provider})
    app.cli.add_command(build_index_command)
    app.cli.add_command(validate_command)
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
    """Load the knowledge base once and build the index if it is missing or stale."""
    base = kb.load_knowledge_base(
        app.config["ARTICLES_DIR"],
        app.config["INDEX_DIR"],
        settings_path=app.config["MAIL_SETTINGS_PATH"],
        lexicon_path=app.config["SYNONYMS_PATH"],
        article_url=ARTICLE_URL,
    )
    app.extensions["kb"] = base
    if app.config["BUILD_INDEX_ON_START"]:
        report = build_index(base.library, app.config["INDEX_DIR"])
        if report.changed:
            log.info("index was missing or stale; built %s", report)


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
    library = knowledge_base().library
    for problem in library.problems:
        click.echo(str(problem))
    click.echo(f"{len(library.articles)} articles ok, {len(library.problems)} problems")
    if library.problems:
        raise SystemExit(1)
