"""Train, save, load and apply the intent model, with thresholds chosen on questions it did not learn from."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from threadpoolctl import threadpool_limits

from classifier.data import OUT_OF_SCOPE, TEAM, LabelledQuestion, TrainingData
from classifier.internals import Scorer, scorer_for
from classifier.negation import mark_negations

log = logging.getLogger(__name__)

Normalize = Callable[[str], str]
RANDOM_STATE = 0
CV_FOLDS = 5
# Search grids for the thresholds; the values themselves come from held-out questions.
# The fallback grid starts at 0: with many intents a top probability of 0.1 can be a sure
# answer, and a grid that starts higher hides that the best choice is to never fall back.
FALLBACK_GRID = np.round(np.arange(0.0, 0.96, 0.01), 2)
AMBIGUITY_GRID = np.round(np.arange(0.0, 0.42, 0.02), 2)
# At most this share of answerable questions may be sent to the fallback.
MAX_FALSE_REJECT = 0.05
# Utility of each outcome when choosing thresholds: a confident wrong answer is worse
# than saying "I don't know", and a clarifying question that offers the right intent
# is better than a fallback but not as good as the right answer.
UTILITY = {"right": 1.0, "clarify_hit": 0.5, "clarify_miss": -0.25, "fallback": 0.0, "wrong": -1.0}
# The share of questions in real traffic that the bot cannot answer, used to weigh the
# off-topic questions when thresholds are chosen (a set of validation questions holds them
# in whatever proportion its writers happened to produce). A quarter: the team's two held-out
# files, written as a sample of what customers ask, hold 28% (the training file too), and
# CLINC150's test set 18%. Set it from real traffic once there is enough of it.
DEFAULT_OUT_OF_SCOPE_SHARE = 0.25
# Utilities closer than this are equal (they are sums of weights that add up to 1).
TIE = 1e-12
# Bumped whenever the way thresholds are chosen changes, so that saved models are retrained.
# 3: on real users' examples scored with their writers held out, when the data has them
# (and real examples weigh as much as the team's in every fit).
THRESHOLD_METHOD = 3


@dataclass(frozen=True)
class Thresholds:
    """When to fall back and when to ask, chosen at training time."""

    fallback: float
    ambiguity: float


@dataclass(frozen=True)
class Prediction:
    """What the model decided about one question."""

    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]
    fallback: bool
    clarify: bool

    @property
    def alternatives(self) -> tuple[tuple[str, float], ...]:
        """Return the runner-up intents, best first."""
        return self.ranking[1:]


@dataclass
class IntentModel:
    """A fitted pipeline with its thresholds and what it was trained from."""

    pipeline: Pipeline
    thresholds: Thresholds
    domain_intents: frozenset[str]
    data_digest: str
    fingerprint: str
    calibration_key: str = ""
    sklearn_version: str = sklearn.__version__
    trained_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def classes(self) -> list[str]:
        """Return the intent ids in the order of the model's probabilities."""
        return list(self.pipeline.classes_)

    @cached_property
    def scorer(self) -> Scorer:
        """Return the single-sentence scorer (the fast one where it is safe), built on first use (not pickled)."""
        return scorer_for(self.pipeline)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("scorer", None)
        return state


