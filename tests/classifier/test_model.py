"""The intent model: deterministic training, thresholds from cross-validation, safe loading, confident mistakes."""

import numpy as np
import pytest
from conftest import ROOT, TINY_INTENTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier import model as M  # noqa: N812 (short, read in every test)
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


# --- thresholds weighed for traffic, chosen on questions the model did not learn from ---------------


def test_traffic_weights_give_off_topic_questions_the_expected_share():
    off_topic = np.array([True] + [False] * 99)  # 1% of the set, as in CLINC150's training file
    weights = M.traffic_weights(off_topic, 0.25)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[off_topic].sum() == pytest.approx(0.25) and weights[~off_topic].sum() == pytest.approx(0.75)
    assert len(set(weights[~off_topic])) == 1  # questions of one kind weigh alike
    assert np.allclose(M.traffic_weights(off_topic, None), 0.01)  # None: as the set holds them


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_a_set_with_one_kind_of_question_weighs_it_all(share):
    assert np.allclose(M.traffic_weights(np.array([False] * 4), share), 0.25)
    assert np.allclose(M.traffic_weights(np.array([True] * 2), share), 0.5)
    assert M.traffic_weights(np.array([], dtype=bool), share).size == 0


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_an_impossible_share_is_refused(share):
    with pytest.raises(ValueError, match="between 0 and 1"):
        M.traffic_weights(np.array([True, False]), share)


def test_off_topic_questions_weigh_as_traffic_brings_them_not_as_the_set_holds_them():
    # Like a training file: 2 off-topic questions in 202. They score 0.40 on "a"; catching
    # them costs the 6 right answers that score 0.35 (3% of the answerable ones, under the cap).
    classes = ["a", "b", "out_of_scope"]
    domain = frozenset({"a", "b"})
    probs = np.array([[0.9, 0.05, 0.05]] * 194 + [[0.35, 0.33, 0.32]] * 6 + [[0.40, 0.31, 0.29]] * 2)
    labels = ["a"] * 200 + ["out_of_scope"] * 2
    # Counted one for one, two caught questions do not pay for six lost answers; as a quarter of traffic, they do.
    as_in_the_set = M.choose_thresholds(probs, labels, classes, domain, out_of_scope_share=None)
    as_in_traffic = M.choose_thresholds(probs, labels, classes, domain, out_of_scope_share=0.25)
    assert as_in_the_set.fallback <= 0.35 and 0.40 < as_in_traffic.fallback <= 0.9
    assert M.choose_thresholds(probs, labels, classes, domain, out_of_scope_share=0.0).fallback == 0.0


def test_the_fallback_grid_reaches_below_a_tenth():
    # Many intents spread the probability thin: right answers at 0.08, off-topic questions at 0.05.
    classes = [f"i{n}" for n in range(20)] + ["out_of_scope"]
    sure = np.full(21, 0.92 / 20)
    sure[0] = 0.08
    unsure = np.full(21, 0.95 / 20)
    unsure[1] = 0.05
    probs = np.array([sure] * 40 + [unsure] * 10)
    labels = ["i0"] * 40 + ["out_of_scope"] * 10
    chosen = M.choose_thresholds(probs, labels, classes, frozenset(classes[:-1]))
    assert 0.05 < chosen.fallback <= 0.08


def test_a_question_with_several_right_intents_counts_right_for_any_of_them():
    classes = ["a", "b", "greeting", "out_of_scope"]
    domain = frozenset({"a", "b"})
    # Five questions rank "b" first with 0.6 (and small talk second, so no clarifying question).
    probs = np.array([[0.9, 0.04, 0.03, 0.03]] * 200 + [[0.05, 0.6, 0.3, 0.05]] * 5 + [[0.1, 0.1, 0.1, 0.7]] * 5)
    strict = M.choose_thresholds(probs, ["a"] * 205 + ["out_of_scope"] * 5, classes, domain)
    either = M.choose_thresholds(probs, ["a"] * 200 + [("a", "b")] * 5 + ["out_of_scope"] * 5, classes, domain)
    assert strict.fallback > 0.6 >= either.fallback  # wrong answers are worth a fallback; right ones are not


def test_grouped_folds_keep_each_group_in_one_fold():
    groups = ["ann"] * 5 + ["bob"] * 7 + ["cy"] * 3 + ["dee"] * 4
    splits = M.grouped_splits(groups, folds=3)
    assert sorted(i for _, test in splits for i in test) == list(range(len(groups)))
    for train_rows, test_rows in splits:
        assert not {groups[i] for i in train_rows} & {groups[i] for i in test_rows}
    with pytest.raises(ValueError, match="two groups"):
        M.grouped_splits(["ann"] * 4)


def test_out_of_fold_probabilities_keep_only_the_examples_a_split_scored():
    data = load_intents(TINY_INTENTS)
    texts, labels = data.pairs()
    held = [i for i, t in enumerate(texts) if "pop" in t.lower() or "imap" in t.lower()][:4]
    rest = [i for i in range(len(texts)) if i not in held]
    probs, scored_labels, classes = M.out_of_fold_probabilities(data, lower, splits=[(rest, held)])
    assert probs.shape == (4, len(classes)) and scored_labels == [labels[i] for i in held]
    assert np.allclose(probs.sum(axis=1), 1.0)


def calibration_questions():
    from classifier.data import LabelledQuestion

    return (
        LabelledQuestion("1", "pop3 on my laptop please", ("pop3_enable",)),
        LabelledQuestion("2", "which imap host do I type", ("imap_settings",)),
        LabelledQuestion("3", "good evening", ("greeting",)),
        LabelledQuestion("4", "what's the weather like in Rome", ("out_of_scope",)),
        LabelledQuestion("5", "I forgot my password", ("out_of_scope",)),
    )


def test_training_chooses_thresholds_on_calibration_questions_when_given():
    data = load_intents(TINY_INTENTS)
    calibration = M.Calibration(0.4, calibration_questions())
    model = M.train(data, lower, fingerprint="f", calibration=calibration)
    scored = model.pipeline.predict_proba([lower(q.question) for q in calibration.questions])
    expected = M.choose_thresholds(
        scored, [q.intents for q in calibration.questions], model.classes, model.domain_intents, out_of_scope_share=0.4
    )
    assert model.thresholds == expected and model.calibration_key == calibration.key


def test_a_model_whose_thresholds_were_chosen_another_way_is_retrained(tmp_path, tiny):
    path = tmp_path / "model.joblib"
    M.save(tiny, path)
    assert M.load(path, data_digest=tiny.data_digest, fingerprint="f", trusted_dir=tmp_path) is not None
    other = M.Calibration(0.1)
    assert M.load(path, data_digest=tiny.data_digest, fingerprint="f", trusted_dir=tmp_path, calibration=other) is None
    assert M.Calibration(0.1).key != M.Calibration(0.25).key != M.Calibration(0.25, calibration_questions()).key
    # A model saved before thresholds were weighed for traffic has no calibration key.
    del tiny.__dict__["calibration_key"]
    M.save(tiny, path)
    assert M.load(path, data_digest=tiny.data_digest, fingerprint="f", trusted_dir=tmp_path) is None
