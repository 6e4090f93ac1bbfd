"""The bot's answers: canned policy responses rendered once from the settings, plus fallbacks and clarifications."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import yaml

from kb.articles import Library
from kb.render import html_to_text, markdown_to_html
from kb.settings import MailSettings, fill_placeholders, unknown_placeholders

log = logging.getLogger(__name__)

FALLBACK = "fallback"
CLARIFY = "clarify"
SPECIAL = (FALLBACK, CLARIFY)
SETTINGS_BLOCKS = ("imap", "smtp")
# Heads the search results under a fallback; with no results there is no heading either.
FALLBACK_LINKS_HEADING = "These articles may help:"


class ResponseError(ValueError):
    """The responses file is malformed or points at something that does not exist."""


@dataclass(frozen=True)
class ArticleLink:
    """A link to an article section, as answers cite it."""

    title: str
    section: str
    url: str
    updated: dt.date | None = None


@dataclass(frozen=True)
class Answer:
    """What the bot says: the same content as text, Markdown and sanitised HTML."""

    intent: str
    text: str
    markdown: str
    html: str
    settings: dict | None
    articles: tuple[ArticleLink, ...]
    suggestions: tuple[str, ...]
    source: ArticleLink | None
    # The answer's own words in Markdown, without the settings, links and source line
    # that ``markdown`` adds; replies lay those out for each format themselves.
    body: str = ""


@dataclass(frozen=True)
class Response:
    """One entry of ``responses.yml`` before rendering."""

    intent: str
    text: str
    label: str = ""
    ask: str = ""
    settings: tuple[str, ...] = ()
    articles: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Responses:
    """Every response, each intent's answer rendered once at load time, and what was wrong."""

    responses: dict[str, Response]
    answers: dict[str, Answer]
    problems: tuple[str, ...] = ()

    def label(self, intent: str) -> str:
        """Return the human name of an intent."""
        response = self.responses.get(intent)
        return response.label if response and response.label else intent.replace("_", " ")


def load_responses(path: str | Path) -> dict[str, Response]:
    """Read ``responses.yml`` into Response records."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ResponseError(f"{path}: {exc}") from exc
    entries = raw.get("responses") if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        raise ResponseError(f"{path}: expected 'responses:' with one entry per intent")
    responses = {}
    for intent, entry in entries.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            raise ResponseError(f"{path}: response '{intent}' needs a 'text'")
        try:
            responses[intent] = Response(
                intent=intent,
                text=entry["text"].strip(),
                label=str(entry.get("label", "")),
                ask=str(entry.get("ask", "")),
                settings=tuple(entry.get("settings", ())),
                articles=tuple(entry.get("articles", ())),
                suggestions=tuple(entry.get("suggestions", ())),
            )
        except TypeError as exc:
            raise ResponseError(f"{path}: response '{intent}': {exc}") from exc
    for special in SPECIAL:
        if special not in responses:
            raise ResponseError(f"{path}: a '{special}' response is required")
    return responses


def resolve_link(library: Library, target: str, article_url: str) -> ArticleLink | None:
    """Turn ``slug#anchor`` into a link with the article's and section's titles (None if missing)."""
    slug, _, anchor = target.partition("#")
    article = library.articles.get(slug)
    section = article.section(anchor) if article else None
    if article is None or section is None:
        return None
    url = article_url + slug + (f"#{anchor}" if anchor else "")
    return ArticleLink(article.title, section.title if anchor else "", url, article.updated)


def settings_heading(direction: str, entry: dict) -> str:
    """Name one server of ``MailSettings.client_settings``, e.g. "Incoming mail (IMAP)"."""
    return f"{direction.capitalize()} mail ({entry['protocol']})"


def settings_rows(direction: str, entry: dict) -> list[tuple[str, str]]:
    """Return the (label, value) pairs an email app asks for, for one server of ``client_settings``."""
    rows = [("Server", entry["host"]), ("Port", str(entry["port"])), ("Security", entry["security"])]
    alternative = entry.get("alternative")
    if alternative:
        rows.append(("Alternative", f"port {alternative['port']} with {alternative['security']}"))
    # The policy requires authentication for sending, so the outgoing server says so.
    required = ", required" if direction == "outgoing" else ""
    rows += [("Username", entry["username"]), ("Authentication", entry["authentication"] + required)]
    return rows


