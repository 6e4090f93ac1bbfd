"""Benchmark the API: training time, and /api/ask and /api/search beside a bare Flask endpoint.

Run from the repository root:

    .venv/bin/python bench/api_bench.py

1. Training: `classifier.model.train` on the shipped intents (cross-validation included), median of runs.
2. In process: the Flask test client posts a fixed mix of in-scope and off-topic questions to
   /api/ask and, alternately, to a bare Flask JSON endpoint; median and p99 per request.
3. Under gunicorn (same worker count for every server): wrk, bounded in time, against 127.0.0.1
   only. /api/ask gets the same question mix; /api/search a mix of queries. The project's app runs
   as in production (PRODUCTION on, security headers, JSON request logs written to a file, the rate
   limiter on with its limits raised above the load). Requests per second, latency percentiles,
   errors, and each endpoint's throughput as a share of the bare endpoint's.
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
import urllib.request
from pathlib import Path
from urllib.parse import quote_plus

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
    from bench.servers import bare_app, project_app

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_INSTANCE"] = tmp
        # In process neither app logs requests, so the comparison is of the work alone.
        project = project_app(LOG_JSON=False).test_client()
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


def wait_ready(port: int, workers: int, timeout: float = 180.0) -> None:
    """Wait until /readyz answers 200 as many times in a row as there are workers."""
    deadline, streak = time.time() + timeout, 0
    while time.time() < deadline and streak < workers * 3:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                streak = streak + 1 if response.status == 200 else 0
        except OSError:
            streak = 0
            time.sleep(0.3)
    if streak < workers * 3:
        raise RuntimeError(f"server on port {port} did not become ready")


SEARCHES = ["imap settings", "smtp port", "pop3", "outgoing server", "smtp authentification", "username",
            "ssl", "how do I enable pop3", "common mistakes", "password", "xyzzy", "sync across devices"]

WRK_POST = """
local bodies = {%s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i %% #bodies) + 1])
end"""

WRK_GET = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end"""

WRK_DONE = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %.1f %.1f %.1f\\n", summary.requests, summary.errors.status,
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


def wrk_scripts(directory: Path) -> dict[str, tuple[str, Path]]:
    """Write the wrk scripts: name -> (path to request, script)."""
    ask = directory / "ask.lua"
    ask.write_text(WRK_POST % ", ".join(json.dumps(json.dumps({"question": q})) for q in QUESTIONS) + WRK_DONE)
    search = directory / "search.lua"
    paths = [f"/api/search?q={quote_plus(q)}" for q in SEARCHES]
    search.write_text(WRK_GET % ", ".join(json.dumps(p) for p in paths) + WRK_DONE)
    return {"ask": ("/api/ask", ask), "search": ("/api/search?q=imap", search)}


def bench_gunicorn(seconds: int, connections: int, workers: int) -> dict:
    if not shutil.which("wrk"):
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        scripts = wrk_scripts(Path(tmp))
        instance = Path(tmp) / "instance"
        env = {**os.environ, "BENCH_INSTANCE": str(instance)}
        # Build the index and train the model once, here, so that gunicorn's workers
        # start by loading them instead of all training at once.
        from bench.servers import project_app

        os.environ["BENCH_INSTANCE"] = str(instance)
        project_app()
        for server_name, target in (("project", "bench.servers:project_app()"), ("bare", "bench.servers:bare_app()")):
            port = free_port()
            log_file = open(Path(tmp) / f"{server_name}.log", "w")  # noqa: SIM115 (closed below)
            server = subprocess.Popen(
                [gunicorn, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", target],
                cwd=ROOT, env=env, start_new_session=True, stderr=log_file,
            )
            try:
                wait_ready(port, workers)
                for endpoint, (path, script) in scripts.items():
                    run_wrk(port, path, 2, connections, script)  # warm-up
                    results[f"{endpoint}/{server_name}"] = run_wrk(port, path, seconds, connections, script)
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
                log_file.close()
    for endpoint in ("ask", "search"):
        results[f"{endpoint}/ratio"] = results[f"{endpoint}/project"]["rps"] / results[f"{endpoint}/bare"]["rps"]
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
        print(f"gunicorn, {args.workers} workers, wrk {args.connections} connections for {args.seconds} s each:")
        print(f"  {'endpoint':14} {'server':8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for endpoint in ("ask", "search"):
            for server_name in ("project", "bare"):
                r = g[f"{endpoint}/{server_name}"]
                print(f"  /api/{endpoint:9} {server_name:8} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7d}")
            print(f"  /api/{endpoint} throughput = {g[f'{endpoint}/ratio']:.2f} x bare (target at least 0.33)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
