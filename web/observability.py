"""Logs and request ids: one line per record, naming its request; JSON in production, readable text in development."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time

import click
from flask import Flask, g, has_request_context, request
from werkzeug.middleware.proxy_fix import ProxyFix

# Terminal colour codes (Werkzeug colours its own lines): kept out of JSON logs.
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


class RequestContextFilter(logging.Filter):
    """Add the current request's id to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """Write one JSON object per log line, so logs can be searched by field."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": ANSI_RE.sub("", record.getMessage()),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Write one readable line per record for a developer's terminal: time, level, logger, message."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).rstrip("\n")


class DevServerRequestLines(logging.Filter):
    """Drop the development server's own line per request: the app's access line says the same, and more."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and " - - [" in record.msg)


REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


access_log = logging.getLogger("access")


def log_as_json(app: Flask) -> bool:
    """Say whether log lines are JSON: as configured, else in production outside debug."""
    configured = app.config["LOG_JSON"]
    return bool(app.config["PRODUCTION"] and not app.debug) if configured is None else configured


def init_logging(app: Flask) -> None:
    """Send log records to stderr, one line each, once per process (tests capture logs themselves)."""
    if app.testing:
        return
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter | TextFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_as_json(app) else TextFormatter())
    handler.addFilter(RequestContextFilter())
    root.addHandler(handler)
    # A `flask` command other than `run` prints its own output: start-up chatter stays out of it.
    command = click.get_current_context(silent=True)
    root.setLevel(logging.WARNING if command is not None and command.info_name != "run" else logging.INFO)
    logging.getLogger("werkzeug").addFilter(DevServerRequestLines())


def init_observability(app: Flask) -> None:
    """Give every request an id (from X-Request-ID if sane), log one line per request, and trust configured proxies."""
    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    init_logging(app)

    @app.before_request
    def start_request():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID_RE.match(incoming) else secrets.token_hex(16)
        g.started = time.perf_counter()

    @app.after_request
    def finish_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access_log.info(
            "%s %s %s %.1f ms",
            request.method,
            request.path,
            response.status_code,
            elapsed,
            extra={
                "fields": {
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round(elapsed, 2),
                }
            },
        )
        return response
