"""Markdown to sanitised HTML, sections and plain text: one pipeline for articles and answers."""

from __future__ import annotations

import html
import re
import textwrap
import threading
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

import markdown
import nh3
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

MARKDOWN_EXTENSIONS = ["toc", "tables", "fenced_code", "sane_lists"]

# nh3's defaults drop `id`, which would remove every heading anchor.
ALLOWED_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    **{f"h{level}": {"id"} for level in range(1, 7)},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

HEADING_RE = re.compile(r'<h([1-6]) id="([^"]+)">(.*?)</h\1>', re.S)


@dataclass(frozen=True)
class Section:
    """A heading and what stands under it, up to the next heading."""

    anchor: str
    title: str
    level: int
    html: str
    text: str


class _ArticleLinks(Treeprocessor):
    """Rewrite ``other-article.md#anchor`` links to help-center URLs."""

    def __init__(self, md, article_url: str):
        super().__init__(md)
        self.article_url = article_url

    def run(self, root):
        for link in root.iter("a"):
            target = link.get("href", "")
            parts = urlsplit(target)
            if not parts.scheme and not parts.netloc and parts.path.endswith(".md"):
                slug = parts.path.rsplit("/", 1)[-1][:-3]
                url = self.article_url + slug
                link.set("href", f"{url}#{parts.fragment}" if parts.fragment else url)


class _ArticleLinksExtension(Extension):
    def __init__(self, article_url: str):
        super().__init__()
        self.article_url = article_url

    def extendMarkdown(self, md):  # noqa: N802 (Markdown's API name)
        md.treeprocessors.register(_ArticleLinks(md, self.article_url), "article_links", 5)


def sanitize_html(fragment: str) -> str:
    """Strip anything but safe tags, attributes and URL schemes."""
    return nh3.clean(fragment, attributes=ALLOWED_ATTRIBUTES, url_schemes=ALLOWED_URL_SCHEMES)


class MarkdownRenderer:
    """Render Markdown to sanitised HTML with stable heading anchors, reusing one parser.

    Setting up a parser with its extensions costs about as much as rendering a short
    article, so loading many articles renders them all with one instance. An instance is
    not safe to share between threads.
    """

    def __init__(self, article_url: str = "/articles/"):
        self._md = markdown.Markdown(extensions=[*MARKDOWN_EXTENSIONS, _ArticleLinksExtension(article_url)])

    def __call__(self, source: str) -> str:
        self._md.reset()
        return sanitize_html(self._md.convert(source))


_renderers = threading.local()


def markdown_to_html(source: str, article_url: str = "/articles/") -> str:
    """Render Markdown to sanitised HTML with stable heading anchors.

    Each thread keeps one renderer per article URL: answers that are rendered per request
    (fallbacks, clarifying questions) then skip the parser's set-up.
    """
    cache = _renderers.__dict__
    renderer = cache.get(article_url)
    if renderer is None:
        renderer = cache[article_url] = MarkdownRenderer(article_url)
    return renderer(source)


def split_sections(article_html: str, title: str) -> list[Section]:
    """Split rendered HTML at its headings; text before the first one is the intro."""
    sections = []
    matches = list(HEADING_RE.finditer(article_html))
    intro = article_html[: matches[0].start()] if matches else article_html
    if intro.strip():
        sections.append(Section("", title, 1, intro.strip(), html_to_text(intro)))
    for match, following in zip(matches, [*matches[1:], None], strict=False):  # [None] when no heading
        end = following.start() if following else len(article_html)
        body = article_html[match.end() : end].strip()
        sections.append(
            Section(
                anchor=match.group(2),
                title=html_to_text(match.group(3)),
                level=int(match.group(1)),
                html=body,
                text=html_to_text(body),
            )
        )
    return sections


class _TextWriter(HTMLParser):
    """Turn our own sanitised HTML into readable plain text."""

    BLOCKS = {"p", "ul", "ol", "table", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "div"}

    def __init__(self, links: bool, markers: bool = True):
        super().__init__(convert_charrefs=True)
        self.links = links
        self.markers = markers
        self.in_head = False
        self.out: list[str] = []
        self.href: list[str | None] = []
        self.list_stack: list[list[int]] = []
        self.cells: list[str] | None = None

    def _newline(self, count: int = 1):
        text = "".join(self.out).rstrip(" ")
        trailing = len(text) - len(text.rstrip("\n"))
        self.out = [text + "\n" * max(0, count - trailing)] if text else []

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS:
            self._newline(2)
        if tag in ("ul", "ol"):
            self.list_stack.append([0 if tag == "ol" else -1])
        elif tag == "li":
            self._newline(1)
            marker = self.list_stack[-1] if self.list_stack else [-1]
            indent = "  " * (len(self.list_stack) - 1)
            if not self.markers:
                pass
            elif marker[0] >= 0:
                marker[0] += 1
                self.out.append(f"{indent}{marker[0]}. ")
            else:
                self.out.append(f"{indent}- ")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "tr":
            self._newline(1)
            self.cells = []
        elif tag in ("td", "th") and self.cells is not None:
            self.out.append("\x00")
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))
        elif tag == "thead":
            self.in_head = True

    def handle_endtag(self, tag):
        if tag in ("ul", "ol") and self.list_stack:
            self.list_stack.pop()
        if tag == "a" and self.href:
            href = self.href.pop()
            if self.links and href and not href.startswith("#"):
                self.out.append(f" ({href})")
        if tag == "tr":
            text = "".join(self.out)
            start = text.rfind("\n") + 1
            cells = [cell.strip() for cell in text[start:].split("\x00")[1:]]
            if self.in_head and not self.markers:
                cells = []  # a table's column names ("Setting", "Value") are not its content
            joined = ": ".join(cells) if len(cells) == 2 else (" | " if self.markers else ", ").join(cells)
            self.out = [text[:start] + joined]
            self.cells = None
        if tag == "thead":
            self.in_head = False
        if tag in self.BLOCKS:
            self._newline(2)

    def handle_data(self, data):
        self.out.append(re.sub(r"\s+", " ", data) if not self.list_stack or data.strip() else "")

    def text(self) -> str:
        # Markup whitespace leaves stray leading spaces; list indentation is kept.
        lines = [re.sub(r"^ +(?!- |\d+\. )", "", line.rstrip()) for line in "".join(self.out).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(fragment: str, links: bool = False, markers: bool = True) -> str:
    """Return the readable text of an HTML fragment; with ``links``, URLs follow link text.

    Without ``markers``, list items and table rows are lines of text only: no "- " or "1. "
    in front, no row of column names, and cells joined as words (what a search snippet quotes).
    """
    if "<" not in fragment and "&" not in fragment:
        # No markup (most headings): what the parser would return, without parsing.
        return re.sub(r"\s+", " ", fragment).strip()
    writer = _TextWriter(links, markers)
    writer.feed(fragment)
    writer.close()
    return writer.text()


def wrap_text(text: str, width: int = 72) -> str:
    """Wrap paragraphs and list items at ``width`` columns, keeping short lines as they are."""
    wrapped = []
    for line in text.split("\n"):
        if len(line) <= width:
            wrapped.append(line)
            continue
        bullet = re.match(r"^(\s*(?:- |\d+\. ))", line)
        indent = " " * len(bullet.group(1)) if bullet else ""
        wrapped.append(
            textwrap.fill(line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
        )
    return "\n".join(wrapped)


def escape(text: str) -> str:
    """Escape text for HTML."""
    return html.escape(text, quote=True)
