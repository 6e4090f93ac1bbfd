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
    """A held-out question and every intent that counts as a right answer."""

    id: str
    question: str
    intents: tuple[str, ...]


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
    """Load a JSON-lines file of labelled questions (``id``, ``question``, ``intents``)."""
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(LabelledQuestion(str(row["id"]), str(row["question"]), tuple(row["intents"])))
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
