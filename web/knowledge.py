"""Load what answers are computed from, build what is missing, and pick up changes another worker made."""

from __future__ import annotations

import dataclasses
import logging
import os
import time

from flask import Flask, current_app

import kb
from classifier import data as intent_data
from classifier import model as intent_model
from kb.index import build_index
from web.config import ARTICLE_URL
from web.state import Knowledge, state, swap_knowledge

log = logging.getLogger(__name__)

# How often a worker checks whether another worker changed the bot's data or model.
KNOWLEDGE_CHECK_SECONDS = 1.0


def make_calibration(config) -> intent_model.Calibration:
    """Return how thresholds are chosen: the configured share of off-topic traffic, and questions to choose on."""
    questions = tuple(q for path in config["THRESHOLD_CALIBRATION_PATHS"] for q in intent_data.load_questions(path))
    return intent_model.Calibration(config["EXPECTED_OUT_OF_SCOPE_SHARE"], questions)


def load_knowledge(app: Flask, calibration: intent_model.Calibration) -> Knowledge:
    """Load the knowledge base and the model; build the index and train the model if missing or stale.

    The training data's words join the articles' vocabulary, so the shared normaliser
    corrects typos towards words that either of them uses.
    """
    config = app.config
    training = intent_data.load_training(config["INTENTS_PATH"], config["INTENTS_OVERLAY_PATH"])
    base = kb.load_knowledge_base(
        config["ARTICLES_DIR"],
        config["INDEX_DIR"],
        settings_path=config["MAIL_SETTINGS_PATH"],
        lexicon_path=config["SYNONYMS_PATH"],
        responses_path=config["RESPONSES_PATH"],
        article_url=ARTICLE_URL,
        extra_vocabulary=intent_data.vocabulary(training),
        lexicon_overlay_path=config["SYNONYMS_OVERLAY_PATH"],
    )
    if config["BUILD_INDEX_ON_START"]:
        report = build_index(base.library, config["INDEX_DIR"])
        if report.changed:
            log.info("index was missing or stale; built %s", report)
        if not base.index.ready:
            log.error("index in %s is unreadable; rebuilding it from the articles", config["INDEX_DIR"])
            build_index(base.library, config["INDEX_DIR"], full=True)
    return Knowledge(base, training, load_or_train_model(app, base, training, calibration))


def load_or_train_model(app: Flask, base: kb.KnowledgeBase, training: intent_data.TrainingData, calibration):
    """Load the trained model from the instance folder, or train and save it if it is missing or stale."""
    # A change to the shared normaliser (synonyms, vocabulary) changes what the model reads.
    fingerprint = base.normalizer.fingerprint
    model = intent_model.load(
        app.config["MODEL_PATH"], data_digest=training.digest, fingerprint=fingerprint, trusted_dir=app.instance_path,
        calibration=calibration,
    )
    if model is None:
        # The first start (or one after the training data changed) spends some seconds here.
        log.info("training the intent model (missing or out of date); this takes a few seconds...")
        normalize = base.normalizer.normalize
        model = intent_model.train(training, normalize, fingerprint=fingerprint, calibration=calibration)
        intent_model.save(model, app.config["MODEL_PATH"])
        log.info("trained the intent model (thresholds %s)", model.thresholds)
    return model


def load_bot_data(config, library, *, intents_overlay=None, synonyms_overlay=None):
    """Load the training data and lexicon with their overlays (or the given stand-ins), and their normaliser."""
    training = intent_data.load_training(config["INTENTS_PATH"], intents_overlay or config["INTENTS_OVERLAY_PATH"])
    lexicon = kb.load_lexicon(config["SYNONYMS_PATH"], synonyms_overlay or config["SYNONYMS_OVERLAY_PATH"])
    return training, lexicon, kb.make_normalizer(library, lexicon, intent_data.vocabulary(training))


def with_bot_data(current: Knowledge, training, lexicon, normalizer, model) -> Knowledge:
    """Return ``current`` with new training data, lexicon, normaliser and model (articles and index kept)."""
    base = dataclasses.replace(current.base, lexicon=lexicon, normalizer=normalizer)
    return Knowledge(base, training, model)


def knowledge_stamp(config) -> tuple[int, ...]:
    """Return the modification times of the model and the overlays (0 for a missing file)."""
    paths = (config["MODEL_PATH"], config["INTENTS_OVERLAY_PATH"], config["SYNONYMS_OVERLAY_PATH"])
    return tuple(os.stat(p).st_mtime_ns if os.path.exists(p) else 0 for p in paths)


def refresh_knowledge() -> None:
    """Pick up a change another worker made to the bot's data (checked at most once a second)."""
    app = current_app._get_current_object()
    app_state = state(app)
    now = time.monotonic()
    if now - app_state.knowledge_checked < KNOWLEDGE_CHECK_SECONDS:
        return
    app_state.knowledge_checked = now
    stamp = knowledge_stamp(app.config)
    if stamp == app_state.knowledge_stamp:
        return
    app_state.knowledge_stamp = stamp
    current = app_state.knowledge
    try:
        training, lexicon, normalizer = load_bot_data(app.config, current.base.library)
        model = intent_model.load(
            app.config["MODEL_PATH"],
            data_digest=training.digest,
            fingerprint=normalizer.fingerprint,
            trusted_dir=app.instance_path,
            calibration=app_state.calibration,
        )
    except (OSError, ValueError) as error:
        log.error("could not reload the bot's data after a change: %s", error)
        return
    if model is None:
        log.warning("the saved model does not match the changed data yet; keeping the loaded one")
        return
    swap_knowledge(app, with_bot_data(current, training, lexicon, normalizer, model))
    log.info("reloaded the bot's data and model after a change by another worker")
