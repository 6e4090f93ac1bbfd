"""Scoring held-out questions, overall and per kind of question."""

from classifier.data import LabelledQuestion
from classifier.evaluate import score, score_by_kind
from classifier.model import Prediction


def predicted(intent, fallback=False):
    return Prediction(intent, 0.9, ((intent, 0.9), ("other", 0.1)), fallback=fallback, clarify=False)


def test_scores_are_broken_down_by_kind():
    questions = [
        LabelledQuestion("1", "pop3 support", ("pop3_enable",), kind="keyword"),
        LabelledQuestion("2", "pop3?", ("pop3_enable",), kind="keyword"),
        LabelledQuestion("3", "Error 535", ("smtp_auth",), kind="error"),
        LabelledQuestion("4", "my calendar", ("out_of_scope",), kind="off_topic"),
        LabelledQuestion("5", "no kind", ("username",)),
    ]
    predictions = [predicted("pop3_enable"), predicted("imap_settings"), predicted("smtp_auth", fallback=True),
                   predicted("out_of_scope", fallback=True), predicted("username")]
    kinds = score_by_kind(predictions, questions)
    assert list(kinds) == ["error", "keyword", "off_topic"]
    assert kinds["keyword"].questions == 2 and kinds["keyword"].in_scope_accuracy == 0.5
    assert kinds["error"].in_scope_accuracy == 0.0 and kinds["error"].false_reject_rate == 1.0
    assert kinds["off_topic"].out_of_scope_recall == 1.0
    assert kinds["keyword"].summary() == "top-1 0.500 of 2, false rejects 0.000"
    assert kinds["off_topic"].summary() == "out-of-scope recall 1.000 of 1"
    assert score(predictions, questions).questions == 5


def test_a_file_without_kinds_has_no_breakdown():
    assert score_by_kind([predicted("username")], [LabelledQuestion("1", "login?", ("username",))]) == {}