def settings_markdown(client_settings: dict[str, dict]) -> str:
    """Render ``MailSettings.client_settings`` (what to type into an email app) as Markdown lists."""
    parts = []
    for direction, entry in client_settings.items():
        lines = [f"**{settings_heading(direction, entry)}**", ""]
        for label, value in settings_rows(direction, entry):
            lines.append(f"- {label}: `{value}`" if label == "Server" else f"- {label}: {value}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def compose(
    intent: str,
    body: str,
    *,
    settings: MailSettings,
    blocks: tuple[str, ...] = (),
    links: tuple[ArticleLink, ...] = (),
    suggestions: tuple[str, ...] = (),
    source: ArticleLink | None = None,
    article_url: str,
    links_heading: str = "Read more:",
) -> Answer:
    """Assemble an answer's Markdown from its parts and render it as HTML and text."""
    parts = [body]
    if blocks:
        parts.append(settings_markdown(settings.client_settings(blocks)))
    if links:
        parts.append(f"{links_heading}\n\n" + "\n".join(f"- [{link_title(link)}]({link.url})" for link in links))
    if source:
        parts.append(f"*From: {link_title(source, ' › ')} · updated {source.updated:%-d %B %Y}*")
    rendered = [render_block(part, article_url) for part in parts]
    return Answer(
        intent=intent,
        text="\n\n".join(text for _, text in rendered),
        markdown="\n\n".join(parts),
        html="\n".join(html for html, _ in rendered),
        settings=settings.client_settings(blocks) if blocks else None,
        articles=links,
        suggestions=suggestions,
        source=source,
        body=body,
    )


def render_fresh_block(markdown: str, article_url: str) -> tuple[str, str]:
    """Render one block of an answer (its prose, settings, links or source line) as HTML and text.

    An answer is rendered block by block, which gives the same HTML as rendering the blocks
    joined as long as each block stands alone: no two neighbouring blocks are lists of the
    same kind (joined, they would merge) and no block refers to another's link definitions.
    A test checks every composed answer against rendering its whole Markdown.
    """
    html = markdown_to_html(markdown, article_url)
    return html, html_to_text(html, links=True)


# Answers composed per request (fallbacks, clarifying questions) repeat most of their blocks,
# and their links come from a small set of article sections: each distinct block is rendered once.
render_block = lru_cache(maxsize=2048)(render_fresh_block)


def append_block(answer: Answer, markdown: str, article_url: str) -> Answer:
    """Return the answer with one more block at its end (rendered afresh: it may quote a person's words)."""
    html, text = render_fresh_block(markdown, article_url)
    return replace(answer, markdown=f"{answer.markdown}\n\n{markdown}", html=f"{answer.html}\n{html}",
                   text=f"{answer.text}\n\n{text}")


def prepend_block(answer: Answer, markdown: str, article_url: str) -> Answer:
    """Return the answer with one more block at its start (one of our own sentences, so its rendering is cached)."""
    html, text = render_block(markdown, article_url)
    return replace(answer, markdown=f"{markdown}\n\n{answer.markdown}", html=f"{html}\n{answer.html}",
                   text=f"{text}\n\n{answer.text}", body=f"{markdown}\n\n{answer.body}")


def link_title(link: ArticleLink, separator: str = ": ") -> str:
    """Name a link as "Article: Section" (or the article alone)."""
    return f"{link.title}{separator}{link.section}" if link.section else link.title


