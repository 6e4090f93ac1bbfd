"""Replies an agent pastes into a ticket: greeting, the bot's answer, its sources and a sign-off.

One reply comes in three formats, because ticket systems differ:

- ``text``: wrapped at 72 columns, settings as an aligned block, every link written out
  in full on a line of its own (so wrapping never breaks it);
- ``markdown``: the same content as Markdown;
- ``html``: that Markdown rendered and sanitised.

Every link is absolute: a ticket is read far from the help center. A variable that is
not known (the customer's name, the agent's name) is never left blank: a visible marker
such as ``[customer name]`` stands in its place and the reply lists it as missing.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from kb.answers import (
    MARKDOWN_INLINE_SPECIALS,
    Answer,
    escape_markdown,
    link_title,
    settings_heading,
    settings_markdown,
    settings_rows,
)
from kb.render import html_to_text, markdown_to_html, wrap_text

FORMATS = ("text", "markdown", "html")
WIDTH = 72
CLOSING = "Best regards,"
SOURCE_SEPARATOR = " › "
# Names of the variables a reply fills in, and the marker shown when one is missing.
CUSTOMER_NAME = "customer_name"
AGENT_NAME = "agent_name"
MARKERS = {CUSTOMER_NAME: "[customer name]", AGENT_NAME: "[agent name]"}
MAX_NAME_CHARS = 100

HTML_MARKDOWN_SPECIALS = MARKDOWN_INLINE_SPECIALS.replace("<", "").replace(">", "")
MARKDOWN_LINK_RE = re.compile(r"(\]\()([^)\s]+)(\))")
ORDERED_ITEM_RE = re.compile(r"^(\d+)([.)])")


@dataclass(frozen=True)
class Reply:
    """A ready reply in one format, the variables it could not fill, and the sections it cites."""

    text: str
    missing: tuple[str, ...]
    sections_used: tuple[str, ...]


def compose_reply(
    answer: Answer,
    fmt: str,
    *,
    base_url: str,
    customer_name: str | None = None,
    agent_name: str | None = None,
    signature: str | None = None,
    article_url: str = "/articles/",
) -> Reply:
    """Write ``answer`` as a reply to a customer in ``fmt`` (one of ``FORMATS``).

    Args:
        base_url: the help center's absolute root URL; relative links are resolved against it.
        signature: the agent's sign-off lines; without one, the agent's name signs the reply.
        article_url: the site path of articles, to resolve ``slug.md`` links in answers.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown reply format {fmt!r}; use one of {', '.join(FORMATS)}")
    customer = _clean_name(customer_name)
    signer = (signature or "").replace("\r\n", "\n").strip() or _clean_name(agent_name)
    missing = tuple(name for name, value in ((CUSTOMER_NAME, customer), (AGENT_NAME, signer)) if not value)
    links = tuple((link_title(link), urljoin(base_url, link.url)) for link in answer.articles)
    sources = tuple(link_title(link, SOURCE_SEPARATOR) for link in answer.articles)
    parts = ReplyParts(
        greeting=customer or MARKERS[CUSTOMER_NAME],
        body=absolute_markdown_links(answer.body, base_url, article_url),
        settings=answer.settings or {},
        links=links,
        source=link_title(answer.source, SOURCE_SEPARATOR) if answer.source else "",
        signer=signer or MARKERS[AGENT_NAME],
    )
    if fmt == "text":
        text = reply_text(parts)
    else:
        markdown = reply_markdown(parts, for_html=fmt == "html")
        text = markdown if fmt == "markdown" else markdown_to_html(markdown)
    return Reply(text=text, missing=missing, sections_used=sources)


@dataclass(frozen=True)
class ReplyParts:
    """What goes into a reply, in order, before it is written in a format."""

    greeting: str
    body: str
    settings: dict[str, dict]
    links: tuple[tuple[str, str], ...]
    source: str
    signer: str


def reply_text(parts: ReplyParts) -> str:
    """Write a reply as plain text wrapped at ``WIDTH`` columns."""
    blocks = [f"Hello {parts.greeting},"]
    if parts.body:
        blocks.append(wrap_text(html_to_text(markdown_to_html(parts.body), links=True), WIDTH))
    blocks += [settings_block(direction, entry) for direction, entry in parts.settings.items()]
    if parts.links:
        # A URL stands on a line of its own, so wrapping never breaks it.
        blocks.append(
            "Read more:\n" + "\n".join(f"{wrap_text(f'- {title}', WIDTH)}\n  {url}" for title, url in parts.links)
        )
    if parts.source:
        blocks.append(wrap_text(f"Source: {parts.source}", WIDTH))
    blocks.append(CLOSING + "\n" + wrap_text(parts.signer, WIDTH))
    return "\n\n".join(blocks) + "\n"


def settings_block(direction: str, entry: dict) -> str:
    """Lay out one server's settings with their values in one column."""
    rows = settings_rows(direction, entry)
    width = max(len(label) for label, _ in rows) + 1
    lines = [f"  {label + ':':<{width}}  {value}" for label, value in rows]
    return settings_heading(direction, entry) + "\n" + "\n".join(lines)


def reply_markdown(parts: ReplyParts, for_html: bool = False) -> str:
    """Write a reply as Markdown; ``for_html``: Markdown that Python-Markdown turns into the HTML reply.

    Python-Markdown has no backslash escape for "<" (CommonMark has), so "\\<" would show as
    typed; for HTML, the names and signature are HTML-escaped instead.
    """

    def escape(text: str) -> str:
        if for_html:
            return escape_markdown(html.escape(text, quote=False), HTML_MARKDOWN_SPECIALS)
        return escape_markdown(text, MARKDOWN_INLINE_SPECIALS)

    blocks = [f"Hello {escape(parts.greeting)},"]
    if parts.body:
        blocks.append(parts.body)
    if parts.settings:
        blocks.append(settings_markdown(parts.settings))
    if parts.links:
        blocks.append("Read more:\n\n" + "\n".join(f"- [{escape(title)}]({url})" for title, url in parts.links))
    if parts.source:
        blocks.append(f"Source: {escape(parts.source)}")
    # Two trailing spaces keep the signature's lines apart in Markdown.
    # Escape what would start a list, heading or quote: a signature may begin with "--".
    signer = "  \n".join(escape_line_start(escape(line)) for line in parts.signer.split("\n"))
    blocks.append(f"{CLOSING}  \n{signer}")
    return "\n\n".join(blocks) + "\n"


def absolute_markdown_links(markdown: str, base_url: str, article_url: str = "/articles/") -> str:
    """Make every link in our own Markdown absolute, so it works when pasted far from the site."""

    def absolute(match: re.Match) -> str:
        target = match.group(2)
        parts = urlsplit(target)
        if parts.scheme:
            return match.group(0)
        if not parts.netloc and parts.path.endswith(".md"):
            slug = parts.path.rsplit("/", 1)[-1][:-3]
            target = article_url + slug + (f"#{parts.fragment}" if parts.fragment else "")
        return match.group(1) + urljoin(base_url, target) + match.group(3)

    return MARKDOWN_LINK_RE.sub(absolute, markdown)


def escape_line_start(line: str) -> str:
    """Escape what would make a line a list item, heading or quote in Markdown."""
    if line[:1] and line[0] in "-+#>":
        return "\\" + line
    return ORDERED_ITEM_RE.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", line)


def _clean_name(value: str | None) -> str:
    """Return a name on one line without control characters, or "" when there is none."""
    if not value:
        return ""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())[:MAX_NAME_CHARS]
