"""The app's configuration: every key declared once, with its default, its type and what it means.

Precedence: these defaults, then ``instance/config.py``, then ``FLASK_*`` environment variables
(JSON-typed). A test's ``config`` replaces the instance file and the environment entirely. At start
every value is checked against its declaration: a wrong type or an unknown key stops the app with
a message naming the key, rather than a surprise later. ``docs/configuration.md`` is generated from
this table (``python -m web.config``) and a test keeps the two equal.
"""

from __future__ import annotations

import difflib
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask

import kb

ROOT = Path(__file__).resolve().parent.parent  # the repository: articles/, templates/, static/, instance/
ARTICLE_URL = "/articles/"


class ConfigError(ValueError):
    """A configuration value that the app cannot start with; the message names the key."""


@dataclass(frozen=True)
class InInstance:
    """A default path inside the instance folder, resolved when the app is built."""

    name: str


@dataclass(frozen=True)
class Setting:
    """One configuration key: its default, the types it accepts, and one line of help."""

    name: str
    default: object
    types: tuple[type, ...]
    help: str
    nullable: bool = False
    valid: Callable[[object], bool] | None = None
    rule: str = ""

    def default_for(self, instance_path: str) -> object:
        """Return the default, with instance paths resolved."""
        if isinstance(self.default, InInstance):
            return str(Path(instance_path) / self.default.name)
        if isinstance(self.default, list):
            return list(self.default)
        return self.default

    def problem(self, value: object) -> str | None:
        """Say what is wrong with a value for this key, or None."""
        if value is None:
            return None if self.nullable else f"{self.name} must be set ({self.type_name()}), not null"
        # bool is an int to Python; a flag typed 1 or a count typed true is a mistake either way.
        if isinstance(value, bool) != (bool in self.types) or not isinstance(value, self.types):
            return f"{self.name} must be {self.type_name()}, not {value!r}"
        if list in self.types and isinstance(value, list) and not all(isinstance(v, str) for v in value):
            return f"{self.name} must be a list of strings, not {value!r}"
        if self.valid is not None and not self.valid(value):
            return f"{self.name} must be {self.rule}, not {value!r}"
        return None

    def type_name(self) -> str:
        names = {
            bool: "true or false",
            int: "a whole number",
            float: "a number",
            str: "a string",
            list: "a list of strings",
        }
        words = [names[t] for t in self.types if not (t is int and float in self.types)]
        return " or ".join(words) + (" (or null)" if self.nullable else "")


def is_public_root(value: str) -> bool:
    """Say whether a value is an absolute http(s) URL with a host, and no query, fragment or password."""
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.query
        and not parts.fragment
        and parts.password is None
    )


def _repo(*parts: str) -> str:
    return str(ROOT.joinpath(*parts))


STR, INT, FLOAT, BOOL, STRS = (str,), (int,), (float, int), (bool,), (list,)
POSITIVE = {"valid": lambda v: v > 0, "rule": "above 0"}
NOT_NEGATIVE = {"valid": lambda v: v >= 0, "rule": "0 or more"}
SHARE = {"valid": lambda v: 0 <= v <= 1, "rule": "between 0 and 1"}

