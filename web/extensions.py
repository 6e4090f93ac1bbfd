"""The Flask extensions the app shares (database, migrations, sign-in) and the database's set-up."""

from __future__ import annotations

import fcntl
import re
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


def init_database(app: Flask) -> None:
    """Connect the database (SQLite in the instance folder unless DATABASE_URL says otherwise) and migrate it."""
    url = app.config["DATABASE_URL"] or f"sqlite:///{Path(app.instance_path) / 'app.db'}"
    # Some hosts hand out postgres:// URLs, a name SQLAlchemy no longer accepts.
    app.config["SQLALCHEMY_DATABASE_URI"] = re.sub(r"^postgres://", "postgresql://", url)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", sqlite_pragmas)
        if app.config["DATABASE_UPGRADE_ON_START"]:
            upgrade_database(app)


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