def build_pipeline() -> Pipeline:
    """Return the untrained pipeline: word and character n-gram TF-IDF into logistic regression.

    The word features read negated words marked (``classifier.negation``); the character
    features read the question unchanged.
    """
    words = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w[\w']*\b", preprocessor=mark_negations
    )
    features = FeatureUnion(
        [
            ("words", words),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    classifier = LogisticRegression(C=20.0, max_iter=3000, class_weight="balanced", random_state=RANDOM_STATE)
    return Pipeline([("features", features), ("classifier", classifier)])


def decide(probabilities: np.ndarray, classes: list[str], thresholds: Thresholds, domain: frozenset[str]) -> Prediction:
    """Turn one row of probabilities into an answer, a clarifying question or a fallback."""
    row = probabilities.tolist()  # sixteen numbers sort faster as Python floats than through numpy
    order = sorted(range(len(row)), key=row.__getitem__, reverse=True)
    ranking = tuple((classes[i], round(row[i], 4)) for i in order)
    (top, confidence), (second, runner_up) = ranking[0], ranking[1]
    if top == OUT_OF_SCOPE or confidence < thresholds.fallback:
        return Prediction(top, confidence, ranking, fallback=True, clarify=False)
    clarify = top in domain and second in domain and confidence - runner_up < thresholds.ambiguity
    return Prediction(top, confidence, ranking, fallback=False, clarify=clarify)


def outcome(prediction: Prediction, acceptable: set[str]) -> str:
    """Name what a prediction did for a question whose right intents are ``acceptable``."""
    in_scope = OUT_OF_SCOPE not in acceptable
    if prediction.fallback:
        return "fallback" if in_scope else "right"
    if not in_scope:
        return "wrong"
    if prediction.clarify:
        return "clarify_hit" if acceptable & {prediction.ranking[0][0], prediction.ranking[1][0]} else "clarify_miss"
    return "right" if prediction.intent in acceptable else "wrong"


@dataclass(frozen=True)
class Calibration:
    """How thresholds are chosen: on which held-out questions, and for what share of off-topic traffic.

    ``questions`` are labelled questions written apart from the training examples (by other
    people, or at least at another time); the fitted model scores them and the thresholds are
    chosen on those scores. Without them, the validation probabilities come from models that
    did not see the examples they score: the real users' examples with their writers held out
    (``writer_splits``) when the data has them, else ``out_of_fold`` given to ``train``, else
    stratified folds.
    """

    out_of_scope_share: float | None = DEFAULT_OUT_OF_SCOPE_SHARE
    questions: tuple[LabelledQuestion, ...] = ()

    @property
    def key(self) -> str:
        """Return a digest of everything that decides the thresholds besides the training data."""
        parts = [THRESHOLD_METHOD, self.out_of_scope_share, [[q.question, list(q.intents)] for q in self.questions]]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def traffic_weights(out_of_scope: np.ndarray, share: float | None) -> np.ndarray:
    """Weigh each validation question so that the off-topic ones carry ``share`` of the total weight.

    A validation set holds off-topic questions in whatever proportion its writers produced
    (under 1% of CLINC150's training file, 28% of ours), and counting them one for one would
    tune the thresholds to that accident. Here every in-scope question weighs
    ``(1 - share) / n_in`` and every off-topic one ``share / n_out``: the weights sum to 1, so a
    weighted utility is the expected utility per question of traffic with that share.

    Args:
        out_of_scope: one boolean per question, true for the off-topic ones.
        share: the expected off-topic share of traffic, in [0, 1]; None weighs every question
            alike (the set's own proportion).

    Returns:
        One weight per question. If the set has questions of one kind only, they carry all of it.
    """
    if share is not None and not 0.0 <= share <= 1.0:
        raise ValueError(f"the out-of-scope share must be between 0 and 1, not {share!r}")
    out_of_scope = np.asarray(out_of_scope, dtype=bool)
    total = len(out_of_scope)
    if total == 0:
        return np.zeros(0)
    if share is None:
        return np.full(total, 1.0 / total)
    n_out = int(out_of_scope.sum())
    n_in = total - n_out
    if n_out == 0 or n_in == 0:
        return np.full(total, 1.0 / total)
    return np.where(out_of_scope, share / n_out, (1.0 - share) / n_in)


def choose_thresholds(
    probabilities: np.ndarray,
    labels: Sequence[str | Sequence[str]],
    classes: list[str],
    domain: frozenset[str],
    *,
    out_of_scope_share: float | None = DEFAULT_OUT_OF_SCOPE_SHARE,
    fallback_grid: np.ndarray = FALLBACK_GRID,
    ambiguity_grid: np.ndarray = AMBIGUITY_GRID,
) -> Thresholds:
    """Pick the thresholds with the best expected utility on held-out probabilities.

    Each row of ``probabilities`` is a question the model did not see in training; its label
    is its intent, or a sequence of every intent that counts as right. Off-topic questions
    are weighed by ``traffic_weights`` so that they count as often as traffic is expected to
    bring them (None: as often as the set holds them).

    Only fallback thresholds that send at most ``MAX_FALSE_REJECT`` of the answerable
    questions to the fallback are considered, counting every fallback as the product target
    does (those the model ranks as out-of-scope too). The utility is nearly flat over the
    grid, so without that cap the threshold drifts up whenever off-topic questions weigh
    more. If no threshold meets the cap, the lowest one is used. Ties go to the lowest
    thresholds. The grid is evaluated with array operations: this runs at every training.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    column = {name: i for i, name in enumerate(classes)}
    right = np.zeros(probabilities.shape, dtype=bool)  # questions x classes: which answers are right
    for row, label in enumerate(labels):
        for name in (label,) if isinstance(label, str) else label:
            if name in column:
                right[row, column[name]] = True
    off_topic_column = column.get(OUT_OF_SCOPE, -1)
    in_scope = ~right[:, off_topic_column] if off_topic_column >= 0 else np.ones(len(probabilities), dtype=bool)
    weights = traffic_weights(~in_scope, out_of_scope_share)
    order = np.argsort(-probabilities, axis=1, kind="stable")
    top, second = order[:, 0], order[:, 1]
    rows = np.arange(len(probabilities))
    top_p, second_p = probabilities[rows, top], probabilities[rows, second]
    top_is_oos = top == off_topic_column
    in_domain = np.isin(np.array(classes), sorted(domain))
    can_clarify = in_domain[top] & in_domain[second]
    top_right = right[rows, top]
    pair_hit = top_right | right[rows, second]
    gap = top_p - second_p
    # What an in-scope question earns when it is answered, and when a clarifying question is asked.
    answered = np.where(top_right, UTILITY["right"], UTILITY["wrong"])
    clarified = np.where(pair_hit, UTILITY["clarify_hit"], UTILITY["clarify_miss"])
    # questions x ambiguity values: whether the margin would ask (when the question is not a fallback).
    asks = can_clarify[:, None] & (gap[:, None] < np.asarray(ambiguity_grid)[None, :])
    # An off-topic question fallen back is the right outcome; answered, it is a wrong one.
    off_topic_weight = np.where(in_scope, 0.0, weights)
    answerable = max(1, int(in_scope.sum()))
    best, best_utility = Thresholds(float(fallback_grid[0]), float(ambiguity_grid[0])), -np.inf
    candidates = [
        f for f in fallback_grid if ((top_is_oos | (top_p < f)) & in_scope).sum() / answerable <= MAX_FALSE_REJECT
    ] or [fallback_grid[0]]
    for fallback in candidates:
        falls = top_is_oos | (top_p < fallback)
        off_topic = off_topic_weight @ np.where(falls, UTILITY["right"], UTILITY["wrong"])
        # Answerable questions that fall back earn UTILITY["fallback"]; the others are answered or clarified.
        kept = np.where(in_scope & ~falls, weights, 0.0)
        fallen = (np.where(in_scope & falls, weights, 0.0)).sum() * UTILITY["fallback"]
        by_ambiguity = kept @ np.where(asks, clarified[:, None], answered[:, None])
        utilities = off_topic + fallen + by_ambiguity
        # The first of (nearly) equal ones, the lowest margin: weights add up with rounding errors.
        index = int(np.flatnonzero(utilities >= utilities.max() - TIE)[0])
        if utilities[index] > best_utility + TIE:
            best, best_utility = Thresholds(float(fallback), float(ambiguity_grid[index])), float(utilities[index])
    return best


def grouped_splits(groups: Sequence[str], folds: int = CV_FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (train, test) index arrays with every group (who wrote an example, or where it came from) in one fold.

    Examples written by the same people share wording, so a fold that trains on some of
    them and scores the others rates the model as if every user wrote like its writers.
    """
    groups = np.asarray(groups)
    distinct = len(set(groups.tolist()))
    if distinct < 2:
        raise ValueError("grouped folds need examples from at least two groups")
    splitter = GroupKFold(n_splits=min(folds, distinct))
    return list(splitter.split(np.zeros(len(groups)), groups=groups))


def writer_weights(data: TrainingData) -> np.ndarray | None:
    """Return one fitting weight per example of ``pairs()`` so that real users' examples weigh as much as the team's.

    The team wrote most examples, in its own phrasing; real users' questions are fewer but
    read like the traffic. Each real example weighs (team examples / real examples), so the
    two kinds weigh the same in total whatever their counts. None when there are no real
    examples or they are not fewer (every example then weighs 1).
    """
    writers = np.asarray(data.writers())
    real = writers != TEAM
    n_real, n_team = int(real.sum()), int((~real).sum())
    if n_real == 0 or n_real >= n_team:
        return None
    return np.where(real, n_team / n_real, 1.0)


def fit_pipeline(texts: list[str], labels: list[str], weights: np.ndarray | None = None) -> Pipeline:
    """Fit a fresh pipeline, each example weighing ``weights`` (None: alike)."""
    pipeline = build_pipeline()
    if weights is None:
        return pipeline.fit(texts, labels)
    return pipeline.fit(texts, labels, classifier__sample_weight=weights)


def writer_splits(data: TrainingData, folds: int = CV_FOLDS) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Return folds that score only real users' examples, each by a model that saw no example from their writers.

    Real examples are grouped by where they were found (``TrainingData.writers``); each fold
    holds out some of those groups and trains on everything else, the team's examples
    included. The team's examples are never scored: a model that learnt their siblings
    would rate them as if every user wrote like the team. None when fewer than two groups
    of real examples exist.
    """
    writers = np.asarray(data.writers())
    real = np.flatnonzero(writers != TEAM)
    if len(set(writers[real].tolist())) < 2:
        return None
    everyone = np.arange(len(writers))
    return [(np.setdiff1d(everyone, real[test]), real[test]) for _, test in grouped_splits(writers[real], folds)]


def out_of_fold_probabilities(data: TrainingData, normalize: Normalize, folds: int = CV_FOLDS, splits=None):
    """Return (probabilities, labels, classes) for examples scored by models that did not see them.

    By default the folds are stratified. ``splits`` (a list of (train, test) index arrays)
    replaces them: folds grouped by source (``grouped_splits``), or fewer, such as one split
    that holds out the examples of one source. Examples that no split tests are left out
    of what is returned.
    """
    texts, labels = data.pairs()
    texts = [normalize(t) for t in texts]
    classes = sorted(set(labels))
    if splits is None:
        splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=RANDOM_STATE).split(texts, labels))
    probabilities = np.zeros((len(texts), len(classes)))
    scored = np.zeros(len(texts), dtype=bool)
    weights = writer_weights(data)
    with threadpool_limits(1):
        for train_rows, test_rows in splits:
            pipeline = fit_pipeline(
                [texts[i] for i in train_rows],
                [labels[i] for i in train_rows],
                None if weights is None else weights[np.asarray(train_rows, dtype=int)],
            )
            columns = [classes.index(c) for c in pipeline.classes_]
            probabilities[np.ix_(test_rows, columns)] = pipeline.predict_proba([texts[i] for i in test_rows])
            scored[test_rows] = True
    rows = np.flatnonzero(scored)
    return probabilities[rows], [labels[i] for i in rows], classes


def train(
    data: TrainingData,
    normalize: Normalize,
    *,
    fingerprint: str = "",
    folds: int = CV_FOLDS,
    out_of_fold=None,
    calibration: Calibration | None = None,
) -> IntentModel:
    """Fit the pipeline on every example and choose its thresholds on questions it did not learn from.

    Real users' examples weigh as much in total as the team's (``writer_weights``).

    The validation probabilities come from the first of: ``calibration.questions`` scored by
    the fitted model; the data's real users' examples, each scored by a model that saw no
    example from its writers (``writer_splits``); ``out_of_fold`` (what
    ``out_of_fold_probabilities`` returned for the same data, on any splits); stratified
    ``folds``. ``calibration`` also sets the expected share of off-topic traffic.
    """
    calibration = calibration or Calibration()
    domain = frozenset(intent.name for intent in data.intents if intent.is_domain)
    texts, labels = data.pairs()
    with threadpool_limits(1):
        pipeline = fit_pipeline([normalize(t) for t in texts], labels, writer_weights(data))
        if calibration.questions:
            probabilities = pipeline.predict_proba([normalize(q.question) for q in calibration.questions])
            held_out = probabilities, [q.intents for q in calibration.questions], list(pipeline.classes_)
    by_writer = None if calibration.questions else writer_splits(data, folds)
    if by_writer is not None:
        held_out = out_of_fold_probabilities(data, normalize, folds, splits=by_writer)
    elif not calibration.questions:
        held_out = out_of_fold or out_of_fold_probabilities(data, normalize, folds)
    probabilities, held_labels, classes = held_out
    thresholds = choose_thresholds(
        probabilities, held_labels, classes, domain, out_of_scope_share=calibration.out_of_scope_share
    )
    if calibration.questions:
        source = f"{len(calibration.questions)} calibration questions"
    else:
        source = "real users' examples, writers held out" if by_writer is not None else "out-of-fold examples"
    log.info("trained on %d examples; thresholds %s, chosen on %s", len(texts), thresholds, source)
    return IntentModel(pipeline, thresholds, domain, data.digest, fingerprint, calibration.key)


def save(model: IntentModel, path: str | Path) -> None:
    """Write the model with joblib, atomically: aside under a name no other writer uses, then renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        joblib.dump(model, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def load(
    path: str | Path,
    *,
    data_digest: str,
    fingerprint: str = "",
    trusted_dir: str | Path,
    calibration: Calibration | None = None,
) -> IntentModel | None:
    """Load a model we wrote, or return None if it is missing, foreign, stale or unreadable.

    Pickles can run code, so only a file inside ``trusted_dir`` (the app's instance
    folder) is ever loaded. A model whose thresholds were chosen otherwise than ``calibration``
    asks (another method, share of off-topic traffic or set of questions) is stale too.
    """
    path = Path(path).resolve()
    if not path.is_relative_to(Path(trusted_dir).resolve()):
        raise ValueError(f"refusing to load a model from outside {trusted_dir}")
    if not path.is_file():
        return None
    try:
        model = joblib.load(path)
    except Exception as exc:  # a truncated or foreign file: retrain rather than fail
        log.warning("model %s is unreadable (%s); it will be retrained", path, exc)
        return None
    return _checked(model, str(path), data_digest, fingerprint, calibration)


def dumps(model: IntentModel) -> bytes:
    """Return the model as compressed joblib bytes (about 1.3 MB for the shipped data), to store elsewhere."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def loads(
    data: bytes,
    *,
    data_digest: str,
    fingerprint: str = "",
    calibration: Calibration | None = None,
    source: str = "bytes",
) -> IntentModel | None:
    """Read a model from ``dumps`` bytes; None if unreadable, foreign or stale (as ``load`` tells).

    Pickles can run code: the caller must have checked where the bytes came from (the web
    layer checks a signature made with the app's secret key before calling this).
    """
    try:
        model = joblib.load(io.BytesIO(data))
    except Exception as exc:
        log.warning("model from %s is unreadable (%s)", source, exc)
        return None
    return _checked(model, source, data_digest, fingerprint, calibration)


def _checked(
    model: object, source: str, data_digest: str, fingerprint: str, calibration: Calibration | None
) -> IntentModel | None:
    """Return the model if it is ours and was trained with this scikit-learn on this data and calibration, else None."""
    if not isinstance(model, IntentModel):
        log.warning("model %s is not an intent model; it will be retrained", source)
        return None
    if model.sklearn_version != sklearn.__version__:
        log.warning(
            "model %s was trained with scikit-learn %s, running %s; retraining",
            source,
            model.sklearn_version,
            sklearn.__version__,
        )
        return None
    if model.data_digest != data_digest or model.fingerprint != fingerprint:
        log.info("model %s is older than its training data; retraining", source)
        return None
    if getattr(model, "calibration_key", "") != (calibration or Calibration()).key:
        log.info("model %s has thresholds chosen another way; retraining", source)
        return None
    return model


def predict(model: IntentModel, text: str) -> Prediction:
    """Classify one (already normalised) question."""
    scorer = model.scorer
    return decide(scorer.probabilities(text), scorer.classes, model.thresholds, model.domain_intents)
