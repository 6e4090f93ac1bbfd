import pytest
from conftest import make_config

from app import create_app
from web.state import knowledge


def test_first_start_builds_the_missing_index(tmp_path):
    app = create_app(make_config(tmp_path))
    assert knowledge(app).base.index.ready
    assert (tmp_path / "index" / "CURRENT").exists()


def test_config_argument_replaces_instance_file_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_SEARCH_LIMIT", "3")
    app = create_app(make_config(tmp_path))
    assert app.config["SEARCH_LIMIT"] == 10


def test_environment_overrides_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_SEARCH_LIMIT", "3")
    monkeypatch.setenv("FLASK_INDEX_DIR", str(tmp_path / "env-index"))
    monkeypatch.setenv("FLASK_SECRET_KEY", "from-env")
    app = create_app()
    assert app.config["SEARCH_LIMIT"] == 3 and app.config["SECRET_KEY"] == "from-env"


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(
            make_config(
                tmp_path,
                SECRET_KEY=None,
                PRODUCTION=True,
                SINGLE_NODE=True,
                TESTING=False,
                HELP_CENTER_URL="https://help.example.com",
            )
        )


def test_outside_production_a_secret_key_is_made_once_per_install(tmp_path):
    first = create_app(make_config(tmp_path, SECRET_KEY=None))
    second = create_app(make_config(tmp_path, SECRET_KEY=None))
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] and len(first.config["SECRET_KEY"]) == 64
