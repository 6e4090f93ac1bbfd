"""Read and check the declarative training data."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

OUT_OF_SCOPE = "out_of_scope"
SMALL_TALK = frozenset({"greeting", "thanks", "human_agent"})
MIN_DOMAIN_EXAMPLES = 25


class DataError(ValueError):
    """The training data is malformed."""


@dataclass(frozen=True)
class Intent:
    """One intent: its id, what it means, and example questions."""

    name: str
    description: str
    examples: tuple[str, ...]

    @property
    def is_domain(self) -> bool:
        """Tell whether the intent is about the knowledge base's subject (not small talk or off-topic)."""
        return self.name != OUT_OF_SCOPE and self.name not in SMALL_TALK


@dataclass(frozen=True)
class TrainingData:
    """All intents, and a fingerprint of the file they came from."""

    intents: tuple[Intent, ...]
    digest: str

    @property
    def names(self) -> list[str]:
        """Return the intent ids in file order."""
        return [intent.name for intent in self.intents]

    def pairs(self) -> tuple[list[str], list[str]]:
        """Return (examples, labels) for fitting."""
        texts, labels = [], []
        for intent in self.intents:
            texts += intent.examples
            labels += [intent.name] * len(intent.examples)
        return texts, labels


@dataclass(frozen=True)
class LabelledQuestion:
    """A held-out question and every intent that counts as a right answer.

    ``kind`` (the file's ``class``: keyword, symptom, error, ...) and ``source`` (where a
    real user's wording was found) are optional, for files that break scores down by them.
    """

    id: str
    question: str
    intents: tuple[str, ...]
    kind: str | None = None
    source: str | None = None


