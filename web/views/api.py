"""The JSON API under /api: search, ask, articles, feedback, result clicks, settings checks, agents' replies.

Every error is JSON with an ``error`` message (see web.errors); the rate limits and CORS rules
of the API apply to each route here.
"""

from __future__ import annotations

import logging

import yaml
from flask import Blueprint, abort, current_app, jsonify, request

from analytics.gaps import REASONS as VOTE_REASONS
from mailclient.checker import CheckInputError
from mailclient.checkinput import check_payload
from replies.reply import FORMATS as REPLY_FORMATS
from replies.reply import MAX_NAME_CHARS
from web.answering import draft_reply, help_center_url, knowledge_args, respond, run_search, settings_check_for
from web.auth import api_agent
from web.config import ARTICLE_URL, ROOT
from web.errors import InputError
from web.events import record_click, record_vote, request_channel
from web.forms import SIGNATURE_MAX_CHARS
from web.inputs import REPLY_MAX_BODY_BYTES, int_arg, json_body, optional_text, query_text, text_field
from web.state import knowledge, state

log = logging.getLogger(__name__)


api = Blueprint("api", __name__, url_prefix="/api")


def load_openapi(intents: list[str]) -> dict:
    """Read the API description and fill in what comes from data: the intent ids a vote may name."""
    spec = yaml.safe_load((ROOT / "docs" / "openapi.yml").read_text(encoding="utf-8"))
    vote = spec["paths"]["/api/feedback"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    vote["properties"]["intent"]["enum"] = intents
    return spec


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
        articles=results.articles or None,  # how many articles the `total` results come from, when known
        ref=ref,  # the widget sends it back with a click on a result (POST /api/search/click)
        results=[
            {
                "title": h.title,
                "section": h.section,
                "heading": h.heading,
                "article": h.slug,
                "url": h.url,
                "snippet": h.snippet,
                "score": h.score,
            }
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
    answered = respond(question)
    answer, settings_check = settings_check_for(question, answered.answer)  # hand-off to the settings checker
    ranking = [{"intent": i, "confidence": c} for i, c in answered.prediction.ranking]
    body = {
        "intent": answered.intent,
        "confidence": answered.confidence,
        "fallback": answered.fallback,
        "clarify": answered.clarify,
        "answer": {"text": answer.text, "markdown": answer.markdown, "html": answer.html},
        "articles": [link_json(link) for link in answer.articles],
        "suggestions": list(answer.suggestions),
        # On a clarifying question these are the choices offered; otherwise the runners-up.
        "alternatives": ranking[:2] if answered.clarify else [r for r in ranking if r["intent"] != answered.intent][:3],
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
        {
            "anchor": s.anchor,
            "title": s.title,
            "level": s.level,
            "url": f"{ARTICLE_URL}{slug}#{s.anchor}" if s.anchor else ARTICLE_URL + slug,
        }
        for s in found.sections
    ]
    return jsonify(**article_summary(found), sections=sections, html=found.html, markdown=found.markdown)


@api.get("/openapi.json")
def openapi():
    """Describe the public API (OpenAPI 3.1)."""
    return jsonify(state().openapi)


@api.post("/check-settings")  # on the api blueprint: JSON errors and the API rate limit
def api_check_settings():
    """Check mail-app settings: ``{"incoming": {...}, "outgoing": {...}, "client"}`` or ``{"description"}``."""
    try:
        result = check_payload(json_body(), *knowledge_args(), current_app.config["CHECK_MAX_CHARS"])
    except CheckInputError as exc:
        raise InputError(str(exc)) from None
    return jsonify(result.as_dict())


@api.post("/reply")
def api_reply():
    """Answer a customer's message as a ready reply: ``{"message", "format", ...}`` (agents only)."""
    request.max_content_length = REPLY_MAX_BODY_BYTES
    author = api_agent()
    payload = json_body()
    message = text_field(payload, "message", current_app.config["REPLY_MESSAGE_MAX_CHARS"], multiline=True)
    fmt = payload.get("format")
    if fmt not in REPLY_FORMATS:
        raise InputError(f"'format' must be one of: {', '.join(REPLY_FORMATS)}")
    intent = optional_text(payload, "intent", 100)
    customer_name = optional_text(payload, "customer_name", MAX_NAME_CHARS)
    signature = optional_text(payload, "signature", SIGNATURE_MAX_CHARS, multiline=True)
    draft = draft_reply(
        message,
        intent=intent,
        customer_name=customer_name,
        agent_name=author.name,
        signature=signature,
        base_url=help_center_url(),
        formats=(fmt,),
    )
    reply = draft.replies[fmt]
    return jsonify(
        reply=reply.text,
        format=fmt,
        intent=draft.answer.intent,
        label=draft.label,
        confidence=draft.confidence,
        fallback=draft.fallback,
        clarify=[{"intent": a.intent, "label": a.label, "confidence": a.confidence} for a in draft.clarify],
        customer_name=draft.customer_name or None,
        question=draft.message.text,
        missing=list(reply.missing),
        sections=list(reply.sections_used),
        alternatives=[{"intent": a.intent, "label": a.label, "confidence": a.confidence} for a in draft.alternatives],
    )


@api.post("/feedback")
def api_feedback():
    """Store a "Was this helpful?" vote: ``{"intent", "helpful": true|false, "session"?, "reason"?, "question"?}``.

    The vote goes to the analytics events (see web.events); ``reason`` says why an
    answer did not help (``not_related`` or ``not_answered``).
    """
    payload = json_body()
    intent = text_field(payload, "intent", 100)
    if intent not in knowledge().training.names:
        raise InputError(f"'intent' must be an intent the bot answered with, not {intent!r}")
    helpful = payload.get("helpful")
    if not isinstance(helpful, bool):
        raise InputError("'helpful' is required and must be true or false")
    session = text_field(payload, "session", 100, required=False)
    reason = text_field(payload, "reason", 100, required=False)
    if reason is not None and reason not in VOTE_REASONS:
        raise InputError(f"'reason' must be one of: {', '.join(VOTE_REASONS)}")
    question = text_field(payload, "question", current_app.config["ASK_MAX_CHARS"], required=False)
    log.info("feedback: intent=%s helpful=%s session=%s", intent, helpful, session or "-")
    record_vote(helpful=helpful, intent=intent, reason=reason, question=question, session_id=session)
    return jsonify(status="logged"), 202


@api.post("/search/click")
def api_search_click():
    """Record a click on a result of ``/api/search`` (the widget's beacon): ``{"url", "ref"?, "rank"?}``."""
    payload = json_body()
    url, ref, rank = payload.get("url"), payload.get("ref"), payload.get("rank")
    if isinstance(rank, float) and rank.is_integer():
        rank = int(rank)  # JSON does not tell 3 from 3.0
    if not isinstance(url, str):
        raise InputError("'url' is required and must be a string: the result's url")
    if ref is not None and (not isinstance(ref, str) or len(ref) > 32):
        raise InputError("'ref' must be the search's ref: a string of at most 32 characters")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
        raise InputError("'rank' must be a whole number from 1")
    record_click(url, ref, rank, request_channel())
    return jsonify(status="logged"), 202
