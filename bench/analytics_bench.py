"""Benchmark what logging a question costs an answer: /api/ask with analytics on and off, in one run.

Run from the repository root:

    .venv/bin/python bench/analytics_bench.py

One app (shipped articles and training data, configured as in production but without JSON
request logs, as in bench/api_bench.py's in-process part) answers the same question mix
through the Flask test client. Logging is switched on and off in blocks, in the order
on, off, off, on, ... so that drift (other load, caches warming) falls on both sides
alike. The background writer keeps running while "off" blocks are timed, exactly as it
would in production between events. Each request is timed from the client's call to the
response; the report gives median and p99 per side and their difference, and checks
that every "on" question really reached the database (SQLite in WAL mode).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_bench import QUESTIONS, percentile  # noqa: E402
from web.state import state  # noqa: E402


def run(rounds: int, block: int) -> dict:
    import sqlalchemy as sa

    from bench.servers import project_app
    from web.extensions import db
    from web.models import Event

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_INSTANCE"] = tmp
        app = project_app(LOG_JSON=False)
        client, events = app.test_client(), state(app).events

        def switch(on: bool) -> None:
            app.config["ANALYTICS_ENABLED"] = events.enabled = on

        for question in QUESTIONS * 3:  # warm caches, lazy imports and the writer thread
            client.post("/api/ask", json={"question": question, "session": "warm-up"})
        events.flush()
        timings: dict[str, list[float]] = {"on": [], "off": []}
        asked = 0
        for round_number in range(rounds):
            order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
            for side in order:
                switch(side == "on")
                for _ in range(block):
                    body = {"question": QUESTIONS[asked % len(QUESTIONS)], "session": f"bench-{side}"}
                    asked += 1
                    started = time.perf_counter()
                    response = client.post("/api/ask", json=body)
                    timings[side].append(time.perf_counter() - started)
                    assert response.status_code == 200
        switch(True)
        assert events.flush(60)
        with app.app_context():
            stored = db.session.scalar(sa.select(sa.func.count()).where(Event.session == "bench-on"))
            journal = db.session.execute(sa.text("PRAGMA journal_mode")).scalar()
        summary_parts = parts(app, events)
    summary = {
        side: {"requests": len(t), "median_ms": statistics.median(t) * 1e3, "p99_ms": percentile(t, 0.99) * 1e3}
        for side, t in timings.items()
    }
    summary["added"] = {
        "median_ms": summary["on"]["median_ms"] - summary["off"]["median_ms"],
        "p99_ms": summary["on"]["p99_ms"] - summary["off"]["p99_ms"],
    }
    summary["stored"] = {
        "events": stored,
        "expected": len(timings["on"]),
        "dropped": events.dropped,
        "failed": events.failed,
        "journal_mode": journal,
    }
    summary["parts"] = summary_parts
    return summary


def parts(app, events, calls: int = 5000) -> dict:
    """Time the two halves of logging apart: recording an answer (build and queue the event), and the writer's work."""
    from web.answering import respond
    from web.events import record_answer

    with app.test_request_context("/api/ask", method="POST", json={"question": QUESTIONS[0], "session": "parts"}):
        answered = respond(QUESTIONS[0])
        events.flush()
        started = time.perf_counter()
        for _ in range(calls):
            record_answer(QUESTIONS[0], answered)
        hook = (time.perf_counter() - started) / calls
    events.flush(60)
    batch = [
        {
            "kind": "ask",
            "channel": "widget",
            "session": "parts",
            "text": f"{q} (mail me at jo@example.com)",
            "intent": "imap_settings",
            "confidence": 0.9,
            "fallback": False,
            "clarify": False,
            "at": None,
        }
        for q in QUESTIONS * 5
    ]
    from web.models import utcnow

    written, started = 0, time.perf_counter()
    for _ in range(20):
        events.write([{**e, "at": utcnow()} for e in batch])
        written += len(batch)
    writer = (time.perf_counter() - started) / written
    return {"hook_us": hook * 1e6, "writer_us_per_event": writer * 1e6, "writer_batch": len(batch)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="pairs of on/off blocks")
    parser.add_argument("--block", type=int, default=250, help="requests per block")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    summary = run(args.rounds, args.block)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"/api/ask, {summary['on']['requests']} requests per side, logging on vs off (in process, one app)")
    print(f"  {'':14} {'median ms':>10} {'p99 ms':>10}")
    for side in ("off", "on", "added"):
        print(f"  {side:14} {summary[side]['median_ms']:10.3f} {summary[side]['p99_ms']:10.3f}")
    stored = summary["stored"]
    print(
        f"  stored {stored['events']} of {stored['expected']} logged questions "
        f"(dropped {stored['dropped']}, failed {stored['failed']}; journal {stored['journal_mode']})"
    )
    print(f"  request's share (hook: build and queue the event): {summary['parts']['hook_us']:.1f} µs per answer")
    print(
        f"  writer's share (redact and insert, batches of {summary['parts']['writer_batch']}): "
        f"{summary['parts']['writer_us_per_event']:.1f} µs per event, in the background thread"
    )
    verdict = "under" if summary["added"]["median_ms"] < 0.5 else "OVER"
    print(f"  median added by logging: {summary['added']['median_ms']:.3f} ms ({verdict} the 0.5 ms target)")


if __name__ == "__main__":
    main()
