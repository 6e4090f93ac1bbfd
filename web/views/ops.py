"""Operations: liveness and readiness checks for load balancers."""

from __future__ import annotations

from flask import Blueprint, jsonify

from web.state import knowledge, state

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz():
    """Say the process is alive (for a load balancer's liveness check)."""
    return jsonify(status="ok")


@ops.get("/readyz")
def readyz():
    """Say whether this node can take traffic (index and model loaded), and what runs degraded.

    Search and answers need neither the database nor Redis: without them the node is ready,
    and ``degraded`` names what is missing (sign-in, the agent tools and the inbox need the
    database; rate limits are counted per process while Redis fails). Nothing here waits
    for the database: its state is what this process's background thread last found.
    """
    current, app_state = knowledge(), state()
    checks = {"index": current.base.index.ready, "model": current.model is not None}
    ready = all(checks.values())
    degraded = []
    if not app_state.background.database_ok:
        degraded.append("database")
    if app_state.rate_limit_degraded():
        degraded.append("rate_limit_store")
    status = "not ready" if not ready else "degraded" if degraded else "ready"
    body = {"status": status, **checks, "knowledge_version": current.version, "degraded": degraded}
    if app_state.background.database_error:
        body["database_error"] = app_state.background.database_error
    return jsonify(body), 200 if ready else 503
