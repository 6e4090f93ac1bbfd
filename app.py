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
import time
from collections import defaultdict

import sqlalchemy as sa
import yaml
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm

from analytics.gaps import KINDS as GAP_KINDS
from analytics.gaps import REASONS as VOTE_REASONS
from analytics.reports import report_charts
from classifier import data as intent_data
from mailclient import autoconfig
from mailclient.checker import CheckInputError
from mailclient.checkinput import check_form, check_payload, safe_echo, settings_in_question
from mailclient.clientsetup import CLIENT_NAMES, SetupError, parse_client, setup_guide
from replies.reply import FORMATS as REPLY_FORMATS
from replies.reply import MAX_NAME_CHARS
from web.answering import (  # moved
    draft_reply,
    help_center_url,
    knowledge_args,
    respond,
    run_search,
    settings_check_for,
)
from web.auth import (  # moved
    api_agent,
    make_password_hasher,
    normalize_email,
    safe_next,
    sign_in,
)
from web.cli import init_cli
from web.config import (  # moved
    ARTICLE_URL,
    ROOT,
    init_secret_key,
    load_config,  # moved
)
from web.errors import BadRequest, register_errors  # moved
from web.events import (  # moved
    make_event_log,
    purge_events,
    record_click,
    record_vote,
    request_channel,
)
from web.extensions import db, init_database, login_manager  # moved
from web.forms import (  # moved
    SIGNATURE_MAX_CHARS,
    AdminForm,
    ArticleVoteForm,
    ConsoleForm,
    ImportForm,
    LoginForm,
    LogoutForm,
    NoteForm,
    SynonymForm,
)
from web.inbox import (  # moved
    knowledge_gaps,
)
from web.inputs import clean_text, int_arg, json_body, optional_text, query_text, text_field  # moved
from web.knowledge import knowledge_stamp, load_knowledge, refresh_knowledge  # moved
from web.models import (  # moved
    GapNote,
    KnowledgeChange,
)
from web.observability import init_observability  # moved
from web.ratelimit import init_rate_limits  # moved
from web.reports import build_reports
from web.security import CookieSessions, add_cors_headers, add_security_headers, frame_policy, parse_origins  # moved
from web.state import STATE_KEY, AppState, knowledge, state
from web.training import (  # moved
    ChangeOutcome,
    change_knowledge,
)

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
    init_cli(app)
    return app


def load_openapi(intents: list[str]) -> dict:
    """Read the API description and fill in what comes from data: the intent ids a vote may name."""
    spec = yaml.safe_load((ROOT / "docs" / "openapi.yml").read_text(encoding="utf-8"))
    vote = spec["paths"]["/api/feedback"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    vote["properties"]["intent"]["enum"] = intents
    return spec


















# --- input parsing -------------------------------------------------------------------










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
    results, ref = run_search(text, current_app.config["SEARCH_LIMIT"], page)
    return render_template("pages/search.html", query=text, results=results, ref=ref,
                           categories=knowledge().base.library.categories())


# --- API -----------------------------------------------------------------------------


@api.get("/search")
def api_search():
    """Search sections and articles: ``?q=...&limit=N&page=P``."""
    text = query_text()
    config = current_app.config
    limit = int_arg("limit", config["SEARCH_LIMIT"], 1, config["SEARCH_MAX_LIMIT"])
    page = int_arg("page", 1, 1, config["SEARCH_MAX_PAGE"])
    results, ref = run_search(text, limit, page)
    return jsonify(
        query=text,
        total=results.total,
        page=results.page,
        pages=results.pages,
        suggestion=results.suggestion,
        ref=ref,  # the widget sends it back with a click on a result (POST /api/search/click)
        results=[
            {"title": h.title, "section": h.section, "url": h.url, "snippet": h.snippet, "score": h.score}
            for h in results.hits
        ],
    )








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



# --- agent console: accounts, sign-in, /agent and POST /api/reply --------------------
#
# Agents sign in with accounts kept in the embedded database (Flask-SQLAlchemy; SQLite in
# the instance folder unless DATABASE_URL names another database; schema by Alembic
# migrations in migrations/, applied on start). Ticket systems call /api/reply with a
# per-agent API token instead of a session.

# A pasted thread of REPLY_MESSAGE_MAX_CHARS, form- or JSON-encoded, can take several bytes a
# character: the console and /api/reply accept larger bodies than MAX_CONTENT_LENGTH.
REPLY_MAX_BODY_BYTES = 256 * 1024




agent = Blueprint("agent", __name__, url_prefix="/agent")










def init_agents(app: Flask) -> None:
    """Set up sign-in and the agent console."""
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config["SESSION_COOKIE_SAMESITE"] or "Lax"

    login_manager.init_app(app)
    app.register_blueprint(agent)












# Domain of sign-in: accounts, passwords and lockouts.
























# Domain of replies: the wiring of message cleaning, classifier, answers and replies.










# Forms: Flask-WTF adds and checks a CSRF token on each.












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


analytics = Blueprint("analytics", __name__)
admin = Blueprint("admin", __name__, url_prefix="/admin")



















def init_analytics(app: Flask) -> None:
    """Set up event logging, the article and search hooks, the inbox and reports, and their commands."""
    if app.config["DATABASE_UPGRADE_ON_START"]:
        try:
            purge_events(state(app).events.engine, app.config["ANALYTICS_RETENTION_DAYS"])
        except sa.exc.SQLAlchemyError as error:
            log.error("could not delete old analytics events at start: %s", error)
    app.before_request(refresh_knowledge)
    app.context_processor(article_feedback_context)
    app.register_blueprint(analytics)
    app.register_blueprint(admin)
















# Help-center hooks: a "Was this helpful?" form under every article, and result clicks.




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
























# The knowledge-gap inbox: every failure signal of the last days, grouped.





















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


















@admin.get("/reports")
@login_required
def reports_page():
    """Show top intents and their trend, helpfulness and the fallback rate, as charts with their tables."""
    days = int_arg("days", current_app.config["REPORT_DAYS"], 1, 366)
    reports = build_reports(days)
    return render_template("admin/reports.html", reports=reports, charts=report_charts(reports, knowledge().base.responses.label), days=days,
                           logout_form=LogoutForm())


# CLI: retention, reports and training data.








