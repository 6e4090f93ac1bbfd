"""The analytics tables, inbox, reports and retention on PostgreSQL (a throwaway server on a Unix socket)."""

import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ROOT, create_agent, make_config, sign_in

from app import create_app
from web.extensions import db
from web.models import Event, KnowledgeChange, KnowledgeModel, utcnow
from web.state import state
from web.training import run_gate


def postgres_bin() -> Path | None:
    """Return Debian's PostgreSQL server programs folder, if the server is installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="module")
def postgres_url():
    """Start a PostgreSQL server of our own (no TCP port: a socket in a temporary folder) and return its URL."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not installed: .ci/run installs Debian's postgresql package")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    # The server refuses to run as root; as root, run it as Debian's postgres user.
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_owner:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    run = lambda *args: subprocess.run([*as_owner, *map(str, args)], check=True, capture_output=True, timeout=120)  # noqa: E731
    run(bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
    run(
        bin_dir / "pg_ctl",
        "-D",
        data,
        "-l",
        root / "server.log",
        "-w",
        "-t",
        "60",
        "-o",
        f"-k {sockets} -c listen_addresses='' -c fsync=off",
        "start",
    )
    try:
        run(bin_dir / "createdb", "-h", sockets, "-U", "postgres", "helpcenter")
        yield f"postgresql+psycopg://postgres@/helpcenter?host={sockets}"
    finally:
        run(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_events_inbox_reports_and_retention_work_on_postgresql(postgres_url, tmp_path):
    config = make_config(
        tmp_path, DATABASE_URL=postgres_url, HELDOUT_PATHS=[str(ROOT / "tests" / "data" / "heldout.jsonl")]
    )
    app = create_app(config)
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert {"events", "gap_notes", "knowledge_changes", "agents"} <= set(sa.inspect(db.engine).get_table_names())
    client = app.test_client()
    for question in ("how do I enable pop3", "imap server", "what is the weather", "my card 4111 1111 1111 1111"):
        client.post("/api/ask", json={"question": question, "session": "pg"})
    client.get("/api/search?q=qwxzv")
    client.post(
        "/api/feedback", json={"intent": "pop3_enable", "helpful": False, "session": "pg", "reason": "not_related"}
    )
    events = state(app).events
    events.record(kind="ask", channel="api", text="old", fallback=True, at=utcnow() - dt.timedelta(days=400))
    assert events.flush() and events.failed == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 7
        assert db.session.scalar(sa.select(Event.text).where(Event.text.like("my card%"))) == "my card [number]"

    result = app.test_cli_runner().invoke(args=["report", "--format", "json", "--days", "3"])
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads(result.stdout)
    assert report["summary"]["questions"] == 4 and report["summary"]["zero_results"] == 1
    assert report["helpfulness_intent"][0]["not_helpful"] == 1

    create_agent(app, "pg@example.com", role="admin")
    sign_in(client, "pg@example.com")
    inbox = client.get("/admin").get_data(as_text=True)
    assert "what is the weather" in inbox and "search found nothing (1)" in inbox and "voted not helpful (1)" in inbox
    assert client.get("/admin/reports").status_code == 200

    token = inbox.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    client.post("/admin/synonyms", data={"csrf_token": token, "word": "mailbox", "synonym": "inbox"})
    assert run_gate(app) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(KnowledgeChange.accepted)) is True
        assert len(db.session.scalar(sa.select(KnowledgeModel.data))) > 1000  # the model, for the other nodes
    assert "deleted 1 event older than 90 days" in app.test_cli_runner().invoke(args=["purge-events"]).output