SETTINGS: tuple[Setting, ...] = (
    # The app
    Setting(
        "SECRET_KEY",
        None,
        STR,
        "signs sessions and forms; generated once into instance/secret_key "
        "unless set (set it in production, the same on every node)",
        nullable=True,
    ),
    Setting(
        "PRODUCTION",
        False,
        BOOL,
        "refuse to start without a configured SECRET_KEY, and (unless SINGLE_NODE) without a shared "
        "DATABASE_URL and RATELIMIT_STORAGE_URI",
    ),
    Setting(
        "SINGLE_NODE",
        False,
        BOOL,
        "production on one node only: SQLite in the instance folder and rate limits counted by the node are "
        "accepted (off: PRODUCTION refuses to start with state that other nodes would not see)",
    ),
    Setting(
        "INSTANCE_PATH",
        None,
        STR,
        "the instance folder (index, model, spool; read from the FLASK_INSTANCE_PATH environment variable, "
        "tests give their own); default instance/ in the repository",
        nullable=True,
    ),
    Setting(
        "LOG_JSON",
        None,
        BOOL,
        "log lines on stderr as JSON with a request id (true) or as readable text (false); "
        "null: JSON in production (PRODUCTION on, not debug), readable text otherwise (tests capture logs themselves)",
        nullable=True,
    ),
    Setting(
        "PROXY_COUNT", 0, INT, "proxies (load balancers) in front of the app that set X-Forwarded-For", **NOT_NEGATIVE
    ),
    Setting(
        "TRUSTED_PROXIES",
        [],
        (list, str),
        "addresses or networks of those proxies (a list, or one string split at commas); X-Forwarded-* "
        "headers are read only on requests from them, so a client reaching a node directly cannot pick "
        "its own address (required when PROXY_COUNT is above 0)",
    ),
    Setting("MAX_CONTENT_LENGTH", 64 * 1024, INT, "largest request body in bytes; larger ones get a 413", **POSITIVE),
    Setting(
        "SESSION_COOKIE_SECURE",
        None,
        BOOL,
        "send the session cookie over HTTPS only; null: yes in production (PRODUCTION) and on requests made "
        "over HTTPS, so a development run over plain HTTP signs in on any host name",
        nullable=True,
    ),
    # Knowledge base and search
    Setting("ARTICLES_DIR", _repo("articles"), STR, "where the Markdown articles are"),
    Setting("INDEX_DIR", InInstance("index"), STR, "where the search index is built"),
    Setting(
        "MAIL_SETTINGS_PATH",
        str(kb.DEFAULT_SETTINGS_PATH),
        STR,
        "the settings file (hosts, ports) that articles and answers quote",
    ),
    Setting("SYNONYMS_PATH", str(kb.DEFAULT_LEXICON_PATH), STR, "spellings and synonyms shared by search and the bot"),
    Setting("BUILD_INDEX_ON_START", True, BOOL, "build the index (incrementally) on start if missing or stale"),
    Setting("SEARCH_LIMIT", 10, INT, "results per page", **POSITIVE),
    Setting("SEARCH_MAX_LIMIT", 50, INT, "the largest `limit` /api/search accepts", **POSITIVE),
    Setting("SEARCH_MAX_PAGE", 50, INT, "the last page of results one can ask for", **POSITIVE),
    # The answer bot
    Setting("RESPONSES_PATH", str(kb.DEFAULT_RESPONSES_PATH), STR, "the bot's canned answers"),
    Setting("INTENTS_PATH", _repo("classifier", "intents.yml"), STR, "the bot's training data"),
    Setting(
        "MODEL_PATH",
        InInstance("intent_model.joblib"),
        STR,
        "this node's copy of the trained model (only loaded from inside the instance folder)",
    ),
    Setting(
        "HELDOUT_PATHS",
        [_repo("classifier", "heldout.jsonl"), _repo("classifier", "heldout2.jsonl")],
        STRS,
        "held-out questions, never trained on; `flask evaluate` and the change gate score each file",
    ),
    Setting(
        "EXPECTED_OUT_OF_SCOPE_SHARE",
        0.25,
        FLOAT,
        "the share of real questions the bot cannot answer; off-topic "
        "questions weigh this much when thresholds are chosen",
        **SHARE,
    ),
    Setting(
        "THRESHOLD_CALIBRATION_PATHS",
        [],
        STRS,
        "labelled questions written apart from the training data to "
        "choose thresholds on (empty: cross-validation folds); never a HELDOUT_PATHS file",
    ),
    Setting("ASK_MAX_CHARS", 2000, INT, "the longest question /api/ask accepts", **POSITIVE),
    Setting("EVAL_MIN_CV_ACCURACY", 0.80, FLOAT, "`flask evaluate` fails below this cross-validation accuracy"),
    Setting(
        "EVAL_MIN_HELDOUT_ACCURACY",
        0.90,
        FLOAT,
        "`flask evaluate` fails below this in-scope accuracy on any held-out file",
    ),
    Setting(
        "EVAL_MIN_OUT_OF_SCOPE_RECALL",
        0.80,
        FLOAT,
        "`flask evaluate` fails below this out-of-scope recall on any held-out file",
    ),
    Setting(
        "EVAL_MAX_FALSE_REJECT",
        0.08,
        FLOAT,
        "`flask evaluate` fails above this share of answerable questions sent to the fallback",
    ),
    Setting(
        "GATE_TOLERANCE",
        0.0,
        FLOAT,
        "how much lower a score may be after a change to the training data or synonyms (0: not lower at all)",
        **SHARE,
    ),
    Setting(
        "KNOWLEDGE_POLL_SECONDS",
        1.0,
        FLOAT,
        "how often each process asks the database for a new knowledge version and for changes to check "
        "(0: no background thread; versions load at start, changes are checked by `flask import-training`)",
        **NOT_NEGATIVE,
    ),
    Setting(
        "KNOWLEDGE_GATE_ENABLED",
        True,
        BOOL,
        "this node's processes may check queued knowledge changes (one process of the cluster at a time; "
        "it trains for seconds)",
    ),
    # Rate limits
    Setting("RATELIMIT_ENABLED", True, BOOL, "limit /api/* per client address"),
    Setting("API_RATE_LIMIT", "300 per minute", STR, "the limit on /api/* (as the `limits` library reads it)"),
    Setting("ASK_RATE_LIMIT", "60 per minute", STR, "the limit on /api/ask, instead of API_RATE_LIMIT"),
    Setting(
        "FEEDBACK_RATE_LIMIT",
        "10 per minute",
        STR,
        "the limit on anonymous votes (/api/feedback and an article's vote form), instead of API_RATE_LIMIT: "
        "each unhelpful vote becomes a row of the knowledge-gap inbox",
    ),
    Setting(
        "RATELIMIT_STORAGE_URI",
        "node://",
        STR,
        "where limits count: node:// shared by this node's workers (a file in the instance folder), "
        "redis://... across nodes, process:// per process",
    ),
    Setting(
        "RATELIMIT_STORAGE_RETRY_SECONDS",
        10.0,
        FLOAT,
        "after the limit store fails (Redis down or hung), count in each process instead for this long, "
        "then try the store again",
        **NOT_NEGATIVE,
    ),
    Setting(
        "RATELIMIT_HEADERS_ENABLED",
        False,
        BOOL,
        "X-RateLimit-* headers on every API answer (429s carry Retry-After either way)",
    ),
    # The widget
    Setting(
        "WIDGET_ALLOWED_ORIGINS",
        [],
        (list, str),
        "origins whose pages may embed the widget and call /api/* "
        '(a list, or one string split at commas; empty: the app\'s own origin only; "*": any)',
    ),
    Setting(
        "WIDGET_TIMEOUT_SECONDS",
        15,
        FLOAT,
        "how long the widget waits for the API before it offers a retry",
        valid=lambda v: 0 < v <= 120,
        rule="above 0 and at most 120",
    ),
    # Mail clients
    Setting("CHECK_MAX_CHARS", 4000, INT, "the longest settings description the checker reads", **POSITIVE),
    Setting("AUTOCONFIG_CACHE_SECONDS", 3600, INT, "how long mail apps may cache the autoconfig file", **NOT_NEGATIVE),
    # Agents and the database
    Setting("DATABASE_URL", None, STR, "a SQLAlchemy URL; null: SQLite in the instance folder", nullable=True),
    Setting(
        "DATABASE_UPGRADE_ON_START",
        True,
        BOOL,
        "apply the database migrations on start (if the database is down then, as soon as it is back)",
    ),
    Setting(
        "DATABASE_CONNECT_TIMEOUT_SECONDS",
        3,
        FLOAT,
        "how long connecting to PostgreSQL may take before the caller gives up",
        **POSITIVE,
    ),
    Setting(
        "AGENT_MAX_FAILED_LOGINS",
        5,
        INT,
        "failed sign-ins from one client address within the lockout time before each further attempt "
        "from it must wait, twice as long each time (1 s, 2 s, 4 s, ... up to the lockout time)",
        **POSITIVE,
    ),
    Setting(
        "AGENT_MAX_FAILED_LOGINS_PER_ACCOUNT",
        50,
        INT,
        "failed password checks for one account, from all addresses together, within the lockout time "
        "that lock it until the time passes or `flask unlock-agent` (0: never)",
        **NOT_NEGATIVE,
    ),
    Setting(
        "AGENT_LOCKOUT_SECONDS",
        15 * 60,
        INT,
        "the window failed sign-ins count in, the longest wait, and how long an account lock lasts",
        **POSITIVE,
    ),
    Setting(
        "AGENT_SESSION_SECONDS",
        12 * 3600,
        INT,
        "how long a console session lasts after sign-in (sessions are kept in the database; "
        "signing out, a password change and `flask end-sessions` end them)",
        **POSITIVE,
    ),
    Setting("AGENT_MIN_PASSWORD_CHARS", 12, INT, "the shortest password `flask create-agent` accepts", **POSITIVE),
    Setting(
        "ARGON2_TIME_COST",
        3,
        INT,
        "Argon2id passes (RFC 9106's second profile); older hashes are upgraded at sign-in",
        **POSITIVE,
    ),
    Setting("ARGON2_MEMORY_KIB", 64 * 1024, INT, "Argon2id memory in KiB", **POSITIVE),
    Setting("ARGON2_PARALLELISM", 4, INT, "Argon2id lanes", **POSITIVE),
    Setting(
        "REPLY_MESSAGE_MAX_CHARS", 20_000, INT, "the longest pasted mail the console and /api/reply accept", **POSITIVE
    ),
    Setting(
        "HELP_CENTER_URL",
        None,
        STR,
        "the public root of the help center (https://help.example.com), for links in replies and the "
        "autoconfig file; required in production; null: the request's host (development only)",
        nullable=True,
        valid=lambda v: is_public_root(v),
        rule="an http(s) URL with a host and no query, such as https://help.example.com",
    ),
    Setting(
        "WTF_CSRF_TIME_LIMIT", 8 * 3600, INT, "seconds a form stays valid (agents keep the console open)", **POSITIVE
    ),
    # Analytics
    Setting("ANALYTICS_ENABLED", True, BOOL, "store questions, searches, clicks and votes (redacted)"),
    Setting(
        "ANALYTICS_RETENTION_DAYS",
        90,
        INT,
        "events older than this are deleted at start, daily, and by `flask purge-events`",
        **NOT_NEGATIVE,
    ),
    Setting(
        "ANALYTICS_SPOOL_DIR",
        InInstance("spool"),
        STR,
        "where each process appends its events before they are shipped to the database",
    ),
    Setting(
        "ANALYTICS_SPOOL_MAX_BYTES",
        64 * 1024 * 1024,
        INT,
        "events waiting in one process's spool, in bytes; when full, new ones are dropped and counted",
        **POSITIVE,
    ),
    Setting("ANALYTICS_BATCH_SIZE", 500, INT, "events written in one transaction at most", **POSITIVE),
    Setting(
        "ANALYTICS_LINGER_SECONDS",
        0.25,
        FLOAT,
        "how long the writer waits after an event for more to share its transaction",
        **NOT_NEGATIVE,
    ),
    Setting("GAP_LOW_CONFIDENCE", 0.5, FLOAT, "an answer below this confidence counts as a knowledge gap", **SHARE),
    Setting("GAP_WINDOW_DAYS", 30, INT, "how far back the knowledge-gap inbox looks", **POSITIVE),
    Setting("GAP_MAX_SIGNALS", 20_000, INT, "the most failure signals the inbox groups", **POSITIVE),
    Setting("GAP_GROUPS_PER_PAGE", 50, INT, "groups the knowledge-gap inbox shows on one page", **POSITIVE),
    Setting("REPORT_DAYS", 30, INT, "how far back the reports look", **POSITIVE),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}

