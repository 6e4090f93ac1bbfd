"""Analytics events: what people asked, searched, opened and voted, written to the database in the background.

Views record what they answered by an explicit call (``record_answer``, ``record_search``,
``record_vote``, ``record_click``). A call only puts a dictionary on a bounded queue; a
background thread per process redacts personal data and inserts events in batches. A slow or
missing database never delays or breaks an answer; failures are logged and counted.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import queue
import secrets
import threading
import time
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, request

from analytics.redact import redact
from web.config import ARTICLE_URL
from web.errors import InputError
from web.extensions import db
from web.inputs import clean_text
from web.models import EVENT_COLUMNS, EVENT_LENGTHS, Event, utcnow
from web.state import state

log = logging.getLogger(__name__)


CHANNELS = ("widget", "help_center", "agent", "api")


# Channels whose search results report their clicks (the search page's links, the widget's beacon).
CLICK_CHANNELS = ("help_center", "widget")


# The widget's panel is a page of this app under this path, so its requests name it as referrer.
WIDGET_PATH = "/widget"


PURGE_INTERVAL_SECONDS = 24 * 3600


def prepare_event(event: dict) -> dict:
    """Turn a recorded event into a row: redact the free text and fit every string to its column."""
    row = dict.fromkeys(EVENT_COLUMNS)
    row.update((key, value) for key, value in event.items() if key in EVENT_COLUMNS)
    for name in ("text", "reason"):
        if row[name]:
            row[name] = redact(row[name])
    for name, length in EVENT_LENGTHS.items():
        if isinstance(row[name], str) and len(row[name]) > length:
            row[name] = row[name][:length]
    return row


class EventLog:
    """Write events from a bounded queue in a background thread, in batches.

    ``record`` only puts a dictionary on the queue, so a request never waits for the
    database. The writer takes what queues up within ``linger`` seconds of an event (at most
    ``batch_size`` events), redacts it and inserts it in one transaction; a locked SQLite file is retried, anything else
    that fails is logged with the number of events lost. The thread starts with the first
    event in each process, so gunicorn's forked workers each get their own.
    """

    RETRY_SECONDS = (0.05, 0.25, 1.0)

    def __init__(
        self,
        engine: sa.Engine,
        *,
        queue_size: int,
        batch_size: int,
        retention_days: int,
        enabled: bool = True,
        linger: float = 0.25,
    ):
        self.engine = engine
        self.batch_size = batch_size
        self.linger = linger
        self.retention_days = retention_days
        self.enabled = enabled
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.dropped = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._hurry = threading.Event()
        self._pid = None
        self._created_in = os.getpid()
        self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS

    def record(self, **event) -> None:
        """Queue one event (never blocks, never raises)."""
        if not self.enabled:
            return
        event.setdefault("at", utcnow())
        try:
            self._ensure_writer()
            self.queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("analytics queue is full; %d events dropped so far", self.dropped)
        except Exception:  # logging must never break an answer
            log.exception("could not queue an analytics event")

    def _ensure_writer(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                # After a fork the queue may hold the parent's events and a lock in any state,
                # and the pool the parent's connections (gunicorn --preload): start afresh.
                self.queue = queue.Queue(maxsize=self.queue.maxsize)
                if os.getpid() != self._created_in:
                    self.engine.dispose(close=False)
                threading.Thread(target=self._run, name="analytics-writer", daemon=True).start()
                self._pid = os.getpid()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            # Sleep rather than wake for every event: the requests that queue them keep the CPU.
            self._hurry.wait(self.linger)
            self._hurry.clear()
            while len(batch) < self.batch_size:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.write(batch)
                if time.monotonic() >= self._next_purge:
                    self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
                    purge_events(self.engine, self.retention_days)
            except Exception:
                log.exception("analytics writer failed")
            finally:
                for _ in batch:
                    self.queue.task_done()

    def write(self, batch: list[dict]) -> bool:
        """Insert a batch in one transaction; retry while the database is locked. Return whether it was stored."""
        rows = [prepare_event(event) for event in batch]
        for attempt, pause in enumerate((*self.RETRY_SECONDS, None)):
            try:
                with self.engine.begin() as connection:
                    connection.execute(sa.insert(Event.__table__), rows)
                return True
            except sa.exc.SQLAlchemyError as error:
                if pause is None or not is_transient(error):
                    self.failed += len(rows)
                    log.error(
                        "could not store %d analytics events after %d attempts: %s", len(rows), attempt + 1, error
                    )
                    return False
                time.sleep(pause)
        return False

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event is written (or failed); return False on timeout."""
        if self._pid != os.getpid():
            return True
        deadline = time.monotonic() + timeout
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._hurry.set()  # again for every batch: the writer clears it
                self.queue.all_tasks_done.wait(min(remaining, 0.05))
        return True


def is_transient(error: sa.exc.SQLAlchemyError) -> bool:
    """Tell whether a database error may pass if retried (a lock, a dropped connection)."""
    text = str(getattr(error, "orig", error)).lower()
    return bool(getattr(error, "connection_invalidated", False)) or "locked" in text or "busy" in text


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
        queue_size=config["ANALYTICS_QUEUE_SIZE"],
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
    parts = urlsplit(target)
    return (
        not parts.scheme
        and not parts.netloc
        and parts.path.startswith(ARTICLE_URL)
        and "\\" not in target
        and not target.startswith("//")
    )


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
