"""Keep rendered articles between loads: Markdown rendering is most of what loading costs.

An entry is found by a digest of everything the rendering depends on: the Markdown with
its placeholders filled in (so a settings change shows), the title, the article URL, and
a fingerprint of the renderer (the source of :mod:`kb.render` and the versions of
Markdown and nh3). Any change to one of them misses the cache, and the article is
rendered again. The file holds only what the last load used.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import uuid
from pathlib import Path

from kb import render
from kb.render import Section

log = logging.getLogger(__name__)

FORMAT = 1


def renderer_fingerprint() -> str:
    """Return a digest that changes whenever the renderer or the libraries it uses change."""
    parts = [f"format {FORMAT}", Path(render.__file__).read_text(encoding="utf-8")]
    for package in ("markdown", "nh3"):
        parts.append(f"{package} {importlib.metadata.version(package)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class RenderCache:
    """Rendered HTML and sections by the digest of what they were rendered from, stored in one JSON file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fingerprint = renderer_fingerprint()
        self._stored: dict[str, list] = {}
        self._used: dict[str, list] = {}
        self.hits = self.misses = 0
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("render cache %s unreadable, rendering everything: %s", self.path, exc)
            return
        if isinstance(data, dict) and data.get("renderer") == self._fingerprint:
            self._stored = data.get("articles") or {}

    def key(self, markdown: str, title: str, article_url: str) -> str:
        """Return the digest an article's rendering is kept under."""
        return hashlib.sha256(f"{self._fingerprint}\0{article_url}\0{title}\0{markdown}".encode()).hexdigest()

    def get(self, key: str) -> tuple[str, tuple[Section, ...]] | None:
        """Return the kept HTML and sections, or None."""
        entry = self._stored.get(key)
        try:
            html, sections = entry
            found = tuple(
                Section(anchor, title, int(level), body, text) for anchor, title, level, body, text in sections
            )
        except (TypeError, ValueError):  # missing, or not in the shape this code writes: render again
            self.misses += 1
            return None
        self.hits += 1
        self._used[key] = entry
        return html, found

    def put(self, key: str, html: str, sections: tuple[Section, ...]) -> None:
        """Keep a new rendering."""
        self._used[key] = [html, [[s.anchor, s.title, s.level, s.html, s.text] for s in sections]]

    def save(self) -> None:
        """Write the renderings this load used, if they differ from the file's; failures are only logged."""
        if not self.misses and len(self._used) == len(self._stored):
            return
        data = {"renderer": self._fingerprint, "articles": self._used}
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("could not write the render cache %s: %s", self.path, exc)
            tmp.unlink(missing_ok=True)
