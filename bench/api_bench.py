"""Benchmark the API: training time, and /api/ask and /api/search beside a bare Flask endpoint.

Run from the repository root:

    .venv/bin/python bench/api_bench.py

1. Training: `classifier.model.train` on the shipped intents (cross-validation included), median of runs.
2. In process: the Flask test client posts the question mix to /api/ask and, alternately, to a
   bare Flask JSON endpoint; median and p99 per request.
3. Under gunicorn (same worker count for every server): wrk, bounded in time, against 127.0.0.1
   only. The project's app runs as in production (PRODUCTION on, security headers, JSON request
   logs written to a file, analytics events stored, the rate limiter on with its limits raised
   above the load). Both servers run side by side, and short rounds alternate between them
   (bare then project, project then bare, ...), so that a change in the machine's load falls on both:
   each round gives a throughput ratio, and the figures are medians over the rounds. Reported:
   requests per second, p50/p99 latency, errors, CPU time of the server's processes per request,
   and each endpoint's throughput as a share of the bare endpoint's.

The question mix is the README's sample questions plus every held-out question (in scope,
off topic, and settings pasted into a question), several hundred different ones; the search
mix is keyword queries plus the shorter held-out questions. A mix this varied keeps the few
bounded caches (rendered answer blocks, snippets, stems) from being all that is measured.
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

SAMPLE_QUESTIONS = [
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


def held_out_questions() -> list[str]:
    """Return the held-out questions, in file order (they are not in the training data)."""
    questions = []
    for name in ("heldout.jsonl", "heldout2.jsonl"):
        for line in (ROOT / "classifier" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["question"])
    return questions


QUESTIONS = SAMPLE_QUESTIONS + held_out_questions()


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
    """Time ``rounds`` passes over the question mix: the first pass is each question's first time."""
    from bench.servers import bare_app, project_app

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_INSTANCE"] = tmp
        # In process neither app logs requests, so the comparison is of the work alone.
        project = project_app(LOG_JSON=False).test_client()
        bare = bare_app().test_client()
        for question in SAMPLE_QUESTIONS:  # lazy imports and first-use set-up
            project.post("/api/ask", json={"question": question})
        timings: dict[str, list[float]] = {"ask": [], "bare": []}
        for i in range(rounds * len(QUESTIONS)):
            body = {"question": QUESTIONS[i % len(QUESTIONS)]}
            for name, client in (("ask", project), ("bare", bare)):
                started = time.perf_counter()
                response = client.post("/api/ask", json=body)
                timings[name].append(time.perf_counter() - started)
                assert response.status_code == 200
    figures = {
        name: {"median_ms": statistics.median(t) * 1e3, "p99_ms": percentile(t, 0.99) * 1e3}
        for name, t in timings.items()
    }
    first = timings["ask"][: len(QUESTIONS)]  # each question's first time
    figures["ask_first"] = {"median_ms": statistics.median(first) * 1e3, "p99_ms": percentile(first, 0.99) * 1e3}
    return figures


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
SEARCHES += [q for q in held_out_questions() if len(q.split()) <= 6]

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
    line = next(row for row in out.splitlines() if row.startswith("RESULT"))
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


