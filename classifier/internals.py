"""The scikit-learn internals the classifier uses for speed, in one place, checked against the pinned release.

``predict_proba`` on one sentence spends most of its time building sparse matrices and
validating input. ``FastScorer`` applies the same fitted analyzers, TF-IDF weights and
coefficients with dictionaries and one small dot product; tests check it agrees with
``predict_proba`` to 1e-12. It reaches past scikit-learn's public API in one place (a
vectorizer's own character n-gram cutter, ``_char_wb_ngrams``) and relies on the fitted
attributes of the pinned release. ``check()`` compares the installed scikit-learn with
``PINNED_VERSION`` at import; when they differ, ``scorer_for`` gives ``PipelineScorer``
(``predict_proba``, slower, the same numbers) after one warning in the log.
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Protocol

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

PINNED_VERSION = "1.9.1"


@dataclass(frozen=True)
class Check:
    """Whether the fast scorer matches the installed scikit-learn, and if not, why."""

    fast: bool
    reason: str


def check() -> Check:
    """Compare the installed scikit-learn with the release and the method the fast scorer was written for."""
    try:
        installed = importlib.metadata.version("scikit-learn")
    except importlib.metadata.PackageNotFoundError:
        installed = "unknown"
    if installed != PINNED_VERSION:
        return Check(False, f"scikit-learn {installed} is installed; the fast scorer is for {PINNED_VERSION}")
    if not hasattr(TfidfVectorizer, "_char_wb_ngrams"):
        return Check(False, "TfidfVectorizer has no _char_wb_ngrams")
    return Check(True, f"scikit-learn {installed}")


CHECK = check()
FAST = CHECK.fast
if not FAST:
    log.warning("the classifier scores with predict_proba (slower): %s", CHECK.reason)


class Scorer(Protocol):
    """Scores one sentence: the class probabilities, in the order of ``classes``."""

    classes: list[str]

    def probabilities(self, text: str) -> np.ndarray: ...


class PipelineScorer:
    """Score one sentence with the pipeline's own ``predict_proba`` (the public, slower way)."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.classes = [str(name) for name in pipeline.classes_]

    def probabilities(self, text: str) -> np.ndarray:
        return self.pipeline.predict_proba([text])[0]


def scorer_for(pipeline: Pipeline) -> Scorer:
    """Return the fast scorer with the pinned scikit-learn, the pipeline's own otherwise."""
    return FastScorer(pipeline) if FAST else PipelineScorer(pipeline)


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
