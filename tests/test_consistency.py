"""Data that must agree: intents and responses, placeholders and settings, hosts and ports in one place."""

import re

from conftest import ROOT, SOURCE_PACKAGES

from classifier.data import OUT_OF_SCOPE, load_intents
from kb import DEFAULT_SETTINGS_PATH
from kb.answers import SPECIAL, load_responses
from kb.settings import load_settings, unknown_placeholders
from web.state import knowledge

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)
RESPONSES = load_responses(ROOT / "kb" / "responses.yml")
INTENTS = load_intents(ROOT / "classifier" / "intents.yml")


def test_every_intent_has_a_response_and_every_response_an_intent():
    intents = set(INTENTS.names) - {OUT_OF_SCOPE}
    assert intents == set(RESPONSES) - set(SPECIAL)


def test_every_placeholder_resolves():
    for intent, response in RESPONSES.items():
        assert unknown_placeholders(response.text, SETTINGS) == [], intent


def test_every_suggestion_is_a_question_the_bot_routes(app):
    from classifier.model import predict

    base, model = knowledge(app).base, knowledge(app).model
    asks = {r.ask: i for i, r in RESPONSES.items() if r.ask}
    for intent, response in RESPONSES.items():
        for suggestion in response.suggestions:
            assert suggestion in asks, (intent, suggestion)
    for ask, intent in asks.items():
        assert predict(model, base.normalizer.normalize(ask)).intent == intent, ask


def test_no_host_name_or_port_is_written_outside_the_settings_file():
    hosts = {SETTINGS.imap.host, SETTINGS.smtp.host}
    ports = {str(p) for p in (SETTINGS.imap.port, SETTINGS.smtp.port, SETTINGS.smtp.alt_port) if p}
    places = list((ROOT / "articles").glob("*.md")) + [ROOT / "kb" / "responses.yml"]
    places += list((ROOT / "templates").rglob("*.html")) + list((ROOT / "static").glob("*.*"))
    places += [p for package in SOURCE_PACKAGES for p in (ROOT / package).rglob("*.py")] + [ROOT / "app.py"]
    for path in places:
        text = path.read_text(encoding="utf-8")
        for host in hosts:
            assert host not in text, f"{path.name} names {host}"
        for port in ports:
            assert not re.search(rf"(?<![\d.]){port}(?![\d])", text), f"{path.name} writes port {port}"
