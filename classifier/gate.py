"""A gate for changes to the training data: retrain, evaluate, and accept only what does not score lower.

A change (new examples, or a new normaliser after a synonym was added) is assessed the
way ``flask evaluate`` measures the model: cross-validation accuracy on the training data
and, with the model trained on all of it, the held-out questions' in-scope accuracy and
out-of-scope recall. The change is accepted only if none of the three is lower than
before (or lower by more than a tolerance the operator may allow).

Like is compared with like. Each example keeps its fold whatever else is added (the fold
is a hash of its text), and the changed data's cross-validation accuracy is measured on
the examples the data had before. Otherwise one added example would reshuffle every fold,
and the accuracy would move by chance more than by the example. One cross-validation pass
serves both the accuracy and the thresholds, so an assessment costs about one training.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

from classifier.data import LabelledQuestion, TrainingData, example_key
from classifier.evaluate import evaluate_questions
from classifier.model import CV_FOLDS, Calibration, IntentModel, Normalize, out_of_fold_probabilities, train

# Scores are ratios of whole counts; anything closer than this is equal.
EPSILON = 1e-9


@dataclass(frozen=True)
class Assessment:
    """How well the model trained on some data scores."""

    cv_accuracy: float  # on the reference examples (the data's own, or the data before a change)
    heldout_accuracy: float
    out_of_scope_recall: float
    examples: int

    def to_dict(self) -> dict:
        """Return the scores as plain values (for JSON)."""
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """Whether a change is accepted, why, and the scores before and after."""

    accepted: bool
    reason: str
    before: Assessment
    after: Assessment


SCORES = (
    ("cv_accuracy", "cross-validation accuracy"),
    ("heldout_accuracy", "held-out accuracy"),
    ("out_of_scope_recall", "held-out out-of-scope recall"),
)


def fold_of(text: str, folds: int) -> int:
    """Return the fold an example always falls in, from its text alone."""
    return int(hashlib.sha256(example_key(text).encode()).hexdigest(), 16) % folds


def stable_splits(texts: list[str], folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (train, test) index arrays with every example in the fold of its text (empty folds left out)."""
    assigned = np.array([fold_of(t, folds) for t in texts])
    return [
        (np.flatnonzero(assigned != k), np.flatnonzero(assigned == k)) for k in range(folds) if (assigned == k).any()
    ]


def assess(
    data: TrainingData,
    normalize: Normalize,
    questions: list[LabelledQuestion],
    *,
    fingerprint: str = "",
    folds: int = CV_FOLDS,
    reference: TrainingData | None = None,
    calibration: Calibration | None = None,
) -> tuple[IntentModel, Assessment]:
    """Train on ``data`` and score it: cross-validation accuracy and the held-out questions.

    The accuracy counts the examples of ``reference`` (by default, all of ``data``). The
    thresholds are chosen as the app's training chooses them (``calibration``).
    """
    texts, labels = data.pairs()
    out_of_fold = out_of_fold_probabilities(data, normalize, folds, splits=stable_splits(texts, folds))
    model = train(
        data, normalize, fingerprint=fingerprint, folds=folds, out_of_fold=out_of_fold, calibration=calibration
    )
    _, held = evaluate_questions(model, questions, normalize)
    probabilities, _, classes = out_of_fold
    counted = {example_key(t) for t in (reference or data).pairs()[0]}
    rows = [i for i, text in enumerate(texts) if example_key(text) in counted]
    predicted = np.array(classes)[probabilities[rows].argmax(axis=1)]
    accuracy = float(np.mean(predicted == np.array(labels)[rows])) if rows else 0.0
    return model, Assessment(accuracy, held.in_scope_accuracy, held.out_of_scope_recall, len(texts))


def judge(before: Assessment, after: Assessment, tolerance: float = 0.0) -> Verdict:
    """Accept a change only if no score is lower than before (by more than ``tolerance``); say which fell."""
    fell = [
        f"{label} would fall from {getattr(before, name):.3f} to {getattr(after, name):.3f}"
        for name, label in SCORES
        if getattr(after, name) < getattr(before, name) - tolerance - EPSILON
    ]
    if fell:
        return Verdict(False, "refused: " + "; ".join(fell), before, after)
    summary = ", ".join(f"{label} {getattr(before, name):.3f} → {getattr(after, name):.3f}" for name, label in SCORES)
    return Verdict(True, "accepted: " + summary, before, after)
