"""The lexicon: load ``synonyms.yml`` (with its overlay), and edit its YAML as data.

Synonyms added by the support team (from the knowledge-gap inbox) form an overlay in the
same format as ``synonyms.yml`` (kept by the app, in its database; or in a file); the
lexicon loader merges it in. The shipped file stays as its authors wrote it, comments
included, and the overlay can be reviewed and folded into it at any time. Everything here
is pure: dictionaries in, dictionaries or text out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kb.words import words

MAX_WORD_CHARS = 40


class SynonymError(ValueError):
    """A synonym that cannot be added; the message says why."""


@dataclass(frozen=True)
class Lexicon:
    """The spellings, synonym groups and known terms from ``synonyms.yml``."""

    spellings: dict[str, str]
    groups: dict[str, tuple[str, ...]]
    terms: tuple[str, ...] = ()
    spelling_re: re.Pattern | None = field(default=None, compare=False)

    def canonical(self, word: str) -> str:
        """Return the first word of the word's synonym group (or the word)."""
        group = self.groups.get(word)
        return group[0] if group else word

    def equivalents(self, word: str) -> tuple[str, ...]:
        """Return the word and its synonyms, the word first."""
        group = self.groups.get(word, ())
        return (word, *[w for w in group if w != word])

    def respell(self, text: str) -> str:
        """Rewrite alternative spellings to their canonical form."""
        if self.spelling_re is None:
            return text
        return self.spelling_re.sub(lambda m: self.spellings[m.group(0).lower()], text)


def read_lexicon(path: str | Path) -> dict:
    """Read a lexicon file (``synonyms.yml`` or an overlay in its format) as plain data."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def load_lexicon(path: str | Path, overlay_path: str | Path | None = None, *, overlay: dict | None = None) -> Lexicon:
    """Load spellings and synonyms from a YAML file, and merge an overlay in the same format (a file, or data)."""
    raw = read_lexicon(path)
    if overlay_path is not None and Path(overlay_path).is_file():
        raw = merge_lexicons(raw, read_lexicon(overlay_path))
    if overlay:
        raw = merge_lexicons(raw, overlay)
    spellings = {
        variant.lower(): canonical.lower()
        for canonical, variants in (raw.get("spellings") or {}).items()
        for variant in variants
    }
    groups = {}
    for group in raw.get("synonyms") or []:
        members = tuple(str(w).lower() for w in group)
        for word in members:
            groups[word] = members
    terms = tuple(str(w).lower() for w in raw.get("terms") or [])
    pattern = None
    if spellings:
        # Longest first, so "pop 3s" wins over "pop".
        alternatives = sorted(spellings, key=len, reverse=True)
        pattern = re.compile(r"(?<![\w.])(?:" + "|".join(map(re.escape, alternatives)) + r")(?![\w])", re.I)
    return Lexicon(spellings=spellings, groups=groups, terms=terms, spelling_re=pattern)


def merge_lexicons(base: dict, overlay: dict) -> dict:
    """Return ``base`` with the overlay's spellings, synonym groups and terms merged in.

    A group of the overlay that shares a word with a group of ``base`` extends that group
    (its first word stays the canonical one); any other group is added.
    """
    spellings = {str(k): list(v or []) for k, v in (base.get("spellings") or {}).items()}
    for canonical, variants in (overlay.get("spellings") or {}).items():
        known = spellings.setdefault(str(canonical), [])
        known += [v for v in variants or [] if v not in known]
    groups = [list(map(str, g)) for g in base.get("synonyms") or []]
    for group in overlay.get("synonyms") or []:
        group = [str(w).lower() for w in group]
        target = next((g for g in groups if {w.lower() for w in g} & set(group)), None)
        if target is None:
            groups.append(group)
        else:
            target += [w for w in group if w not in {t.lower() for t in target}]
    merged = {**base, "spellings": spellings, "synonyms": groups}
    terms = [str(t) for t in base.get("terms") or []]
    terms += [str(t) for t in overlay.get("terms") or [] if str(t) not in terms]
    if terms:
        merged["terms"] = terms
    return merged


def check_word(word: str) -> str:
    """Return the word in lower case if it can be a synonym (one word as the normaliser reads it)."""
    word = " ".join(str(word).split()).lower()
    if not word:
        raise SynonymError("both words are needed")
    if len(word) > MAX_WORD_CHARS or words(word) != [word]:
        raise SynonymError(f"'{word}' is not a single word: synonyms are single words (use spellings for phrases)")
    return word


def add_synonym(overlay: dict, lexicon: dict, word: str, synonym: str) -> dict:
    """Return a new overlay in which ``synonym`` means the same as ``word``.

    ``lexicon`` is the merged lexicon (shipped file and overlay) the words are checked
    against: two words already in one group are refused, and so are words of two
    different groups (joining them would change what both mean).
    """
    word, synonym = check_word(word), check_word(synonym)
    if word == synonym:
        raise SynonymError("a word is already its own synonym")
    groups = [[str(w).lower() for w in g] for g in lexicon.get("synonyms") or []]
    first = next((g for g in groups if word in g), None)
    second = next((g for g in groups if synonym in g), None)
    if first is not None and first is second:
        raise SynonymError(f"'{word}' and '{synonym}' are already synonyms")
    if first is not None and second is not None:
        raise SynonymError(
            f"'{word}' is a synonym of '{first[0]}' and '{synonym}' of '{second[0]}': joining the two groups "
            "would change what both mean; edit synonyms.yml instead"
        )
    # Extending an existing group keeps its canonical word first.
    group = first or second
    new_group = [group[0], synonym if first is not None else word] if group else [word, synonym]
    return merge_lexicons(overlay, {"synonyms": [new_group]})


def dump_lexicon(raw: dict) -> str:
    """Write a lexicon (or an overlay) as YAML in the format of ``synonyms.yml``."""
    header = "# Synonyms added from the knowledge-gap inbox; merged into kb/synonyms.yml when loaded.\n"
    body = {key: raw[key] for key in ("spellings", "synonyms", "terms") if raw.get(key)}
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=None, width=1000)
