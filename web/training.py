"""Changes to the bot's data from the knowledge-gap inbox: training examples and synonyms, queued and gated.

A change is stored in the database as *pending* (who, when, what) and the request returns at
once. The gate then takes pending changes one at a time, in the order they came, in whichever
process of the cluster holds the gate's lease (web.leases; web.background offers it the work
every second): each change is applied to the latest knowledge version, trained and evaluated
(classifier.gate, as ``flask evaluate`` measures the model), and accepted only if no score is
lower than before. An accepted change becomes the next knowledge version, with its model
stored for every node (web.knowledge); a refused one keeps its reason. Two changes made at
once on two nodes are both checked, the second on top of the first: none is lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import yaml
from flask import Flask

from classifier import data as intent_data
from classifier import model as intent_model
from classifier.gate import Assessment, assess, judge
from kb.synonyms import SynonymError, add_synonym, check_word, merge_lexicons, read_lexicon
from web import leases
from web.errors import InputError
from web.knowledge import (
    Overlay,
    assemble,
    database_engine,
    model_key,
    overlay_from_row,
    remember_overlay,
    store_model,
    with_bot_data,
)
from web.models import KnowledgeChange, KnowledgeVersion, utcnow
from web.state import state, swap_knowledge

log = logging.getLogger(__name__)

CHANGES = KnowledgeChange.__table__
VERSIONS = KnowledgeVersion.__table__
GATE_LEASE = "knowledge-gate"
OPEN = ("pending", "checking")
# Inbox files of releases that kept added examples and synonyms in the instance folder.
LEGACY_OVERLAYS = {"examples": "intents.local.yml", "synonym": "synonyms.local.yml"}


class RefusedError(ValueError):
    """A change that cannot be applied at all; the message says why."""


# Training examples pasted or uploaded in the inbox: intents.yml itself is a few dozen KB.
TRAINING_UPLOAD_MAX_BYTES = 200_000


def read_uploaded_examples(text: str) -> dict[str, tuple[str, ...]]:
    """Read training examples someone uploaded: bounded, and without YAML anchors or aliases.

    An alias repeats a node without copying its text, so 63 KB of nested aliases stand for
    billions of examples (a worker grew to 3.1 GB reading one). Training data never needs them:
    any anchor or alias is refused before the document is built.
    """
    if len(text) > TRAINING_UPLOAD_MAX_BYTES:
        raise InputError(f"The examples are too long: at most {TRAINING_UPLOAD_MAX_BYTES // 1000} KB.")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise InputError("YAML anchors and aliases (& and *) are not accepted in training examples.")
    except yaml.YAMLError as error:
        raise InputError(f"the examples are not valid YAML: {error}") from None
    try:
        return intent_data.parse_examples(text, "the pasted examples")
    except intent_data.DataError as error:
        raise InputError(str(error)) from None


@dataclass(frozen=True)
class Queued:
    """A change stored for the gate: its number and what it is (or, refused at once, why not)."""

    id: int
    kind: str
    summary: str
    refused: str | None = None


def describe(examples: dict[str, tuple[str, ...]] | None, synonym: tuple[str, str] | None) -> tuple[str, str, dict]:
    """Return a change's kind, its one-line summary and its payload."""
    if examples:
        summary = "; ".join(f"{intent}: " + " | ".join(items) for intent, items in examples.items())
        return "examples", summary, {"examples": {name: list(items) for name, items in examples.items()}}
    return "synonym", " = ".join(synonym or ()), {"synonym": list(synonym or ())}


def precheck(training, examples: dict[str, tuple[str, ...]] | None, synonym: tuple[str, str] | None) -> str | None:
    """Return why a change can never be applied (checked at once, in the request), or None.

    Only what needs no training is checked here, against the data this process answers
    with; the gate checks everything again against the latest version.
    """
    try:
        if examples and intent_data.merge_examples(training, examples) is training:
            return "refused: every one of these is already a training example of that intent"
        if synonym:
            word, other = check_word(synonym[0]), check_word(synonym[1])
            if word == other:
                return "refused: a word is already its own synonym"
    except (intent_data.DataError, SynonymError) as error:
        return f"refused: {error}"
    return None


def submit_change(
    engine: sa.Engine,
    author: str,
    *,
    examples: dict[str, tuple[str, ...]] | None = None,
    synonym: tuple[str, str] | None = None,
    synonyms: dict | None = None,
    refused: str | None = None,
) -> Queued:
    """Queue a change for the gate (training examples, one synonym, or a whole synonyms overlay).

    With ``refused`` (a precheck's reason) the change is recorded as refused instead.
    """
    if synonyms is not None:
        kind, summary, payload = "synonym", "synonyms file: " + json.dumps(synonyms)[:900], {"synonyms": synonyms}
    else:
        kind, summary, payload = describe(examples, synonym)
    now = utcnow()
    row = {"status": "pending", "reason": ""}
    if refused:
        row = {"status": "refused", "accepted": False, "reason": refused[:1000], "decided_at": now}
    with engine.begin() as connection:
        change_id = connection.execute(
            sa.insert(CHANGES)
            .values(
                at=now,
                author=author[:254],
                kind=kind,
                summary=summary[:1000],
                payload=json.dumps(payload),
                **row,
            )
            .returning(CHANGES.c.id)
        ).scalar_one()
    log.info("knowledge change %d %s by %s: %s", change_id, "refused" if refused else "queued", author, summary[:200])
    return Queued(change_id, kind, summary, refused)


