"""The policy trap questions are well formed: every insecure or unsupported set-up, asked many ways.

Each line of tests/data/policy_traps.jsonl asks whether something the policy forbids is
allowed; a right answer says no in its first sentence and gives the correct setting.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

TRAPS = Path(__file__).resolve().parent / "data" / "policy_traps.jsonl"
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
