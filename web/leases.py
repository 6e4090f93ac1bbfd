"""Leases: a named job that one process of the whole cluster does at a time, held until it is released or expires.

A lease is a row of the ``leases`` table. Taking one is a single UPDATE that succeeds only
if the lease is free, expired or already ours (or an INSERT when the row does not exist
yet), so it works the same on SQLite and PostgreSQL and needs no session-bound lock: a
process that dies holding a lease stops renewing it, and another takes over once it
expires. Long work renews its lease from a small thread (``kept``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import threading

import sqlalchemy as sa

from web.models import Lease, utcnow

log = logging.getLogger(__name__)

LEASES = Lease.__table__
# Held for this long past the last renewal; renewed every third of it while work goes on.
LEASE_SECONDS = 30


def holder_name() -> str:
    """Name this process (machine, process id and a random part) as a lease holder."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


def acquire(engine: sa.Engine, name: str, holder: str, seconds: float = LEASE_SECONDS) -> bool:
    """Take the lease ``name`` for ``holder`` (or renew it); return False if another holder has it."""
    now = utcnow()
    expires = now + dt.timedelta(seconds=seconds)
    with engine.begin() as connection:
        taken = connection.execute(
            sa.update(LEASES)
            .where(LEASES.c.name == name, sa.or_(LEASES.c.expires_at < now, LEASES.c.holder == holder))
            .values(holder=holder, expires_at=expires)
        ).rowcount
    if taken:
        return True
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(LEASES).values(name=name, holder=holder, expires_at=expires))
    except sa.exc.IntegrityError:
        return False  # another process holds it (or took it a moment ago)
    return True


def release(engine: sa.Engine, name: str, holder: str) -> None:
    """Give the lease up, if ``holder`` still has it."""
    with engine.begin() as connection:
        connection.execute(sa.delete(LEASES).where(LEASES.c.name == name, LEASES.c.holder == holder))


def holds(engine: sa.Engine, name: str, holder: str) -> bool:
    """Tell whether ``holder`` has the lease now (and it has not expired)."""
    with engine.connect() as connection:
        row = connection.execute(sa.select(LEASES.c.holder, LEASES.c.expires_at).where(LEASES.c.name == name)).first()
    return row is not None and row.holder == holder and row.expires_at > utcnow()


@contextlib.contextmanager
def kept(engine: sa.Engine, name: str, holder: str, seconds: float = LEASE_SECONDS):
    """Renew a lease we hold every third of its time while the block runs (the block does long work)."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(seconds / 3):
            try:
                if not acquire(engine, name, holder, seconds):
                    log.error("lost the lease %s to another process", name)
                    return
            except sa.exc.SQLAlchemyError as error:
                log.warning("could not renew the lease %s: %s", name, error)

    thread = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
