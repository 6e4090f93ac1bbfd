"""The project's intent pipeline and threshold choice on CLINC150 (full), beside the published results.

Run from the repository root:

    .venv/bin/python bench/clinc150.py                 # about 4 minutes on 2 cores
    .venv/bin/python bench/clinc150.py --json out.json --out-of-scope-share 0.18

CLINC150 (``bench/data/clinc150/``, CC BY 3.0) has 150 intents and off-topic questions; its
training, validation and test splits were written by different crowd workers, so ``val`` and
``test`` hold wording the training examples' writers never produced. Everything here goes
through the app's own code: ``classifier.model.train`` (the same pipeline, the same threshold
choice), ``classifier.model.decide`` and ``classifier.evaluate.score``. The normaliser is the
identity: the knowledge base's normaliser corrects typos towards e-mail words and maps e-mail
synonyms, which would only distort questions about banking, travel or cooking, and CLINC's
text is already lower case without punctuation.

The model is trained on ``train`` with ``oos_train`` as the ``out_of_scope`` intent (the
paper's "oos-train" setting), and its thresholds are chosen four ways:

1. ``oos-train only``: no confidence threshold, a question falls back only when
   ``out_of_scope`` ranks first (the paper's oos-train column).
2. ``before``: as the app chose them before this bench existed: 5-fold stratified
   cross-validation on ``train``, off-topic examples counted as often as the file holds them
   (0.66%), fallback grid from 0.10.
3. ``CV folds``: the same folds, off-topic questions weighed for the expected share of
   traffic (what the app does when it has no calibration questions).
4. ``val``: chosen on ``val`` + ``oos_val`` (other writers), scored by the trained model,
   weighed for the expected share of traffic.

A fifth row trains on ``train`` and ``val`` together with the thresholds of row 4 (``val``
scored by the model that did not see it): more writers, but ``val`` is no longer only for
choosing, so the row is not comparable with the paper's. Each row reports in-scope accuracy
(an in-scope question counts only when answered with its intent, not sent to the fallback,
as the paper counts it) and out-of-scope recall on ``test`` + ``oos_test``.
"""

from __future__ import annotations

import os

# One thread for the math libraries, set before numpy loads (see TOOLCHAIN.md).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier.data import OUT_OF_SCOPE, Intent, LabelledQuestion, TrainingData  # noqa: E402
from classifier.evaluate import score, top_accuracy  # noqa: E402
from classifier.model import (  # noqa: E402
    DEFAULT_OUT_OF_SCOPE_SHARE,
    FALLBACK_GRID,
    Calibration,
    IntentModel,
    Thresholds,
    choose_thresholds,
    decide,
    out_of_fold_probabilities,
    train,
)

DATA = ROOT / "bench" / "data" / "clinc150" / "data_full.json"
CLINC_OUT_OF_SCOPE = "oos"
# The target: in-scope accuracy >= 92.0 with out-of-scope recall >= 75%.
TARGET_RECALL = 0.75
# The grids the app searched before thresholds were weighed for traffic (row 2).
BEFORE_FALLBACK_GRID = np.round(np.arange(0.10, 0.72, 0.02), 2)
BEFORE_AMBIGUITY_GRID = np.round(np.arange(0.0, 0.32, 0.02), 2)
# Larson et al. 2019, Table 2, full data set: in-scope accuracy / out-of-scope recall (%).
PAPER = [
    ("SVM (bag of words)", "oos-train", 91.0, 14.5),
    ("FastText", "oos-train", 89.0, 9.7),
    ("Rasa (spacy-sklearn)", "oos-train", 91.5, 45.3),
    ("MLP on USE embeddings", "oos-train", 93.5, 47.4),
    ("BERT", "oos-train", 96.9, 40.3),
    ("SVM (bag of words)", "oos-threshold", 88.2, 18.0),
    ("FastText", "oos-threshold", 88.6, 28.3),
    ("BERT", "oos-threshold", 96.2, 52.3),
]


def identity(text: str) -> str:
    """Return the text unchanged (CLINC150 is already lower case, without punctuation)."""
    return text


def label(intent: str) -> str:
    """Return the project's name for a CLINC150 label."""
    return OUT_OF_SCOPE if intent == CLINC_OUT_OF_SCOPE else intent