def request_change(app: Flask, author: str, *, examples=None, synonym=None) -> Queued:
    """Queue a change from the inbox or the command line for the gate, or record it refused if it can never apply."""
    refused = precheck(state(app).knowledge.training, examples, synonym)
    return submit_change(database_engine(app), author, examples=examples, synonym=synonym, refused=refused)


def change_status(engine: sa.Engine, change_id: int):
    """Return a change's row (status, progress, reason, version)."""
    with engine.connect() as connection:
        return connection.execute(sa.select(CHANGES).where(CHANGES.c.id == change_id)).first()


def run_gate(app: Flask, holder: str | None = None) -> int:
    """Decide the open changes in order while holding the gate's lease; return how many were decided.

    Returns 0 at once if another process holds the lease (it decides them).
    """
    engine = database_engine(app)
    holder = holder or leases.holder_name()
    if not leases.acquire(engine, GATE_LEASE, holder):
        return 0
    decided = 0
    try:
        with leases.kept(engine, GATE_LEASE, holder):
            while (change := next_change(engine)) is not None:
                decide(app, engine, change)
                decided += 1
    finally:
        leases.release(engine, GATE_LEASE, holder)
    return decided


def next_change(engine: sa.Engine):
    """Return the oldest change not decided yet (one left 'checking' by a process that died is taken again)."""
    with engine.connect() as connection:
        return connection.execute(
            sa.select(CHANGES).where(CHANGES.c.status.in_(OPEN)).order_by(CHANGES.c.id).limit(1)
        ).first()


def note(engine: sa.Engine, change_id: int, **values) -> None:
    """Update a change's row (status, progress, verdict)."""
    with engine.begin() as connection:
        connection.execute(sa.update(CHANGES).where(CHANGES.c.id == change_id).values(**values))


def latest_version(engine: sa.Engine):
    """Return the latest knowledge version's row, or None (version 0: the shipped data)."""
    with engine.connect() as connection:
        return connection.execute(sa.select(VERSIONS).order_by(VERSIONS.c.id.desc()).limit(1)).first()


def changed_overlay(config, training, overlay: Overlay, payload: dict) -> Overlay:
    """Return ``overlay`` with the change applied, or raise RefusedError saying why it cannot be."""
    try:
        if "examples" in payload:
            examples = {name: tuple(items) for name, items in payload["examples"].items()}
            if intent_data.merge_examples(training, examples) is training:
                raise RefusedError("refused: every one of these is already a training example of that intent")
            added = intent_data.add_examples(overlay.examples, examples)
            return Overlay(overlay.version + 1, added, overlay.synonyms)
        if "synonym" in payload:
            word, synonym = payload["synonym"]
            shipped = read_lexicon(config["SYNONYMS_PATH"])
            added = add_synonym(overlay.synonyms, merge_lexicons(shipped, overlay.synonyms), word, synonym)
            return Overlay(overlay.version + 1, overlay.examples, added)
        if "synonyms" in payload:
            if not isinstance(payload["synonyms"], dict):
                raise RefusedError("refused: the synonyms are not in the format of synonyms.yml")
            return Overlay(overlay.version + 1, overlay.examples, merge_lexicons(overlay.synonyms, payload["synonyms"]))
    except (intent_data.DataError, SynonymError) as error:
        raise RefusedError(f"refused: {error}") from None
    except (ValueError, TypeError, KeyError) as error:
        raise RefusedError(f"refused: the change is malformed ({error})") from None
    raise RefusedError("refused: the change names nothing to add")


def scores_key(config, training, normalizer, calibration) -> str:
    """Return what an assessment depends on: the data, the normaliser, the held-out questions, the folds."""
    held_out = [intent_data.file_digest(path) for path in config["HELDOUT_PATHS"]]
    parts = [training.digest, normalizer.fingerprint, held_out, intent_model.CV_FOLDS, calibration.key]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def before_scores(app: Flask, row, training, normalizer, calibration, questions, key: str) -> Assessment:
    """Score the latest version: kept with it in the database (or, for version 0, in the instance folder)."""
    if row is not None and row.scores_key == key and row.scores:
        return Assessment(**json.loads(row.scores))
    path = Path(app.instance_path) / "assessment.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return Assessment(**saved["scores"])
    except (OSError, ValueError, TypeError):
        pass
    _, scores = assess(
        training, normalizer.normalize, questions, fingerprint=normalizer.fingerprint, calibration=calibration
    )
    aside = path.with_name(f".{path.name}.{leases.holder_name().replace(':', '-')}")
    aside.write_text(json.dumps({"key": key, "scores": scores.to_dict()}), encoding="utf-8")
    aside.replace(path)
    return scores


