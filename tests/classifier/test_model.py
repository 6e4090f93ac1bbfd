"""The intent model: deterministic training, thresholds from cross-validation, safe loading, confident mistakes."""

import numpy as np
import pytest
from conftest import ROOT, TINY_INTENTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier import model as M
from classifier.data import load_intents
from web.state import knowledge


def lower(text):
    return text.lower()


@pytest.fixture(scope="module")
def tiny():
    return M.train(load_intents(TINY_INTENTS), lower, fingerprint="f")


def test_training_is_deterministic(tiny):
    again = M.train(load_intents(TINY_INTENTS), lower, fingerprint="f")
    a = M.predict(tiny, "imap port please").ranking
    b = M.predict(again, "imap port please").ranking
    assert a == b and tiny.thresholds == again.thresholds


def test_pipeline_is_word_and_char_tfidf_into_a_probabilistic_classifier():
    pipeline = M.build_pipeline()
    features = dict(pipeline.named_steps["features"].transformer_list)
    assert features["words"].analyzer == "word" and features["chars"].analyzer == "char_wb"
    assert hasattr(pipeline.named_steps["classifier"], "predict_proba")


def test_decide_falls_back_below_the_threshold_and_on_out_of_scope():
    classes = ["a", "b", "out_of_scope"]
    thresholds = M.Thresholds(fallback=0.5, ambiguity=0.1)
    domain = frozenset({"a", "b"})
    assert M.decide(np.array([0.4, 0.35, 0.25]), classes, thresholds, domain).fallback
    assert M.decide(np.array([0.1, 0.2, 0.7]), classes, thresholds, domain).fallback
    sure = M.decide(np.array([0.8, 0.15, 0.05]), classes, thresholds, domain)
    assert (sure.intent, sure.fallback, sure.clarify) == ("a", False, False)
    close = M.decide(np.array([0.52, 0.46, 0.02]), classes, thresholds, domain)
    assert close.clarify and not close.fallback and [i for i, _ in close.ranking[:2]] == ["a", "b"]


def test_thresholds_come_from_the_data_not_a_constant():
    classes = ["a", "b", "out_of_scope"]
    domain = frozenset({"a", "b"})
    # Off-topic questions score up to 0.55 on "a"; answerable ones at least 0.7.
    probs = np.array([[0.9, 0.05, 0.05]] * 20 + [[0.7, 0.2, 0.1]] * 20 + [[0.55, 0.2, 0.25]] * 10)
    labels = ["a"] * 40 + ["out_of_scope"] * 10
    chosen = M.choose_thresholds(probs, labels, classes, domain)
    assert 0.55 < chosen.fallback <= 0.7


def test_the_false_reject_cap_counts_every_fallback():
    classes = ["a", "b", "out_of_scope"]
    domain = frozenset({"a", "b"})
    # 3 answerable questions already rank out-of-scope; a threshold above 0.36 would
    # reject 3 more (6 of 97 in all, over the 5% cap) to catch the 10 off-topic ones.
    probs = np.array([[0.9, 0.05, 0.05]] * 91 + [[0.35, 0.2, 0.45]] * 3 + [[0.36, 0.3, 0.34]] * 3
                     + [[0.38, 0.3, 0.32]] * 10)
    labels = ["a"] * 97 + ["out_of_scope"] * 10
    assert M.choose_thresholds(probs, labels, classes, domain).fallback <= 0.36


def test_save_and_load_round_trip(tmp_path, tiny):
    path = tmp_path / "instance" / "model.joblib"
    M.save(tiny, path)
    loaded = M.load(path, data_digest=tiny.data_digest, fingerprint="f", trusted_dir=tmp_path / "instance")
    assert loaded is not None and M.predict(loaded, "hello").intent == M.predict(tiny, "hello").intent