def training_data(raw: dict, splits: tuple[str, ...], digest: str) -> TrainingData:
    """Return the named splits as training data, one intent per label, in order of first appearance."""
    examples: dict[str, list[str]] = {}
    for split in splits:
        for text, intent in raw[split]:
            examples.setdefault(label(intent), []).append(text)
    intents = tuple(Intent(name, "", tuple(texts)) for name, texts in examples.items())
    return TrainingData(intents, hashlib.sha256(json.dumps([digest, splits]).encode()).hexdigest())


def questions(raw: dict, splits: tuple[str, ...]) -> list[LabelledQuestion]:
    """Return the named splits as labelled questions."""
    return [
        LabelledQuestion(f"{split}-{n}", text, (label(intent),))
        for split in splits
        for n, (text, intent) in enumerate(raw[split])
    ]


def probabilities(model: IntentModel, asked: list[LabelledQuestion]) -> np.ndarray:
    """Score many questions at once (the same numbers as the app's one-question scorer)."""
    return model.pipeline.predict_proba([identity(q.question) for q in asked])


def measure(name: str, model: IntentModel, thresholds: Thresholds, scored: np.ndarray, test) -> dict:
    """Decide every test question as the app would with these thresholds, and score the decisions."""
    decisions = [decide(row, model.classes, thresholds, model.domain_intents) for row in scored]
    result = score(decisions, test)
    return {
        "row": name,
        "fallback": thresholds.fallback,
        "ambiguity": thresholds.ambiguity,
        "in_scope_accuracy": round(100 * result.in_scope_accuracy, 1),
        "out_of_scope_recall": round(100 * result.out_of_scope_recall, 1),
        "false_reject_rate": round(100 * result.false_reject_rate, 1),
        "clarify_rate": round(100 * result.clarify_rate, 1),
    }


def best_on_test(scored: np.ndarray, test: list[LabelledQuestion], classes: list[str], recall: float) -> dict:
    """Return the best in-scope accuracy any fallback threshold reaches on test with at least ``recall``.

    Chosen on the test split itself, so it is no result: it shows how far the model's
    probabilities allow, whatever way thresholds are chosen. The rule is ``decide``'s (fall
    back when ``out_of_scope`` ranks first or the top probability is below the threshold).
    """
    label = np.array([classes.index(q.intents[0]) for q in test])
    answerable = label != classes.index(OUT_OF_SCOPE)
    top, top_p = scored.argmax(axis=1), scored.max(axis=1)
    best = None
    for fallback in FALLBACK_GRID:
        falls = (top == classes.index(OUT_OF_SCOPE)) | (top_p < fallback)
        caught = float(falls[~answerable].mean())
        accuracy = float(((top == label) & ~falls)[answerable].mean())
        if caught >= recall and (best is None or accuracy > best[1]):
            best = float(fallback), accuracy, caught
    if best is None:
        return {"fallback": None, "in_scope_accuracy": None, "out_of_scope_recall": None}
    fallback, accuracy, caught = best
    return {
        "fallback": fallback,
        "in_scope_accuracy": round(100 * accuracy, 1),
        "out_of_scope_recall": round(100 * caught, 1),
    }


