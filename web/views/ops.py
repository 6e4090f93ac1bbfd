"""Operations: liveness and readiness checks for load balancers."""

from __future__ import annotations

from flask import Blueprint, jsonify

from web.state import knowledge

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz():
    """Say the process is alive (for a load balancer's liveness check)."""
    return jsonify(status="ok")


@ops.get("/readyz")
def readyz():
    """Say whether the index and the model are loaded, so this node can take traffic."""
    current = knowledge()
    checks = {"index": current.base.index.ready, "model": current.model is not None}
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "not ready", **checks), 200 if ready else 503
