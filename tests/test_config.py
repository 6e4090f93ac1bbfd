"""The configuration table: every key declared once, checked at start, and documented from the same table."""

import re

import pytest
from conftest import ROOT, make_config
from flask import Flask

from app import create_app
from web.config import SETTINGS, ConfigError, load_config, settings_table
from web.state import knowledge, state


def test_the_docs_table_is_the_declared_table():
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    generated = re.search(r"<!-- generated: python -m web.config -->\n(.*)<!-- end of generated table -->", text, re.S)
    assert generated, "docs/configuration.md lost its generated table"
    assert generated.group(1) == settings_table(), "regenerate it: python -m web.config"


def test_every_key_is_declared_once_with_help():
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    assert all(s.help and s.name == s.name.upper() for s in SETTINGS)


def test_every_key_the_code_reads_is_declared():
    declared = {s.name for s in SETTINGS}
    read = set()
    for package in ("web", "kb", "classifier", "mailclient", "analytics", "replies"):
        for path in (ROOT / package).rglob("*.py"):
            read |= set(re.findall(r'config\["([A-Z][A-Z0-9_]+)"\]', path.read_text(encoding="utf-8")))
    flask_own = {"SECRET_KEY_FALLBACKS", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE"}
    flask_own |= {"SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS"}
    assert read - flask_own <= declared


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SEARCH_LIMIT": "ten"}, "SEARCH_LIMIT must be a whole number, not 'ten'"),
        ({"SEARCH_LIMIT": True}, "SEARCH_LIMIT must be a whole number, not True"),
        ({"SEARCH_LIMIT": 0}, "SEARCH_LIMIT must be above 0, not 0"),
        ({"RATELIMIT_ENABLED": 1}, "RATELIMIT_ENABLED must be true or false, not 1"),
        ({"HELDOUT_PATHS": "a.jsonl"}, "HELDOUT_PATHS must be a list of strings"),
        ({"HELDOUT_PATHS": [1]}, "HELDOUT_PATHS must be a list of strings"),
        ({"ASK_MAX_CHARS": None}, "ASK_MAX_CHARS must be set"),
        ({"SEARCH_LIMT": 20}, "SEARCH_LIMT is not a setting of this app (did you mean SEARCH_LIMIT?)"),
        ({"NO_SUCH_THING": 1}, "NO_SUCH_THING is not a setting of this app"),
    ],
)
def test_a_wrong_value_or_an_unknown_key_stops_the_start_with_its_name(tmp_path, override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        create_app(make_config(tmp_path, **override))


def test_every_problem_is_named_at_once(tmp_path):
    with pytest.raises(ConfigError) as error:
        create_app(make_config(tmp_path, SEARCH_LIMIT="ten", GAP_WINDOW_DAYS=-1, WHAT=1))
    assert all(key in str(error.value) for key in ("SEARCH_LIMIT", "GAP_WINDOW_DAYS", "WHAT"))


def test_flask_and_extension_keys_pass_through(tmp_path):
    app = create_app(make_config(tmp_path, DEBUG=False, SESSION_COOKIE_NAME="hc", WTF_CSRF_ENABLED=True))
    assert app.config["SESSION_COOKIE_NAME"] == "hc"


def test_the_instance_file_then_the_environment_override_the_defaults(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text("SEARCH_LIMIT = 20\nSEARCH_MAX_PAGE = 7\n", encoding="utf-8")
    monkeypatch.setenv("FLASK_SEARCH_LIMIT", "25")
    app = Flask("t", instance_path=str(tmp_path), instance_relative_config=True)
    load_config(app, None)
    assert (app.config["SEARCH_LIMIT"], app.config["SEARCH_MAX_PAGE"], app.config["SEARCH_MAX_LIMIT"]) == (25, 7, 50)
    assert app.config["INDEX_DIR"] == str(tmp_path / "index")


def test_environment_values_are_checked_too(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_SEARCH_LIMIT", "-3")
    with pytest.raises(ConfigError, match="SEARCH_LIMIT must be above 0, not -3"):
        load_config(Flask("t", instance_path=str(tmp_path)), None)


def test_thresholds_are_never_tuned_on_a_file_that_measures_the_bot(tmp_path):
    heldout = str(ROOT / "tests" / "data" / "heldout.jsonl")
    with pytest.raises(ConfigError, match="THRESHOLD_CALIBRATION_PATHS names .* a HELDOUT_PATHS file"):
        create_app(make_config(tmp_path, HELDOUT_PATHS=[heldout], THRESHOLD_CALIBRATION_PATHS=[heldout]))


def test_the_model_is_trained_with_the_configured_calibration(tmp_path):
    questions = tmp_path / "calibration.jsonl"
    questions.write_text('{"id": "c1", "question": "turn on pop please", "intents": ["pop3_enable"]}\n')
    config = make_config(tmp_path, THRESHOLD_CALIBRATION_PATHS=[str(questions)], EXPECTED_OUT_OF_SCOPE_SHARE=0.1)
    app = create_app(config)
    calibration = state(app).calibration
    assert calibration.out_of_scope_share == 0.1 and [q.id for q in calibration.questions] == ["c1"]
    assert knowledge(app).model.calibration_key == calibration.key
