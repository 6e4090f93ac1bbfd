"""Alembic's environment: migrate the app's database with the app's engine and models.

Runs inside the app (``flask db upgrade``, or on start), so the URL, the SQLite pragmas
and the models' metadata all come from Flask-SQLAlchemy.
"""

import sqlalchemy as sa
from alembic import context
from flask import current_app

# Any fixed number: app servers starting together on PostgreSQL take turns on it.
MIGRATION_LOCK_KEY = 7_240_519

db = current_app.extensions["migrate"].db


def run_offline() -> None:
    """Write the SQL to a file instead of running it (``flask db upgrade --sql``)."""
    context.configure(
        url=db.engine.url.render_as_string(hide_password=False),
        target_metadata=db.metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the app's database, one process at a time."""
    with db.engine.connect() as connection:
        # SQLite cannot alter most of a table in place; batch mode copies it instead.
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            compare_type=True,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
