"""One background thread per process: follow the cluster's knowledge version, run the gate, watch the database.

Every ``KNOWLEDGE_POLL_SECONDS`` the thread asks the database two cheap questions (the latest
knowledge version, and whether a change waits for the gate). A new version is loaded and
swapped in (web.knowledge.sync_knowledge); a waiting change is checked here if this process
gets the gate's lease (web.training.run_gate). None of it runs inside a request, so answers
never wait for the database or for training. The thread also remembers whether the database
answered, for ``/readyz`` and for the pages that need it, and applies the migrations a start
without a database had to skip.

The thread starts with the first request of each process (so gunicorn's forked workers each
get their own, and a server that loads the app before forking starts none in its master).
"""

from __future__ import annotations

import logging
import os
import threading
import time

import sqlalchemy as sa
from flask import Flask

from web import leases
from web.extensions import upgrade_database
from web.knowledge import database_engine, latest_version_number, sync_knowledge
from web.models import KnowledgeChange
from web.training import OPEN, import_legacy_overlays, run_gate

log = logging.getLogger(__name__)

CHANGES = KnowledgeChange.__table__
# The same failure is logged at most this often.
LOG_EVERY_SECONDS = 60


class Background:
    """The per-process thread, and what it last found out about the database."""

    def __init__(self, app: Flask, *, interval: float, gate: bool, database_error: str, upgrade_pending: bool):
        self.app = app
        self.interval = interval
        self.gate = gate
        self.database_ok = not database_error
        self.database_error = database_error
        self.upgrade_pending = upgrade_pending
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._holder = leases.holder_name()
        self._last_logged: dict[str, float] = {}

    def ensure_started(self) -> None:
        """Start this process's thread if it has none (cheap: one comparison once it runs)."""
        if self._pid == os.getpid() or self.interval <= 0:
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._stopped = threading.Event()
            self._holder = leases.holder_name()  # a forked child is another holder than its parent
            threading.Thread(target=self._run, name="cluster-sync", daemon=True).start()
            self._pid = os.getpid()

    def stop(self) -> None:
        """Stop the thread after its current step (tests; a process that exits needs nothing)."""
        self._stopped.set()
        self._pid = None

    def _run(self) -> None:
        stopped = self._stopped
        while not stopped.wait(self.interval):
            self.step()

    def step(self) -> None:
        """Look once: is the database there, is there a new knowledge version, does a change wait for the gate."""
        engine = database_engine(self.app)
        try:
            if self.upgrade_pending:
                self.finish_start(engine)
            with engine.connect() as connection:
                latest = latest_version_number(connection)
                waiting = connection.execute(
                    sa.select(sa.func.min(CHANGES.c.id)).where(CHANGES.c.status.in_(OPEN))
                ).scalar()
            self.note_database(None)
            sync_knowledge(self.app, latest)
            if waiting is not None and self.gate:
                run_gate(self.app, self._holder)
        except sa.exc.SQLAlchemyError as error:
            self.note_database(error)
        except Exception:  # the thread must live on: the next step may succeed
            if self._due("step"):
                log.exception("the background step failed")

    def finish_start(self, engine: sa.Engine) -> None:
        """Apply the migrations and queue old instance files, which a start without the database skipped."""
        with self.app.app_context():
            upgrade_database(self.app)
        import_legacy_overlays(self.app, engine)
        self.upgrade_pending = False
        log.info("the database is reachable again: migrations applied")

    def note_database(self, error: sa.exc.SQLAlchemyError | None) -> None:
        """Remember whether the database answered (for /readyz); log a failure at most once a minute."""
        if error is None:
            if not self.database_ok:
                log.info("the database answers again")
            self.database_ok, self.database_error = True, ""
            return
        self.database_ok = False
        self.database_error = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
        if self._due("database"):
            log.error("the database is unreachable: %s", self.database_error)

    def _due(self, what: str) -> bool:
        now = time.monotonic()
        if now - self._last_logged.get(what, -LOG_EVERY_SECONDS) < LOG_EVERY_SECONDS:
            return False
        self._last_logged[what] = now
        return True
