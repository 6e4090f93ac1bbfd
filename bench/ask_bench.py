"""Benchmark the answer bot: training time, and /api/ask beside a bare Flask endpoint.

Run from the repository root:

    .venv/bin/python bench/ask_bench.py

1. Training: `classifier.model.train` on the shipped intents (cross-validation included), median of runs.
2. In process: the Flask test client posts a fixed mix of in-scope and off-topic questions to
   /api/ask and, alternately, to a bare Flask JSON endpoint; median and p99 per request.
3. Under gunicorn (same worker count for both): wrk, bounded in time, against 127.0.0.1 only,
   posting the same mix; requests per second, latency percentiles and errors, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "how do I enable POP3",
    "smtp port",
    "what is the incoming mail server for thunderbird",
    "which username do I use",
    "Sending fails with relay access denied",
    "do I need SSL",
    "outlook keeps asking for my password and won't connect",
    "IMAP or POP - which one should I pick?",
    "I forgot my password",
    "what's the weather in Paris",
    "how much does the premium plan cost",
    "how do I forward my mail to another address",
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench_training(runs: int) -> dict:
    from classifier.data import load_intents, vocabulary
    from classifier.model import train
    from kb import load_knowledge_base

    data = load_intents(ROOT / "classifier" / "intents.yml")
    with tempfile.TemporaryDirectory() as tmp:
        base = load_knowledge_base(ROOT / "articles", tmp, extra_vocabulary=vocabulary(data))
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            train(data, base.normalizer.normalize)
            times.append(time.perf_counter() - started)
    return {"examples": sum(len(i.examples) for i in data.intents), "median_s": statistics.median(times)}


def bench_in_process(rounds: int) -> dict:
    from app import create_app
    from bench.servers import bare_app

    with tempfile.TemporaryDirectory() as tmp:
        project = create_app({"INSTANCE_PATH": tmp, "SECRET_KEY": "bench"}).test_client()
        bare = bare_app().test_client()
        for question in QUESTIONS:  # warm caches and lazy imports
            project.post("/api/ask", json={"question": question})
        timings: dict[str, list[float]] = {"ask": [], "bare": []}
        for i in range(rounds * len(QUESTIONS)):
            body = {"question": QUESTIONS[i % len(QUESTIONS)]}
            for name, client in (("ask", project), ("bare", bare)):
                started = time.perf_counter()
                response = client.post("/api/ask", json=body)
                timings[name].append(time.perf_counter() - started)
                assert response.status_code == 200
    return {
        name: {"median_ms": statistics.median(t) * 1e3, "p99_ms": percentile(t, 0.99) * 1e3}
        for name, t in timings.items()
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


WRK_SCRIPT = """
local bodies = {%s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i %% #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%.1f %%.1f %%.1f\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99), requests.mean))
end
"""


def run_wrk(port: int, path: str, seconds: int, connections: int, script: Path) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    requests, status_errors, socket_errors, duration_us, p50, p99, _ = line.split()[1:]
    seconds_run = float(duration_us) / 1e6
    return {
        "requests": int(requests),
        "rps": int(requests) / seconds_run,
        "p50_ms": float(p50) / 1e3,
        "p99_ms": float(p99) / 1e3,
        "errors": int(status_errors) + int(socket_errors),
    }


def bench_gunicorn(seconds: int, connections: int, workers: int) -> dict:
    if not shutil.which("wrk"):
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "ask.lua"
        bodies = ", ".join(json.dumps(json.dumps({"question": q})) for q in QUESTIONS)
        script.write_text(WRK_SCRIPT % bodies)
        instance = Path(tmp) / "instance"
        env = {**os.environ, "BENCH_INSTANCE": str(instance)}
        # Build the index and train the model once, here, so that gunicorn's workers
        # start by loading them instead of all training at once.
        from app import create_app

        create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": "bench"})
        for name, target in (("ask", "bench.servers:project_app()"), ("bare", "bench.servers:bare_app()")):
            port = free_port()
            server = subprocess.Popen(
                [gunicorn, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", target],
                cwd=ROOT, env=env, start_new_session=True,
            )
            try:
                wait_for(port)
                run_wrk(port, "/api/ask", 2, connections, script)  # warm-up
                results[name] = run_wrk(port, "/api/ask", seconds, connections, script)
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
    results["ratio"] = results["ask"]["rps"] / results["bare"]["rps"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=50, help="in-process rounds over the question mix")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    figures = {
        "training": bench_training(args.train_runs),
        "in_process": bench_in_process(args.rounds),
        "gunicorn": bench_gunicorn(args.seconds, args.connections, args.workers),
    }
    t = figures["training"]
    print(f"training: {t['examples']} examples, median {t['median_s']:.2f} s (cross-validation included)")
    ip = figures["in_process"]
    print(f"in process: /api/ask median {ip['ask']['median_ms']:.3f} ms p99 {ip['ask']['p99_ms']:.3f} ms; "
          f"bare median {ip['bare']['median_ms']:.3f} ms p99 {ip['bare']['p99_ms']:.3f} ms; "
          f"ratio ask/bare {ip['ask']['median_ms'] / ip['bare']['median_ms']:.2f}x")
    g = figures["gunicorn"]
    if "skipped" in g:
        print("gunicorn:", g["skipped"])
    else:
        for name in ("ask", "bare"):
            r = g[name]
            print(f"gunicorn {args.workers} workers, {name:4}: {r['rps']:8.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                  f"p99 {r['p99_ms']:.2f} ms  errors {r['errors']}")
        print(f"throughput ratio /api/ask / bare: {g['ratio']:.2f} (target at least 0.33)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