def decide(app: Flask, engine: sa.Engine, change) -> None:
    """Check one change against the latest version and record the verdict (and, if accepted, the new version)."""
    config, calibration = app.config, state(app).calibration
    library = state(app).knowledge.base.library
    note(engine, change.id, status="checking", progress="reading the latest knowledge version")
    row = latest_version(engine)
    overlay = overlay_from_row(row) if row is not None else Overlay()
    training, _, normalizer = assemble(config, library, overlay)
    try:
        candidate = changed_overlay(config, training, overlay, json.loads(change.payload or "{}"))
    except (RefusedError, ValueError) as error:
        refuse(engine, change, str(error))
        return
    new_training, new_lexicon, new_normalizer = assemble(config, library, candidate)
    questions = [q for path in config["HELDOUT_PATHS"] for q in intent_data.load_questions(path)]
    note(engine, change.id, progress=f"scoring knowledge version {overlay.version} (1 of 2)")
    key = scores_key(config, training, normalizer, calibration)
    before = before_scores(app, row, training, normalizer, calibration, questions, key)
    note(engine, change.id, progress=f"training and scoring with the change (2 of 2, on version {overlay.version})")
    model, after = assess(
        new_training,
        new_normalizer.normalize,
        questions,
        fingerprint=new_normalizer.fingerprint,
        reference=training,
        calibration=calibration,
    )
    verdict = judge(before, after, config["GATE_TOLERANCE"])
    if not verdict.accepted:
        refuse(engine, change, verdict.reason)
        return
    # The model first: a node that sees the new version fetches it rather than training it itself.
    key = model_key(new_training, new_normalizer, calibration)
    store_model(engine, config["SECRET_KEY"], key, candidate.version, model)
    try:
        with engine.begin() as connection:
            # The version number is the primary key: if another gate wrote this number meanwhile
            # (a lease that expired under a stalled process), this insert fails and the change
            # is checked again on top of that version.
            connection.execute(
                sa.insert(VERSIONS).values(
                    id=candidate.version,
                    at=utcnow(),
                    change_id=change.id,
                    author=change.author,
                    examples=json.dumps({name: list(items) for name, items in candidate.examples.items()}),
                    synonyms=json.dumps(candidate.synonyms),
                    scores=json.dumps(after.to_dict()),
                    scores_key=scores_key(config, new_training, new_normalizer, calibration),
                )
            )
            connection.execute(
                sa.update(CHANGES)
                .where(CHANGES.c.id == change.id)
                .values(
                    status="accepted",
                    accepted=True,
                    reason=verdict.reason[:1000],
                    progress=None,
                    decided_at=utcnow(),
                    version=candidate.version,
                )
            )
    except sa.exc.IntegrityError:
        log.warning(
            "knowledge version %d was written by another process; checking change %d again",
            candidate.version,
            change.id,
        )
        note(engine, change.id, status="pending", progress="checking again on top of a newer version")
        return
    log.info(
        "knowledge change %d by %s: %s (now version %d)", change.id, change.author, verdict.reason, candidate.version
    )
    # This process answers with the new version at once; the others fetch it within a second.
    app_state = state(app)
    with app_state.sync_lock:
        current = app_state.knowledge
        if current.version < candidate.version:
            intent_model.save(model, config["MODEL_PATH"])
            swap_knowledge(
                app, with_bot_data(current, new_training, new_lexicon, new_normalizer, model, candidate.version)
            )
            remember_overlay(app, candidate)


def refuse(engine: sa.Engine, change, reason: str) -> None:
    """Record that a change was refused, and why."""
    note(engine, change.id, status="refused", accepted=False, reason=reason[:1000], progress=None, decided_at=utcnow())
    log.info("knowledge change %d by %s: %s", change.id, change.author, reason)


def import_legacy_overlays(app: Flask, engine: sa.Engine) -> int:
    """Queue the examples and synonyms an older release kept in instance-folder files; return how many were queued.

    Each file is renamed first (``*.imported``), so of several processes starting at once
    only one queues it; the gate then checks it like any other change.
    """
    queued = 0
    for kind, name in LEGACY_OVERLAYS.items():
        path = Path(app.instance_path) / name
        taken = path.with_name(name + ".imported")
        try:
            path.rename(taken)
        except FileNotFoundError:
            continue
        try:
            text = taken.read_text(encoding="utf-8")
            author = f"instance file {name}"
            if kind == "examples":
                examples = intent_data.parse_examples(text, name)
                if examples:
                    submit_change(engine, author, examples=examples)
                    queued += 1
            else:
                raw = yaml.safe_load(text) or {}
                if raw:
                    submit_change(engine, author, synonyms=raw)
                    queued += 1
        except (intent_data.DataError, yaml.YAMLError, OSError) as error:
            log.error("could not read %s from an older release: %s", taken, error)
    return queued
