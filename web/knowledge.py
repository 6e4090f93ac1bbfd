"""Load what answers are computed from, build what is missing, and keep every node on the same knowledge version.

A node answers from the shipped data (articles, ``intents.yml``, ``synonyms.yml``) plus the
**overlay** of the database's latest knowledge version: the training examples and synonyms
added from the inbox and accepted by the gate (web.training). Version 0 is the shipped data
alone. Each process follows the latest version (web.background polls it) and swaps the new
knowledge in with one assignment.

The model for a version is trained once and shared: it is stored in the database under a key
made of what it was trained from (training data digest, normaliser fingerprint, scikit-learn
version), signed with the app's secret key. A node whose data gives the same key fetches it
(tens of milliseconds); one whose release differs (other articles or intents) trains its own,
once: the processes of one node take turns on a lock file, and nodes on a lease per key.

The node keeps a copy of what it last loaded in its instance folder (the model file and
``knowledge.json``), so it starts and answers the same way while the database is down.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import hmac
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import sklearn
import sqlalchemy as sa
from flask import Flask

import kb
from classifier import data as intent_data
from classifier import model as intent_model
from kb.index import build_index
from web import leases
from web.config import ARTICLE_URL
from web.extensions import db
from web.models import KnowledgeModel, KnowledgeVersion, utcnow
from web.state import Knowledge, state, swap_knowledge

log = logging.getLogger(__name__)

VERSIONS = KnowledgeVersion.__table__
MODELS = KnowledgeModel.__table__
# The node's copy of the version it answers with (the model is at MODEL_PATH).
CACHE_FILE = "knowledge.json"
# Processes of one node take turns on this file to build the index and train a model.
NODE_LOCK = ".knowledge.lock"
# How long a node waits for another node training the same model before it trains one itself.
MODEL_WAIT_SECONDS = 180


def make_calibration(config) -> intent_model.Calibration:
    """Return how thresholds are chosen: the configured share of off-topic traffic, and questions to choose on."""
    questions = tuple(q for path in config["THRESHOLD_CALIBRATION_PATHS"] for q in intent_data.load_questions(path))
    return intent_model.Calibration(config["EXPECTED_OUT_OF_SCOPE_SHARE"], questions)


@dataclass(frozen=True)
class Overlay:
    """What a knowledge version adds to the shipped data: training examples by intent, and synonyms."""

    version: int = 0
    examples: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    synonyms: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        """Return the overlay as JSON (for the node's copy)."""
        examples = {name: list(items) for name, items in self.examples.items()}
        return json.dumps({"version": self.version, "examples": examples, "synonyms": self.synonyms})

    @classmethod
    def from_json(cls, text: str) -> Overlay:
        """Read an overlay written by ``to_json``."""
        raw = json.loads(text)
        return cls(int(raw["version"]), read_examples(raw["examples"]), dict(raw["synonyms"]))


def read_examples(raw: object) -> dict[str, tuple[str, ...]]:
    """Read the examples of an overlay: intent -> list of example strings."""
    if not isinstance(raw, dict):
        raise ValueError("examples must be a mapping of intent to examples")
    return {str(name): tuple(str(item) for item in items) for name, items in raw.items() if isinstance(items, list)}


def overlay_from_row(row) -> Overlay:
    """Turn a ``knowledge_versions`` row into an overlay."""
    return Overlay(row.id, read_examples(json.loads(row.examples)), json.loads(row.synonyms) or {})


def latest_version_number(connection) -> int:
    """Return the number of the database's latest knowledge version (0: none yet)."""
    return connection.execute(sa.select(sa.func.max(VERSIONS.c.id))).scalar() or 0


def read_overlay(engine: sa.Engine, version: int | None = None) -> Overlay:
    """Return the overlay of a version (the latest if None) from the database."""
    with engine.connect() as connection:
        query = sa.select(VERSIONS).order_by(VERSIONS.c.id.desc()).limit(1)
        if version is not None:
            query = sa.select(VERSIONS).where(VERSIONS.c.id == version)
        row = connection.execute(query).first()
    return Overlay() if row is None else overlay_from_row(row)


def cached_overlay(app: Flask) -> Overlay | None:
    """Return the overlay this node last loaded (from its instance folder), if it kept one."""
    try:
        return Overlay.from_json((Path(app.instance_path) / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_overlay(app: Flask, overlay: Overlay) -> None:
    """Keep a copy of the overlay in the instance folder, for a start while the database is down."""
    path = Path(app.instance_path) / CACHE_FILE
    aside = path.with_name(f".{CACHE_FILE}.{os.getpid()}.{time.monotonic_ns()}")
    try:
        aside.write_text(overlay.to_json(), encoding="utf-8")
        aside.replace(path)
    except OSError as error:
        log.warning("could not keep a copy of knowledge version %d: %s", overlay.version, error)
        aside.unlink(missing_ok=True)


def assemble(config, library, overlay: Overlay):
    """Return the training data, lexicon and normaliser of the shipped data with ``overlay`` merged in."""
    training = intent_data.merge_examples(
        intent_data.load_intents(config["INTENTS_PATH"]), overlay.examples, strict=False
    )
    lexicon = kb.load_lexicon(config["SYNONYMS_PATH"], overlay=overlay.synonyms)
    return training, lexicon, kb.make_normalizer(library, lexicon, intent_data.vocabulary(training))


def with_bot_data(current: Knowledge, training, lexicon, normalizer, model, version: int) -> Knowledge:
    """Return ``current`` with new training data, lexicon, normaliser and model (articles and index kept)."""
    base = dataclasses.replace(current.base, lexicon=lexicon, normalizer=normalizer)
    return Knowledge(base, training, model, version)


def model_key(training, normalizer, calibration: intent_model.Calibration) -> str:
    """Return what a model is trained from, as one key: the same key means the same model on any node."""
    parts = [training.digest, normalizer.fingerprint, calibration.key, sklearn.__version__]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def sign(secret: str, data: bytes) -> str:
    """Sign a stored model with the app's secret key (the same on every node)."""
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def store_model(engine: sa.Engine, secret: str, key: str, version: int, model) -> int:
    """Put a trained model in the database for the other nodes (kept if one is there already); return its size."""
    data = intent_model.dumps(model)
    row = {"key": key, "version": version, "at": utcnow(), "size": len(data), "signature": sign(secret, data)}
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(MODELS).values(**row, data=data))
    except sa.exc.IntegrityError:
        pass  # another node stored the same model first
    return len(data)


def fetch_model(engine: sa.Engine, secret: str, key: str, training, normalizer, calibration):
    """Return the database's model for ``key`` if it is there, signed by us and fits the data; else None."""
    with engine.connect() as connection:
        row = connection.execute(sa.select(MODELS.c.data, MODELS.c.signature).where(MODELS.c.key == key)).first()
    if row is None:
        return None
    data = bytes(row.data)
    if not hmac.compare_digest(sign(secret, data), row.signature):
        log.error("the stored model %s is not signed with this app's secret key; it is not loaded", key[:12])
        return None
    return intent_model.loads(
        data,
        data_digest=training.digest,
        fingerprint=normalizer.fingerprint,
        calibration=calibration,
        source=f"the database ({key[:12]})",
    )


@contextlib.contextmanager
def node_lock(app: Flask):
    """Hold this node's lock (a file in the instance folder): one process at a time builds or trains."""
    with open(Path(app.instance_path) / NODE_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def local_model(app: Flask, training, normalizer, calibration):
    """Return the model in the instance folder if it was trained on exactly this data, else None."""
    return intent_model.load(
        app.config["MODEL_PATH"],
        data_digest=training.digest,
        fingerprint=normalizer.fingerprint,
        trusted_dir=app.instance_path,
        calibration=calibration,
    )


def obtain_model(app: Flask, training, normalizer, calibration, version: int, engine: sa.Engine | None):
    """Return the model for this data: the node's copy, the database's, or (once per node and key) a new one.

    With ``engine`` None (the database is down) only the node's copy or a new model are tried.
    """
    model = local_model(app, training, normalizer, calibration)
    if model is not None:
        return model
    with node_lock(app):
        # Another process of this node may have made it meanwhile.
        model = local_model(app, training, normalizer, calibration)
        if model is not None:
            return model
        model = shared_model(app, engine, training, normalizer, calibration, version)
        intent_model.save(model, app.config["MODEL_PATH"])
    return model


def shared_model(app: Flask, engine, training, normalizer, calibration, version: int):
    """Fetch the model for this data from the database, or train it under its key's lease and store it there."""
    if engine is None:
        return train_model(training, normalizer, calibration, f"version {version}, the database being unreachable")
    key, secret = model_key(training, normalizer, calibration), app.config["SECRET_KEY"]
    holder, lease = leases.holder_name(), f"model:{key[:40]}"
    deadline = time.monotonic() + MODEL_WAIT_SECONDS
    try:
        while True:
            model = fetch_model(engine, secret, key, training, normalizer, calibration)
            if model is not None:
                log.info("loaded the model of knowledge version %d from the database", version)
                return model
            if leases.acquire(engine, lease, holder) or time.monotonic() > deadline:
                break
            time.sleep(1.0)  # another node trains this very model: wait for it rather than train it twice
    except sa.exc.SQLAlchemyError as error:
        log.error("could not fetch the model from the database (%s); training it here", error)
        return train_model(training, normalizer, calibration, f"version {version}")
    try:
        with leases.kept(engine, lease, holder):
            model = train_model(training, normalizer, calibration, f"version {version}")
            size = store_model(engine, secret, key, version, model)
        log.info("stored the model of knowledge version %d in the database (%d bytes)", version, size)
    except sa.exc.SQLAlchemyError as error:
        log.error("could not store the model in the database: %s", error)
    finally:
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            leases.release(engine, lease, holder)
    return model


def train_model(training, normalizer, calibration, why: str):
    """Train a model on this data (seconds of CPU) and say so in the log."""
    # The first start (or one after the training data changed) spends some seconds here.
    log.info("training the intent model for %s; this takes a few seconds...", why)
    model = intent_model.train(
        training, normalizer.normalize, fingerprint=normalizer.fingerprint, calibration=calibration
    )
    log.info("trained the intent model for %s (thresholds %s)", why, model.thresholds)
    return model


def database_engine(app: Flask) -> sa.Engine:
    """Return the app's database engine."""
    with app.app_context():
        return db.engine


def starting_overlay(app: Flask, engine: sa.Engine) -> tuple[Overlay, str | None]:
    """Return the overlay to start with (the database's latest, else this node's copy) and the database's error."""
    try:
        return read_overlay(engine), None
    except sa.exc.SQLAlchemyError as error:
        kept = cached_overlay(app)
        reason = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
        log.error(
            "could not read the knowledge version from the database at start (%s); answering with %s until it can",
            reason,
            f"this node's copy of knowledge version {kept.version}" if kept else "the shipped data",
        )
        return kept or Overlay(), reason


def load_knowledge(app: Flask, calibration: intent_model.Calibration) -> tuple[Knowledge, str | None]:
    """Load the knowledge base and the model of the latest version; build the index and train if missing or stale.

    Return the knowledge, and the database's error if it did not answer. The training data's words join
    the articles' vocabulary, so the shared normaliser corrects typos towards words that
    either of them uses.
    """
    config = app.config
    engine = database_engine(app)
    overlay, database_error = starting_overlay(app, engine)
    training = intent_data.merge_examples(
        intent_data.load_intents(config["INTENTS_PATH"]), overlay.examples, strict=False
    )
    base = kb.load_knowledge_base(
        config["ARTICLES_DIR"],
        config["INDEX_DIR"],
        settings_path=config["MAIL_SETTINGS_PATH"],
        lexicon_path=config["SYNONYMS_PATH"],
        responses_path=config["RESPONSES_PATH"],
        article_url=ARTICLE_URL,
        extra_vocabulary=intent_data.vocabulary(training),
        lexicon_overlay=overlay.synonyms,
    )
    if config["BUILD_INDEX_ON_START"]:
        with node_lock(app):
            report = build_index(base.library, config["INDEX_DIR"])
            if report.changed:
                log.info("index was missing or stale; built %s", report)
            if not base.index.ready:
                log.error("index in %s is unreadable; rebuilding it from the articles", config["INDEX_DIR"])
                build_index(base.library, config["INDEX_DIR"], full=True)
    model = obtain_model(
        app, training, base.normalizer, calibration, overlay.version, None if database_error else engine
    )
    remember_overlay(app, overlay)
    return Knowledge(base, training, model, overlay.version), database_error


def sync_knowledge(app: Flask, latest: int | None = None) -> bool:
    """Load the database's latest knowledge version if this process answers with another; return whether it did.

    ``latest`` is the latest version number if the caller just read it. Raises the
    database's errors (the caller notes that the database is unreachable).
    """
    app_state = state(app)
    engine = database_engine(app)
    with app_state.sync_lock:
        if latest is None:
            with engine.connect() as connection:
                latest = latest_version_number(connection)
        current = app_state.knowledge
        if latest == current.version:
            return False
        started = time.perf_counter()
        overlay = read_overlay(engine, latest) if latest else Overlay()
        training, lexicon, normalizer = assemble(app.config, current.base.library, overlay)
        model = obtain_model(app, training, normalizer, app_state.calibration, overlay.version, engine)
        swap_knowledge(app, with_bot_data(current, training, lexicon, normalizer, model, overlay.version))
        remember_overlay(app, overlay)
    log.info(
        "now answering with knowledge version %d (was %d; loaded in %.2f s)",
        overlay.version,
        current.version,
        time.perf_counter() - started,
    )
    return True