def run(share: float, cross_validation: bool) -> dict:
    """Train, choose thresholds each way, and score every way on the test split."""
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    digest = hashlib.sha256(DATA.read_bytes()).hexdigest()
    data = training_data(raw, ("train", "oos_train"), digest)
    val = questions(raw, ("val", "oos_val"))
    test = questions(raw, ("test", "oos_test"))
    timings, rows = {}, []

    started = time.perf_counter()
    model = train(data, identity, calibration=Calibration(share, tuple(val)))
    timings["train on train, thresholds on val (s)"] = round(time.perf_counter() - started, 1)
    scored = probabilities(model, test)
    classes, domain = model.classes, model.domain_intents
    no_threshold = Thresholds(0.0, 0.0)
    rows.append(measure("oos-train only (no threshold)", model, no_threshold, scored, test))
    answerable = [i for i, q in enumerate(test) if OUT_OF_SCOPE not in q.intents]
    top_1 = top_accuracy(scored[answerable], [test[i].intents[0] for i in answerable], classes)

    cv_accuracy = None
    if cross_validation:
        started = time.perf_counter()
        held = out_of_fold_probabilities(data, identity)
        timings["5-fold cross-validation on train (s)"] = round(time.perf_counter() - started, 1)
        cv_probabilities, cv_labels, _ = held
        answerable_examples = [i for i, name in enumerate(cv_labels) if name != OUT_OF_SCOPE]
        cv_accuracy = top_accuracy(cv_probabilities[answerable_examples], [cv_labels[i] for i in answerable_examples],
                                   classes)
        before = choose_thresholds(
            *held, domain, out_of_scope_share=None,
            fallback_grid=BEFORE_FALLBACK_GRID, ambiguity_grid=BEFORE_AMBIGUITY_GRID,
        )
        rows.append(measure("before: CV folds, as in the file", model, before, scored, test))
        folds = choose_thresholds(*held, domain, out_of_scope_share=share)
        rows.append(measure(f"CV folds, {share:.0%} off-topic", model, folds, scored, test))
    rows.append(measure(f"val (other writers), {share:.0%} off-topic", model, model.thresholds, scored, test))

    # Train and val together; the thresholds still come from val scored by a model that did not
    # see it: what out_of_fold_probabilities would return for one split (train -> val), without
    # fitting that model a second time.
    on_val = probabilities(model, val), [q.intents[0] for q in val], classes
    both = training_data(raw, ("train", "oos_train", "val", "oos_val"), digest)
    started = time.perf_counter()
    bigger = train(both, identity, out_of_fold=on_val, calibration=Calibration(share))
    timings["train on train + val (s)"] = round(time.perf_counter() - started, 1)
    bigger_scored = probabilities(bigger, test)
    rows.append(measure("train + val, thresholds from val", bigger, bigger.thresholds, bigger_scored, test))
    return {
        "data": "CLINC150 full: train 15,000 + oos_train 100; val 3,000 + 100; test 4,500 + 1,000",
        "out_of_scope_share": share,
        "test_top_1_in_scope": round(100 * top_1, 1),
        "cv_top_1": None if cv_accuracy is None else round(100 * cv_accuracy, 1),
        "rows": rows,
        "best_on_test": {
            "train": best_on_test(scored, test, classes, TARGET_RECALL),
            "train + val": best_on_test(bigger_scored, test, classes, TARGET_RECALL),
        },
        "timings": timings,
        "paper": [
            {"classifier": c, "setting": s, "in_scope_accuracy": a, "out_of_scope_recall": r} for c, s, a, r in PAPER
        ],
    }


def print_report(result: dict) -> None:
    """Print the rows beside the paper's."""
    print(f"CLINC150 full, test split (4,500 in scope, 1,000 off topic); off-topic share of traffic "
          f"{result['out_of_scope_share']:.2f}")
    top = f"top-1 of in-scope questions: on test {result['test_top_1_in_scope']}"
    if result["cv_top_1"] is not None:
        top += f", in 5-fold CV on train {result['cv_top_1']}"
    print(top)
    print(f"{'thresholds chosen by':42} {'fallback':>8} {'margin':>6} {'in-scope':>8} {'OOS rec':>7} "
          f"{'false rej':>9} {'clarify':>7}")
    for row in result["rows"]:
        print(f"{row['row']:42} {row['fallback']:8.2f} {row['ambiguity']:6.2f} {row['in_scope_accuracy']:8.1f} "
              f"{row['out_of_scope_recall']:7.1f} {row['false_reject_rate']:9.1f} {row['clarify_rate']:7.1f}")
    for trained, best in result["best_on_test"].items():
        if best["fallback"] is None:
            continue
        print(f"  for reference, chosen on test (no result): model trained on {trained}, the best in-scope accuracy "
              f"with OOS recall >= {TARGET_RECALL:.0%} is {best['in_scope_accuracy']} "
              f"(fallback {best['fallback']:.2f}, recall {best['out_of_scope_recall']})")
    print("Larson et al. 2019, full data:")
    for row in result["paper"]:
        print(f"  {row['classifier'] + ', ' + row['setting']:40} {'':15} {row['in_scope_accuracy']:8.1f} "
              f"{row['out_of_scope_recall']:7.1f}")
    for what, seconds in result["timings"].items():
        print(f"{what}: {seconds}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-of-scope-share", type=float, default=DEFAULT_OUT_OF_SCOPE_SHARE,
                        help="expected share of off-topic questions in traffic (default: the app's)")
    parser.add_argument("--no-cv", action="store_true",
                        help="skip the two cross-validation rows (about 2 minutes less)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    if not 0.0 <= args.out_of_scope_share <= 1.0:
        parser.error("--out-of-scope-share must be between 0 and 1")
    result = run(args.out_of_scope_share, not args.no_cv)
    print_report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
