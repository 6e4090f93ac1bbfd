"""Shared fixtures: an app on the shipped articles with its index in a temporary folder."""

from __future__ import annotations

import contextlib
import os
import re
import textwrap
import threading
from pathlib import Path

import pytest
import yaml
from werkzeug.serving import make_server

from app import create_app

ROOT = Path(__file__).resolve().parent.parent
# The support team's own text of each article, as published; articles/ restates it.
SOURCE_ARTICLES = ROOT / "tests" / "data" / "source-articles"
TINY_INTENTS = ROOT / "tests" / "data" / "intents.yml"
TINY_RESPONSES = ROOT / "tests" / "data" / "responses.yml"
# The packages that hold no web code, and with the web layer, every package of the app.
DOMAIN_PACKAGES = ("kb", "classifier", "mailclient", "analytics", "replies")
SOURCE_PACKAGES = (*DOMAIN_PACKAGES, "web")


@pytest.fixture(autouse=True)
def _no_flask_env(monkeypatch):
    """Keep a developer's FLASK_* variables out of every test."""
    for name in list(os.environ):
        if name.startswith("FLASK_"):
            monkeypatch.delenv(name)


def make_config(tmp: Path, **overrides) -> dict:
    """Return a test configuration whose state lives under ``tmp``, with a tiny, fast training set."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp / "instance"),
        "INDEX_DIR": str(tmp / "index"),
        "MODEL_PATH": str(tmp / "instance" / "intent_model.joblib"),
        "INTENTS_PATH": str(TINY_INTENTS),
        "RESPONSES_PATH": str(TINY_RESPONSES),
        # Tests ask many questions quickly; the limiter's own test sets low limits.
        "API_RATE_LIMIT": "100000 per minute",
        "ASK_RATE_LIMIT": "100000 per minute",
        "FEEDBACK_RATE_LIMIT": "100000 per minute",
        # Agent passwords: argon2id at its cheapest, so tests do not spend seconds hashing.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 8192,
        "ARGON2_PARALLELISM": 1,
        # No background thread: tests load knowledge versions and run the gate by explicit calls.
        "KNOWLEDGE_POLL_SECONDS": 0,
        **overrides,
    }


@pytest.fixture(scope="session")
def session_app(tmp_path_factory):
    """One app on the shipped articles, built once for the whole run."""
    shipped = {
        "INTENTS_PATH": str(ROOT / "classifier" / "intents.yml"),
        "RESPONSES_PATH": str(ROOT / "kb" / "responses.yml"),
    }
    return create_app(make_config(tmp_path_factory.mktemp("app"), **shipped))


@pytest.fixture
def app(session_app):
    return session_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


DEFAULT_BODY = "Some text.\n\n## A section\n\nMore text.\n"


def write_article(directory: Path, name: str, body: str = DEFAULT_BODY, **front) -> Path:
    """Write ``<name>.md`` with front matter (sensible defaults, overridable) and return its path."""
    meta = {"title": name.replace("-", " ").title(), "summary": f"About {name}.", "updated": "2026-01-31", **front}
    meta = {key: value for key, value in meta.items() if value is not None}
    path = Path(directory) / f"{name}.md"
    text = "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n\n" + textwrap.dedent(body)
    path.write_text(text, encoding="utf-8")
    return path


# --- agent console helpers ------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
AGENT_PASSWORD = "correct horse battery staple"


def csrf_token(client, path: str = "/agent/login") -> str:
    """Fetch a page and return the CSRF token of its (first) form."""
    match = CSRF_RE.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def create_agent(app, email: str, password: str = AGENT_PASSWORD, name: str = "", role: str = "agent") -> None:
    """Create an agent account (``role``: agent or admin) through the CLI, as an administrator would."""
    args = ["create-agent", email, "--password-stdin", "--role", role] + (["--name", name] if name else [])
    result = app.test_cli_runner().invoke(args=args, input=password + "\n")
    assert result.exit_code == 0, result.output


def sign_in(client, email: str, password: str = AGENT_PASSWORD):
    """Submit the sign-in form and return the response."""
    return client.post("/agent/login", data={"csrf_token": csrf_token(client), "email": email, "password": password})


# --- real-browser tests ---------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Put `pytestmark = BROWSER_TESTS` in a module of browser tests: they need Debian's chromium;
# locally they are skipped without it, in CI (CI=true) they always run.
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason=f"{CHROMIUM} is missing: apt-get install chromium (CI always runs these)",
    ),
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium for pytest-playwright (it never downloads a browser)."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@contextlib.contextmanager
def serve(app):
    """Serve ``app`` on a free port of 127.0.0.1 in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
