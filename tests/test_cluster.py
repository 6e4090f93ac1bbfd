"""Several nodes on one database: knowledge changes queued and gated once, shared models, degraded starts, cold starts.

Two app objects with their own instance folders on one database stand for two nodes.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ROOT, create_agent, csrf_token, make_config, sign_in

from app import create_app
from kb.index import build_index, current_path
from web import leases
from web.config import ConfigError, load_config
from web.extensions import db
from web.knowledge import database_engine, fetch_model, model_key, store_model, sync_knowledge
from web.models import KnowledgeChange, KnowledgeModel, KnowledgeVersion
from web.serving import release_listeners
from web.state import knowledge, state
from web.training import GATE_LEASE, request_change, run_gate

HELD_OUT = str(ROOT / "tests" / "data" / "heldout.jsonl")
QUESTIONS = [json.loads(line)["question"] for line in Path(HELD_OUT).read_text().splitlines() if line.strip()]
# Nothing listens on port 1: connecting is refused at once, as with a PostgreSQL server that is down.
DATABASE_DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/helpcenter"


def node(tmp_path: Path, name: str, database: Path, **overrides):
    """Return an app with an instance folder of its own on the shared database: one node of a cluster."""
    root = tmp_path / name
    config = make_config(root, DATABASE_URL=f"sqlite:///{database}", HELDOUT_PATHS=[HELD_OUT], **overrides)
    return create_app(config)


@pytest.fixture
def nodes(tmp_path):
    database = tmp_path / "shared.db"
    return node(tmp_path, "one", database), node(tmp_path, "two", database)


def answers(app) -> list:
    client = app.test_client()
    return [client.post("/api/ask", json={"question": q}).get_json() for q in QUESTIONS]


def test_a_change_made_on_one_node_is_checked_once_and_answered_alike_on_both(nodes, caplog):
    one, two = nodes
    queued = request_change(one, "lead@example.com", examples={"pop3_enable": ("switch pop on for my mailbox",)})
    assert queued.refused is None and knowledge(one).version == knowledge(two).version == 0
    assert run_gate(two) == 1  # the gate runs wherever the lease is: here on the other node
    with caplog.at_level(logging.INFO, logger="web.knowledge"):
        assert sync_knowledge(one) is True
    assert knowledge(one).version == knowledge(two).version == 1
    assert "trained the intent model" not in caplog.text  # fetched from the database, not trained again
    assert knowledge(one).model.trained_at == knowledge(two).model.trained_at
    assert answers(one) == answers(two)
    with one.app_context():
        change = db.session.execute(sa.select(KnowledgeChange)).scalar_one()
        assert (change.status, change.version, change.author) == ("accepted", 1, "lead@example.com")


def test_two_changes_at_once_on_two_nodes_are_both_kept(nodes):
    one, two = nodes
    first = request_change(one, "a@example.com", examples={"pop3_enable": ("pop please on my phone",)})
    second = request_change(two, "b@example.com", examples={"imap_settings": ("incoming host name please",)})
    assert second.id == first.id + 1
    assert run_gate(one) == 2  # in order: the second is checked on top of the first
    with one.app_context():
        rows = db.session.execute(sa.select(KnowledgeVersion).order_by(KnowledgeVersion.id)).scalars().all()
        statuses = [c.status for c in db.session.execute(sa.select(KnowledgeChange)).scalars()]
    assert [row.id for row in rows] == [1, 2] and statuses == ["accepted", "accepted"]
    assert json.loads(rows[-1].examples) == {
        "pop3_enable": ["pop please on my phone"],
        "imap_settings": ["incoming host name please"],
    }
    sync_knowledge(two)
    names = {i.name: i.examples for i in knowledge(two).training.intents}
    assert "pop please on my phone" in names["pop3_enable"] and "incoming host name please" in names["imap_settings"]


def test_one_process_at_a_time_checks_changes(nodes):
    one, two = nodes
    engine = database_engine(one)
    assert leases.acquire(engine, GATE_LEASE, "another process")
    request_change(one, "a@example.com", examples={"pop3_enable": ("pop on please",)})
    assert run_gate(one) == 0 and run_gate(two) == 0  # someone else holds the gate
    assert not leases.acquire(engine, GATE_LEASE, "a third process")
    leases.release(engine, GATE_LEASE, "another process")
    assert run_gate(two) == 1


def test_a_change_left_checking_by_a_process_that_died_is_checked_again(nodes):
    one, _ = nodes
    engine = database_engine(one)
    queued = request_change(one, "a@example.com", examples={"pop3_enable": ("pop3 on my account please",)})
    with engine.begin() as connection:
        connection.execute(
            sa.update(KnowledgeChange.__table__)
            .where(KnowledgeChange.__table__.c.id == queued.id)
            .values(status="checking", progress="training")
        )
    assert leases.acquire(engine, GATE_LEASE, "a process that died", seconds=-1)  # its lease has run out
    assert run_gate(one) == 1
    with one.app_context():
        assert db.session.get(KnowledgeChange, queued.id).status == "accepted"


def test_a_stored_model_must_carry_this_apps_signature(nodes, caplog):
    one, _ = nodes
    current, calibration = knowledge(one), state(one).calibration
    training, normalizer = current.training, current.base.normalizer
    key = model_key(training, normalizer, calibration)
    engine = database_engine(one)
    with engine.begin() as connection:
        connection.execute(sa.delete(KnowledgeModel.__table__))  # the one this node stored at start
    store_model(engine, "some other secret", key, 0, current.model)
    with caplog.at_level(logging.ERROR, logger="web.knowledge"):
        assert fetch_model(engine, one.config["SECRET_KEY"], key, training, normalizer, calibration) is None
    assert "not signed with this app's secret key" in caplog.text


def test_a_model_stored_by_one_node_is_loaded_by_another(nodes):
    one, _ = nodes
    current, calibration = knowledge(one), state(one).calibration
    key = model_key(current.training, current.base.normalizer, calibration)
    engine = database_engine(one)
    size = store_model(engine, one.config["SECRET_KEY"], key, 0, current.model)
    assert 1000 < size < 5_000_000
    fetched = fetch_model(engine, one.config["SECRET_KEY"], key, current.training, current.base.normalizer, calibration)
    assert fetched.trained_at == current.model.trained_at and fetched.thresholds == current.model.thresholds


def test_the_background_threads_run_the_gate_and_bring_every_node_to_the_new_version(tmp_path):
    database = tmp_path / "shared.db"
    one = node(tmp_path, "one", database, KNOWLEDGE_POLL_SECONDS=0.05)
    two = node(tmp_path, "two", database, KNOWLEDGE_POLL_SECONDS=0.05)
    try:
        for app in (one, two):
            app.test_client().get("/healthz")  # the first request starts the thread
        request_change(one, "a@example.com", examples={"pop3_enable": ("please switch pop3 on",)})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and {knowledge(one).version, knowledge(two).version} != {1}:
            time.sleep(0.05)
        assert knowledge(one).version == knowledge(two).version == 1
        assert answers(one) == answers(two)
    finally:
        for app in (one, two):
            state(app).background.stop()


def test_a_node_starts_and_answers_while_the_database_is_down(tmp_path):
    app = create_app(make_config(tmp_path, DATABASE_URL=DATABASE_DOWN, ANALYTICS_ENABLED=False))
    client = app.test_client()
    assert client.post("/api/ask", json={"question": "how do I enable pop3"}).get_json()["intent"] == "pop3_enable"
    assert client.get("/api/search?q=imap").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "degraded" and ready.get_json()["degraded"] == ["database"]
    assert "Connection refused" in ready.get_json()["database_error"]
    form = {"csrf_token": csrf_token(client), "email": "a@example.com", "password": "x"}
    page = client.post("/agent/login", data=form)
    assert page.status_code == 503 and "Search and answers still work" in page.get_data(as_text=True)
    reply = client.post("/api/reply", json={"message": "hi", "format": "text"}, headers={"Authorization": "Bearer x"})
    assert reply.status_code == 503 and "Search and answers still work" in reply.get_json()["error"]


def test_a_node_restarted_while_the_database_is_down_answers_with_its_last_version(tmp_path):
    database = tmp_path / "shared.db"
    one = node(tmp_path, "one", database)
    request_change(one, "a@example.com", examples={"pop3_enable": ("switch pop on for my mailbox",)})
    run_gate(one)
    assert knowledge(one).version == 1
    before = answers(one)
    config = make_config(
        tmp_path / "one", DATABASE_URL=DATABASE_DOWN, HELDOUT_PATHS=[HELD_OUT], ANALYTICS_ENABLED=False
    )
    restarted = create_app(config)
    assert knowledge(restarted).version == 1
    assert knowledge(restarted).model.trained_at == knowledge(one).model.trained_at  # its own copy, not retrained
    assert answers(restarted) == before


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({}, "set DATABASE_URL to the PostgreSQL server all nodes use (now: unset"),
        ({"DATABASE_URL": "sqlite:///x.db"}, "set DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://db/x"}, "set RATELIMIT_STORAGE_URI to the Redis server"),
    ],
)
def test_production_refuses_state_that_other_nodes_would_not_see(tmp_path, overrides, message):
    from flask import Flask

    config = {"PRODUCTION": True, "SECRET_KEY": "s", "HELP_CENTER_URL": "https://help.example.com", **overrides}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(Flask("x", instance_path=str(tmp_path)), config)
    load_config(Flask("x", instance_path=str(tmp_path)), {**config, "SINGLE_NODE": True})
    shared = {**config, "DATABASE_URL": "postgresql://db/x", "RATELIMIT_STORAGE_URI": "redis://cache:6379/0"}
    load_config(Flask("x", instance_path=str(tmp_path)), shared)


def test_a_hung_rate_limit_store_costs_one_timeout_then_limits_count_in_the_process(tmp_path):
    from limits.storage import Storage

    calls = []

    class Hung(Storage):
        """A rate-limit store that hangs until its timeout, as a Redis server stopped with SIGSTOP does."""

        STORAGE_SCHEME = ["hung-test"]

        @property
        def base_exceptions(self):
            return TimeoutError

        def incr(self, key, expiry, amount=1):
            calls.append(key)
            time.sleep(0.2)
            raise TimeoutError("timed out")

        def get(self, key):
            return 0

        def get_expiry(self, key):
            return time.time()

        def check(self):
            return False

        def reset(self):
            return 0

        def clear(self, key):
            return None

    app = create_app(make_config(tmp_path, RATELIMIT_STORAGE_URI="hung-test://", ASK_RATE_LIMIT="3 per minute"))
    client = app.test_client()
    timings = []
    for _ in range(4):
        started = time.perf_counter()
        timings.append((client.post("/api/ask", json={"question": "hello"}).status_code, time.perf_counter() - started))
    assert [code for code, _ in timings] == [200, 200, 200, 429]  # counted in the process meanwhile
    assert timings[0][1] >= 0.2 and all(seconds < 0.15 for _, seconds in timings[1:])
    assert len(calls) == 1  # the store is skipped after its failure
    assert client.get("/readyz").get_json()["degraded"] == ["rate_limit_store"]


KILLED = """
import json, os, signal, sys
sys.path.insert(0, {root!r})
from app import create_app
app = create_app(json.loads(sys.argv[1]))
client = app.test_client()
for n in range(20):
    body = {{"question": "how do I enable pop3", "session": f"killed-{{n}}"}}
    assert client.post("/api/ask", json=body).status_code == 200
