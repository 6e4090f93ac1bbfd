"""The app's long-lived state in one typed place, and the accessors views read it through.

Everything an answer is computed from (knowledge base, training data, normaliser, model) is
one immutable ``Knowledge``. A change to the bot's data builds a new one and swaps it in with
one assignment, so a request that took ``knowledge()`` once never pairs a new normaliser with
an old model, however the swap and the request interleave.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

import kb
from classifier.data import TrainingData
from classifier.model import Calibration, IntentModel

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from web.background import Background
    from web.events import EventLog

STATE_KEY = "helpcenter"


@dataclass(frozen=True)
class Knowledge:
    """The knowledge base, the training data and the model trained on it with the base's normaliser.

    ``version`` is the knowledge version of the database it was made from (0: the shipped data alone).
    """

    base: kb.KnowledgeBase
    training: TrainingData
    model: IntentModel
    version: int = 0


@dataclass(eq=False)
class AppState:
    """One app's state: set up once by the factory; only ``knowledge`` is ever replaced, whole."""

    knowledge: Knowledge
    events: EventLog
    passwords: PasswordHasher
    widget_origins: frozenset[str]
    openapi: dict
    # How the model's thresholds are chosen (web.knowledge.make_calibration): every training uses it.
    calibration: Calibration
    # The thread that follows the cluster's knowledge version and runs the gate (started per process).
    background: Background | None = None
    # Whether rate limits are counted per process now, because the shared store failed.
    rate_limit_degraded: Callable[[], bool] = field(default=lambda: False, repr=False)
    # Held while a new knowledge version is loaded, so two loads never interleave.
    sync_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # A hash to check unknown sign-in addresses against (made on first use: hashing takes time).
    dummy_hash: str | None = field(default=None, repr=False)


def state(app: Flask | None = None) -> AppState:
    """Return the app's state (the current app's inside a request or app context)."""
    return (app or current_app).extensions[STATE_KEY]


def knowledge(app: Flask | None = None) -> Knowledge:
    """Return what answers are computed from now: take it once per request and use that."""
    return state(app).knowledge


def swap_knowledge(app: Flask, new: Knowledge) -> None:
    """Make ``new`` the knowledge this worker answers with (one assignment)."""
    state(app).knowledge = new