# Keys that are not ours but may be set: Flask's own, its command line's (FLASK_APP, FLASK_RUN_PORT
# arrive through from_prefixed_env), and the extensions'.
FOREIGN_KEYS = frozenset({"APP", "ENV", "SKIP_DOTENV", "SESSION_PROTECTION"})
FOREIGN_PREFIXES = ("RUN_", "WTF_", "SQLALCHEMY_", "REMEMBER_COOKIE_", "LOGIN_")


def load_config(app: Flask, config: dict | None) -> None:
    """Fill ``app.config`` from the defaults, the instance file and the environment (or ``config``), and check it."""
    app.config.from_mapping({s.name: s.default_for(app.instance_path) for s in SETTINGS})
    if config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.update(config)
    check_config(app.config, Flask.default_config)
    if app.config["PRODUCTION"] and not app.config["HELP_CENTER_URL"]:
        # Links that leave the site (replies, the publicly cached autoconfig file) must not take
        # their host from the request: any client can send any Host header.
        raise ConfigError("PRODUCTION is on but HELP_CENTER_URL is not set: set it to the help center's public root")
    check_shared_state(app.config)


def check_config(config: dict, flask_defaults) -> None:
    """Raise ConfigError naming every unknown key and every value of the wrong type."""
    problems = [p for s in SETTINGS if (p := s.problem(config.get(s.name)))]
    if not problems:
        measured = {Path(p).resolve() for p in config["HELDOUT_PATHS"]}
        problems += [
            f"THRESHOLD_CALIBRATION_PATHS names {path}, a HELDOUT_PATHS file: a file thresholds are tuned on "
            "no longer measures the bot"
            for path in config["THRESHOLD_CALIBRATION_PATHS"]
            if Path(path).resolve() in measured
        ]
    for key in config:
        if key in SETTINGS_BY_NAME or key in flask_defaults or key in FOREIGN_KEYS or key.startswith(FOREIGN_PREFIXES):
            continue
        close = difflib.get_close_matches(key, SETTINGS_BY_NAME, n=1)
        problems.append(f"{key} is not a setting of this app" + (f" (did you mean {close[0]}?)" if close else ""))
    if problems:
        raise ConfigError("configuration: " + "; ".join(problems))


