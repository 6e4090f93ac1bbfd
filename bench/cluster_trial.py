"""The cluster trial: nginx, two app nodes, PostgreSQL and Redis on loopback, under load, with faults. One command.

Run from the repository root (needs Debian's postgresql, redis-server, nginx; about 10 minutes,
or 2 with --short):

    .venv/bin/python bench/cluster_trial.py [--short] [--json results.json]

Everything runs as this user's processes in a scratch folder, on loopback ports: a PostgreSQL
server, a Redis server, two app nodes (gunicorn with the repository's gunicorn.conf.py, two
workers each, their own instance folders, configured as in production) and nginx with
docs/nginx.conf. Python threads send a bounded load through nginx (questions and searches,
each question with a session id of its own, so that its analytics event can be found). While
the load runs, the trial makes one fault at a time and counts what the clients saw: answers
served, errors by kind, answers slower than a second, and for the faults that can lose events,
questions answered against events stored. It also changes the bot's knowledge on one node
(and on both at once) and times how long until both nodes answer every held-out question
identically, starts nodes cold, and starts one with per-node state in production.

It prints one table, writes the figures as JSON with --json, and removes every process and
file it made, on success, failure or Ctrl-C. --short (for CI) uses the tests' tiny training
set, shorter load and fewer cold starts.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import http.cookiejar
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SECRET = "cluster-trial-secret-key-" + uuid.uuid4().hex
AGENT, PASSWORD = "trial@example.com", "trial password 1234"
SLOW_SECONDS = 1.0

# The knowledge changes an agent makes in the trial: a training example of an intent, said a
# little differently ("... please"), so that the gate accepts it (a change that makes any score
# lower is refused, and then there is nothing to spread). Never a held-out question.
CHANGE_INTENTS = ("imap_settings", "smtp_settings", "username", "encryption", "pop3_enable", "server_settings")


def candidate_changes(intents_path: Path) -> list[tuple[str, str]]:
    """Return (intent, new example) pairs made from the first examples of a few intents of the training data."""
    import yaml

    intents = {entry["intent"]: entry["examples"] for entry in yaml.safe_load(intents_path.read_text())["intents"]}
    found = []
    for name in CHANGE_INTENTS:
        for example in intents.get(name, [])[:2]:
            found.append((name, f"{example.rstrip('?.!')} please"))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- the processes -------------------------------------------------------------------------


class Cluster:
    """The services and nodes of one trial, in a scratch folder; ``close`` removes them all."""

    def __init__(self, scratch: Path, short: bool):
        self.scratch = scratch
        self.short = short
        self.groups: dict[str, subprocess.Popen] = {}
        self.pg_port, self.redis_port, self.nginx_port = free_port(), free_port(), free_port()
        self.node_ports = {1: free_port(), 2: free_port()}
        self.pg_bin = PG_BIN[-1].parent
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.database_url = f"postgresql+psycopg://postgres@127.0.0.1:{self.pg_port}/helpcenter"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0?socket_timeout=0.2&socket_connect_timeout=0.2"
        self._engine = None

    # PostgreSQL
    def pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_postgres, str(self.pg_bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def start_postgres(self) -> None:
        data = self.scratch / "pg" / "data"
        sockets = self.scratch / "pg" / "sockets"
        sockets.mkdir(parents=True)
        if self.as_postgres:
            for path in (self.scratch / "pg", sockets):
                shutil.chown(path, "postgres")
        self.pg("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.pg_data, self.pg_sockets = data, sockets
        self.pg_ctl_start()
        self.pg("createdb", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "helpcenter")

    def pg_ctl_start(self) -> None:
        options = f"-p {self.pg_port} -k {self.pg_sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg(
            "pg_ctl",
            "-D",
            str(self.pg_data),
            "-l",
            str(self.scratch / "pg" / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def pg_ctl(self, action: str) -> float:
        """Start, stop or restart (fast stop, then start) the server; return the seconds it took."""
        started = time.monotonic()
        if action in ("stop", "restart"):
            self.pg("pg_ctl", "-D", str(self.pg_data), "-m", "fast", "-w", "-t", "60", "stop")
        if action in ("start", "restart"):
            self.pg_ctl_start()
        return time.monotonic() - started

    @property
    def engine(self):
        if self._engine is None:
            import sqlalchemy as sa

            self._engine = sa.create_engine(self.database_url, pool_pre_ping=True)
        return self._engine

    def query(self, sql: str, **params):
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).all()

    # Redis
    def start_redis(self) -> None:
        self.spawn(
            "redis",
            [
                REDIS,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.scratch),
            ],
            self.scratch / "redis.log",
        )
        wait_port(self.redis_port)

    # Nodes
    def node_env(self, instance: Path, **extra: str) -> dict:
        env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
        env.update(
            FLASK_PRODUCTION="true",
            FLASK_SECRET_KEY=SECRET,
            FLASK_DATABASE_URL=self.database_url,
            FLASK_RATELIMIT_STORAGE_URI=self.redis_url,
            FLASK_PROXY_COUNT="1",
            FLASK_TRUSTED_PROXIES="127.0.0.1",
            FLASK_HELP_CENTER_URL=f"http://127.0.0.1:{self.nginx_port}/",
            FLASK_INSTANCE_PATH=str(instance),
            FLASK_API_RATE_LIMIT="1000000 per minute",
            FLASK_ASK_RATE_LIMIT="1000000 per minute",
            FLASK_SESSION_COOKIE_SECURE="false",
            FLASK_ARGON2_TIME_COST="1",
            FLASK_ARGON2_MEMORY_KIB="8192",
            FLASK_ARGON2_PARALLELISM="1",
            OMP_NUM_THREADS="1",
            OPENBLAS_NUM_THREADS="1",
        )
        if self.short:
            env.update(
                FLASK_INTENTS_PATH=str(ROOT / "tests" / "data" / "intents.yml"),
                FLASK_RESPONSES_PATH=str(ROOT / "tests" / "data" / "responses.yml"),
                FLASK_HELDOUT_PATHS=json.dumps([str(ROOT / "tests" / "data" / "heldout.jsonl")]),
            )
        env.update(extra)
        return env

    def heldout_paths(self) -> list[Path]:
        if self.short:
            return [ROOT / "tests" / "data" / "heldout.jsonl"]
        return [ROOT / "classifier" / "heldout.jsonl", ROOT / "classifier" / "heldout2.jsonl"]

    def start_node(
        self, number: int, port: int | None = None, instance: Path | None = None, name: str | None = None, **extra: str
    ) -> str:
        name = name or f"node{number}"
        port = port or self.node_ports[number]
        instance = instance or self.scratch / name
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.spawn(
            name,
            [
                gunicorn,
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "--pid",
                str(self.scratch / f"{name}.pid"),
                "app:create_app()",
            ],
            self.scratch / f"{name}.log",
            env=self.node_env(instance, **extra),
        )
        return name

    def spawn(self, name: str, argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        with open(log, "a") as out:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.groups[name] = process
        return process

    def send(self, name: str, sig: int, group: bool = False) -> None:
        process = self.groups[name]
        with contextlib.suppress(ProcessLookupError):
            (os.killpg if group else os.kill)(process.pid, sig)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 40) -> float:
        """Signal a process (group) and wait for every process of its group to end; return the seconds it took."""
        started = time.monotonic()
        process = self.groups.pop(name, None)
        if process is None:
            return 0.0
        with contextlib.suppress(ProcessLookupError):
            if sig == signal.SIGKILL:
                os.killpg(process.pid, sig)
            else:
                os.kill(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
        deadline = time.monotonic() + timeout
        while group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return time.monotonic() - started

    # nginx
    def start_nginx(self) -> None:
        site = (ROOT / "docs" / "nginx.conf").read_text(encoding="utf-8")
        site = site.replace("127.0.0.1:8001", f"127.0.0.1:{self.node_ports[1]}")
        site = site.replace("127.0.0.1:8002", f"127.0.0.1:{self.node_ports[2]}")
        site = site.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{self.nginx_port}")
        (self.scratch / "site.conf").write_text(site, encoding="utf-8")
        temp = self.scratch / "nginx-temp"
        temp.mkdir()
        user = "user root;\n" if os.geteuid() == 0 else ""
        paths = "".join(
            f"    {kind}_temp_path {temp / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (self.scratch / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {self.scratch / 'nginx.pid'};\n"
            f"error_log {self.scratch / 'nginx-error.log'} warn;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n    access_log off;\n{paths}    include {self.scratch / 'site.conf'};\n}}\n",
            encoding="utf-8",
        )
        self.spawn(
            "nginx",
            [NGINX, "-c", str(self.scratch / "nginx.conf"), "-p", str(self.scratch)],
            self.scratch / "nginx.log",
        )
        wait_port(self.nginx_port)

    def close(self) -> None:
        for name in list(self.groups):
            process = self.groups.pop(name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        if self._engine is not None:
            self._engine.dispose()
        if hasattr(self, "pg_data"):
            self.pg("pg_ctl", "-D", str(self.pg_data), "-m", "immediate", "-w", "stop", check=False)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # Zombies of the group count as gone.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def children(pid: int) -> list[int]:
    """Return the process ids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def get_json(port: int, path: str, timeout: float = 10) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body.startswith(b"{") else {}
    finally:
        connection.close()


