"""Rate limits on the API and on pages that do an API call's work, counted with the `limits` library."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import mmap
import os
import struct
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from web.state import state

log = logging.getLogger(__name__)


class ProcessCounts(Storage):
    """Fixed-window counters in this process's memory: the `limits` storage behind "process://".

    The library's own memory:// storage starts a timer thread every 10 ms while requests
    arrive, to expire counters; under gunicorn each start waited about 2 ms for the
    interpreter lock, on every other request. Here a counter whose window has ended
    restarts when it is next hit, and ended windows are swept at most once a minute, by
    the request that finds them due. Counts are per process, as with memory://.
    """

    STORAGE_SCHEME = ["process"]
    SWEEP_SECONDS = 60

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (count, when the window ends)
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._windows = {k: window for k, window in self._windows.items() if window[1] > now}
                self._next_sweep = now + self.SWEEP_SECONDS
            count, ends = self._windows.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + expiry
            self._windows[key] = (count + amount, ends)
            return count + amount

    def get(self, key: str) -> int:
        count, ends = self._windows.get(key, (0, 0.0))
        return count if ends > time.time() else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        _, ends = self._windows.get(key, (0, 0.0))
        return ends if ends > now else now

    def check(self) -> bool:
        return True

    def reset(self) -> int:
        with self._lock:
            cleared, self._windows = len(self._windows), {}
        return cleared

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


class NodeCounts(Storage):
    """Fixed-window counters shared by every worker process of one node: the storage behind "node://".

    With "process://" each gunicorn worker counted on its own, so two workers let through twice
    a limit (120 asks passed a 60/min limit). Here the counters live in a small memory-mapped
    file in the instance folder, a fixed table of slots (key digest, count, end of window), and
    each hit takes an exclusive ``flock`` on the file for a few microseconds: a lookup by open
    addressing, a count, a write. A window that has ended restarts when its key is next hit; an
    ended window's slot is reused by the next key that needs one, and when every slot a key may
    use is live, the one that ends first gives way (with thousands of clients at once, a few
    counts restart early: a limit is then looser, never stricter). Redis stays the store across nodes.
    """

    STORAGE_SCHEME = ["node"]
    SLOTS = 1 << 15  # 768 KB; a slot per client and limit within one window
    PROBES = 16
    SLOT = struct.Struct("<QIxxxxd")  # key digest (0: empty), count, when the window ends
    FILE_NAME = "ratelimit-v1.counts"

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, path: str | None = None, **options):
        given = urlsplit(uri or "").path
        if not (path or given):
            raise ValueError("node:// needs a file: node:///path/to/file, or the app's instance folder")
        self.path = Path(given or path)
        self._pid = None
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._lock = threading.Lock()  # flock does not order the threads of one process
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (OSError, ValueError)

    def _table(self) -> mmap.mmap:
        """Return this process's map of the file (opened again after a fork), creating the file if needed."""
        if self._pid != os.getpid():
            size = self.SLOTS * self.SLOT.size
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_size != size:
                    os.ftruncate(fd, 0)  # a file of another size is not ours to read: start empty
                    os.ftruncate(fd, size)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._fd, self._map, self._pid = fd, mmap.mmap(fd, size), os.getpid()
        return self._map

    def _digest(self, key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") or 1

    def _find(self, table: mmap.mmap, digest: int) -> tuple[int, bool, int, float]:
        """Return the key's slot (offset, True, count, window end), or the slot to give it (offset, False, 0, 0)."""
        free = oldest = 0
        free_found, oldest_end = False, math.inf
        now = time.time()
        for probe in range(self.PROBES):
            offset = ((digest + probe) % self.SLOTS) * self.SLOT.size
            found, count, ends = self.SLOT.unpack_from(table, offset)
            if found == digest:
                return offset, True, count, ends
            if not free_found and (found == 0 or ends <= now):
                free, free_found = offset, True
            if ends < oldest_end:
                oldest, oldest_end = offset, ends
        return (free if free_found else oldest), False, 0, 0.0

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        digest, now = self._digest(key), time.time()
        with self._lock:
            table = self._table()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                offset, _, count, ends = self._find(table, digest)
                if ends <= now:
                    count, ends = 0, now + expiry
                count = min(count + amount, 0xFFFFFFFF)
                self.SLOT.pack_into(table, offset, digest, count, ends)
                return count
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _read(self, key: str) -> tuple[int, float]:
        with self._lock:
            table = self._table()
            fcntl.flock(self._fd, fcntl.LOCK_SH)
            try:
                _, found, count, ends = self._find(table, self._digest(key))
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        return (count, ends) if found and ends > time.time() else (0, 0.0)

    def get(self, key: str) -> int:
        return self._read(key)[0]

    def get_expiry(self, key: str) -> float:
        return self._read(key)[1] or time.time()

    def check(self) -> bool:
        self._table()
        return True

    def reset(self) -> int:
        with self._lock:
            table = self._table()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                table[:] = bytes(len(table))
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        return self.SLOTS

    def clear(self, key: str) -> None:
        with self._lock:
            table = self._table()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                offset, found, _, _ = self._find(table, self._digest(key))
                if found:
                    self.SLOT.pack_into(table, offset, 0, 0, 0.0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


# Pages that do an API call's work count against the API limit too.
# Votes need no account and each unhelpful one is a row of the inbox: they have a limit of their own.
FEEDBACK_ENDPOINTS = {("api.api_feedback", "POST"), ("analytics.article_vote", "POST")}
# Sign-in posts too: each one writes an attempt and may check a password.
RATE_LIMITED_PAGES = {("pages.search_page", "GET"), ("mailclient.check_page", "POST"), ("agent.login", "POST")}


RATE_LIMIT_ERROR_LOG_SECONDS = 60


def init_rate_limits(app: Flask) -> None:
    """Limit /api/* (and the pages doing the same work) per client address; /api/ask more tightly.

    The `limits` library parses the limit strings, counts in fixed windows and stores the
    counts (shared by a node's workers in the instance folder, or in Redis shared by every app
    server); this hook only picks which
    limit a request counts against. /api/ask, the expensive one, has its own limit instead of
    the API's. (Flask-Limiter, the extension over the same library, spent 0.3-0.75 ms on each
    request: up to a fifth of an answer; a hit here costs about 5 microseconds.) Limits are
    read once, when the app is built.

    When the store fails (Redis down, or hung until its socket timeout), the request is
    counted in this process instead, and so are the requests of the next
    RATELIMIT_STORAGE_RETRY_SECONDS: a hung Redis costs one timeout per process per
    period, not one per request. An outage of Redis must not take the help center down
    with it, nor slow it; the log says so, at most once a minute.
    """
    if not app.config["RATELIMIT_ENABLED"]:
        return
    # wrap_exceptions: every backend's errors arrive as one type, StorageError.
    uri = app.config["RATELIMIT_STORAGE_URI"]
    options = {"path": str(Path(app.instance_path) / NodeCounts.FILE_NAME)} if uri.startswith("node:") else {}
    shared = FixedWindowRateLimiter(storage_from_string(uri, wrap_exceptions=True, **options))
    local = FixedWindowRateLimiter(ProcessCounts())
    retry_seconds = app.config["RATELIMIT_STORAGE_RETRY_SECONDS"]
    api_limits = [("api", item) for item in parse_many(app.config["API_RATE_LIMIT"])]
    ask_limits = [("ask", item) for item in parse_many(app.config["ASK_RATE_LIMIT"])]
    feedback_limits = [("feedback", item) for item in parse_many(app.config["FEEDBACK_RATE_LIMIT"])]
    send_headers = app.config["RATELIMIT_HEADERS_ENABLED"]
    last_error_logged = 0.0
    skip_until = 0.0

    def counted() -> list[tuple[str, RateLimitItem]]:
        if request.endpoint == "api.api_ask":
            return ask_limits
        if (request.endpoint, request.method) in FEEDBACK_ENDPOINTS:
            return feedback_limits
        if request.method != "OPTIONS" and (
            request.blueprint == "api" or (request.endpoint, request.method) in RATE_LIMITED_PAGES
        ):
            return api_limits
        return []

    def limiter() -> FixedWindowRateLimiter:
        return local if time.monotonic() < skip_until else shared

    def storage_failed(error: StorageError) -> None:
        nonlocal last_error_logged, skip_until
        skip_until = time.monotonic() + retry_seconds
        if time.monotonic() - last_error_logged >= RATE_LIMIT_ERROR_LOG_SECONDS:
            last_error_logged = time.monotonic()
            log.error("rate limit storage failed; counting in this process for the next %g s: %s", retry_seconds, error)

    def hit(item: RateLimitItem, scope: str, client: str) -> tuple[bool, float]:
        chosen = limiter()
        try:
            allowed = chosen.hit(item, scope, client)
            return allowed, 0.0 if allowed else chosen.get_window_stats(item, scope, client).reset_time
        except StorageError as error:
            storage_failed(error)
        allowed = local.hit(item, scope, client)
        return allowed, 0.0 if allowed else local.get_window_stats(item, scope, client).reset_time

    @app.before_request
    def check_rate_limits():
        client = request.remote_addr or "unknown"
        for scope, item in counted():
            allowed, reset = hit(item, scope, client)
            if not allowed:
                raise TooManyRequests(str(item), retry_after=max(1, math.ceil(reset - time.time())))

    @app.after_request
    def add_rate_limit_headers(response):
        rules = counted() if send_headers else []
        if rules and response.status_code != 429:
            client = request.remote_addr or "unknown"
            chosen = limiter()
            try:
                windows = [(item, chosen.get_window_stats(item, scope, client)) for scope, item in rules]
            except StorageError as error:
                storage_failed(error)
                return response
            item, window = min(windows, key=lambda pair: pair[1].remaining)
            response.headers["X-RateLimit-Limit"] = str(item.amount)
            response.headers["X-RateLimit-Remaining"] = str(window.remaining)
            response.headers["X-RateLimit-Reset"] = str(math.ceil(window.reset_time))
        return response

    # /readyz reports whether requests are counted per process now because the shared store failed.
    state(app).rate_limit_degraded = lambda: time.monotonic() < skip_until