# Rate-limit stores whose counts another node does not see.
NODE_LOCAL_LIMIT_STORES = ("node", "process", "memory")


def check_shared_state(config) -> None:
    """Refuse a production start whose state other nodes would not see, unless SINGLE_NODE says there are none."""
    if not config["PRODUCTION"] or config["SINGLE_NODE"]:
        return
    url = config["DATABASE_URL"]
    if not url or url.startswith("sqlite"):
        raise ConfigError(
            "PRODUCTION is on, so every node must share one database: set DATABASE_URL to the PostgreSQL "
            "server all nodes use (now: " + (url or "unset, meaning SQLite in this node's instance folder") + "), "
            "or set SINGLE_NODE to true if this is the only node"
        )
    scheme = config["RATELIMIT_STORAGE_URI"].split(":", 1)[0]
    if config["RATELIMIT_ENABLED"] and scheme in NODE_LOCAL_LIMIT_STORES:
        raise ConfigError(
            "PRODUCTION is on, so every node must count rate limits in one place: set RATELIMIT_STORAGE_URI to "
            f"the Redis server all nodes use (now: {config['RATELIMIT_STORAGE_URI']}, counted by each node, so "
            "the limits would multiply with the nodes), or set SINGLE_NODE to true if this is the only node"
        )


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


def shown_default(setting: Setting) -> str:
    """Return a setting's default as the docs show it: repository and instance paths relative."""
    default = setting.default
    if isinstance(default, InInstance):
        return f"`instance/{default.name}`"
    if isinstance(default, list):
        return ", ".join(shown_default(Setting("", item, STR, "")) for item in default) or "`[]`"
    if isinstance(default, str) and default.startswith(str(ROOT)):
        return f"`{Path(default).relative_to(ROOT)}`"
    if default is None:
        return "null"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def settings_table() -> str:
    """Return the Markdown table of every setting, as docs/configuration.md holds it."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {shown_default(s)} | {s.help} |" for s in SETTINGS]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(settings_table())
