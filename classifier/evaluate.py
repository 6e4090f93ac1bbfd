"""Measure the classifier: cross-validation on the training data and scores on held-out questions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from classifier.data import OUT_OF_SCOPE, LabelledQuestion, TrainingData
from classifier.model import (
    CV_FOLDS,
    Calibration,
    IntentModel,
    Normalize,
    Prediction,
    choose_thresholds,
    decide,
    out_of_fold_probabilities,
    predict,
)


@dataclass(frozen=True)
class IntentScore:
    """Precision, recall and F1 of one intent."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Scores:
    """How often the bot did the right thing on a set of labelled questions."""

    questions: int
    in_scope_accuracy: float  # top-1 right and not sent to the fallback
    out_of_scope_recall: float  # off-topic questions that fell back
    false_reject_rate: float  # answerable questions sent to the fallback
    clarify_rate: float
    mistakes: tuple[tuple[str, str, str], ...]  # (question, expected, got)
    in_scope: int = 0  # how many questions had a domain or small-talk answer
    off_topic: int = 0

    def summary(self) -> str:
        """Describe the scores in one line, leaving out rates that have no questions behind them."""
        parts = []
        if self.in_scope:
            parts.append(
                f"top-1 {self.in_scope_accuracy:.3f} of {self.in_scope}, false rejects {self.false_reject_rate:.3f}"
            )
        if self.off_topic:
            parts.append(f"out-of-scope recall {self.out_of_scope_recall:.3f} of {self.off_topic}")
        return "; ".join(parts)


@dataclass(frozen=True)
class CrossValidation:
    """Stratified k-fold results on the training data."""

    folds: int
    accuracy: float
    per_intent: tuple[IntentScore, ...]
    confused: tuple[tuple[str, str, int], ...]
    scores: Scores


def score(predictions: list[Prediction], questions: list[LabelledQuestion]) -> Scores:
    """Score predictions against every acceptable intent of each question."""
    pairs = list(zip(predictions, questions, strict=True))
    in_scope = [(p, q) for p, q in pairs if OUT_OF_SCOPE not in q.intents]
    off_topic = [(p, q) for p, q in pairs if OUT_OF_SCOPE in q.intents]
    right = sum(not p.fallback and p.intent in q.intents for p, q in in_scope)
    rejected = sum(p.fallback for p, _ in in_scope)
    caught = sum(p.fallback for p, _ in off_topic)
    mistakes = tuple(
        (q.question, "/".join(q.intents), "fallback" if p.fallback else p.intent)
        for p, q in pairs
        if (OUT_OF_SCOPE in q.intents) != p.fallback or (not p.fallback and p.intent not in q.intents)
    )
    return Scores(
        questions=len(questions),
        in_scope_accuracy=right / max(1, len(in_scope)),
        out_of_scope_recall=caught / max(1, len(off_topic)),
        false_reject_rate=rejected / max(1, len(in_scope)),
        clarify_rate=sum(p.clarify for p in predictions) / max(1, len(predictions)),
        mistakes=mistakes,
        in_scope=len(in_scope),
        off_topic=len(off_topic),
    )


def score_by_kind(predictions: list[Prediction], questions: list[LabelledQuestion]) -> dict[str, Scores]:
    """Score predictions separately for each kind of question (keyword, symptom, error, ...), sorted by kind.

    Questions without a kind are left out; a file without kinds gives an empty mapping.
    """
    groups: dict[str, tuple[list[Prediction], list[LabelledQuestion]]] = {}
    for prediction, question in zip(predictions, questions, strict=True):
        if question.kind is not None:
            group = groups.setdefault(question.kind, ([], []))
            group[0].append(prediction)
            group[1].append(question)
    return {kind: score(*groups[kind]) for kind in sorted(groups)}


def top_accuracy(probabilities: np.ndarray, labels: list[str], classes: list[str]) -> float:
    """Return the share of rows whose most probable class is their label."""
    predicted = np.array(classes)[probabilities.argmax(axis=1)]
    return float(np.mean(predicted == np.array(labels)))


def cross_validate(
    data: TrainingData, normalize: Normalize, folds: int = CV_FOLDS, calibration: Calibration | None = None
) -> CrossValidation:
    """Run stratified k-fold cross-validation and report accuracy, per-intent scores and confusions.

    Fallback figures use thresholds chosen on the same out-of-fold probabilities, weighed
    for the share of off-topic traffic in ``calibration``, as training does without
    calibration questions.
    """
    probabilities, labels, classes = out_of_fold_probabilities(data, normalize, folds)
    predicted = [classes[i] for i in probabilities.argmax(axis=1)]
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=classes, zero_division=0)
    per_intent = tuple(
        IntentScore(c, float(p), float(r), float(f), int(s))
        for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    )
    confused = Counter((t, p) for t, p in zip(labels, predicted, strict=True) if t != p)
    domain = frozenset(i.name for i in data.intents if i.is_domain)
    share = (calibration or Calibration()).out_of_scope_share
    thresholds = choose_thresholds(probabilities, labels, classes, domain, out_of_scope_share=share)
    predictions = [decide(row, classes, thresholds, domain) for row in probabilities]
    texts, _ = data.pairs()
    questions = [LabelledQuestion(str(n), t, (label,)) for n, (t, label) in enumerate(zip(texts, labels, strict=True))]
    return CrossValidation(
        folds=folds,
        accuracy=top_accuracy(probabilities, labels, classes),
        per_intent=per_intent,
        confused=tuple((t, p, n) for (t, p), n in confused.most_common(10)),
        scores=score(predictions, questions),
    )


def evaluate_questions(
    model: IntentModel, questions: list[LabelledQuestion], normalize: Normalize
) -> tuple[list[Prediction], Scores]:
    """Classify held-out questions with a trained model and score them."""
    predictions = [predict(model, normalize(q.question)) for q in questions]
    return predictions, score(predictions, questions)
