"""WSGI apps for the load benchmarks: the project's app and a bare Flask JSON endpoint.

Both run under the same gunicorn settings so that only the work per request differs.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request


def project_app():
    """Return the project's app with its state in the benchmark's instance folder."""
    from app import create_app

    instance = os.environ["BENCH_INSTANCE"]
    return create_app({"INSTANCE_PATH": instance, "SECRET_KEY": "bench"})


def bare_app():
    """Return a Flask app whose one endpoint parses a JSON question and answers with a small JSON body."""
    app = Flask(__name__)

    @app.post("/api/ask")
    def ask():
        payload = request.get_json(silent=True) or {}
        return jsonify(intent="bare", question=str(payload.get("question", ""))[:200])

    @app.get("/api/search")
    def search():
        return jsonify(query=request.args.get("q", ""), results=[])

    return app
