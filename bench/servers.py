"""WSGI apps for the load benchmarks: the project's app and a bare Flask JSON endpoint.

Both run under the same gunicorn settings so that only the work per request differs.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request


def project_app(**overrides):
    """Return the project's app configured as in production, with its state in the benchmark's instance folder.

    Security headers and JSON request logs are on; the rate limiter is on with limits
    raised above what the load generator sends from one address.
    """
    from app import create_app

    instance = os.environ["BENCH_INSTANCE"]
    return create_app(
        {
            "INSTANCE_PATH": instance,
            "SECRET_KEY": "bench-secret-key",
            "PRODUCTION": True,
            "HELP_CENTER_URL": "http://127.0.0.1/",
            "SINGLE_NODE": True,
            "LOG_JSON": True,
            "API_RATE_LIMIT": "10000000 per minute",
            "ASK_RATE_LIMIT": "10000000 per minute",
            **overrides,
        }
    )


def bare_app():
    """Return a Flask app whose one endpoint parses a JSON question and answers with a small JSON body."""
    app = Flask(__name__)

    @app.post("/api/ask")
    def ask():
        payload = request.get_json(silent=True) or {}
        return jsonify(intent="bare", question=str(payload.get("question", ""))[:200])

    @app.get("/readyz")
    def ready():
        return jsonify(status="ready")

    @app.get("/api/search")
    def search():
        return jsonify(query=request.args.get("q", ""), results=[])

    return app
