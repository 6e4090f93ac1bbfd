"""Changes to the bot's data from the knowledge-gap inbox: training examples and synonyms, behind the gate.

Both go to overlay files in the instance folder (INTENTS_OVERLAY_PATH, SYNONYMS_OVERLAY_PATH),
in the formats of intents.yml and synonyms.yml, which the loaders merge in. A change is
written to a file beside the overlay, loaded with the real loaders, trained and evaluated;
only if no score is lower than before is it moved into place and the new model saved and
swapped in. Otherwise the overlay stays exactly as it was and the reason is shown.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import Flask, current_app

from classifier import data as intent_data
from classifier import model as intent_model
from classifier.gate import Assessment, Verdict, assess, judge
from kb.synonyms import SynonymError, add_synonym, dump_lexicon, merge_lexicons
from web.extensions import db
from web.knowledge import knowledge_stamp, load_bot_data, with_bot_data
from web.models import KnowledgeChange
from web.state import state, swap_knowledge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChangeOutcome:
    """What became of a change to the bot's data: accepted or refused, and why."""

    accepted: bool
    reason: str
    verdict: Verdict | None = None


def assessment_key(config, training, normalizer) -> str:
    held_out = [intent_data.file_digest(path) for path in config["HELDOUT_PATHS"]]
    parts = [training.digest, normalizer.fingerprint, held_out, intent_model.CV_FOLDS, state().calibration.key]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def current_assessment(config, training, normalizer, questions) -> Assessment:
    """Score the data as it is now; remembered in the instance folder until the data changes."""
    path = Path(current_app.instance_path) / "assessment.json"
    key = assessment_key(config, training, normalizer)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return Assessment(**saved["scores"])
    except (OSError, ValueError, TypeError):
        pass
    _, scores = assess(
        training, normalizer.normalize, questions, fingerprint=normalizer.fingerprint, calibration=state().calibration
    )
    remember_assessment(config, training, normalizer, scores)
    return scores


def remember_assessment(config, training, normalizer, scores: Assessment) -> None:
    path = Path(current_app.instance_path) / "assessment.json"
    write_atomically(
        path, json.dumps({"key": assessment_key(config, training, normalizer), "scores": scores.to_dict()})
    )


def write_atomically(path: Path, text: str) -> None:
    """Write a file aside and move it into place, so readers see the old or the new file, never half of one."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    aside.write_text(text, encoding="utf-8")
    aside.replace(path)


def change_knowledge(
    author: str, *, examples: dict[str, tuple[str, ...]] | None = None, synonym: tuple[str, str] | None = None
) -> ChangeOutcome:
    """Add training examples or a synonym if the bot does not score lower with them; record the outcome."""
    app, config = current_app._get_current_object(), current_app.config
    if examples:
        kind = "examples"
        summary = "; ".join(f"{intent}: " + " | ".join(items) for intent, items in examples.items())
    else:
        kind, summary = "synonym", " = ".join(synonym or ())
    target = Path(config["INTENTS_OVERLAY_PATH"] if examples else config["SYNONYMS_OVERLAY_PATH"])
    candidate = target.with_name(f".{target.name}.candidate.{os.getpid()}")
    # One change at a time on this machine: each starts from what the previous one left.
    with open(Path(app.instance_path) / ".knowledge-change.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            outcome = try_change(app, target, candidate, examples=examples, synonym=synonym)
        finally:
            candidate.unlink(missing_ok=True)
    db.session.add(
        KnowledgeChange(
            author=author, kind=kind, summary=summary[:1000], accepted=outcome.accepted, reason=outcome.reason[:1000]
        )
    )
    db.session.commit()
    log.info("knowledge change by %s (%s): %s", author, summary[:200], outcome.reason)
    return outcome


def try_change(app: Flask, target: Path, candidate: Path, *, examples, synonym) -> ChangeOutcome:
    """Write the changed overlay beside the real one, train and evaluate it, and keep it only if it is no worse."""
    config, current = app.config, state(app).knowledge
    library = current.base.library
    training, lexicon, normalizer = load_bot_data(config, library)
    overlay_text = target.read_text(encoding="utf-8") if target.is_file() else ""
    try:
        if examples:
            if intent_data.merge_examples(training, examples) is training:
                return ChangeOutcome(False, "refused: every one of these is already a training example of that intent")
            overlay = intent_data.parse_examples(overlay_text, str(target))
            candidate.write_text(
                intent_data.dump_examples(intent_data.add_examples(overlay, examples)), encoding="utf-8"
            )
            changed = load_bot_data(config, library, intents_overlay=candidate)
        else:
            overlay = yaml.safe_load(overlay_text) or {}
            if not isinstance(overlay, dict):
                return ChangeOutcome(False, f"refused: {target} is not a synonyms file; fix or remove it first")
            shipped = yaml.safe_load(Path(config["SYNONYMS_PATH"]).read_text(encoding="utf-8")) or {}
            added = add_synonym(overlay, merge_lexicons(shipped, overlay), *synonym)
            candidate.write_text(dump_lexicon(added), encoding="utf-8")
            changed = load_bot_data(config, library, synonyms_overlay=candidate)
    except (intent_data.DataError, SynonymError, yaml.YAMLError) as error:
        return ChangeOutcome(False, f"refused: {error}")
    questions = [q for path in config["HELDOUT_PATHS"] for q in intent_data.load_questions(path)]
    before = current_assessment(config, training, normalizer, questions)
    new_training, new_lexicon, new_normalizer = changed
    model, after = assess(
        new_training, new_normalizer.normalize, questions, fingerprint=new_normalizer.fingerprint, reference=training,
        calibration=state(app).calibration,
    )
    verdict = judge(before, after, config["GATE_TOLERANCE"])
    if verdict.accepted:
        candidate.replace(target)
        intent_model.save(model, config["MODEL_PATH"])
        remember_assessment(config, new_training, new_normalizer, after)
        swap_knowledge(app, with_bot_data(current, new_training, new_lexicon, new_normalizer, model))
        state(app).knowledge_stamp = knowledge_stamp(config)
    return ChangeOutcome(verdict.accepted, verdict.reason, verdict)