def server_cpu_seconds(group: int) -> float:
    """Return the CPU time (user and system) of every process in a process group so far."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[2]) == group:  # field 5 of stat, the process group
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def start_server(
    name: str, target: str, workers: int, env: dict, log_dir: Path, tree: Path = ROOT
) -> tuple[subprocess.Popen, int]:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    port = free_port()
    # The server keeps its own copy of the file; this process needs none once it has started.
    with open(log_dir / f"{name}.log", "w") as log_file:
        server = subprocess.Popen(
            [gunicorn, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", target],
            cwd=tree, env=env, start_new_session=True, stderr=log_file,
        )
    return server, port


def prepare_instance(tree: Path, instance: Path) -> None:
    """Build the index and train the model of ``tree``'s app once, so that its workers start by loading them."""
    code = "from bench.servers import project_app; project_app()"
    env = {**os.environ, "BENCH_INSTANCE": str(instance), "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True, capture_output=True, timeout=600)


def bench_gunicorn(seconds: int, rounds: int, connections: int, workers: int, baseline: Path | None = None) -> dict:
    """Alternate short wrk runs between the bare and the project's server; medians over the rounds.

    With ``baseline`` (a checkout of another commit, e.g. a git worktree), that tree's app runs as a
    third server in the same rounds, so a change is measured against its base side by side.
    """
    if not shutil.which("wrk"):
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    names = ("bare", "project", "baseline") if baseline else ("bare", "project")
    runs: dict[str, list[dict]] = {f"{e}/{n}": [] for e in ("ask", "search") for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        scripts = wrk_scripts(Path(tmp))
        trees = {"project": ROOT, "baseline": baseline}
        servers = {"bare": start_server("bare", "bench.servers:bare_app()", workers, dict(os.environ), Path(tmp))}
        for name in names[1:]:
            # Build the index and train the model once, here, so that gunicorn's workers
            # start by loading them instead of all training at once.
            instance = Path(tmp) / f"instance-{name}"
            prepare_instance(trees[name], instance)
            env = {**os.environ, "BENCH_INSTANCE": str(instance), "PYTHONPATH": str(trees[name])}
            servers[name] = start_server(name, "bench.servers:project_app()", workers, env, Path(tmp), trees[name])
        try:
            for _, port in servers.values():
                wait_ready(port, workers)
            for endpoint, (path, script) in scripts.items():
                for name in names:  # warm up: lazy imports, first-use set-up, caches
                    run_wrk(servers[name][1], path, 2, connections, script)
                for round_number in range(rounds):
                    # Each round starts with another server and the order flips every other round:
                    # a drift in the machine's load does not always fall on the same server.
                    order = names[round_number % len(names) :] + names[: round_number % len(names)]
                    for name in order if round_number % 2 == 0 else reversed(order):
                        server, port = servers[name]
                        cpu = server_cpu_seconds(server.pid)
                        result = run_wrk(port, path, seconds, connections, script)
                        result["cpu_ms"] = (server_cpu_seconds(server.pid) - cpu) / max(1, result["requests"]) * 1e3
                        runs[f"{endpoint}/{name}"].append(result)
        finally:
            for server, _ in servers.values():
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
    results: dict = {}
    for key, rows in runs.items():
        results[key] = {
            **{field: statistics.median(r[field] for r in rows) for field in ("rps", "p50_ms", "p99_ms", "cpu_ms")},
            "errors": sum(r["errors"] for r in rows),
            "requests": sum(r["requests"] for r in rows),
        }
    for endpoint in ("ask", "search"):
        comparisons = [("ratio", "project", "bare")]
        if baseline:
            comparisons += [("baseline_ratio", "baseline", "bare"), ("vs_baseline", "project", "baseline")]
        for key, top, bottom in comparisons:
            pairs = zip(runs[f"{endpoint}/{top}"], runs[f"{endpoint}/{bottom}"], strict=True)
            ratios = [a["rps"] / b["rps"] for a, b in pairs]
            results[f"{endpoint}/{key}"] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="in-process passes over the question mix")
    parser.add_argument("--seconds", type=int, default=4, help="wrk duration per server and round")
    parser.add_argument("--wrk-rounds", type=int, default=5, help="rounds alternating between the servers")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--baseline", type=Path, help="a checkout of another commit to serve beside this one")
    parser.add_argument("--only-gunicorn", action="store_true", help="skip training and the in-process figures")
    args = parser.parse_args()

    figures = {"gunicorn": bench_gunicorn(args.seconds, args.wrk_rounds, args.connections, args.workers, args.baseline)}
    if not args.only_gunicorn:
        figures["training"] = bench_training(args.train_runs)
        figures["in_process"] = bench_in_process(args.rounds)
        print_process_figures(figures, args.rounds)
    print_gunicorn_figures(figures["gunicorn"], args)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


def print_process_figures(figures: dict, rounds: int) -> None:
    t = figures["training"]
    print(f"training: {t['examples']} examples, median {t['median_s']:.2f} s (cross-validation included)")
    ip = figures["in_process"]
    print(f"in process, {len(QUESTIONS)} questions x {rounds}: /api/ask median {ip['ask']['median_ms']:.3f} ms "
          f"p99 {ip['ask']['p99_ms']:.3f} ms (first time: median {ip['ask_first']['median_ms']:.3f} ms); "
          f"bare median {ip['bare']['median_ms']:.3f} ms p99 {ip['bare']['p99_ms']:.3f} ms; "
          f"ratio ask/bare {ip['ask']['median_ms'] / ip['bare']['median_ms']:.2f}x")


def print_gunicorn_figures(g: dict, args) -> None:
    if "skipped" in g:
        print("gunicorn:", g["skipped"])
    else:
        print(f"gunicorn, {args.workers} workers, wrk {args.connections} connections; {args.wrk_rounds} rounds of "
              f"{args.seconds} s per server, alternating; medians over the rounds:")
        header = f"  {'endpoint':14} {'server':8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11}"
        print(header + f" {'errors':>7}")
        servers = ("project", "baseline", "bare") if args.baseline else ("project", "bare")
        for endpoint in ("ask", "search"):
            for server_name in servers:
                r = g[f"{endpoint}/{server_name}"]
                print(f"  /api/{endpoint:9} {server_name:8} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                      f"{r['cpu_ms']:11.2f} {r['errors']:7d}")
            ratio = g[f"{endpoint}/ratio"]
            print(f"  /api/{endpoint} throughput = {ratio['median']:.2f} x bare (rounds {ratio['min']:.2f}-"
                  f"{ratio['max']:.2f}; target at least 0.33)")
            if args.baseline:
                base, versus = g[f"{endpoint}/baseline_ratio"], g[f"{endpoint}/vs_baseline"]
                print(f"  /api/{endpoint} baseline = {base['median']:.2f} x bare; this tree = {versus['median']:.2f} x "
                      f"baseline (rounds {versus['min']:.2f}-{versus['max']:.2f})")


if __name__ == "__main__":
    main()
