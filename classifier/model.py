"""Train, save, load and apply the intent model, with thresholds chosen by cross-validation."""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline
from threadpoolctl import threadpool_limits

from classifier.data import OUT_OF_SCOPE, TrainingData
from classifier.negation import mark_negations

log = logging.getLogger(__name__)

Normalize = Callable[[str], str]
RANDOM_STATE = 0
CV_FOLDS = 5
# Search grids for the thresholds; the values themselves come from cross-validation.
FALLBACK_GRID = np.round(np.arange(0.10, 0.72, 0.02), 2)
AMBIGUITY_GRID = np.round(np.arange(0.0, 0.32, 0.02), 2)
# At most this share of answerable questions may be sent to the fallback.
MAX_FALSE_REJECT = 0.05
# Utility of each outcome when choosing thresholds: a confident wrong answer is worse
# than saying "I don't know", and a clarifying question that offers the right intent
# is better than a fallback but not as good as the right answer.
UTILITY = {"right": 1.0, "clarify_hit": 0.5, "clarify_miss": -0.25, "fallback": 0.0, "wrong": -1.0}


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


class FastScorer:
    """Compute the pipeline's probabilities for one sentence without scikit-learn's per-call overhead.

    ``predict_proba`` on a single sentence spends most of its time building sparse
    matrices and validating input. This applies the same fitted analyzers, TF-IDF weights
    and coefficients with dictionaries and one small dot product; a test checks that it
    agrees with ``predict_proba``.

    Character n-grams (``char_wb``) never cross a word's edges, so a sentence's are its
    words' n-grams put together: each word's columns are looked up once and kept, and
    questions, which repeat a small vocabulary, skip most of the n-gram work.
    """

    WORDS_KEPT = 20_000

    def __init__(self, pipeline: Pipeline):
        self.parts = []
        idf: list[np.ndarray] = []
        offset = 0
        for _, vectorizer in pipeline.named_steps["features"].transformer_list:
            vocabulary = {term: offset + index for term, index in vectorizer.vocabulary_.items()}
            if vectorizer.analyzer == "char_wb":
                count = self._by_word(vectorizer, vocabulary)
            else:
                count = partial(self._count, vectorizer.build_analyzer(), vocabulary)
            self.parts.append((count, vectorizer.sublinear_tf))
            idf.append(vectorizer.idf_)
            offset += len(vectorizer.vocabulary_)
        self.idf = np.concatenate(idf)  # by column, across the parts
        estimator = pipeline.named_steps["classifier"]
        self.classes = [str(name) for name in estimator.classes_]
        self.coef = np.ascontiguousarray(estimator.coef_.T)  # features x classes
        self.intercept = estimator.intercept_

    @staticmethod
    def _count(analyze: Callable, vocabulary: dict[str, int], text: str) -> dict[int, int]:
        """Count the sentence's terms that have a column."""
        counts: dict[int, int] = {}
        for term in analyze(text):
            column = vocabulary.get(term)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        return counts

    @classmethod
    def _by_word(cls, vectorizer: TfidfVectorizer, vocabulary: dict[str, int]) -> Callable[[str], dict[int, int]]:
        """Count character n-gram columns word by word, with each word's columns kept."""
        preprocess = vectorizer.build_preprocessor()

        @lru_cache(maxsize=cls.WORDS_KEPT)
        def word_columns(word: str) -> tuple[int, ...]:
            # The vectorizer's own n-gram cutter, on one word (it splits a text at white space).
            grams = vectorizer._char_wb_ngrams(word)
            return tuple(column for gram in grams if (column := vocabulary.get(gram)) is not None)

        def count(text: str) -> dict[int, int]:
            counts: dict[int, int] = {}
            for word in preprocess(vectorizer.decode(text)).split():
                for column in word_columns(word):
                    counts[column] = counts.get(column, 0) + 1
            return counts

        return count

    def probabilities(self, text: str) -> np.ndarray:
        """Return the class probabilities of one sentence.

        The parts' columns are gathered first, so that the weights, the scaling of each
        part to unit length (as TfidfVectorizer does) and the product with the coefficients
        are a few numpy calls for the whole sentence.
        """
        columns: list[int] = []
        tf: list[float] = []
        spans = []
        for count, sublinear in self.parts:
            counts = count(text)
            if counts:
                spans.append((len(columns), len(columns) + len(counts)))
                columns += counts
                tf += [math.log(n) + 1.0 for n in counts.values()] if sublinear else counts.values()
        if not columns:
            scores = self.intercept.copy()
        else:
            where = np.array(columns, dtype=np.intp)
            weights = np.array(tf) * self.idf.take(where)
            for start, end in spans:
                part = weights[start:end]
                part /= math.sqrt(part @ part)
            scores = self.intercept + weights @ self.coef.take(where, axis=0)
        scores -= scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()


@dataclass
class IntentModel:
    """A fitted pipeline with its thresholds and what it was trained from."""

    pipeline: Pipeline
    thresholds: Thresholds
    domain_intents: frozenset[str]
    data_digest: str
    fingerprint: str
    sklearn_version: str = sklearn.__version__
    trained_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def classes(self) -> list[str]:
        """Return the intent ids in the order of the model's probabilities."""
        return list(self.pipeline.classes_)

    @cached_property
    def scorer(self) -> FastScorer:
        """Return the fast single-sentence scorer, built on first use (not pickled)."""
        return FastScorer(self.pipeline)

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


