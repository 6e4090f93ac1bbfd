"""POST /api/ask: answers with settings and sources, fallbacks, clarifications and bad input."""

import pytest

from kb import DEFAULT_SETTINGS_PATH
from kb.settings import load_settings

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)


def ask(client, question, **extra):
    response = client.post("/api/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_pop3_question_gets_not_supported_and_the_imap_settings(client):
    data = ask(client, "how do I enable POP3")
    assert data["intent"] == "pop3_enable" and not data["fallback"] and not data["clarify"]
    assert "not supported" in data["answer"]["text"] and "does not enable POP3 on request" in data["answer"]["text"]
    assert data["settings"]["incoming"]["host"] == SETTINGS.imap.host
    assert data["settings"]["incoming"]["port"] == SETTINGS.imap.port
    assert SETTINGS.imap.host in data["answer"]["text"] and SETTINGS.imap.host in data["answer"]["html"]
    assert data["articles"][0] == {"title": "Email protocols", "section": "POP3 (Not Supported)",
                                   "url": "/articles/email-protocols#pop3-not-supported"}
    assert data["source"]["updated"] == "2026-11-20"
    assert "From: Email protocols › POP3 (Not Supported)" in data["answer"]["text"]
    assert set(data) >= {"intent", "confidence", "fallback", "clarify", "answer", "settings", "articles",
                         "suggestions", "alternatives"}
    assert {"text", "markdown", "html"} == set(data["answer"])


@pytest.mark.parametrize(("question", "intent"), [
    ("smtp port", "smtp_settings"),
    ("what is the incoming mail server", "imap_settings"),
    ("I don't want POP, what's the IMAP server", "imap_settings"),
    ("Sending fails with 'relay access denied'", "smtp_auth"),
    ("my login is just jsmith, is that right?", "username"),
    ("hello", "greeting"),
    ("I want to talk to a real person", "human_agent"),
])
def test_questions_route_to_their_intent(client, question, intent):
    data = ask(client, question)
    assert data["intent"] == intent and not data["fallback"], data["alternatives"]


def test_settings_come_only_with_settings_intents(client):
    assert "settings" in ask(client, "smtp port")
    assert "settings" not in ask(client, "hello")


@pytest.mark.parametrize("question", ["I forgot my password", "what's the weather in Paris",
                                      "how much does the premium plan cost"])
def test_off_topic_questions_fall_back_with_search_results_and_a_person(client, question):
    data = ask(client, question)
    assert data["fallback"] and data["intent"] == "out_of_scope"
    assert "don't know" in data["answer"]["text"]
    assert SETTINGS.support.url in data["answer"]["text"]
    assert "Talk to a person" in data["suggestions"]


def test_every_answer_html_is_sanitised_and_links_are_relative_or_known(client):
    data = ask(client, "how do I enable POP3")
    assert "<script" not in data["answer"]["html"]


def test_session_is_echoed(client):
    assert ask(client, "hello", session="abc-123")["session"] == "abc-123"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"data": "not json", "content_type": "text/plain"}, "JSON"),
    ({"data": "{broken", "content_type": "application/json"}, "JSON object"),
    ({"json": ["a", "list"]}, "JSON object"),
    ({"json": {}}, "'question' is required"),
    ({"json": {"question": 42}}, "must be a string"),
    ({"json": {"question": None}}, "must be a string"),
    ({"json": {"question": "   "}}, "must not be empty"),
    ({"json": {"question": "\x00\x01"}}, "must not be empty"),
    ({"json": {"question": "x" * 2001}}, "too long"),
    ({"json": {"question": "hi", "session": 5}}, "'session'"),
])
def test_bad_input_is_a_400_with_a_json_message(client, kwargs, message):
    response = client.post("/api/ask", **kwargs)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_a_question_of_exactly_the_limit_is_answered(client):
    assert client.post("/api/ask", json={"question": "smtp " * 400}).status_code == 200


def test_get_is_not_allowed(client):
    assert client.get("/api/ask").status_code == 405


def test_what_is_reported_is_the_answer_given_when_the_policy_overrules_the_classifier(client, monkeypatch):
    from classifier.model import Prediction

    # The classifier gives up on the question; the policy still answers it (POP3's port), and the
    # reply says so: intent, confidence and fallback describe that answer, not the classifier's doubt.
    ranking = (("smtp_settings", 0.2), ("pop3_enable", 0.15), ("imap_settings", 0.1))
    gave_up = Prediction("smtp_settings", 0.2, ranking, fallback=True, clarify=False)
    monkeypatch.setattr("classifier.model.predict", lambda model, text: gave_up)
    data = ask(client, "can I use port 110 with my old laptop?")
    assert data["answer"]["text"].startswith("No")
    assert not data["fallback"] and data["intent"] == "pop3_enable" and data["confidence"] == 0.15
    assert "pop3_enable" not in [a["intent"] for a in data["alternatives"]]


@pytest.mark.parametrize(
    "question",
    ["Wie aktiviere ich POP3?", "Können Sie POP3 für mein Konto aktivieren?", "Comment activer POP3 ?",
     "Pouvez-vous activer le POP3 sur mon compte ?"],
)
def test_german_and_french_pop3_questions_get_the_policy_answer(client, question):
    data = ask(client, question)
    assert data["intent"] == "pop3_enable" and not data["fallback"]
    assert "not supported" in data["answer"]["text"] and data["settings"]["incoming"]["host"] == SETTINGS.imap.host


@pytest.mark.parametrize(
    ("question", "intent"),
    [("Was ist der Posteingangsserver?", "imap_settings"), ("Quel est le serveur entrant ?", "imap_settings"),
     ("Postausgangsserver Port", "smtp_settings"), ("Quel est le serveur sortant ?", "smtp_settings"),
     ("Welche Einstellungen für Outlook?", "server_settings"),
     ("Quels paramètres pour Thunderbird ?", "server_settings")],
)
def test_german_and_french_settings_questions_reach_the_settings_answers(client, question, intent):
    # The lexicon's spellings turn "Posteingangsserver" and "serveur entrant" into "incoming server".
    data = ask(client, question)
    assert (data["intent"], data["fallback"]) == (intent, False)
    assert data["settings"]
