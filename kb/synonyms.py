"""Edit the lexicon's YAML as data: merge an overlay into ``synonyms.yml`` and add synonyms to it safely.

Synonyms added by the support team (from the knowledge-gap inbox) go to an overlay file
in the instance folder, in the same format as ``synonyms.yml``; the lexicon loader merges
it in. The shipped file stays as its authors wrote it, comments included, and the overlay
can be reviewed and folded into it at any time. Everything here is pure: dictionaries in,
dictionaries or text out.
"""

from __future__ import annotations

import yaml

from kb.text import words

MAX_WORD_CHARS = 40


class SynonymError(ValueError):
    """A synonym that cannot be added; the message says why."""


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
