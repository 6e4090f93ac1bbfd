"""How gunicorn runs the app: loaded once before the workers fork, stopped and released without a failed request.

``gunicorn.conf.py`` (at the top of the repository, which gunicorn reads when it starts
there) sets the server up and calls the hooks below. Behind a proxy that retries a refused
connection on another node (docs/nginx.conf), a node can then stop or restart with no
request failing:

- The app is loaded in the master before the workers fork (``preload_app``): the index is
  built and the model trained at most once per node, and a new worker is ready as soon as
  it is forked, so a reload (SIGHUP) swaps workers without slow answers.
- A worker told to stop (SIGTERM) lets go of the listening socket at once, then finishes
  the request in hand. gunicorn's own workers keep it until they exit, up to half the
  timeout later, and connections queued for them in the meantime were reset.
- A new worker catches up with the cluster's knowledge version before it takes its first
  request, and so does the master before it forks new workers on a reload.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket

import sqlalchemy as sa
from flask import Flask

from web.knowledge import database_engine, sync_knowledge
from web.state import STATE_KEY, state

log = logging.getLogger(__name__)


def flask_app(wsgi) -> Flask | None:
    """Return this project's Flask app gunicorn serves (None for another WSGI callable, or another Flask app)."""
    return wsgi if isinstance(wsgi, Flask) and STATE_KEY in wsgi.extensions else None


def release_listeners(sockets) -> None:
    """Let go of the listening sockets in this process at once, without disturbing a loop that waits on them.

    Each descriptor is pointed at a fresh listening socket that no one connects to (the
    worker's next accept finds nothing and its loop ends), which drops this process's hold
    on the shared one: once every worker and the master have let go, the port is closed and
    the proxy's next connection is refused and retried on another node, instead of being
    queued for a process that will never accept it.
    """
    for listener in sockets:
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_STREAM) as idle:
            idle.bind(("127.0.0.1", 0))
            idle.listen(1)
            idle.setblocking(False)
            os.dup2(idle.fileno(), listener.fileno())


def worker_started(worker) -> None:
    """In a new worker, before its first request: stop cleanly on SIGTERM, catch up, start the background thread."""
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum, frame):
        release_listeners(worker.sockets)
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, stop)
    app = flask_app(worker.wsgi)
    if app is None:
        return
    catch_up(app, "worker")
    state(app).background.ensure_started()


def master_reloading(server) -> None:
    """In the master, on SIGHUP before new workers fork from it: load the latest knowledge version once, here."""
    if not server.cfg.preload_app:
        return
    app = flask_app(server.app.wsgi())
    if app is not None:
        catch_up(app, "master")
        with app.app_context():
            database_engine(app).dispose()  # the workers forked next start with no connection of the master's


def catch_up(app: Flask, who: str) -> None:
    """Load the database's latest knowledge version if it is newer than what this process has (best effort)."""
    try:
        if sync_knowledge(app):
            log.info("%s %d caught up with knowledge version %d", who, os.getpid(), state(app).knowledge.version)
    except sa.exc.SQLAlchemyError as error:
        state(app).background.note_database(error)
