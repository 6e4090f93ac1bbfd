"""The app's configuration: every key declared once, with its default and what it means."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

import kb

ROOT = Path(__file__).resolve().parent.parent  # the repository: articles/, templates/, static/, instance/


ARTICLE_URL = "/articles/"


def default_config(instance_path: str) -> dict:
    """Return the built-in configuration: everything embedded, nothing external."""
    return {
        "SECRET_KEY": None,
        # In production the secret key must come from configuration, so that every
        # app server signs sessions alike; elsewhere one is generated per install.
        "PRODUCTION": False,
        "ARTICLES_DIR": str(ROOT / "articles"),
        "INDEX_DIR": str(Path(instance_path) / "index"),
        "MAIL_SETTINGS_PATH": str(kb.DEFAULT_SETTINGS_PATH),
        "SYNONYMS_PATH": str(kb.DEFAULT_LEXICON_PATH),
        "SEARCH_LIMIT": 10,
        "SEARCH_MAX_LIMIT": 50,
        "SEARCH_MAX_PAGE": 50,
        "BUILD_INDEX_ON_START": True,
        "RESPONSES_PATH": str(kb.DEFAULT_RESPONSES_PATH),
        "INTENTS_PATH": str(ROOT / "classifier" / "intents.yml"),
        # Held-out questions, written apart from the training data; `flask evaluate` scores each file.
        "HELDOUT_PATHS": [str(ROOT / "classifier" / "heldout.jsonl"), str(ROOT / "classifier" / "heldout2.jsonl")],
        "MODEL_PATH": str(Path(instance_path) / "intent_model.joblib"),
        # Training examples and synonyms added from the knowledge-gap inbox (/admin), merged
        # into INTENTS_PATH and SYNONYMS_PATH when loaded; same formats as those files.
        "INTENTS_OVERLAY_PATH": str(Path(instance_path) / "intents.local.yml"),
        "SYNONYMS_OVERLAY_PATH": str(Path(instance_path) / "synonyms.local.yml"),
        "ASK_MAX_CHARS": 2000,
        # Requests larger than this are refused with 413 before any view reads them.
        "MAX_CONTENT_LENGTH": 64 * 1024,
        # Per client address (see PROXY_COUNT); limit strings as the `limits` library reads them.
        "API_RATE_LIMIT": "300 per minute",
        "ASK_RATE_LIMIT": "60 per minute",
        # Where the rate limiter counts: process:// per process (see ProcessCounts);
        # redis://... shared by all app servers.
        "RATELIMIT_STORAGE_URI": "process://",
        "RATELIMIT_ENABLED": True,
        # X-RateLimit-* headers on every API answer. Off by default since the move from
        # Flask-Limiter (where this app had them on): the widget does not read them, they cost
        # look-ups on every request, and 429 answers carry Retry-After either way.
        "RATELIMIT_HEADERS_ENABLED": False,
        # How many proxies (load balancers) in front of the app set X-Forwarded-For.
        "PROXY_COUNT": 0,
        # JSON log lines with a request id on stderr (off under tests, which capture logs themselves).
        "LOG_JSON": True,
        # `flask evaluate` fails below these (measured figures are in the README).
        "EVAL_MIN_CV_ACCURACY": 0.80,
        "EVAL_MIN_HELDOUT_ACCURACY": 0.90,
        "EVAL_MIN_OUT_OF_SCOPE_RECALL": 0.80,
        "EVAL_MAX_FALSE_REJECT": 0.08,
        # None: a Secure session cookie except in debug and testing (see init_agents).
        "SESSION_COOKIE_SECURE": None,
    }


def init_secret_key(app: Flask) -> None:
    """Use the configured secret key; outside production, make one per install if none is set."""
    if app.config["SECRET_KEY"]:
        return
    if app.config["PRODUCTION"]:
        raise RuntimeError("PRODUCTION is on but SECRET_KEY is not set: set FLASK_SECRET_KEY or instance/config.py")
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        # Written aside and linked into place, so concurrent workers agree on one key.
        tmp = key_file.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    app.config["SECRET_KEY"] = key_file.read_text().strip()
