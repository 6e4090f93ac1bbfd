"""Load policy articles: front matter, placeholders, Markdown, sections; report what is broken."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml

from kb.cache import RenderCache
from kb.render import MarkdownRenderer, Section, split_sections
from kb.settings import MailSettings, fill_placeholders, unknown_placeholders

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("title", "summary", "updated")
KNOWN_KEYS = {"title", "category", "summary", "tags", "updated", "slug"}
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LINK_RE = re.compile(r"\]\(([^)\s]+)\)")
DEFAULT_CATEGORY = "General"


@dataclass(frozen=True)
class Article:
    """One policy article, rendered and split into sections."""

    slug: str
    title: str
    category: str
    summary: str
    tags: tuple[str, ...]
    updated: dt.date
    markdown: str
    html: str
    sections: tuple[Section, ...]
    path: str
    digest: str

    def section(self, anchor: str) -> Section | None:
        """Return the section with this anchor, if there is one."""
        return next((s for s in self.sections if s.anchor == anchor), None)


@dataclass(frozen=True)
class Problem:
    """Something wrong in an article file, with where it is."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Library:
    """The loaded articles by slug, plus the problems found while loading them."""

    articles: dict[str, Article]
    problems: tuple[Problem, ...] = field(default=())

    def categories(self) -> dict[str, list[Article]]:
        """Group articles by category, each sorted by title."""
        grouped: dict[str, list[Article]] = {}
        for article in sorted(self.articles.values(), key=lambda a: (a.category, a.title)):
            grouped.setdefault(article.category, []).append(article)
        return grouped

    def related(self, article: Article, limit: int = 5) -> list[Article]:
        """Return other articles that share tags or the category, most shared first."""
        def overlap(other: Article) -> tuple[int, str]:
            shared = len(set(article.tags) & set(other.tags)) + (other.category == article.category)
            return (-shared, other.title)

        others = [a for a in self.articles.values() if a.slug != article.slug]
        ranked = sorted(others, key=overlap)
        return [a for a in ranked if overlap(a)[0] < 0][:limit]


def _front_matter_end(lines: list[str]) -> int:
    """Return how many lines the front matter block takes (0 if there is none)."""
    if not lines or lines[0].strip() != "---":
        return 0
    for number, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return number + 1
    return 0


def _parse_file(
    name: str,
    raw: str,
    settings: MailSettings,
    article_url: str,
    render: MarkdownRenderer | None = None,
    cache: RenderCache | None = None,
) -> tuple[Article | None, list[Problem]]:
    """Parse one article file; return it, or None with the problems that stop it."""
    lines = raw.splitlines()
    body_start = _front_matter_end(lines)
    if not body_start:
        return None, [Problem(name, 1, "no front matter: the file must start with a '---' block")]
    try:
        post = frontmatter.loads(raw)
    except yaml.YAMLError as exc:
        # Where the broken construct began (an unclosed bracket) beats where parsing gave up.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1  # the YAML text handed to the parser starts on the "---" line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [Problem(name, line, f"bad front matter: {problem}")]
    meta = post.metadata
    problems = [Problem(name, 1, f"front matter lacks '{key}'") for key in REQUIRED_KEYS if not meta.get(key)]
    problems += [Problem(name, 1, f"unknown front matter key '{key}'") for key in sorted(set(meta) - KNOWN_KEYS)]
    slug = str(meta.get("slug") or name.removesuffix(".md"))
    if not SLUG_RE.match(slug):
        problems.append(Problem(name, 1, f"slug '{slug}' is not lower-case kebab-case"))
    updated = meta.get("updated")
    if isinstance(updated, str):
        try:
            updated = dt.date.fromisoformat(updated)
        except ValueError:
            pass
    if updated and not isinstance(updated, dt.date):
        problems.append(Problem(name, 1, f"'updated' must be a date such as 2026-01-31, not {updated!r}"))
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append(Problem(name, 1, "'tags' must be a list of words"))
        tags = []
    for number, line in enumerate(lines[body_start:], start=body_start + 1):
        for placeholder in unknown_placeholders(line, settings):
            problems.append(Problem(name, number, f"unknown placeholder {{{placeholder}}}"))
    if problems:
        return None, problems

    body = fill_placeholders(post.content, settings)
    title = str(meta["title"])
    key = cache.key(body, title, article_url) if cache else ""
    rendered = cache.get(key) if cache else None
    if rendered is None:
        html = (render or MarkdownRenderer(article_url))(body)
        sections = tuple(split_sections(html, title))
        if cache:
            cache.put(key, html, sections)
    else:
        html, sections = rendered
    digest = hashlib.sha256(f"{slug}\n{raw}\n{settings!r}".encode()).hexdigest()
    article = Article(
        slug=slug,
        title=title,
        category=str(meta.get("category") or DEFAULT_CATEGORY),
        summary=str(meta["summary"]),
        tags=tuple(t.lower() for t in tags),
        updated=updated,
        markdown=body,
        html=html,
        sections=sections,
        path=name,
        digest=digest,
    )
    return article, []


def _link_problems(article: Article, articles: dict[str, Article], source: str) -> list[Problem]:
    """Report links to articles or sections that do not exist."""
    problems = []
    for number, line in enumerate(source.splitlines(), start=1):
        for target in LINK_RE.findall(line):
            if "://" in target or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            if path and not path.endswith(".md"):
                continue
            slug = path.rsplit("/", 1)[-1][:-3] if path else article.slug
            linked = articles.get(slug)
            if linked is None:
                problems.append(Problem(article.path, number, f"link to missing article '{slug}'"))
            elif anchor and linked.section(anchor) is None:
                problems.append(Problem(article.path, number, f"link to missing section '{slug}#{anchor}'"))
    return problems


def load_articles(
    directory: str | Path,
    settings: MailSettings,
    article_url: str = "/articles/",
    render_cache: str | Path | None = None,
) -> Library:
    """Load every ``*.md`` article in ``directory``; broken ones are reported and left out.

    With ``render_cache`` (a file path), renderings are kept there between loads and an
    article rendered before from the same text, settings and renderer is not rendered again.
    """
    articles: dict[str, Article] = {}
    problems: list[Problem] = []
    sources: dict[str, str] = {}
    render = MarkdownRenderer(article_url)
    cache = RenderCache(render_cache) if render_cache else None
    for path in sorted(Path(directory).glob("*.md")):
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(path.name, 1, f"cannot read file: {exc}"))
            continue
        article, found = _parse_file(path.name, raw, settings, article_url, render, cache)
        problems += found
        if article is None:
            continue
        if article.slug in articles:
            first = articles[article.slug].path
            problems.append(Problem(article.path, 1, f"duplicate slug '{article.slug}' (also used by {first})"))
            continue
        articles[article.slug] = article
        sources[article.slug] = raw
    if cache:
        cache.save()
        log.info("articles rendered: %d, taken from the render cache: %d", cache.misses, cache.hits)
    for article in articles.values():
        problems += _link_problems(article, articles, sources[article.slug])
    for problem in problems:
        log.error("article problem: %s", problem)
    return Library(articles=articles, problems=tuple(problems))