def choose_thresholds(probabilities: np.ndarray, labels: list[str], classes: list[str], domain: frozenset[str]) -> Thresholds:
    """Pick the thresholds with the best utility on out-of-fold probabilities.

    Only fallback thresholds that send at most ``MAX_FALSE_REJECT`` of the answerable
    questions to the fallback are considered, counting every fallback as the product
    target does (those the model ranks as out-of-scope too). The utility is nearly flat
    over the grid, so without that cap the threshold drifts up whenever out-of-scope
    examples are added. If no threshold meets the cap, the lowest one is used.
    The grid is evaluated with array operations: this runs at every training.
    """
    classes_arr = np.array(classes)
    order = np.argsort(-probabilities, axis=1)
    top, second = order[:, 0], order[:, 1]
    rows = np.arange(len(labels))
    top_p, second_p = probabilities[rows, top], probabilities[rows, second]
    label_idx = np.array([classes.index(label) for label in labels])
    in_scope = classes_arr[label_idx] != OUT_OF_SCOPE
    top_is_oos = classes_arr[top] == OUT_OF_SCOPE
    in_domain = np.isin(classes_arr, sorted(domain))
    both_domain = in_domain[top] & in_domain[second]
    top_right = top == label_idx
    pair_hit = top_right | (second == label_idx)
    gap = top_p - second_p
    best, best_utility = Thresholds(float(FALLBACK_GRID[0]), 0.0), -np.inf
    rejects = [((top_is_oos | (top_p < f)) & in_scope).sum() / max(1, in_scope.sum()) for f in FALLBACK_GRID]
    allowed = [f for f, r in zip(FALLBACK_GRID, rejects, strict=True) if r <= MAX_FALSE_REJECT] or [FALLBACK_GRID[0]]
    for fallback in allowed:
        falls = top_is_oos | (top_p < fallback)
        for ambiguity in AMBIGUITY_GRID:
            clarify = ~falls & both_domain & (gap < ambiguity)
            utility = (
                UTILITY["right"] * ((~in_scope & falls) | (in_scope & ~falls & ~clarify & top_right)).sum()
                + UTILITY["wrong"] * ((~in_scope & ~falls) | (in_scope & ~falls & ~clarify & ~top_right)).sum()
                + UTILITY["clarify_hit"] * (in_scope & clarify & pair_hit).sum()
                + UTILITY["clarify_miss"] * (in_scope & clarify & ~pair_hit).sum()
            )
            if utility > best_utility + 1e-9:
                best, best_utility = Thresholds(float(fallback), float(ambiguity)), utility
    return best


def out_of_fold_probabilities(data: TrainingData, normalize: Normalize, folds: int = CV_FOLDS, splits=None):
    """Return (probabilities, labels, classes) from stratified k-fold cross-validation.

    ``splits`` (a list of (train, test) index arrays) replaces the stratified folds.
    """
    texts, labels = data.pairs()
    texts = [normalize(t) for t in texts]
    splitter = splits or StratifiedKFold(n_splits=folds, shuffle=True, random_state=RANDOM_STATE)
    with threadpool_limits(1):
        probabilities = cross_val_predict(build_pipeline(), texts, labels, cv=splitter, method="predict_proba")
    return probabilities, labels, sorted(set(labels))


def train(
    data: TrainingData, normalize: Normalize, *, fingerprint: str = "", folds: int = CV_FOLDS, out_of_fold=None
) -> IntentModel:
    """Fit the pipeline on every example and calibrate its thresholds by cross-validation.

    ``out_of_fold`` reuses what ``out_of_fold_probabilities`` returned for the same data.
    """
    domain = frozenset(intent.name for intent in data.intents if intent.is_domain)
    probabilities, labels, classes = out_of_fold or out_of_fold_probabilities(data, normalize, folds)
    thresholds = choose_thresholds(probabilities, labels, classes, domain)
    texts, labels = data.pairs()
    pipeline = build_pipeline()
    with threadpool_limits(1):
        pipeline.fit([normalize(t) for t in texts], labels)
    log.info("trained on %d examples; thresholds %s", len(texts), thresholds)
    return IntentModel(pipeline, thresholds, domain, data.digest, fingerprint)


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


def load(path: str | Path, *, data_digest: str, fingerprint: str = "", trusted_dir: str | Path) -> IntentModel | None:
    """Load a model we wrote, or return None if it is missing, foreign, stale or unreadable.

    Pickles can run code, so only a file inside ``trusted_dir`` (the app's instance
    folder) is ever loaded.
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
    return _checked(model, str(path), data_digest, fingerprint)


def dumps(model: IntentModel) -> bytes:
    """Return the model as compressed joblib bytes (about 1.3 MB for the shipped data), to store elsewhere."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def loads(data: bytes, *, data_digest: str, fingerprint: str = "", source: str = "bytes") -> IntentModel | None:
    """Read a model from ``dumps`` bytes; None if unreadable, foreign or stale.

    Pickles can run code: the caller must have checked where the bytes came from (the web
    layer checks a signature made with the app's secret key before calling this).
    """
    try:
        model = joblib.load(io.BytesIO(data))
    except Exception as exc:
        log.warning("model from %s is unreadable (%s)", source, exc)
        return None
    return _checked(model, source, data_digest, fingerprint)


def _checked(model: object, source: str, data_digest: str, fingerprint: str) -> IntentModel | None:
    """Return the model if it is ours and was trained with this scikit-learn on this data, else None."""
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
    return model


def predict(model: IntentModel, text: str) -> Prediction:
    """Classify one (already normalised) question."""
    scorer = model.scorer
    return decide(scorer.probabilities(text), scorer.classes, model.thresholds, model.domain_intents)
