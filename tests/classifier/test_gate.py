"""Examples added after release: in the intents.yml format, merged, let in only if the bot scores no lower."""

import pytest
from conftest import TINY_INTENTS

from classifier.data import (
    DataError,
    LabelledQuestion,
    add_examples,
    dump_examples,
    load_intents,
    load_training,
    merge_examples,
    parse_examples,
)
from classifier.gate import Assessment, assess, judge, stable_splits

HELD_OUT = [
    LabelledQuestion("1", "how can I turn on pop3", ("pop3_enable",)),
    LabelledQuestion("2", "imap server name", ("imap_settings",)),
    LabelledQuestion("3", "hello there", ("greeting",)),
    LabelledQuestion("4", "what's the weather like", ("out_of_scope",)),
]


def lower(text):
    return text.lower()


def test_examples_round_trip_through_the_training_data_format():
    examples = {"pop3_enable": ("turn on  pop3 now",), "greeting": ("hey you", "yo")}
    text = dump_examples(examples)
    assert text.startswith("version: 1\nintents:\n- intent: pop3_enable")
    assert parse_examples(text) == {"pop3_enable": ("turn on pop3 now",), "greeting": ("hey you", "yo")}
    assert parse_examples(TINY_INTENTS.read_text())["greeting"][0] == "hello"
    assert parse_examples("") == {}


@pytest.mark.parametrize("text", ["intents: nope", "- a list", "intents:\n  - intent: x\n    examples: [1]", "a: [b"])
def test_malformed_examples_are_refused(text):
    with pytest.raises(DataError):
        parse_examples(text)


def test_merging_adds_new_examples_once_and_refuses_conflicts():
    data = load_intents(TINY_INTENTS)
    merged = merge_examples(data, {"pop3_enable": ("pop3 on my phone", "How do I enable POP3")})
    pop = next(i for i in merged.intents if i.name == "pop3_enable")
    assert pop.examples[-1] == "pop3 on my phone" and len(pop.examples) == 8  # the second was there already
    assert merged.digest != data.digest
    assert merge_examples(data, {"pop3_enable": ("how do i enable POP3",)}) is data
    with pytest.raises(DataError, match="already an example of greeting"):
        merge_examples(data, {"pop3_enable": ("hello",)})
    with pytest.raises(DataError, match="unknown intent"):
        merge_examples(data, {"billing": ("my invoice",)})
    assert merge_examples(data, {"billing": ("my invoice",), "pop3_enable": ("hello",)}, strict=False) is data


def test_an_overlay_file_is_merged_by_the_loader(tmp_path):
    overlay = tmp_path / "overlay.yml"
    assert load_training(TINY_INTENTS, overlay).digest == load_intents(TINY_INTENTS).digest
    overlay.write_text(dump_examples(add_examples({}, {"imap_settings": ("incoming host name",)})))
    loaded = load_training(TINY_INTENTS, overlay)
    assert "incoming host name" in next(i for i in loaded.intents if i.name == "imap_settings").examples
    assert loaded.digest == load_training(TINY_INTENTS, overlay).digest != load_intents(TINY_INTENTS).digest


def test_a_good_example_is_accepted_and_a_harmful_batch_refused():
    data = load_intents(TINY_INTENTS)
    _, before = assess(data, lower, HELD_OUT)
    assert 0 < before.cv_accuracy <= 1 and before.examples == sum(len(i.examples) for i in data.intents)
    good = merge_examples(data, {"pop3_enable": ("please enable pop3 on my account",)})
    model, after = assess(good, lower, HELD_OUT)
    verdict = judge(before, after)
    assert verdict.accepted and verdict.reason.startswith("accepted: cross-validation accuracy")
    assert model.data_digest == good.digest
    greetings = ("hey there friend", "good afternoon", "hiya", "howdy", "greetings", "hello bot", "hey hey", "hi all")
    _, harmed = assess(merge_examples(data, {"pop3_enable": greetings}), lower, HELD_OUT)
    verdict = judge(before, harmed)
    assert not verdict.accepted and "cross-validation accuracy would fall" in verdict.reason


def test_any_lower_score_refuses_and_equal_scores_pass():
    before = Assessment(0.9, 0.95, 0.8, 100)
    assert judge(before, Assessment(0.9, 0.95, 0.8, 101)).accepted
    refused = judge(before, Assessment(0.91, 0.95, 0.75, 101))
    assert (
        not refused.accepted
        and refused.reason == "refused: held-out out-of-scope recall would fall from 0.800 to 0.750"
    )


def test_examples_keep_their_fold_when_others_are_added():
    texts = [f"example number {n}" for n in range(40)]
    before = {texts[i]: k for k, (_, test) in enumerate(stable_splits(texts, 5)) for i in test}
    grown = texts + [f"new example {n}" for n in range(15)]
    after = {grown[i]: k for k, (_, test) in enumerate(stable_splits(grown, 5)) for i in test}
    assert all(after[text] == fold for text, fold in before.items())
    assert all(len(test) for _, test in stable_splits(texts[:3], 5))  # empty folds are left out


def test_the_changed_data_is_scored_on_the_examples_it_had_before():
    data = load_intents(TINY_INTENTS)
    grown = merge_examples(data, {"pop3_enable": ("hey there friend", "good afternoon", "hiya")})
    _, on_own = assess(grown, lower, HELD_OUT)
    _, on_before = assess(grown, lower, HELD_OUT, reference=data)
    assert on_own.examples == on_before.examples == 31
    # The three mislabelled greetings are wrong out of fold, and count only against the grown data's own examples.
    assert on_own.cv_accuracy < on_before.cv_accuracy


def test_a_tolerance_lets_small_drops_through():
    before, after = Assessment(0.90, 0.95, 0.8, 100), Assessment(0.895, 0.95, 0.8, 101)
    assert not judge(before, after).accepted
    assert judge(before, after, tolerance=0.01).accepted


def test_the_gate_chooses_thresholds_as_the_app_does():
    from classifier.model import Calibration

    calibration = Calibration(0.4, tuple(HELD_OUT))
    model, _ = assess(load_intents(TINY_INTENTS), lower, HELD_OUT, calibration=calibration)
    assert model.calibration_key == calibration.key
    default, _ = assess(load_intents(TINY_INTENTS), lower, HELD_OUT)
    assert default.calibration_key == Calibration().key != calibration.key