def render_responses(
    responses: dict[str, Response], settings: MailSettings, library: Library, article_url: str
) -> Responses:
    """Check every response and render each intent's answer once.

    Mistakes in our own files (an unknown placeholder or settings block) raise; a link to
    an article that is broken or gone is dropped and reported, so one bad article cannot
    stop the bot.
    """
    answers, problems = {}, []
    for intent, response in responses.items():
        unknown = unknown_placeholders(response.text, settings)
        if unknown:
            raise ResponseError(f"response '{intent}' has unknown placeholders: {', '.join(unknown)}")
        bad_blocks = set(response.settings) - set(SETTINGS_BLOCKS)
        if bad_blocks:
            raise ResponseError(f"response '{intent}' names unknown settings {sorted(bad_blocks)}")
        links = []
        for target in response.articles:
            link = resolve_link(library, target, article_url)
            if link is None:
                problems.append(f"responses.yml: '{intent}' links to missing article section '{target}'")
            else:
                links.append(link)
        links = tuple(links)
        if intent in SPECIAL:
            continue
        answers[intent] = compose(
            intent,
            fill_placeholders(response.text, settings),
            settings=settings,
            blocks=response.settings,
            links=links,
            suggestions=response.suggestions,
            source=links[0] if links else None,
            article_url=article_url,
        )
    for problem in problems:
        log.error("%s", problem)
    return Responses(responses, answers, tuple(problems))


def fallback_answer(responses: Responses, settings: MailSettings, hits, article_url: str) -> Answer:
    """Say plainly that the bot does not know, and offer a person and the best search results (if any)."""
    response = responses.responses[FALLBACK]
    links = tuple(ArticleLink(h.title, h.section, h.url) for h in hits)
    return compose(
        FALLBACK,
        fill_placeholders(response.text, settings),
        settings=settings,
        links=links,
        suggestions=response.suggestions,
        article_url=article_url,
        links_heading=FALLBACK_LINKS_HEADING,
    )


def clarify_answer(responses: Responses, settings: MailSettings, intents: list[str], article_url: str) -> Answer:
    """Ask which of several intents was meant; each choice names the intent and links to its section."""
    response = responses.responses[CLARIFY]
    choices, links = [], []
    for intent in intents:
        answer = responses.answers[intent]
        link = answer.source
        label = escape_markdown(responses.label(intent))
        choices.append(f"- [{label}]({link.url})" if link else f"- {label}")
        if link:
            links.append(link)
    body = fill_placeholders(response.text, settings) + "\n\n" + "\n".join(choices)
    asks = tuple(responses.responses[i].ask or responses.label(i) for i in intents)
    answer = compose(CLARIFY, body, settings=settings, suggestions=asks, article_url=article_url)
    # The choices are already links in the text; list them as the answer's articles too.
    return replace(answer, articles=tuple(links))


MARKDOWN_SPECIALS = "\\`*_[]()#<>!"
# Enough inside a line that starts with a word: parentheses only matter right after "]".
MARKDOWN_INLINE_SPECIALS = "\\`*_[]<>"


def escape_markdown(text: str, specials: str = MARKDOWN_SPECIALS) -> str:
    """Escape characters that Markdown would read as formatting."""
    return "".join("\\" + ch if ch in specials else ch for ch in text)



POP3_INSTRUCTION_PATTERNS = (
    r"\bpop3?\b[^.\n]*\b(?:995|110)\b",
    r"\bpop3?\.[a-z0-9-]+\.",
    r"\b(?:enable|activate|turn on|switch on|select|choose)\s+(?:the\s+)?pop3?\b(?!\s+is not)",
    r"\bpop3? (?:is|can be) (?:enabled|available|supported)\b",
)


def pop3_policy_problems(answer: Answer) -> list[str]:
    """Return why an answer breaks the POP3 policy (it never helps enable POP3); empty if it does not."""
    text = answer.text.lower()
    problems = []
    if re.search(r"\bpop3?\b", text) and "not supported" not in text:
        problems.append("mentions POP3 without saying it is not supported")
    for pattern in POP3_INSTRUCTION_PATTERNS:
        for match in re.finditer(pattern, text):
            before = text[max(0, match.start() - 12) : match.start()]
            if not re.search(r"\b(?:not|never|no)\b|\(", before):
                problems.append(f"reads like POP3 instructions: {match.group(0)!r}")
    return problems
