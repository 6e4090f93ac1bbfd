"""The scikit-learn internals used for speed: taken with the pinned release, left for predict_proba otherwise."""

import copy
import importlib.metadata

import numpy as np
import pytest
from conftest import TINY_INTENTS
from sklearn.pipeline import Pipeline

from classifier import internals
from classifier import model as intent_model
from classifier.data import load_intents

QUESTIONS = ["imap port please", "how do I enable pop3", "thanks a lot", "what's the weather", "", "smtp"]


def refuse(*args, **kwargs):
    raise AssertionError("the public (slow) way was taken")


@pytest.fixture(scope="module")
def trained():
    return intent_model.train(load_intents(TINY_INTENTS), str.lower, fingerprint="f")


def fresh(model):
    """A copy of the model without its cached scorer, so the next use builds one anew."""
    copied = copy.copy(model)
    copied.__dict__.pop("scorer", None)
    return copied


def test_the_pinned_release_passes_the_check():
    assert internals.check().fast, internals.check().reason
    assert internals.FAST


def test_with_the_pinned_release_the_fast_scorer_is_the_one_taken(trained, monkeypatch):
    monkeypatch.setattr(Pipeline, "predict_proba", refuse)
    model = fresh(trained)
    assert isinstance(model.scorer, internals.FastScorer)
    assert all(intent_model.predict(model, q).intent for q in QUESTIONS)


def test_another_release_scores_with_predict_proba_and_the_same_numbers(trained, monkeypatch):
    fast = [fresh(trained).scorer.probabilities(q) for q in QUESTIONS]
    monkeypatch.setattr(internals, "FAST", False)
    model = fresh(trained)
    assert isinstance(model.scorer, internals.PipelineScorer)
    assert model.scorer.classes == trained.classes
    assert all(np.allclose(model.scorer.probabilities(q), f, atol=1e-12) for q, f in zip(QUESTIONS, fast, strict=True))


@pytest.mark.parametrize("version", ["1.9.2", "2.0.0"])
def test_the_check_names_a_release_it_was_not_written_for(monkeypatch, version):
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: version if name == "scikit-learn" else real(name))
    result = internals.check()
    assert not result.fast and version in result.reason and internals.PINNED_VERSION in result.reason
