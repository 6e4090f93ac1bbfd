"""A gate for changes to the training data: retrain, evaluate, and accept only what does not score lower.

A change (new examples, or a new normaliser after a synonym was added) is assessed the
way ``flask evaluate`` measures the model: cross-validation accuracy on the training data
and, with the model trained on all of it, the held-out questions' in-scope accuracy and
out-of-scope recall. The change is accepted only if none of the three is lower than
before. One cross-validation pass serves both the accuracy and the thresholds, so an
assessment costs about one training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from classifier.data import LabelledQuestion, TrainingData
from classifier.evaluate import evaluate_questions, top_accuracy
from classifier.model import CV_FOLDS, IntentModel, Normalize, out_of_fold_probabilities, train

# Scores are ratios of whole counts; anything closer than this is equal.
EPSILON = 1e-9


@dataclass(frozen=True)
class Assessment:
    """How well the model trained on some data scores."""

    cv_accuracy: float
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


def assess(
    data: TrainingData, normalize: Normalize, questions: list[LabelledQuestion], *,
    fingerprint: str = "", folds: int = CV_FOLDS,
) -> tuple[IntentModel, Assessment]:
    """Train on ``data`` and score it: cross-validation accuracy and the held-out questions."""
    out_of_fold = out_of_fold_probabilities(data, normalize, folds)
    model = train(data, normalize, fingerprint=fingerprint, folds=folds, out_of_fold=out_of_fold)
    _, held = evaluate_questions(model, questions, normalize)
    texts, _ = data.pairs()
    scores = Assessment(top_accuracy(*out_of_fold), held.in_scope_accuracy, held.out_of_scope_recall, len(texts))
    return model, scores


def judge(before: Assessment, after: Assessment) -> Verdict:
    """Accept a change only if no score is lower than before; say which one fell, and by how much."""
    fell = [
        f"{label} would fall from {getattr(before, name):.3f} to {getattr(after, name):.3f}"
        for name, label in SCORES
        if getattr(after, name) < getattr(before, name) - EPSILON
    ]
    if fell:
        return Verdict(False, "refused: " + "; ".join(fell), before, after)
    summary = ", ".join(f"{label} {getattr(before, name):.3f} → {getattr(after, name):.3f}" for name, label in SCORES)
    return Verdict(True, "accepted: " + summary, before, after)
