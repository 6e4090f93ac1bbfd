"""The help center's pages: home, articles, search, and the votes and result clicks they send.

Two blueprints: ``pages`` shows; ``analytics`` takes an article's "Was this helpful?" vote and
a click on a search result (named for what it records, which url_for calls in templates rely on).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from analytics.gaps import REASONS as VOTE_REASONS
from web.answering import run_search
from web.config import ARTICLE_URL
from web.errors import InputError
from web.events import record_click, record_vote
from web.forms import ArticleVoteForm
from web.inputs import int_arg, query_text
from web.state import knowledge

pages = Blueprint("pages", __name__)


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
    # The "Was this helpful?" form under the article posts to analytics.article_vote.
    return render_template(
        "pages/article.html",
        article=found,
        related=library.related(found),
        vote_form=ArticleVoteForm(formdata=None),
        vote_reasons=VOTE_REASONS,
        vote_thanks=request.args.get("feedback") in ("thanks", "sorry"),
        vote_unhelpful=request.args.get("feedback") == "sorry",
    )


@pages.get("/search")
def search_page():
    """Show search results with highlighted snippets, or help when there are none."""
    text = query_text(required=False)
    if not text:
        return render_template("pages/search.html", query="", results=None)
    page = int_arg("page", 1, 1, current_app.config["SEARCH_MAX_PAGE"])
    results, ref = run_search(text, current_app.config["SEARCH_LIMIT"], page)
    base = knowledge().base
    return render_template(
        "pages/search.html",
        query=text,
        results=results,
        groups=results.groups(base.library, base.article_url),
        ref=ref,
        categories=base.library.categories(),
    )


analytics = Blueprint("analytics", __name__)


@analytics.post(f"{ARTICLE_URL}<slug>/feedback")
def article_vote(slug: str):
    """Take a vote on an article (a plain form post), then show the thank-you on the article."""
    if slug not in knowledge().base.library.articles:
        abort(404, description="We could not find that article.")
    form = ArticleVoteForm()
    if not form.validate_on_submit():
        raise InputError("This form expired or was incomplete. Go back, reload the article and vote again.")
    helpful = form.vote.data == "up"
    record_vote(helpful=helpful, article=slug, reason=form.reason.data or None)
    # A "No" leads on to the assistant and to a person, on the article itself.
    return redirect(url_for("pages.article", slug=slug, feedback="thanks" if helpful else "sorry", _anchor="feedback"))


@analytics.get("/search/open")
def open_result():
    """Record a click on a search result, then go to it: ``?to=/articles/...&ref=...&rank=N``."""
    target = request.args.get("to", "")
    record_click(target, request.args.get("ref"), request.args.get("rank", ""), "help_center")
    return redirect(target)