def test_stale_or_broken_models_are_not_loaded(tmp_path, tiny):
    path = tmp_path / "model.joblib"
    M.save(tiny, path)
    assert M.load(path, data_digest="other", fingerprint="f", trusted_dir=tmp_path) is None
    assert M.load(path, data_digest=tiny.data_digest, fingerprint="changed", trusted_dir=tmp_path) is None
    path.write_bytes(b"not a pickle")
    assert M.load(path, data_digest=tiny.data_digest, fingerprint="f", trusted_dir=tmp_path) is None
    assert M.load(tmp_path / "missing.joblib", data_digest="x", trusted_dir=tmp_path) is None


def test_models_outside_the_trusted_folder_are_refused(tmp_path, tiny):
    path = tmp_path / "elsewhere" / "model.joblib"
    M.save(tiny, path)
    with pytest.raises(ValueError, match="outside"):
        M.load(path, data_digest=tiny.data_digest, trusted_dir=tmp_path / "instance")


# Confident mistakes are the real risk: negations and off-topic questions that share words.
@pytest.mark.parametrize(("question", "intent"), [
    ("I don't want POP, what's the IMAP server", "imap_settings"),
    ("I don\u2019t want POP, what\u2019s the IMAP server", "imap_settings"),  # typed on a phone
    ("I dont want pop what is the imap server", "imap_settings"),
    ("not the incoming one, what is the outgoing server", "smtp_settings"),
    ("I do not want IMAP, how do I get POP3", "pop3_enable"),
    ("why don't you support pop3", "pop3_why"),
    ("I don't need the incoming server, what's the outgoing one", "smtp_settings"),
    ("no pop for me thanks, imap server and port?", "imap_settings"),
])
def test_negations_route_to_what_the_user_wants(app, question, intent):
    base, model = knowledge(app).base, knowledge(app).model
    prediction = M.predict(model, base.normalizer.normalize(question))
    assert prediction.intent == intent and not prediction.fallback, prediction.ranking[:3]


@pytest.mark.parametrize("question", [
    "What do we have for breakfast today?",
    "I forgot my password",
    "my calendar doesn't sync to my phone",
    "how do I renew the SSL certificate of my website",
    "what is the port for your FTP server",
    "how do I set up an autoresponder",
])
def test_off_topic_questions_are_not_answered_confidently(app, question):
    base, model = knowledge(app).base, knowledge(app).model
    prediction = M.predict(model, base.normalizer.normalize(question))
    assert prediction.fallback, prediction.ranking[:3]


def test_the_shipped_model_was_trained_on_the_shipped_data(app):
    model = knowledge(app).model
    assert model.data_digest == load_intents(ROOT / "classifier" / "intents.yml").digest
    assert 0 < model.thresholds.fallback < 1


@pytest.mark.parametrize("text", ["how do I enable pop3 on my iphone", "smtp port", "zzz qqq", "",
                                  "outlook keeps asking for my password and won't connect to the server",
                                  "  SMTP\tport\n\nfür   Outlook  ", "a b imap imap imap", "ĳ ﬁ Straße İstanbul"])
def test_fast_scorer_agrees_with_predict_proba(app, text):
    model = knowledge(app).model
    expected = model.pipeline.predict_proba([text])[0]
    assert np.allclose(model.scorer.probabilities(text), expected, atol=1e-12)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from("smtp imap pop3 ÉéİıßŁ\t\n \u00a0\u2003.,'-!?0123456789"), max_size=60))
def test_fast_scorer_agrees_with_predict_proba_on_any_text(app, text):
    model = knowledge(app).model
    expected = model.pipeline.predict_proba([text])[0]
    assert np.allclose(model.scorer.probabilities(text), expected, atol=1e-12)


def test_the_fast_scorer_is_not_pickled(tmp_path, tiny):
    tiny.scorer.probabilities("hello")
    M.save(tiny, tmp_path / "m.joblib")
    loaded = M.load(tmp_path / "m.joblib", data_digest=tiny.data_digest, fingerprint="f", trusted_dir=tmp_path)
    assert "scorer" not in loaded.__dict__