def post_json(port: int, path: str, payload: dict, timeout: float = 10, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, json.dumps(payload), {"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body.startswith(b"{") else {}
    finally:
        connection.close()


def wait_ready(port: int, timeout: float = 300, process: subprocess.Popen | None = None) -> float:
    """Wait until /readyz answers 200 six times in a row (both workers); return the seconds waited."""
    started = time.monotonic()
    streak = 0
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        try:
            status, _ = get_json(port, "/readyz", timeout=5)
            streak = streak + 1 if status == 200 else 0
        except OSError:
            streak = 0
        if streak >= 6:
            return time.monotonic() - started
        time.sleep(0.1 if streak else 0.3)
    raise RuntimeError(f"the server on port {port} did not become ready in {timeout} s")


# --- load --------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str  # ask, search
    started: float
    seconds: float
    status: int | None
    error: str | None
    session: str | None


@dataclass
class Load:
    """Threads sending questions and searches through nginx at a bounded rate, each outcome kept."""

    port: int
    questions: list[str]
    rate: float
    threads: int = 4
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def start(self) -> Load:
        self._stop.clear()
        for number in range(self.threads):
            thread = threading.Thread(target=self._run, args=(number,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(30)
        self._workers = []

    def between(self, start: float, end: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if start <= o.started < end]

    def _run(self, number: int) -> None:
        rng = random.Random(number)
        interval = self.threads / self.rate
        connection = None
        next_at = time.monotonic() + rng.random() * interval
        while not self._stop.is_set():
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            next_at = max(next_at + interval, time.monotonic() - interval)
            question = rng.choice(self.questions)
            kind = "ask" if rng.random() < 0.7 else "search"
            session = uuid.uuid4().hex if kind == "ask" else None
            started = time.monotonic()
            status, error = None, None
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if kind == "ask":
                    body = json.dumps({"question": question, "session": session})
                    connection.request("POST", "/api/ask", body, {"Content-Type": "application/json"})
                else:
                    connection.request("GET", "/api/search?q=" + urllib.parse.quote_plus(question[:80]))
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except TimeoutError:
                error = "timeout"
            except (OSError, http.client.HTTPException) as exc:
                error = type(exc).__name__
            if error is not None and connection is not None:
                connection.close()
                connection = None
            outcome = Outcome(kind, started, time.monotonic() - started, status, error, session)
            with self._lock:
                self.outcomes.append(outcome)
        if connection is not None:
            connection.close()


def summarize(outcomes: list[Outcome]) -> dict:
    """Count answers, errors by kind and slow answers; median and p99 latency of the served ones."""
    errors: dict[str, int] = {}
    served = [o for o in outcomes if o.status == 200]
    for o in outcomes:
        if o.status != 200:
            key = f"HTTP {o.status}" if o.status else o.error or "error"
            errors[key] = errors.get(key, 0) + 1
    times = [o.seconds * 1e3 for o in served]
    return {
        "requests": len(outcomes),
        "served": len(served),
        "failed": len(outcomes) - len(served),
        "errors": errors,
        "slow": sum(o.seconds > SLOW_SECONDS for o in outcomes),
        "p50_ms": round(statistics.median(times), 2) if times else None,
        "p99_ms": round(percentile(times, 0.99), 1) if times else None,
        "max_ms": round(max(times), 1) if times else None,
    }


# --- the trial ---------------------------------------------------------------------------


class Trial:
    def __init__(self, cluster: Cluster, short: bool):
        self.cluster = cluster
        self.short = short
        self.rows: list[dict] = []
        self.questions = [q for path in cluster.heldout_paths() for q in read_questions(path)]
        self.load = Load(cluster.nginx_port, self.questions, rate=30 if short else 40)
        self.load_seconds = 4 if short else 8
        intents = ROOT / "tests" / "data" / "intents.yml" if short else ROOT / "classifier" / "intents.yml"
        self.candidates = candidate_changes(intents)

    def row(self, scenario: str, target: str, passed: bool | None, **figures) -> dict:
        row = {"scenario": scenario, "target": target, "passed": passed, **figures}
        self.rows.append(row)
        status = "ok" if passed else "FAILED" if passed is False else "-"
        print(f"  [{status}] {scenario}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
        return row

    def window(self, action, before: float = 2.0, after: float | None = None) -> tuple[dict, list[Outcome], object]:
        """Run ``action`` while the load runs (``before`` seconds in), then ``after`` more; summarize that window."""
        after = self.load_seconds if after is None else after
        start = time.monotonic()
        time.sleep(before)
        result = action()
        time.sleep(after)
        outcomes = self.load.between(start, time.monotonic() - 0.001)
        return summarize(outcomes), outcomes, result

    def events_check(self, outcomes: list[Outcome], wait: float = 60) -> dict:
        """Compare the questions answered (200) with the events stored for their sessions, waiting for the spools."""
        answered = {o.session for o in outcomes if o.kind == "ask" and o.status == 200}
        if not answered:
            return {"answered": 0, "stored": 0, "lost": 0}
        deadline = time.monotonic() + wait
        while True:
            rows = self.cluster.query(
                "SELECT session, count(*) FROM events WHERE kind = 'ask' AND session = ANY(:sessions) GROUP BY session",
                sessions=list(answered),
            )
            stored = {session: count for session, count in rows}
            lost = len(answered - set(stored))
            if not lost or time.monotonic() > deadline:
                break
            time.sleep(1)
        return {
            "answered": len(answered),
            "stored": len(set(stored)),
            "lost": lost,
            "duplicates": sum(count - 1 for count in stored.values()),
        }

    def run(self) -> None:
        cluster = self.cluster
        print("starting PostgreSQL, Redis, two nodes and nginx", flush=True)
        cluster.start_postgres()
        cluster.start_redis()
        started = time.monotonic()
        for number in (1, 2):
            cluster.start_node(number)
        for number in (1, 2):
            wait_ready(cluster.node_ports[number], process=cluster.groups[f"node{number}"])
        self.row(
            "first start of both nodes (no shipped index or model)",
            "both serve",
            True,
            seconds=round(time.monotonic() - started, 1),
        )
        cluster.start_nginx()
        create_agent(cluster)
        self.load.start()
        try:
            self.steady()
            self.sigterm()
            self.release()
            self.code_release()
            self.kill_node()
            self.database_restart()
            self.redis_faults()
            self.knowledge_change()
            self.two_changes_at_once()
            self.database_down_start()
        finally:
            self.load.stop()
        self.cold_starts()
        self.per_node_state_refused()

    def steady(self) -> None:
        figures, outcomes, _ = self.window(lambda: None, before=0)
        self.baseline_ms = figures["p50_ms"]
        self.row(
            "steady load (baseline)", "no errors", figures["failed"] == 0, **figures, **self.events_check(outcomes)
        )

    def restart_node(self, number: int) -> float:
        self.cluster.start_node(number)
        return wait_ready(self.cluster.node_ports[number], process=self.cluster.groups[f"node{number}"])

    def sigterm(self) -> None:
        figures, outcomes, stopped = self.window(lambda: self.cluster.stop("node2", signal.SIGTERM))
        ready = self.restart_node(2)
        self.row(
            "SIGTERM of node 2 (graceful stop), then started again",
            "0 failed",
            figures["failed"] == 0,
            **figures,
            stop_s=round(stopped, 2),
            restart_s=round(ready, 1),
        )

    def release(self) -> None:
        def hup():
            self.cluster.send("node1", signal.SIGHUP)

        figures, _, _ = self.window(hup, after=self.load_seconds + 2)
        self.row(
            "release: SIGHUP of node 1 (new workers, old ones drained)",
            "0 failed, none over 1 s",
            figures["failed"] == 0 and figures["slow"] == 0,
            **figures,
        )

    def code_release(self) -> None:
        """USR2: a new master on the same socket loads the (new) code and forks; then the old master is stopped."""
        old = self.cluster.groups["node1"]
        pidfile = self.cluster.scratch / "node1.pid.2"

        def upgrade() -> float:
            started = time.monotonic()
            os.kill(old.pid, signal.SIGUSR2)
            while not pidfile.exists() and time.monotonic() - started < 120:
                time.sleep(0.1)
            new = int(pidfile.read_text().strip())
            # Ready: the new master forked its two workers, and they ran their start-up hook.
            while len(children(new)) < 2 and time.monotonic() - started < 180:
                time.sleep(0.1)
            time.sleep(1.0)
            os.kill(old.pid, signal.SIGTERM)
            old.wait(60)
            return time.monotonic() - started

        figures, _, seconds = self.window(upgrade, after=self.load_seconds)
        self.row(
            "release with new code: USR2, then SIGTERM of the old master once the new one serves",
            "0 failed, none over 1 s",
            figures["failed"] == 0 and figures["slow"] == 0,
            **figures,
            switch_s=round(seconds, 1),
        )

    def kill_node(self) -> None:
        figures, outcomes, _ = self.window(lambda: self.cluster.stop("node2", signal.SIGKILL), after=3)
        ready = self.restart_node(2)
        events = self.events_check(outcomes)
        self.row(
            "kill -9 of node 2 (master and workers), then started again",
            "0 events lost",
            events["lost"] == 0,
            **figures,
            **events,
            restart_s=round(ready, 1),
        )

    def database_restart(self) -> None:
        figures, outcomes, seconds = self.window(lambda: self.cluster.pg_ctl("restart"))
        events = self.events_check(outcomes)
        replies = [agent_reply(self.cluster, number) for number in (1, 2) for _ in range(3)]
        self.row(
            "PostgreSQL restart mid-load",
            "0 failed, 0 events lost, /api/reply 200 after",
            figures["failed"] == 0 and events["lost"] == 0 and set(replies) == {200},
            **figures,
            **events,
            restart_s=round(seconds, 2),
            reply_after=",".join(map(str, replies)),
        )

    def redis_faults(self) -> None:
        redis = self.cluster.groups["redis"]
        base, _, _ = self.window(lambda: None, before=0)
        stopped, _, _ = self.window(lambda: self.cluster.stop("redis", signal.SIGTERM), before=0.5)
        self.row("Redis stopped", "0 failed", stopped["failed"] == 0, **stopped, baseline_p50_ms=base["p50_ms"])
        self.cluster.start_redis()
        redis = self.cluster.groups["redis"]
        time.sleep(12)  # past RATELIMIT_STORAGE_RETRY_SECONDS: the nodes use Redis again
        before, _, _ = self.window(lambda: None, before=0)
        hung, _, _ = self.window(lambda: os.kill(redis.pid, signal.SIGSTOP), before=0.5)
        os.kill(redis.pid, signal.SIGCONT)
        time.sleep(1)
        after, _, _ = self.window(lambda: None, before=0)
        reference = statistics.mean([before["p50_ms"], after["p50_ms"]])
        added = round(hung["p50_ms"] - reference, 2)
        self.row(
            "Redis hung (SIGSTOP)",
            "< 5 ms added to the median, 0 failed",
            added < 5 and hung["failed"] == 0,
            **hung,
            added_p50_ms=added,
            reference_p50_ms=round(reference, 2),
        )

    def knowledge_change(self) -> None:
        cluster = self.cluster
        node1 = AgentSession(cluster.node_ports[1])
        refused = 0
        for intent, example in self.candidates[:4]:
            submitted = time.monotonic()
            change = node1.import_examples({intent: [example]})
            decided_at, verdict = wait_decided(cluster, change)
            if verdict == "accepted":
                break
            refused += 1
        version = cluster.query("SELECT max(id) FROM knowledge_versions")[0][0] or 0
        converged, details = self.converge(version, deadline=30)
        self.row(
            "training change on node 1 (queued, gated, shared)",
            "both nodes identical on every held-out question within 30 s of acceptance",
            verdict == "accepted" and converged is not None and converged <= 30,
            gate_s=round(decided_at - submitted, 1),
            verdict=verdict,
            refused_before=refused,
            version=version,
            identical_after_s=round(converged, 1) if converged is not None else None,
            **details,
        )

    def converge(self, version: int, deadline: float) -> tuple[float | None, dict]:
        """Return the seconds until both nodes answer every held-out question alike (None: not within deadline)."""
        started = time.monotonic()
        differing = None
        while time.monotonic() - started < deadline:
            versions = {
                get_json(self.cluster.node_ports[n], "/readyz")[1].get("knowledge_version")
                for n in (1, 2)
                for _ in range(4)
            }
            if versions != {version}:
                time.sleep(0.2)
                continue
            answers = {n: [ask(self.cluster.node_ports[n], q) for q in self.questions] for n in (1, 2)}
            differing = sum(a != b for a, b in zip(answers[1], answers[2], strict=True))
            if differing == 0:
                return time.monotonic() - started, {"questions": len(self.questions), "differing": 0}
        return None, {"questions": len(self.questions), "differing": differing}

    def two_changes_at_once(self) -> None:
        cluster = self.cluster
        changes = self.candidates[-2:]
        sessions = [AgentSession(cluster.node_ports[1]), AgentSession(cluster.node_ports[2])]
        ids: list[int] = [0, 0]
        barrier = threading.Barrier(2)

        def submit(index: int) -> None:
            intent, example = changes[index]
            barrier.wait()
            ids[index] = sessions[index].import_examples({intent: [example]})

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        verdicts = [wait_decided(cluster, change)[1] for change in ids]
        latest = cluster.query("SELECT examples FROM knowledge_versions ORDER BY id DESC LIMIT 1")
        examples = json.loads(latest[0][0]) if latest else {}
        kept = [example in examples.get(intent, []) for intent, example in changes]
        reasons = [cluster.query("SELECT reason FROM knowledge_changes WHERE id = :id", id=i)[0][0] for i in ids]
        # Never silently lost: an accepted change is in the latest version, a refused one says why.
        fine = all(
            (v == "accepted" and k) or (v == "refused" and r) for v, k, r in zip(verdicts, kept, reasons, strict=True)
        )
        self.row(
            "two training changes at once, one on each node",
            "both kept, or refused with a reason",
            fine,
            verdicts="/".join(verdicts),
            reasons=" / ".join(
                r.split(":")[0] + ": " + r.split(":", 1)[1][:60].strip() if ":" in r else r for r in reasons
            ),
            in_latest_version="/".join(map(str, kept)),
        )

    def database_down_start(self) -> None:
        cluster = self.cluster
        cluster.stop("node2", signal.SIGTERM)
        cluster.pg_ctl("stop")
        try:
            cluster.start_node(2)
            ready = wait_ready(cluster.node_ports[2], process=cluster.groups["node2"], timeout=120)
            port = cluster.node_ports[2]
            asked = [post_json(port, "/api/ask", {"question": q})[0] for q in self.questions[:20]]
            searched = [get_json(port, "/api/search?q=imap")[0] for _ in range(5)]
            status, body = get_json(port, "/readyz")
            sign_in = AgentSession(port, sign_in=False).login_status()
        finally:
            cluster.pg_ctl("start")
        time.sleep(3)
        _, after = get_json(cluster.node_ports[2], "/readyz")
        self.row(
            "node 2 starts while PostgreSQL is down",
            "serves asks and searches; /readyz names the database; sign-in 503",
            set(asked) == {200}
            and set(searched) == {200}
            and "database" in body.get("degraded", [])
            and sign_in == 503,
            start_s=round(ready, 1),
            asks=f"{asked.count(200)}/{len(asked)}",
            searches=f"{searched.count(200)}/5",
            readyz=f"{status} {body.get('status')} {body.get('degraded')}",
            sign_in=sign_in,
            readyz_after_start=f"{after.get('status')} {after.get('degraded')}",
        )

    def cold_starts(self) -> None:
        """Start two masters of two workers at once on one empty instance folder, again and again; all must serve."""
        rounds = 2 if self.short else 20
        crashed, times = 0, []
        for number in range(rounds):
            instance = self.cluster.scratch / f"cold-{number}"
            ports = (free_port(), free_port())
            started = time.monotonic()
            names = [
                self.cluster.start_node(
                    0,
                    port=port,
                    instance=instance,
                    name=f"cold-{number}-{i}",
                    FLASK_SINGLE_NODE="true",
                    FLASK_DATABASE_URL="null",
                    FLASK_RATELIMIT_STORAGE_URI="process://",
                )
                for i, port in enumerate(ports)
            ]
            try:
                for name, port in zip(names, ports, strict=True):
                    wait_ready(port, process=self.cluster.groups[name], timeout=300)
                    if post_json(port, "/api/ask", {"question": self.questions[0]})[0] != 200:
                        raise RuntimeError("no answer")
                times.append(time.monotonic() - started)
            except RuntimeError as error:
                crashed += 1
                print(f"    cold start {number + 1}: {error}", flush=True)
            finally:
                for name in names:
                    self.cluster.stop(name)
                shutil.rmtree(instance, ignore_errors=True)
        log = "".join(
            (self.cluster.scratch / f"cold-{n}-{i}.log").read_text(errors="replace")
            for n in range(rounds)
            for i in range(2)
        )
        self.row(
            f"{rounds} cold starts, two masters of 2 workers at once on one empty instance folder",
            "all serve, no worker fails to boot",
            crashed == 0 and "Worker failed to boot" not in log,
            crashed=crashed,
            failed_boots=log.count("Worker failed to boot"),
            median_s=round(statistics.median(times), 1) if times else None,
        )

    def per_node_state_refused(self) -> None:
        results = []
        for overrides, setting in (
            (dict(FLASK_DATABASE_URL="null"), "DATABASE_URL"),
            (dict(FLASK_RATELIMIT_STORAGE_URI="process://"), "RATELIMIT_STORAGE_URI"),
        ):
            env = self.cluster.node_env(self.cluster.scratch / "refused", **overrides)
            done = subprocess.run(
                [sys.executable, "-c", "from app import create_app; create_app()"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            results.append(done.returncode != 0 and setting in done.stderr)
        self.row(
            "PRODUCTION with per-node database or rate limits",
            "refuses to start, naming the setting",
            all(results),
            refused=f"{sum(results)}/{len(results)}",
        )


def read_questions(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ask(port: int, question: str) -> str:
    status, body = post_json(port, "/api/ask", {"question": question})
    return json.dumps([status, body], sort_keys=True)


def create_agent(cluster: Cluster) -> None:
    env = cluster.node_env(cluster.scratch / "node1")
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run(
        [*flask, "create-agent", AGENT, "--role", "admin", "--password-stdin"],
        cwd=ROOT,
        env=env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    done = subprocess.run(
        [*flask, "create-agent-token", AGENT, "--label", "trial"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    cluster.token = done.stdout.strip().splitlines()[0]


def agent_reply(cluster: Cluster, number: int) -> int:
    status, _ = post_json(
        cluster.node_ports[number],
        "/api/reply",
        {"message": "How do I set up IMAP?", "format": "text"},
        headers={"Authorization": f"Bearer {cluster.token}"},
    )
    return status


def wait_decided(cluster: Cluster, change: int, timeout: float = 600) -> tuple[float, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = cluster.query("SELECT status FROM knowledge_changes WHERE id = :id", id=change)
        if rows and rows[0][0] in ("accepted", "refused"):
            return time.monotonic(), rows[0][0]
        time.sleep(0.2)
    return time.monotonic(), "undecided"


CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class AgentSession:
    """An agent signed in on one node directly (not through nginx), as a browser would be."""

    def __init__(self, port: int, sign_in: bool = True):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        if sign_in:
            assert self.login_status() in (200, 302)

    def fetch(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, body, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def login_status(self) -> int:
        status, page = self.fetch("/agent/login")
        if status != 200:
            return status
        status, _ = self.fetch(
            "/agent/login", {"csrf_token": CSRF.search(page).group(1), "email": AGENT, "password": PASSWORD}
        )
        return status

    def import_examples(self, examples: dict[str, list[str]]) -> int:
        _, page = self.fetch("/admin")
        text = json.dumps({"intents": [{"intent": i, "examples": e} for i, e in examples.items()]})
        status, page = self.fetch(
            "/admin/training/import", {"csrf_token": CSRF.search(page).group(1), "examples": text}
        )
        found = re.search(r"Queued as change (\d+)", page)
        if status != 200 or not found:
            raise RuntimeError(f"the change was not queued ({status}): {page[:300]}")
        return int(found.group(1))


def print_table(rows: list[dict]) -> None:
    print(
        "\n| scenario | target | result | served / requests | failed (by kind) | over 1 s | p50 ms | "
        "events answered / stored | more |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    shown = {
        "scenario",
        "target",
        "passed",
        "requests",
        "served",
        "failed",
        "errors",
        "slow",
        "p50_ms",
        "answered",
        "stored",
        "lost",
        "duplicates",
        "p99_ms",
        "max_ms",
    }
    for row in rows:
        result = "pass" if row["passed"] else "FAIL" if row["passed"] is False else ""
        load = f"{row['served']} / {row['requests']}" if "requests" in row else ""
        failed = ""
        if "failed" in row:
            failed = str(row["failed"]) + (
                " (" + ", ".join(f"{k} {v}" for k, v in row["errors"].items()) + ")" if row["errors"] else ""
            )
        events = f"{row['answered']} / {row['stored']}" if "answered" in row else ""
        more = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in row.items() if k not in shown)
        print(
            f"| {row['scenario']} | {row['target']} | {result} | {load} | {failed} | {row.get('slow', '')} | "
            f"{row.get('p50_ms', '') or ''} | {events} | {more} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the CI form: tiny training set, shorter load")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs) after the run")
    args = parser.parse_args()
    missing = [
        name
        for name, path in (
            ("postgresql", PG_BIN),
            ("redis-server", Path(REDIS).exists()),
            ("nginx", Path(NGINX).exists()),
        )
        if not path
    ]
    if missing:
        print(f"missing: {', '.join(missing)} (apt-get install postgresql redis-server nginx)", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="cluster-trial-"))
    scratch.chmod(0o755)  # PostgreSQL runs as its own user when this runs as root
    cluster = Cluster(scratch, args.short)
    cleaned = False

    def clean_up() -> None:
        nonlocal cleaned
        if cleaned:
            return
        cleaned = True
        cluster.close()
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    atexit.register(clean_up)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    trial = Trial(cluster, args.short)
    try:
        trial.run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # report what ran, then fail
        print(f"the trial stopped: {error!r}", file=sys.stderr)
        trial.row("the trial itself", "runs to the end", False, error=repr(error)[:200])
    finally:
        clean_up()
    print_table(trial.rows)
    if args.json:
        args.json.write_text(json.dumps({"short": args.short, "rows": trial.rows}, indent=2), encoding="utf-8")
    return 0 if all(row["passed"] is not False for row in trial.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