os.kill(os.getpid(), signal.SIGKILL)  # before the writer, which waits a minute, ships anything
"""


def test_answers_of_a_killed_process_reach_the_database_from_its_spool(tmp_path):
    config = make_config(tmp_path, ANALYTICS_LINGER_SECONDS=60)
    create_app(config)  # build and train once, before the process that will be killed
    done = subprocess.run(
        [sys.executable, "-c", KILLED.format(root=str(ROOT)), json.dumps(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == -9, done.stderr[-2000:]
    spools = list(Path(config["INSTANCE_PATH"], "spool").glob("events-*.jsonl"))
    assert len(spools) == 1 and spools[0].read_text().count("\n") == 20
    restarted = create_app(config)
    assert state(restarted).events.ship_orphans() == 20
    with restarted.app_context():
        sessions = db.session.execute(sa.text("SELECT session FROM events WHERE kind = 'ask'")).scalars().all()
    assert sorted(sessions) == sorted(f"killed-{n}" for n in range(20))
    assert not list(Path(config["INSTANCE_PATH"], "spool").glob("events-*.jsonl"))  # shipped and removed
    assert state(restarted).events.ship_orphans() == 0


def test_a_full_spool_drops_new_events_and_counts_them(tmp_path):
    app = create_app(make_config(tmp_path, ANALYTICS_SPOOL_MAX_BYTES=1500, ANALYTICS_LINGER_SECONDS=0))
    with app.app_context():
        db.session.execute(sa.text("ALTER TABLE events RENAME TO events_away"))
        db.session.commit()
    client = app.test_client()
    for n in range(20):
        assert client.post("/api/ask", json={"question": f"imap port {n}"}).status_code == 200
    events = state(app).events
    assert events.dropped > 0
    with app.app_context():
        db.session.execute(sa.text("ALTER TABLE events_away RENAME TO events"))
        db.session.commit()
    assert events.flush(timeout=10)
    with app.app_context():
        stored = db.session.scalar(sa.text("SELECT count(*) FROM events"))
    assert stored + events.dropped == 20 and stored > 0


STARTER = """
import json, logging, sys, time
sys.path.insert(0, {root!r})
from app import create_app
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # every process starts building at the same moment
app = create_app(json.loads(sys.argv[1]))
answer = app.test_client().post("/api/ask", json={{"question": "how do I enable pop3"}}).get_json()
print("ANSWER", answer["intent"])
"""


def test_processes_starting_at_once_on_an_empty_instance_folder_build_once_and_all_serve(tmp_path):
    config = make_config(tmp_path)
    start = time.time() + 6  # after every process has imported the app
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER.format(root=str(ROOT)), json.dumps(config), str(start)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    assert all("ANSWER pop3_enable" in output for output in outputs)
    text = "".join(outputs)
    assert text.count("trained the intent model") == 1, text
    assert text.count("index was missing or stale") == 1, text


def test_index_builds_at_once_leave_one_valid_index_and_no_half_build(tmp_path):
    app = create_app(make_config(tmp_path))
    library = knowledge(app).base.library
    errors = []

    def build():
        try:
            build_index(library, tmp_path / "many", full=True)
        except Exception as error:  # noqa: BLE001 - any failure is the finding
            errors.append(error)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    live = current_path(tmp_path / "many")
    assert live is not None and (live / "manifest.json").is_file()
    assert len(list((tmp_path / "many").glob("build-*"))) <= 2  # the live build and the one before


def test_a_stopping_worker_lets_go_of_the_listening_socket_at_once():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # accepted into the backlog while the worker holds the socket
    release_listeners([listener])
    try:
        assert listener.getsockname()[1] != port  # the descriptor now names an idle socket of its own
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # the worker's loop finds nothing to accept, and ends
    finally:
        listener.close()


def test_the_inbox_shows_a_queued_change_and_reloads_until_its_verdict(tmp_path):
    app = node(tmp_path, "one", tmp_path / "shared.db")
    create_agent(app, "lead@example.com", role="admin")
    client = app.test_client()
    sign_in(client, "lead@example.com")
    request_change(app, "lead@example.com", examples={"pop3_enable": ("pop3 on please, for my account",)})
    page = client.get("/admin").get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "waiting for the gate" in page
    run_gate(app)
    page = client.get("/admin").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and "accepted (version 1)" in page


def test_an_older_releases_instance_files_are_queued_once(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "intents.local.yml").write_text("intents:\n- intent: pop3_enable\n  examples: [pop on, old file]\n")
    app = create_app(make_config(tmp_path, HELDOUT_PATHS=[HELD_OUT]))
    assert (instance / "intents.local.yml.imported").exists() and not (instance / "intents.local.yml").exists()
    with app.app_context():
        change = db.session.execute(sa.select(KnowledgeChange)).scalar_one()
    assert change.author == "instance file intents.local.yml" and change.status == "pending"
    create_app(make_config(tmp_path, HELDOUT_PATHS=[HELD_OUT]))  # a second start queues nothing more
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(KnowledgeChange)) == 1


def test_gunicorn_reads_the_repositorys_settings():
    settings = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 - our own file
    assert settings["preload_app"] is True and settings["max_requests"] == 0
    assert callable(settings["post_worker_init"]) and callable(settings["on_reload"])


def test_the_server_hooks_leave_other_wsgi_apps_alone():
    from flask import Flask

    from web.serving import flask_app

    assert flask_app(Flask("bare")) is None and flask_app(lambda environ, start: []) is None


def test_a_process_of_its_own_can_check_the_queue(nodes):
    one, two = nodes
    request_change(two, "a@example.com", examples={"pop3_enable": ("switch pop on for my mailbox",)})
    result = one.test_cli_runner().invoke(args=["check-changes"])
    assert result.exit_code == 0 and "1 change checked" in result.output
    assert knowledge(one).version == 1
