"""Reading a question for set-ups the policy rules out."""

import time

import pytest

from kb import DEFAULT_LEXICON_PATH, DEFAULT_SETTINGS_PATH, load_lexicon
from kb.policy import (
    OTHER_PORT,
    PLAIN_PORT,
    POP3,
    SECURITY_NONE,
    SHORT_USERNAME,
    SMTP_AUTH_OFF,
    asks_permission,
    read_question,
    rule_sentence,
)
from kb.settings import load_settings

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)
LEXICON = load_lexicon(DEFAULT_LEXICON_PATH)


def topics(question):
    return [(v.topic, v.port) for v in read_question(question, SETTINGS, LEXICON.respell).violations]


@pytest.mark.parametrize(("question", "expected"), [
    ("pop 3 please", [(POP3, None)]),
    ("can I use port 110", [(OTHER_PORT, 110)]),
    ("smtp on 25 without TLS?", [(OTHER_PORT, 25), (SECURITY_NONE, None)]),
    (f"may I send on {SETTINGS.smtp.alt_port} with STARTTLS switched off", [(PLAIN_PORT, SETTINGS.smtp.alt_port)]),
    ("my phone doesn't support tls", [(SECURITY_NONE, None)]),
    ("connection security: none", [(SECURITY_NONE, None)]),
    ("untick 'my outgoing server requires authentication'", [(SMTP_AUTH_OFF, None)]),
    ("can our printer send without a password", [(SMTP_AUTH_OFF, None)]),
    ("log in with only the part before the @?", [(SHORT_USERNAME, None)]),
    ("username jdoe rather than the full email address", [(SHORT_USERNAME, None)]),
])
def test_forbidden_set_ups_are_recognised(question, expected):
    assert topics(question) == expected


@pytest.mark.parametrize("question", [
    "Total attachment size must not exceed 25 MB",
    "a pop up says the server cannot be reached",
    "how can I reset my password without logging in",
    "Do I need SSL?",
    "what is the incoming port",
    "I sent 110 emails today and 25 bounced",
    "Outlook 2019 cannot connect",
    "my username is my full email address, right?",
])
def test_ordinary_questions_name_nothing_forbidden(question):
    assert topics(question) == []


@pytest.mark.parametrize(("question", "asks"), [
    ("can I turn off SSL", True),
    ("Hello! Our copier only does port 143. May we use that?", True),
    ("login with just the first part of the address, possible?", True),
    ("please enable pop3", True),
    ("how can I use port 25", False),
    ("why is pop3 not supported", False),
    ("I tried port 110 and it failed", False),
])
def test_a_question_asking_yes_or_no_or_for_permission_is_told_apart(question, asks):
    assert asks_permission(question) is asks


def test_each_no_names_the_setting_from_the_settings_file():
    reading = read_question("is port 110 ok", SETTINGS, LEXICON.respell)
    sentence = rule_sentence(reading.violations[0], SETTINGS, answer_no=True)
    assert sentence.startswith("**No**, port 110")
    assert f"port {SETTINGS.imap.port} with {SETTINGS.imap.security}" in sentence and SETTINGS.imap.host in sentence


def test_reading_is_linear_in_the_length_of_the_question():
    chunk = "can I use port 110 without ssl, before the @ pop3 untick auth plain " * 20
    start = time.perf_counter()
    read_question(chunk, SETTINGS, LEXICON.respell)
    small = time.perf_counter() - start
    start = time.perf_counter()
    read_question(chunk * 50, SETTINGS, LEXICON.respell)
    large = time.perf_counter() - start
    assert large < small * 50 * 4 + 0.05
