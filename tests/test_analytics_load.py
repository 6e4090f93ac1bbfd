"""Under load, nothing is lost: several processes (as gunicorn workers) log events into one SQLite database at once."""

import multiprocessing
import time
from pathlib import Path

import sqlalchemy as sa
from conftest import make_config

from app import create_app
from web.extensions import db
from web.models import Event
from web.state import state

WORKERS = 4
ASKS = 150  # through /api/ask, per worker
RECORDS = 2500  # straight through the event log, per worker


def work(root: str, worker: int) -> tuple[int, int, int, float]:
    """Run in a fresh process: answer questions and log events as fast as possible; report what the log saw."""
    app = create_app(make_config(Path(root)))
    client = app.test_client()
    events = state(app).events
    start = time.perf_counter()
    for n in range(ASKS):
        response = client.post(
            "/api/ask", json={"question": f"how do I enable pop3 #{worker}-{n}", "session": f"worker-{worker}"}
        )
        assert response.status_code == 200
    for n in range(RECORDS):
        events.record(
            kind="search", channel="api", session=f"worker-{worker}", text=f"query {worker}-{n}", results=n % 3
        )
    assert events.flush(timeout=60)
    return events.dropped, events.failed, worker, time.perf_counter() - start


def test_concurrent_writer_processes_lose_no_event(tmp_path):
    app = create_app(make_config(tmp_path))  # trains the model and migrates the database once, before the workers
    # Fresh processes with no thread of this one, forked from a server that imported the app once
    # (importing scikit-learn four times over would take longer than the test itself).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["app", "conftest"])
    with context.Pool(WORKERS) as pool:
        results = pool.starmap(work, [(str(tmp_path), w) for w in range(WORKERS)])
    assert all(dropped == 0 and failed == 0 for dropped, failed, _, _ in results), results
    with app.app_context():
        counts = dict(db.session.execute(sa.select(Event.session, sa.func.count()).group_by(Event.session)).all())
        distinct = db.session.scalar(sa.select(sa.func.count(sa.distinct(Event.text))))
        journal = db.session.execute(sa.text("PRAGMA journal_mode")).scalar()
    assert journal == "wal"
    assert counts == {f"worker-{w}": ASKS + RECORDS for w in range(WORKERS)}
    assert distinct == WORKERS * (ASKS + RECORDS)
    print("seconds per worker:", [round(r[3], 2) for r in results])
