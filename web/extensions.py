"""The Flask extensions the app shares (database, migrations, sign-in) and the database's set-up."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import weakref
from pathlib import Path

import flask_migrate
import sqlalchemy as sa
from flask import Flask
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from web.config import ROOT

MIGRATIONS_DIR = ROOT / "migrations"

log = logging.getLogger(__name__)


class Model(DeclarativeBase):
    # Named constraints, so that Alembic can alter SQLite tables (batch mode) later.
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Model)


migrate = Migrate()


login_manager = LoginManager()


def init_database(app: Flask) -> bool:
    """Connect the database (SQLite in the instance folder unless DATABASE_URL says otherwise) and migrate it.

    Return False if the database could not be reached to migrate it: the app starts anyway
    (search and answers need no database) and the background thread migrates it later.
    """
    url = app.config["DATABASE_URL"] or f"sqlite:///{Path(app.instance_path) / 'app.db'}"
    # Some hosts hand out postgres:// URLs, a name SQLAlchemy no longer accepts.
    app.config["SQLALCHEMY_DATABASE_URI"] = re.sub(r"^postgres://", "postgresql://", url)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", sqlite_pragmas)
        # A server that loads the app before forking (gunicorn --preload) must not share the
        # parent's connections with its workers: a forked child starts with an empty pool.
        pool = weakref.ref(engine)
        os.register_at_fork(after_in_child=lambda: (found := pool()) is not None and found.dispose(close=False))
        if app.config["DATABASE_UPGRADE_ON_START"]:
            try:
                upgrade_database(app)
            except sa.exc.OperationalError as error:
                log.error("could not migrate the database at start; will retry: %s", str(error.orig).splitlines()[0])
                return False
    return True


def engine_options(config) -> dict:
    """Return the engine's options: every pooled connection is checked before use, and connecting is bounded.

    A database restart leaves the pool's connections dead; checking each one as it is taken
    (one round trip) replaces it instead of failing the request that drew it.
    """
    options = {"pool_pre_ping": True, **config.get("SQLALCHEMY_ENGINE_OPTIONS", {})}
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        timeout = max(1, round(config["DATABASE_CONNECT_TIMEOUT_SECONDS"]))
        options.setdefault("connect_args", {}).setdefault("connect_timeout", timeout)
    return options


def sqlite_pragmas(connection, _record) -> None:
    """Use write-ahead logging (readers never wait for the writer), wait for locks, enforce keys."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def upgrade_database(app: Flask) -> None:
    """Bring the database to the latest migration; workers starting together take turns."""
    # An exclusive file lock serialises the workers of one machine (SQLite's case); for
    # PostgreSQL, migrations/env.py also takes an advisory lock across machines.
    with open(Path(app.instance_path) / ".db-upgrade.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
