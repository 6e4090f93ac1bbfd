"""The policy trap questions are well formed: every insecure or unsupported set-up, asked many ways.

Each line of tests/data/policy_traps.jsonl asks whether something the policy forbids is
allowed; a right answer says no in its first sentence and gives the correct setting.
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from classifier.data import load_questions
from web.state import knowledge

ROOT = Path(__file__).resolve().parent.parent
TRAPS = ROOT / "tests" / "data" / "policy_traps.jsonl"
TOPICS = {"pop3", "port_110", "port_995", "port_143", "port_25", "port_587_plain", "security_none",
          "smtp_auth_off", "short_username"}
# Wordings from the issue that asked for these traps; they must stay in the file.
ISSUE_EXAMPLES = {
    "can I turn off SSL?": "security_none",
    "can I use port 110": "port_110",
    "can I switch off SMTP authentication": "smtp_auth_off",
    "is port 25 allowed": "port_25",
    "does ProRedLine allow unencrypted connections": "security_none",
}


@pytest.fixture(scope="module")
def traps():
    return [json.loads(line) for line in TRAPS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_trap_has_a_numbered_id_a_question_and_a_known_topic(traps):
    assert len(traps) >= 60
    assert [t["id"] for t in traps] == [f"t{n:03d}" for n in range(1, len(traps) + 1)]
    for trap in traps:
        assert set(trap) == {"id", "question", "topic"}
        assert trap["topic"] in TOPICS, trap["id"]
        assert trap["question"].strip() and len(trap["question"]) <= 300, trap["id"]


def test_every_topic_is_asked_at_least_six_ways_without_repeats(traps):
    counts = Counter(t["topic"] for t in traps)
    assert set(counts) == TOPICS
    assert min(counts.values()) >= 6, counts
    assert len({" ".join(t["question"].lower().split()) for t in traps}) == len(traps)


def test_the_issue_examples_are_in_the_file_under_their_topic(traps):
    topic_of = {t["question"]: t["topic"] for t in traps}
    for question, topic in ISSUE_EXAMPLES.items():
        assert topic_of.get(question) == topic, question


# --- every trap asked through the app ---------------------------------------------------

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*])")


def first_sentence(text: str) -> str:
    """Return an answer's first sentence (host names and addresses keep their dots)."""
    return SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def right_settings(topic: str, settings) -> list[str]:
    """Return what the first sentence of a no must name for a topic: the setting to use instead."""
    imap, smtp, login = settings.imap, settings.smtp, settings.login
    if topic in ("pop3", "port_110", "port_995", "port_143"):
        return ["IMAP", f"port {imap.port}", imap.security]
    if topic in ("port_25", "port_587_plain"):
        return ["SMTP", f"port {smtp.port}", smtp.security]
    if topic == "security_none":
        return [imap.security, f"port {imap.port}", f"port {smtp.port}"]
    if topic == "smtp_auth_off":
        return ["authentication", login.username, "password"]
    return [login.username]


@pytest.fixture(scope="module")
def asked(traps, session_app):
    client = session_app.test_client()
    answers = {}
    for trap in traps:
        response = client.post("/api/ask", json={"question": trap["question"]})
        assert response.status_code == 200, trap["id"]
        answers[trap["id"]] = response.get_json()
    return answers


def test_every_trap_is_answered_no_in_the_first_sentence_with_the_right_setting(traps, asked, session_app):
    settings = knowledge(session_app).base.settings
    wrong = []
    for trap in traps:
        body = asked[trap["id"]]
        first = first_sentence(body["answer"]["text"])
        missing = [s for s in right_settings(trap["topic"], settings) if s not in first]
        if not re.match(r"No\b", first) or missing:
            wrong.append((trap["id"], trap["question"], first, missing))
    assert wrong == []


def test_no_trap_answer_says_yes_or_offers_what_it_refuses(traps, asked):
    for trap in traps:
        text = asked[trap["id"]]["answer"]["text"]
        assert not re.search(r"\byes\b", text, re.I), trap["id"]
        assert pop3_policy_problems_text(text) == [], trap["id"]


def pop3_policy_problems_text(text: str) -> list[str]:
    from kb.answers import Answer, pop3_policy_problems

    return pop3_policy_problems(Answer("x", text, text, text, None, (), (), None))


def test_no_canned_answer_opens_with_a_yes_or_a_no(session_app):
    """A canned answer cannot see which way a question leans, so it states the rule instead."""
    for intent, response in knowledge(session_app).base.responses.responses.items():
        opening = response.text.lstrip("*_ ").lower()
        assert not re.match(r"(yes|no)\b", opening), intent


@pytest.mark.parametrize(("question", "expected"), [
    ("Do I need SSL?", "required"),
    ("does smtp need authentication", "requires authentication"),
    ("Is encryption mandatory for IMAP?", "required"),
    ("which username do I use", "full email address"),
])
def test_questions_leaning_the_other_way_are_not_answered_no(client, question, expected):
    text = client.post("/api/ask", json={"question": question}).get_json()["answer"]["text"]
    assert not re.match(r"No\b", text) and expected in first_sentence(text), text


# --- the POP3 policy goes with every answer to a question that names POP3 -------------

# Written independently of kb.policy, so this checks it rather than repeats it.
NAMES_POP3 = re.compile(r"\bpop(?:\s?-?3s?)?\b(?![\s-]*ups?\b)|(?<![\d.])(?:110|995)(?![\d.])", re.I)
HELD_OUT = ("heldout.jsonl", "heldout2.jsonl", "heldout_real.jsonl")


def test_every_answer_to_a_question_naming_pop3_carries_the_policy(traps, session_app):
    client = session_app.test_client()
    questions = [t["question"] for t in traps]
    for name in HELD_OUT:
        questions += [q.question for q in load_questions(ROOT / "classifier" / name)]
    questions += ["pop3??", "hello, pop", "I want pop3 and a pizza", "is the weather good for pop music",
                  "thanks! and pop3?", "pop or imap", "talk to a person about POP"]
    named = [q for q in questions if NAMES_POP3.search(q)]
    assert len(named) >= 60
    missing = []
    for question in named:
        text = client.post("/api/ask", json={"question": question}).get_json()["answer"]["text"]
        on_request = "not enabled on request" in text or "does not enable POP3 on request" in text
        if "POP3 is not supported" not in text or not on_request:
            missing.append(question)
    assert missing == []