def file_digest(path: str | Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_intents(path: str | Path) -> TrainingData:
    """Load ``intents.yml``; raise ``DataError`` on anything malformed."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("intents"), list):
        raise DataError(f"{path}: expected 'intents:' with a list")
    intents, seen = [], {}
    for entry in raw["intents"]:
        name = entry.get("intent") if isinstance(entry, dict) else None
        examples = entry.get("examples") if isinstance(entry, dict) else None
        if not name or not isinstance(examples, list) or not all(isinstance(e, str) and e.strip() for e in examples):
            raise DataError(f"{path}: intent {name!r} needs a name and a list of non-empty example strings")
        for example in examples:
            key = " ".join(example.lower().split())
            if key in seen and seen[key] != name:
                raise DataError(f"{path}: example {example!r} is under both {seen[key]} and {name}")
            seen[key] = name
        intents.append(Intent(name, str(entry.get("description", "")), tuple(e.strip() for e in examples)))
    if OUT_OF_SCOPE not in {i.name for i in intents}:
        raise DataError(f"{path}: an '{OUT_OF_SCOPE}' intent with real off-topic questions is required")
    return TrainingData(tuple(intents), file_digest(path))


def load_questions(path: str | Path) -> list[LabelledQuestion]:
    """Load a JSON-lines file of labelled questions (``id``, ``question``, ``intents``).

    The optional ``class`` and ``source`` fields become ``kind`` and ``source``.
    """
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise TypeError("expected an object")
            intents = row["intents"]
            if not isinstance(intents, list) or not intents or not all(isinstance(i, str) for i in intents):
                raise TypeError("'intents' must be a non-empty list of intent ids")
            extra = {key: row.get(field) for key, field in (("kind", "class"), ("source", "source"))}
            if any(value is not None and not isinstance(value, str) for value in extra.values()):
                raise TypeError("'class' and 'source' must be text")
            questions.append(LabelledQuestion(str(row["id"]), str(row["question"]), tuple(intents), **extra))
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path}:{number}: {exc}") from exc
    return questions


def vocabulary(data: TrainingData, min_count: int = 2) -> dict[str, int]:
    """Count words used in at least ``min_count`` examples (rarer ones may be typos)."""
    counts: dict[str, int] = {}
    for intent in data.intents:
        for example in intent.examples:
            for word in set(example.lower().split()):
                word = word.strip(".,!?;:()\"'")
                if word.isalpha():
                    counts[word] = counts.get(word, 0) + 1
    return {word: count for word, count in counts.items() if count >= min_count}


# --- examples added after release (an overlay beside intents.yml) ----------------------


def example_key(text: str) -> str:
    """Return the form in which two examples count as the same (case and spacing ignored)."""
    return " ".join(text.lower().split())


def parse_examples(text: str, source: str = "examples") -> dict[str, tuple[str, ...]]:
    """Read examples written in the training-data format (``intents: [{intent, examples}]``).

    Descriptions may be present and are ignored; an intent may appear more than once.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: not valid YAML ({exc})") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not isinstance(raw.get("intents"), list):
        raise DataError(f"{source}: expected 'intents:' with a list, as in intents.yml")
    examples: dict[str, list[str]] = {}
    for entry in raw["intents"]:
        name = entry.get("intent") if isinstance(entry, dict) else None
        items = entry.get("examples") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or not isinstance(items, list):
            raise DataError(f"{source}: every entry needs 'intent' and a list of 'examples'")
        for item in items:
            if not isinstance(item, str) or not item.strip():
                raise DataError(f"{source}: intent {name!r} has an example that is not text")
            examples.setdefault(name, []).append(" ".join(item.split()))
    return {name: tuple(items) for name, items in examples.items()}


def dump_examples(examples: dict[str, tuple[str, ...] | list[str]]) -> str:
    """Write examples in the training-data format, ready to import or to paste into intents.yml."""
    entries = [{"intent": name, "examples": list(items)} for name, items in examples.items() if items]
    return yaml.safe_dump({"version": 1, "intents": entries}, sort_keys=False, allow_unicode=True, width=1000)


def add_examples(
    base: dict[str, tuple[str, ...]], extra: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """Return ``base`` with ``extra`` appended, each example once (a pure merge of two overlays)."""
    merged = {name: list(items) for name, items in base.items()}
    for name, items in extra.items():
        seen = {example_key(e) for e in merged.get(name, [])}
        for item in items:
            if example_key(item) not in seen:
                merged.setdefault(name, []).append(item)
                seen.add(example_key(item))
    return {name: tuple(items) for name, items in merged.items()}


def merge_examples(data: TrainingData, extra: dict[str, tuple[str, ...]], *, strict: bool = True) -> TrainingData:
    """Return the training data with more examples for its intents.

    An example that is already under the same intent is skipped. An unknown intent, or an
    example that is already under another intent, is a ``DataError`` when ``strict``, and
    is skipped otherwise (an overlay written before intents.yml changed must not stop the app).
    """
    known = {intent.name for intent in data.intents}
    owner = {example_key(e): intent.name for intent in data.intents for e in intent.examples}
    added: dict[str, list[str]] = {}
    for name, items in extra.items():
        if name not in known:
            if strict:
                raise DataError(f"unknown intent {name!r}: the intents are {', '.join(sorted(known))}")
            continue
        for item in items:
            key = example_key(item)
            if owner.get(key, name) != name:
                if strict:
                    raise DataError(f"{item!r} is already an example of {owner[key]}, not of {name}")
                continue
            if key not in owner:
                owner[key] = name
                added.setdefault(name, []).append(item)
    if not added:
        return data
    intents = tuple(
        Intent(i.name, i.description, i.examples + tuple(added.get(i.name, ()))) for i in data.intents
    )
    digest = hashlib.sha256(json.dumps([data.digest, sorted(added.items())]).encode()).hexdigest()
    return TrainingData(intents, digest)


def load_training(path: str | Path, overlay_path: str | Path | None = None) -> TrainingData:
    """Load ``intents.yml`` and merge the examples of an overlay file in the same format, if there is one."""
    data = load_intents(path)
    if overlay_path is None or not Path(overlay_path).is_file():
        return data
    overlay = parse_examples(Path(overlay_path).read_text(encoding="utf-8"), str(overlay_path))
    return merge_examples(data, overlay, strict=False)
