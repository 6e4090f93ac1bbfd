"""Analytics events: what people asked, searched, opened and voted, spooled to a local file and shipped to the database.

Views record what they answered by an explicit call (``record_answer``, ``record_search``,
``record_vote``, ``record_click``). A call appends one JSON line to this process's spool
file before the response is sent (one write, no fsync: a killed process loses nothing, only
the machine's crash would); a background thread per process ships the lines to the database
in batches, and commits how far it got in the same transaction as the events. A slow or
missing database never delays or breaks an answer, and loses nothing: the spool waits, and
is shipped when the database is back. A process that died leaves its spool file behind; the
next process of the node to start ships it. Each spool is bounded (ANALYTICS_SPOOL_MAX_BYTES);
past that, new events are dropped and counted.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import itertools
import json
import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, request

from analytics.redact import redact
from web.config import ARTICLE_URL
from web.errors import InputError
from web.extensions import db
from web.inputs import clean_text, is_local_path
from web.models import EVENT_COLUMNS, EVENT_LENGTHS, Event, SpoolMark, utcnow
from web.state import state

log = logging.getLogger(__name__)


CHANNELS = ("widget", "help_center", "agent", "api")


# Channels whose search results report their clicks (the search page's links, the widget's beacon).
CLICK_CHANNELS = ("help_center", "widget")


# The widget's panel is a page of this app under this path, so its requests name it as referrer.
WIDGET_PATH = "/widget"


PURGE_INTERVAL_SECONDS = 24 * 3600
MARKS = SpoolMark.__table__
SPOOL_PREFIX = "events-"
SPOOL_SUFFIX = ".jsonl"
# A spool file that has been shipped whole is replaced by a new one once it is this large.
ROTATE_BYTES = 1 << 20
# How often a writer looks for the spool files of processes that died.
ORPHAN_SCAN_SECONDS = 30
# Pauses between attempts while the database refuses a batch (the last one repeats).
RETRY_SECONDS = (0.05, 0.25, 1.0, 2.0, 5.0)
# Errors that say the database cannot be reached or is busy: the batch waits and is tried again.
# Any other error is about the events themselves (a value the database or its driver refuses,
# e.g. an integer SQLite cannot hold): they are stored one at a time, and only the refused ones
# are dropped and counted, so one bad event never holds up the spool behind it.
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError)
LOG_EVERY_SECONDS = 60


def prepare_event(event: dict) -> dict:
    """Turn a recorded event into a row: redact the free text and fit every string to its column."""
    row = dict.fromkeys(EVENT_COLUMNS)
    row.update((key, value) for key, value in event.items() if key in EVENT_COLUMNS)
    for name, value in row.items():
        if isinstance(value, str):
            # Views clean what they read, but an event must be storable whoever recorded it.
            row[name] = clean_text(value, keep="\n\t")
    if isinstance(row["at"], str):
        row["at"] = dt.datetime.fromisoformat(row["at"])
    for name in ("text", "reason"):
        if row[name]:
            row[name] = redact(row[name])
    for name, length in EVENT_LENGTHS.items():
        if isinstance(row[name], str) and len(row[name]) > length:
            row[name] = row[name][:length]
    return row


def encode_event(event: dict) -> bytes:
    """Return one spool line for an event (times as ISO text).

    Escaped to ASCII, so text no encoder takes (a lone surrogate) still makes a line; the
    shipper cleans it with the rest of the event.
    """
    return (json.dumps(event, default=_iso, separators=(",", ":")) + "\n").encode()


def _iso(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot spool {type(value).__name__}")


class Spool:
    """One process's spool file: appended by requests, read by the writer from what is shipped on."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:60]
        self.name = f"{SPOOL_PREFIX}{host}-{os.getpid()}-{secrets.token_hex(4)}{SPOOL_SUFFIX}"
        self.path = directory / self.name
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # Held while this process lives: a spool whose lock can be taken belongs to a process that died.
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.written = 0
        self.shipped = 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class EventLog:
    """Spool events to a local file per process; a background thread ships them to the database in batches.

    ``record`` appends one line to the spool (a request never waits for the database). The
    writer takes what was spooled within ``linger`` seconds of an event (at most
    ``batch_size`` events), redacts it and inserts it, together with the new shipped mark,
    in one transaction. A failure is retried, with pauses, until the database takes the
    batch; only rows the database refuses one by one (bad data, not a bad connection) are
    dropped and counted as ``failed``. The thread starts with the first event in each
    process, so gunicorn's forked workers each get their own spool and writer.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        spool_dir: str | Path,
        max_bytes: int,
        batch_size: int,
        retention_days: int,
        enabled: bool = True,
        linger: float = 0.25,
    ):
        self.engine = engine
        self.spool_dir = Path(spool_dir)
        self.max_bytes = max_bytes
        self.batch_size = batch_size
        self.linger = linger
        self.retention_days = retention_days
        self.enabled = enabled
        self.dropped = 0
        self.failed = 0
        self.shipped_events = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._caught_up = threading.Condition()
        self._spool: Spool | None = None
        self._pid = None
        self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
        self._last_logged: dict[str, float] = {}

    def record(self, **event) -> None:
        """Spool one event (never blocks on the database, never raises)."""
        if not self.enabled:
            return
        event.setdefault("at", utcnow())
        try:
            line = encode_event(event)
            if self._pid != os.getpid():
                self._start()
            with self._lock:
                spool = self._spool
                if spool.written - spool.shipped + len(line) > self.max_bytes:
                    self.dropped += 1
                    if self.dropped == 1 or self.dropped % 1000 == 0:
                        log.error("the analytics spool is full; %d events dropped so far", self.dropped)
                    return
                os.write(spool.fd, line)
                spool.written += len(line)
            self._wake.set()
        except Exception:  # logging must never break an answer
            log.exception("could not spool an analytics event")

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            # After a fork the parent's spool and its lock stay the parent's: this process gets
            # its own, and a writer thread of its own (threads do not survive a fork).
            if self._spool is not None:
                self._spool.close()
            self._spool = Spool(self.spool_dir)
            self._wake = threading.Event()
            threading.Thread(target=self._run, name="analytics-writer", daemon=True).start()
            self._pid = os.getpid()
            atexit.register(self.flush, 2.0)

    def _run(self) -> None:
        next_scan = 0.0
        while True:
            if time.monotonic() >= next_scan:
                next_scan = time.monotonic() + ORPHAN_SCAN_SECONDS
                self._guard("orphans", self.ship_orphans)
            if not self._wake.wait(timeout=1.0):
                continue
            # Sleep rather than wake for every event: the requests that spool them keep the CPU.
            time.sleep(self.linger)
            self._wake.clear()
            self._guard("ship", self._ship_own)
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
                self._guard("purge", purge_events, self.engine, self.retention_days)

    def _guard(self, what: str, work, *args) -> None:
        try:
            work(*args)
        except Exception:
            if self._due(what):
                log.exception("analytics writer: %s failed", what)

    def _ship_own(self) -> None:
        """Ship this process's spool up to what is written now; start a new file once a large one is all shipped."""
        spool = self._spool
        with open(spool.path, "rb") as reader:
            while spool.shipped < spool.written:
                spool.shipped = self._ship_batch(reader, spool.name, spool.shipped, spool.written)
                with self._caught_up:
                    self._caught_up.notify_all()
        if spool.shipped >= ROTATE_BYTES:
            with self._lock:
                if spool.shipped == spool.written and self._spool is spool:
                    self._spool = Spool(self.spool_dir)
            spool.close()
            retire(self.engine, spool.path, spool.name)

    def _ship_batch(self, reader, name: str, start: int, end: int) -> int:
        """Ship the next batch of lines from ``start``; retry until the database takes it; return the new mark."""
        reader.seek(start)
        lines, offset = [], start
        for line in reader:
            if offset + len(line) > end or not line.endswith(b"\n"):
                break  # a line still being written
            offset += len(line)
            lines.append(line)
            if len(lines) >= self.batch_size:
                break
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError as error:  # a damaged line: skip it, ship the rest
                self.failed += 1
                log.error("skipped an unreadable line of the analytics spool %s: %s", name, error)
        for attempt in itertools.count():
            try:
                self.write(events, mark=(name, offset))
                self.shipped_events += len(events)
                return offset
            except UNAVAILABLE as error:
                if self._due("write"):
                    log.error(
                        "could not store %d analytics events (attempt %d), retrying; they wait in %s: %s",
                        len(events),
                        attempt + 1,
                        name,
                        str(getattr(error, "orig", None) or error).splitlines()[0],
                    )
                time.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
            except Exception as error:  # noqa: BLE001 - the data, not the connection: store the rows it takes
                events = self._one_by_one(events, error)
        raise AssertionError("unreachable")

    def _one_by_one(self, events: list[dict], error) -> list[dict]:
        """Store events one at a time, dropping those the database refuses; return those left for a retry."""
        refused = 0
        for index, event in enumerate(events):
            try:
                self.write([event])
                self.shipped_events += 1
            except UNAVAILABLE:
                return events[index:]  # the connection failed meanwhile: retry the rest later
            except Exception:  # noqa: BLE001 - refused for what it holds
                refused += 1
                self.failed += 1
        log.error("the database refused %d analytics events (%s); stored the others", refused, error)
        return []

    def write(self, events: list[dict], mark: tuple[str, int] | None = None) -> None:
        """Insert events in one transaction, with a spool's new shipped mark if given (raises the database's errors)."""
        rows = [prepare_event(event) for event in events]
        with self.engine.begin() as connection:
            if rows:
                connection.execute(sa.insert(Event.__table__), rows)
            if mark is not None:
                name, shipped = mark
                updated = connection.execute(
                    sa.update(MARKS).where(MARKS.c.name == name).values(shipped=shipped, at=utcnow())
                ).rowcount
                if not updated:
                    connection.execute(sa.insert(MARKS).values(name=name, shipped=shipped, at=utcnow()))

    def ship_orphans(self) -> int:
        """Ship and remove the spool files of processes that died (their lock is free); return the events shipped."""
        shipped = 0
        for path in sorted(self.spool_dir.glob(f"{SPOOL_PREFIX}*{SPOOL_SUFFIX}")):
            own = self._spool
            if own is not None and path == own.path:
                continue
            try:
                handle = open(path, "rb")
            except FileNotFoundError:
                continue
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process is alive and ships it itself
                if not path.exists():
                    continue  # shipped and removed by another process meanwhile
                try:
                    with self.engine.connect() as connection:
                        query = sa.select(MARKS.c.shipped).where(MARKS.c.name == path.name)
                        offset = connection.execute(query).scalar()
                except sa.exc.SQLAlchemyError as error:
                    if self._due("orphans"):
                        log.warning("spools left by ended processes wait for the database: %s", error.orig or error)
                    return shipped
                offset, end = offset or 0, os.fstat(handle.fileno()).st_size
                before = self.shipped_events
                while offset < end:
                    moved = self._ship_batch(handle, path.name, offset, end)
                    if moved == offset:
                        break  # only a partial last line is left: the process died writing it
                    offset = moved
                shipped += self.shipped_events - before
                retire(self.engine, path, path.name)
                log.info(
                    "shipped %d analytics events left by a process that ended (%s)",
                    self.shipped_events - before,
                    path.name,
                )
        return shipped

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything this process spooled is in the database; return False on timeout."""
        spool = self._spool
        if self._pid != os.getpid() or spool is None:
            return True
        deadline = time.monotonic() + timeout
        with self._caught_up:
            while spool.shipped < spool.written:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.set()
                self._caught_up.wait(min(remaining, 0.05))
                spool = self._spool
        return True

    def _due(self, what: str) -> bool:
        now = time.monotonic()
        if now - self._last_logged.get(what, -LOG_EVERY_SECONDS) < LOG_EVERY_SECONDS:
            return False
        self._last_logged[what] = now
        return True


def retire(engine: sa.Engine, path: Path, name: str) -> None:
    """Remove a spool file that is all shipped, then its mark (in that order: a mark never outlives its file's data)."""
    path.unlink(missing_ok=True)
    with engine.begin() as connection:
        connection.execute(sa.delete(MARKS).where(MARKS.c.name == name))


def purge_events(engine: sa.Engine, days: int) -> int:
    """Delete events older than ``days`` days; return how many."""
    cutoff = utcnow() - dt.timedelta(days=days)
    with engine.begin() as connection:
        deleted = connection.execute(sa.delete(Event.__table__).where(Event.__table__.c.at < cutoff)).rowcount
    if deleted:
        log.info("deleted %d analytics events older than %d days", deleted, days)
    return deleted


def make_event_log(app: Flask) -> EventLog:
    """Return the app's event log on its database (the writer thread starts with the first event)."""
    config = app.config
    with app.app_context():
        engine = db.engine
    return EventLog(
        engine,
        spool_dir=config["ANALYTICS_SPOOL_DIR"],
        max_bytes=config["ANALYTICS_SPOOL_MAX_BYTES"],
        batch_size=config["ANALYTICS_BATCH_SIZE"],
        retention_days=config["ANALYTICS_RETENTION_DAYS"],
        enabled=config["ANALYTICS_ENABLED"],
        linger=config["ANALYTICS_LINGER_SECONDS"],
    )


def event_log() -> EventLog:
    return state().events


def request_channel(req=None) -> str:
    """Say where a request came from: the widget, the help center, the agent console, or the API."""
    req = req or request._get_current_object()  # one look-up: this runs on every answer
    declared = req.headers.get("X-Help-Channel", "").strip().lower()
    if declared in CHANNELS:
        return declared
    blueprint = req.blueprint
    if blueprint == "agent" or req.endpoint == "api.api_reply":
        return "agent"
    if blueprint in ("pages", "analytics"):
        return "help_center"
    referrer = req.referrer
    if referrer and WIDGET_PATH in referrer:
        parts = urlsplit(referrer)
        if parts.netloc == req.host and parts.path.startswith(WIDGET_PATH):
            return "widget"
    return "api"


def request_session(req) -> str | None:
    """Return the client's conversation id (the widget's ``session``), if the request names one."""
    payload = req.get_json(silent=True) if req.is_json else None
    value = payload.get("session") if isinstance(payload, dict) else None
    return clean_text(value)[:100] or None if isinstance(value, str) else None


def new_search_ref() -> str | None:
    """Return an id for a search, which its result links carry so that clicks can be tied to it."""
    return secrets.token_hex(8) if event_log().enabled else None


def record_answer(question: str, answered) -> None:
    """Store a question the bot answered, with what it answered (a web.answering.Answered)."""
    events = event_log()
    if not events.enabled:
        return
    req = request._get_current_object()
    choices = ",".join(answered.choices) or None
    events.record(
        kind="ask",
        channel=request_channel(req),
        session=request_session(req),
        text=question,
        # On a fallback the classifier's best guess is kept: the inbox shows it beside the question.
        intent=answered.prediction.intent if answered.fallback else answered.intent,
        confidence=answered.confidence,
        fallback=answered.fallback,
        clarify=answered.clarify,
        choices=choices,
    )


def record_search(text: str, total: int, ref: str | None) -> None:
    """Store a search and how many results it found; ``ref`` ties it to the clicks on its results."""
    events = event_log()
    if not events.enabled:
        return
    req = request._get_current_object()
    events.record(
        kind="search", channel=request_channel(req), session=request_session(req), text=text, results=total, ref=ref
    )


def record_vote(
    *,
    helpful: bool,
    intent: str | None = None,
    article: str | None = None,
    reason: str | None = None,
    question: str | None = None,
    session_id: str | None = None,
) -> None:
    """Store a "Was this helpful?" vote on an answer (by intent) or on an article (by slug)."""
    event_log().record(
        kind="vote",
        channel=request_channel(),
        session=session_id,
        helpful=helpful,
        intent=intent,
        target=article,
        reason=reason,
        text=question,
    )


def is_article_url(target: str) -> bool:
    """Tell whether a URL is a path to one of our articles (so a redirect to it cannot leave the site)."""
    return is_local_path(target) and urlsplit(target).path.startswith(ARTICLE_URL)


def record_click(target, ref, rank, channel: str) -> None:
    """Store a click on a search result; ``ref`` names the search (its page or API response)."""
    if not isinstance(target, str) or not is_article_url(target) or len(target) > 300:
        raise InputError("That link does not lead to an article of this help center.")
    ref = ref[:32] if isinstance(ref, str) and ref else None
    rank = int(rank) if isinstance(rank, int | str) and str(rank).isdigit() and len(str(rank)) < 4 else None
    event_log().record(kind="click", channel=channel, target=target, ref=ref, rank=rank)


def init_events(app: Flask) -> None:
    """Delete events older than the retention time once at start (where this node migrates the database)."""
    if app.config["DATABASE_UPGRADE_ON_START"]:
        try:
            purge_events(state(app).events.engine, app.config["ANALYTICS_RETENTION_DAYS"])
        except sa.exc.SQLAlchemyError as error:
            log.error("could not delete old analytics events at start: %s", error)
